"""Notebook 00: the data at a glance (label histograms, which positions the protocol removes)."""
from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path

import matplotlib
import numpy as np
import seaborn as sns
from matplotlib.figure import Figure

from .style import maybe_save, new_figure


def label_histograms(data, *, name: str | None = None,
                     results_dir: str | Path | None = None) -> Figure:
    """Histogram of the regression labels per split (the label distributions behind Table 2)."""
    splits = list(data.splits)
    fig = new_figure((4.0 * len(splits), 3.0))
    axes = fig.subplots(1, len(splits), sharey=False)
    from ..data.schema import get_spec  # emtlib.data imports torch: only when a figure needs it

    lo, hi = get_spec(data.dataset).label_range
    bins = np.linspace(lo, hi, 25)
    for ax, s in zip(np.atleast_1d(axes), splits):
        y = np.asarray(data[s]["regression_labels"], dtype=float)
        ax.hist(y, bins=bins, color=sns.color_palette("deep")[0], edgecolor="white")
        ax.axvline(0.0, color="0.3", lw=0.8, ls="--")
        ax.set_title(f"{s} (N = {len(y)})")
        ax.set_xlabel("sentiment label")
    np.atleast_1d(axes)[0].set_ylabel("samples")
    maybe_save(fig, name or f"labels_{data.dataset}", results_dir)
    return fig


def missing_view(split: Mapping, index: int = 0, rates: Sequence[float] = (0.3, 0.5, 0.7), *,
                 name: str | None = None, results_dir: str | Path | None = None) -> Figure:
    """Which positions of one sample the protocol removes at each rate (docs/missing-views.md).

    One row per rate, one column per modality; a cell is kept (light), removed (dark) or padding
    (white). Masks come from `emtlib.data.make_missing` on the whole split, as in training.
    """
    from ..data.missing import length_mask, make_missing

    if not 0 <= index < len(split["regression_labels"]):
        raise ValueError(f"index {index}: expected 0 <= index < {len(split['regression_labels'])}")
    n_tok = int(np.asarray(split["text_bert"])[index, 1].sum())
    valid = {"text": np.arange(n_tok) < n_tok,
             "audio": length_mask(split["audio_lengths"][index:index + 1],
                                  int(split["audio_lengths"][index]))[0],
             "vision": length_mask(split["vision_lengths"][index:index + 1],
                                   int(split["vision_lengths"][index]))[0]}
    fig = new_figure((12.0, 0.9 + 0.7 * len(rates)))
    axes = fig.subplots(len(rates), 3, squeeze=False)
    cmap = matplotlib.colors.ListedColormap(["#f0f0f0", "#2b5d8a"])
    for r, rate in enumerate(rates):
        m = make_missing(split, rate)
        for c, mod in enumerate(("text", "audio", "vision")):
            T = len(valid[mod])
            removed = ~m[f"{mod}_kept"][index, :T] & valid[mod]  # (T,)
            ax = axes[r, c]
            ax.imshow(removed[None, :].astype(float), aspect="auto", cmap=cmap, vmin=0, vmax=1,
                      interpolation="nearest")
            ax.set_yticks([])
            if r == 0:
                ax.set_title(f"{mod} ({T} positions)")
            if c == 0:
                ax.set_ylabel(f"p = {rate:g}", rotation=0, ha="right", va="center")
            if r < len(rates) - 1:
                ax.set_xticks([])
            ax.text(1.0, 1.02, f"{removed.mean():.0%} removed", transform=ax.transAxes,
                    ha="right", va="bottom", fontsize=8)
    sample = str(split["id"][index]).replace("$", r"\$")  # MMSA ids look like 'vid$_$3'
    fig.suptitle(f"sample {sample}: removed positions (dark) per missing rate")
    maybe_save(fig, name or "missing_view", results_dir)
    return fig
