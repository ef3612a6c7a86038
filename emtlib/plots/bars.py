"""Plain bar charts: ours next to the paper per metric, one bar per labelled value (Table 9)."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import seaborn as sns
from matplotlib.figure import Figure

from .frames import check_frame
from .style import METRIC_LABELS, PERCENT_METRICS, maybe_save, new_figure


def paper_vs_ours(compared: pd.DataFrame, *, title: str | None = None, name: str | None = None,
                  results_dir: str | Path | None = None) -> Figure:
    """Bars of the paper's value and ours per metric (the frame of `emtlib.paper.compare`).

    Accuracies and F1 (in %) share one panel, MAE and Corr another, so the scales stay readable.
    """
    df = check_frame(compared, ("paper", "ours"), "compared")
    pct = [m for m in df.index if m in PERCENT_METRICS]
    raw = [m for m in df.index if m not in PERCENT_METRICS]
    groups = [g for g in (raw, pct) if g]
    fig = new_figure((4.0 + 0.9 * len(df.index), 3.2))
    axes = np.atleast_1d(fig.subplots(1, len(groups), width_ratios=[len(g) for g in groups]))
    colors = sns.color_palette("deep", 2)
    for ax, metrics in zip(axes, groups):
        x = np.arange(len(metrics))
        for k, (col, label) in enumerate((("paper", "paper"), ("ours", "this run"))):
            ax.bar(x + (k - 0.5) * 0.38, df.loc[metrics, col].astype(float), width=0.38,
                   color=colors[k], label=label)
        ax.set_xticks(x, [METRIC_LABELS.get(m, m) for m in metrics], rotation=30, ha="right")
        ax.set_ylabel("%" if metrics is pct else "value")
    axes[0].legend(frameon=False)
    if title:
        fig.suptitle(title)
    maybe_save(fig, name or "paper_vs_ours", results_dir)
    return fig


def bar_chart(values: pd.Series, *, ylabel: str, title: str | None = None,
              name: str | None = None, results_dir: str | Path | None = None) -> Figure:
    """One bar per labelled value (e.g. Table 9's parameters per sharing combination)."""
    if len(values) == 0:
        raise ValueError("values: expected at least one labelled value, found none")
    fig = new_figure((1.2 + 0.8 * len(values), 3.2))
    ax = fig.subplots()
    x = np.arange(len(values))
    ax.bar(x, values.to_numpy(float), color=sns.color_palette("deep")[0])
    ax.set_xticks(x, [str(i) for i in values.index], rotation=30, ha="right")
    lo, hi = float(values.min()), float(values.max())
    pad = (hi - lo) * 0.15 or abs(hi) * 0.05 or 1.0
    ax.set_ylim(lo - pad, hi + pad)
    for xi, v in zip(x, values.to_numpy(float)):
        ax.text(xi, v, f"{v:.3g}", ha="center", va="bottom", fontsize=8)
    ax.set_ylabel(ylabel)
    if title:
        ax.set_title(title)
    maybe_save(fig, name or "bars", results_dir)
    return fig
