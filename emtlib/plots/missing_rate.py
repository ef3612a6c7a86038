"""Paper Figs 4-9 and 11: metrics under missing rates, per method (curves) and per ablation variant."""
from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import matplotlib
import numpy as np
import pandas as pd
import seaborn as sns
from matplotlib.figure import Figure

from .frames import auilc_value, normalize_agg, normalize_paper, resolve_metrics, select_dataset
from .style import (DATASET_LABELS, axis_label, maybe_save, method_color, method_label, metric_label,
                    new_figure, rc_params, scale, slug, variant_label)

FIGURE_NUMBER: dict[str, int] = {"mosi": 4, "mosei": 5, "sims": 6}
"""The paper's figure of each dataset's missing-rate curves."""

METHOD_ORDER: tuple[str, ...] = ("tfn", "lmf", "mult", "misa", "self_mm", "mmim", "tfr_net",
                                 "emt", "emt_dlfr")
"""Legend order of the compared methods (as in Table 6), ours last."""


def _band(ax, x, mean, std, color) -> None:
    """The +-std band around a line, when any std is positive."""
    if np.any(np.asarray(std) > 0):
        ax.fill_between(x, mean - std, mean + std, color=color, alpha=0.15, linewidth=0)


def _rate_ticks(ax, rates: np.ndarray) -> None:
    """Missing-rate ticks: every rate up to 6 of them, every other one up to 11."""
    rates = np.unique(np.round(rates, 6))
    if rates.size <= 6:
        ax.set_xticks(rates)
    elif rates.size <= 11:
        ax.set_xticks(rates[::2])
    ax.set_xlabel("missing rate")


# --------------------------------------------------------------------------- Figs 4-6


def missing_rate_curves(agg: pd.DataFrame, dataset: str, methods: Sequence[str] | None = None,
                        metrics: Sequence[str] | str | None = None, paper: Any = None,
                        name: str | None = None, results_dir: str | Path | None = None, *,
                        variant: str | None = "", title: str | None = None) -> Figure:
    """Paper Figs 4-6: metric vs missing rate, one panel per metric, one line per method.

    agg: aggregated frame (see `emtlib.plots`). dataset: 'mosi' | 'mosei' | 'sims'.
    methods: method keys in legend order; default every method present, in `METHOD_ORDER`.
    metrics: default MAE, Corr, Acc-7 (Acc-5 on SIMS) and Acc-2 (negative/positive on
    MOSI/MOSEI). Accuracies are drawn in percent. Each line is the seed mean with a +-std band.
    variant: only rows with this variant label ('' = the plain runs); None keeps all rows, which
    must then hold one row per (method, rate, metric).
    paper: optional reference values per rate (paper units), drawn dashed with hollow markers.
    name: file name when saving (default 'fig<4|5|6>_missing_rate_<dataset>').
    """
    df = select_dataset(normalize_agg(agg), dataset)
    if variant is not None:
        found = sorted(df["variant"].unique())
        df = df[df["variant"] == variant]
        if df.empty:
            raise ValueError(f"no rows with variant {variant!r} for {dataset}; expected one of "
                             f"{found} (or variant=None)")
    metrics = resolve_metrics(dataset, metrics, df["metric"].unique())
    present = list(df["method"].unique())
    if methods is None:
        methods = [m for m in METHOD_ORDER if m in present] + sorted(
            m for m in present if m not in METHOD_ORDER)
    else:
        methods = [methods] if isinstance(methods, str) else list(methods)
        unknown = [m for m in methods if m not in present]
        if unknown or not methods:
            raise ValueError(f"methods {unknown or methods} have no rows for {dataset}; expected "
                             f"some of {sorted(present)}")
    dup = df.duplicated(["method", "rate", "metric"])
    if dup.any():
        row = df[dup].iloc[0]
        raise ValueError(f"several rows for method {row['method']!r}, rate {row['rate']}, metric "
                         f"{row['metric']!r} (variants {sorted(df['variant'].unique())}); expected "
                         f"one; pass variant='...' to pick one")
    ref = normalize_paper(paper)
    if ref is not None:
        ref = ref[(ref["dataset"] == dataset) & ref["rate"].notna()]
        if variant is not None:
            ref = ref[ref["variant"] == variant]

    with matplotlib.rc_context(rc_params()):
        fig = new_figure((3.6 * len(metrics) + 0.6, 3.6))
        axes = fig.subplots(1, len(metrics), squeeze=False)[0]
        for ax, metric in zip(axes, metrics):
            k = scale(metric)
            for method in methods:
                g = df[(df["method"] == method) & (df["metric"] == metric)].sort_values("rate")
                if g.empty:
                    continue
                color = method_color(method, methods)
                ours = method == "emt_dlfr"
                x = g["rate"].to_numpy(float)
                y = g["mean"].to_numpy(float) * k
                ax.plot(x, y, marker="o", markersize=4 if not ours else 5,
                        linewidth=2.2 if ours else 1.4, color=color, label=method_label(method),
                        zorder=3 if ours else 2, gid=f"method:{method}")
                _band(ax, x, y, g["std"].to_numpy(float) * k, color)
                if ref is not None:
                    r = ref[(ref["method"] == method) & (ref["metric"] == metric)].sort_values("rate")
                    if not r.empty:
                        ax.plot(r["rate"].to_numpy(float), r["mean"].to_numpy(float),
                                linestyle="--", marker="o", markerfacecolor="none", markersize=4,
                                linewidth=1.0, color=color, label=f"{method_label(method)} (paper)",
                                gid=f"paper:{method}")
            ax.set_title(metric_label(metric))
            ax.set_ylabel(axis_label(metric))
            _rate_ticks(ax, df["rate"].to_numpy(float))
        handles, labels = axes[0].get_legend_handles_labels()
        for ax in axes[1:]:  # a method may lack a metric in the first panel
            for h, lab in zip(*ax.get_legend_handles_labels()):
                if lab not in labels:
                    handles.append(h)
                    labels.append(lab)
        fig.legend(handles, labels, loc="outside lower center",
                   ncol=min(len(labels), 9), frameon=False)
        fig.suptitle(title if title is not None else
                     f"Performance under various missing rates on {DATASET_LABELS.get(dataset, dataset)}")
    default = (f"fig{FIGURE_NUMBER[dataset]}_missing_rate_{dataset}" if dataset in FIGURE_NUMBER
               else f"missing_rate_{slug(dataset)}")
    maybe_save(fig, name or default, results_dir)
    return fig


# --------------------------------------------------------------------------- Figs 7, 8, 9, 11


def _select_variant(df: pd.DataFrame, spec, method) -> tuple[str, pd.DataFrame]:
    """Rows of one ablation entry: a (method, variant) pair, a variant label, or a method key.

    A plain string matches the `variant` column (restricted to `method` when given); when no row
    has that variant it matches a method with variant '' (e.g. 'tfr_net' for Fig 9's reference).
    """
    if isinstance(spec, tuple):
        if len(spec) != 2:
            raise ValueError(f"variant entry {spec!r}: expected a label or a (method, variant) pair")
        m, v = str(spec[0]), str(spec[1])
        rows = df[(df["method"] == m) & (df["variant"] == v)]
        label = variant_label(v) if v else method_label(m)
    else:
        v = str(spec)
        rows = df[df["variant"] == v]
        if method is not None:
            allowed = [method] if isinstance(method, str) else list(method)
            rows = rows[rows["method"].isin(allowed)]
        if rows.empty:
            rows = df[(df["method"] == v) & (df["variant"] == "")]
        label = variant_label(v)
    if rows.empty:
        pairs = sorted({(m, v) for m, v in zip(df["method"], df["variant"])})
        raise ValueError(f"variant {spec!r} has no rows; expected a variant label or a method "
                         f"among (method, variant) pairs {pairs}")
    if rows["method"].nunique() > 1:
        raise ValueError(f"variant {spec!r} matches several methods {sorted(rows['method'].unique())};"
                         f" expected one; pass method='...' or a (method, variant) pair")
    return label, rows


def ablation_chart(agg: pd.DataFrame, dataset: str, variants: Sequence, metrics=None, *,
                   kind: str = "line", rate: float | str = "auilc", method=None,
                   labels: Mapping[str, str] | None = None, paper: Any = None,
                   title: str | None = None, name: str | None = None,
                   results_dir: str | Path | None = None) -> Figure:
    """Paper Figs 7, 8, 9, 11: ablation variants compared on a few metrics (one panel each).

    variants: the entries to compare, in legend order. Each is a variant label of the `variant`
    column (e.g. 'oagl', 'ooll', 'oall' for Fig 7; 'attention', 'average', 'mlp' for Fig 8;
    'emt', 'emt-llfr', 'emt-hlfr', 'emt-dlfr' plus the method 'tfr_net' for Fig 9; 'simsiam',
    'cosine' for Fig 11), a method key (matched with variant ''), or a (method, variant) pair.
    method: restrict label matching to this method (or list) when several methods share labels.
    metrics: one key or a list; default the four of Figs 4-6.
    kind='line': metric vs missing rate, one line (+-std band) per variant.
    kind='bar': one bar per variant at missing rate `rate` (mean +- std), or of the AUILC over the
    rates present when rate='auilc' (error bar: the AUILC of the per-rate seed std, which bounds
    the seed std of the AUILC from above); the values are written above the bars. The value axis
    spans the error bars, so a gap smaller than the seed spread never fills the panel.
    Entries that are all distinct methods (variant '') keep the methods' fixed colors.
    labels: display names overriding `variant_label`. paper: optional overlay (paper units).
    """
    if kind not in ("line", "bar"):
        raise ValueError(f"kind: expected 'line' or 'bar', found {kind!r}")
    df = select_dataset(normalize_agg(agg), dataset)
    metrics = resolve_metrics(dataset, metrics, df["metric"].unique())
    if isinstance(variants, (str, tuple)):
        variants = [variants]
    variants = list(variants)
    if not variants:
        raise ValueError("variants: expected at least one variant label, found none")
    entries = []
    for spec in variants:
        label, rows = _select_variant(df, spec, method)
        key = spec if isinstance(spec, str) else f"{spec[0]}:{spec[1]}"
        if labels and key in labels:
            label = labels[key]
        dup = rows.duplicated(["rate", "metric"])
        if dup.any():
            raise ValueError(f"variant {spec!r} has several rows per (rate, metric); expected one")
        entries.append((key, label, rows))
    ref = normalize_paper(paper)
    if ref is not None:
        ref = ref[ref["dataset"] == dataset]
    entry_methods = [rows["method"].iloc[0] for _, _, rows in entries]
    if all((rows["variant"] == "").all() for _, _, rows in entries) and \
            len(set(entry_methods)) == len(entries):  # methods compared: their fixed colors
        palette = [method_color(m, entry_methods) for m in entry_methods]
    else:
        palette = sns.color_palette("deep", max(len(entries), 3)).as_hex()
    if kind == "bar" and rate != "auilc":
        try:
            rate = float(rate)
        except (TypeError, ValueError):
            raise ValueError(f"rate: expected a missing rate or 'auilc', found {rate!r}") from None

    with matplotlib.rc_context(rc_params()):
        width = 3.6 * len(metrics) + 0.6 if kind == "line" else (1.0 + 0.55 * len(entries)) * len(metrics) + 0.6
        fig = new_figure((max(width, 6.0), 3.6 if kind == "line" else 3.8))
        axes = fig.subplots(1, len(metrics), squeeze=False)[0]
        for ax, metric in zip(axes, metrics):
            k = scale(metric)
            heights = []
            for i, (key, label, rows) in enumerate(entries):
                color = palette[i]
                g = rows[rows["metric"] == metric].sort_values("rate")
                if g.empty:
                    raise ValueError(f"variant {key!r} has no rows for metric {metric!r}")
                pr = _paper_rows(ref, g)
                if kind == "line":
                    x = g["rate"].to_numpy(float)
                    y = g["mean"].to_numpy(float) * k
                    ax.plot(x, y, marker="o", markersize=4, linewidth=1.6, color=color, label=label,
                            gid=f"variant:{key}")
                    _band(ax, x, y, g["std"].to_numpy(float) * k, color)
                    if pr is not None:
                        pr = pr[(pr["metric"] == metric) & pr["rate"].notna()].sort_values("rate")
                        if not pr.empty:
                            ax.plot(pr["rate"].to_numpy(float), pr["mean"].to_numpy(float), "--",
                                    marker="o", markerfacecolor="none", markersize=4,
                                    linewidth=1.0, color=color, label=f"{label} (paper)",
                                    gid=f"paper:{key}")
                else:
                    if rate == "auilc":
                        h = auilc_value(g) * k
                        err = auilc_value(g.assign(mean=g["std"])) * k
                    else:
                        at = g[np.isclose(g["rate"].to_numpy(float), rate)]
                        if at.empty:
                            raise ValueError(f"variant {key!r} has no {metric} at missing rate "
                                             f"{rate}; expected one of {g['rate'].tolist()}")
                        h, err = float(at["mean"].iloc[0]) * k, float(at["std"].iloc[0]) * k
                    ax.bar(i, h, width=0.7, color=color, label=label, gid=f"variant:{key}",
                           yerr=err, capsize=3 if err else 0, error_kw={"linewidth": 1})
                    heights.append(h + (err or 0.0))
                    heights.append(h - (err or 0.0))
                    fmt = "{:.3f}" if k == 1.0 else "{:.1f}"
                    ax.annotate(fmt.format(h), (i, h + (err or 0.0)), xytext=(0, 2),
                                textcoords="offset points", ha="center", va="bottom", fontsize=8)
                    if pr is not None:
                        want = pr["rate"].isna() if rate == "auilc" else np.isclose(
                            pr["rate"].fillna(-1.0).to_numpy(float), rate)
                        pv = pr[(pr["metric"] == metric) & want]
                        if not pv.empty:
                            v = float(pv["mean"].iloc[0])
                            ax.plot([i], [v], marker="D", color="black", markersize=5,
                                    linestyle="none", label="paper", gid=f"paper:{key}")
                            heights.append(v)
            ax.set_title(metric_label(metric))
            if kind == "line":
                ax.set_ylabel(axis_label(metric))
                _rate_ticks(ax, df["rate"].to_numpy(float))
            else:
                what = "AUILC" if rate == "auilc" else f"missing rate {rate:g}"
                ax.set_ylabel(f"{axis_label(metric)}, {what}")
                ax.set_xticks(range(len(entries)))
                ax.set_xticklabels([e[1] for e in entries], rotation=30, ha="right")
                ax.grid(axis="x", visible=False)
                lo, hi = min(heights), max(heights)
                pad = 0.25 * (hi - lo) if hi > lo else 0.05 * max(abs(hi), 1e-3)
                ax.set_ylim(lo - pad, hi + 1.6 * pad)
        handles, labs = [], []
        for ax in axes:
            for h, lab in zip(*ax.get_legend_handles_labels()):
                if lab not in labs:
                    handles.append(h)
                    labs.append(lab)
        if kind == "line" or "paper" in labs:  # bars are named by their tick labels
            fig.legend(handles, labs, loc="outside lower center", ncol=min(len(labs), 6),
                       frameon=False)
        fig.suptitle(title if title is not None else
                     f"Ablation on {DATASET_LABELS.get(dataset, dataset)} (incomplete modality setting)")
    default = f"ablation_{slug(dataset)}_{slug('-'.join(e[0] for e in entries))}_{kind}"
    maybe_save(fig, name or default, results_dir)
    return fig


def _paper_rows(ref: pd.DataFrame | None, rows: pd.DataFrame) -> pd.DataFrame | None:
    """Paper rows of the same method/variant as `rows`."""
    if ref is None:
        return None
    m, v = rows["method"].iloc[0], rows["variant"].iloc[0]
    out = ref[(ref["method"] == m) & (ref["variant"] == v)]
    return out if not out.empty else None
