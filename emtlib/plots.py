"""The paper's figures, drawn from aggregated result frames (seaborn/matplotlib).

Every function returns a `matplotlib.figure.Figure` built WITHOUT pyplot (nothing global is
registered, so nothing needs closing and no `plt.show` is called); in a notebook, show it with
`display(fig)` or as a cell's last expression. When `results_dir` is given, the figure is also
written to `<results_dir>/figures/<name>.png` and `.pdf` by `save_figure`, with the timestamp
and software entries removed from the file metadata so that reruns produce identical bytes.

| function              | paper                     | layout                                                    |
|-----------------------|---------------------------|-----------------------------------------------------------|
| `missing_rate_curves` | Figs 4, 5, 6              | 1 x 4 panels (MAE, Corr, Acc-7 / Acc-5 on SIMS, Acc-2), x = missing rate, one line (+-std band) per method |
| `ablation_chart`      | Figs 7, 8, 9, 11          | 1 x n metric panels; variants as lines over the missing rate (`kind='line'`) or as bars at one rate or of the AUILC (`kind='bar'`) |
| `loss_weight_heatmap` | Fig 10                    | one lambda1 x lambda2 heatmap per metric over {0.5, 1.0, 1.5, 2.0}^2, best cell framed |
| `attention_maps`      | Fig 12                    | 3 global tokens x T_m heatmap per modality (video, audio, text); a 2nd condition as a 2nd row |
| `complexity_scaling`  | Table 1 (notebook 03)     | measured cost vs M or T per strategy, log-log, with Table 1's orders c.f(M, T) dashed |

Input conventions
- `agg`: the frame of `emtlib.experiments.aggregate`: columns dataset, method, variant, rate,
  metric, mean[, std, n]; means/stds in RAW units (accuracies and F1 as fractions 0..1, MAE and
  Corr as is). Accuracies and F1 are PLOTTED IN PERCENT (x100), as in the paper. A missing or NaN
  `variant` counts as ''.
- `paper` (optional overlay, everywhere it is accepted): a DataFrame (or anything
  `pandas.DataFrame(...)` accepts, e.g. a list of dicts) with the same columns minus std/n, the
  value in `mean` (or `value`), in PAPER UNITS (accuracies already in percent). AUILC reference
  values carry `rate` NaN (or the string 'auilc'). Paper values are drawn dashed / as black
  diamonds and labelled "(paper)".
- AUILC (paper eq. 17) is the plain trapezoid `emtlib.metrics.auilc` over the rates present, on
  the seed means; on the protocol grids (0.0..1.0, 0.0..0.5) it equals Table 6/7's numbers up to
  their rounding (`emtlib.experiments.auilc_frame(official=True)` gives the rounded ones).

Errors a caller can cause (empty frame, missing columns, unknown dataset, metric, variant,
strategy or modality, bad shapes) raise `ValueError` saying what was expected and what was found.
"""
from __future__ import annotations

import math
import re
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

import matplotlib

import numpy as np
import pandas as pd
import seaborn as sns
from matplotlib.figure import Figure
from matplotlib.patches import Rectangle
from matplotlib.ticker import FixedFormatter, FixedLocator, NullLocator

from .metrics import METRIC_KEYS, auilc

RESULTS_DIR = Path("results")
"""Default results folder; figures go to `<results_dir>/figures/`."""

FIGURE_DPI = 150
"""Resolution of the PNG files."""

AGG_COLUMNS: tuple[str, ...] = ("dataset", "method", "variant", "rate", "metric", "mean")
"""Columns an aggregated frame must have (`std` and `n` are optional)."""

DEFAULT_METRICS: dict[str, tuple[str, ...]] = {
    "mosi": ("mae", "corr", "acc7", "acc2_non0"),
    "mosei": ("mae", "corr", "acc7", "acc2_non0"),
    "sims": ("mae", "corr", "acc5", "acc2"),
}
"""The four metrics of Figs 4-6 per dataset (Acc-2 of MOSI/MOSEI is the negative/positive one)."""

DATASET_LABELS: dict[str, str] = {"mosi": "CMU-MOSI", "mosei": "CMU-MOSEI", "sims": "CH-SIMS"}
FIGURE_NUMBER: dict[str, int] = {"mosi": 4, "mosei": 5, "sims": 6}

METRIC_LABELS: dict[str, str] = {
    "mae": "MAE", "corr": "Corr", "acc7": "Acc-7", "acc5": "Acc-5", "acc3": "Acc-3",
    "acc2": "Acc-2", "f1": "F1", "acc2_non0": "Acc-2", "f1_non0": "F1",
    "acc2_has0": "Acc-2 (has-0)", "f1_has0": "F1 (has-0)",
}
LOWER_IS_BETTER: frozenset[str] = frozenset({"mae"})
PERCENT_METRICS: frozenset[str] = frozenset(
    {"acc7", "acc5", "acc3", "acc2", "f1", "acc2_non0", "f1_non0", "acc2_has0", "f1_has0"})
"""Metrics stored as fractions and plotted x100."""

METHOD_ORDER: tuple[str, ...] = ("tfn", "lmf", "mult", "misa", "self_mm", "mmim", "tfr_net",
                                 "emt", "emt_dlfr")
"""Legend order of the compared methods (as in Table 6), ours last."""

METHOD_LABELS: dict[str, str] = {
    "emt_dlfr": "EMT-DLFR", "emt": "EMT", "tfr_net": "TFR-Net", "mult": "MulT", "misa": "MISA",
    "self_mm": "Self-MM", "mmim": "MMIM", "tfn": "TFN", "lmf": "LMF",
}

METHOD_COLORS: dict[str, str] = {
    "emt_dlfr": "#d62728", "emt": "#ff7f0e", "tfr_net": "#1f77b4", "mult": "#2ca02c",
    "misa": "#9467bd", "self_mm": "#8c564b", "mmim": "#e377c2", "tfn": "#7f7f7f",
    "lmf": "#bcbd22",
}
"""One fixed color per method, the same in every figure."""
_SPARE_COLORS: tuple[str, ...] = ("#17becf", "#393b79", "#637939", "#8c6d31", "#843c39",
                                  "#7b4173", "#3182bd", "#e6550d")

VARIANT_LABELS: dict[str, str] = {
    # Fig 7: fusion strategies (+ serial MPU updates)
    "oagl": "OAGL", "ooll": "OOLL", "oall": "OALL",
    "oagl_serial": "OAGL (serial)", "oagl-serial": "OAGL (serial)",
    "oall_serial": "OALL (serial)", "oall-serial": "OALL (serial)",
    "ooll_serial": "OOLL (serial)", "ooll-serial": "OOLL (serial)",
    # Fig 8: pooling
    "attention": "Attention pooling", "average": "Average pooling", "mlp": "MLP pooling",
    # Fig 9: dual-level feature restoration
    "emt-dlfr": "EMT-DLFR", "emt_dlfr": "EMT-DLFR", "emt-llfr": "EMT-LLFR",
    "emt_llfr": "EMT-LLFR", "emt-hlfr": "EMT-HLFR", "emt_hlfr": "EMT-HLFR",
    # Fig 11: SimSiam
    "simsiam": "w/ SimSiam", "cosine": "w/o SimSiam", "no_simsiam": "w/o SimSiam",
}

STRATEGY_COLORS: dict[str, str] = {"ooll": "#1f77b4", "oall": "#2ca02c", "oagl": "#d62728"}

# --------------------------------------------------------------------------- Table 1 orders


def _ooll_time(M, T):
    return np.asarray(M, float) ** 2 * np.asarray(T, float) ** 2


def _oall_time(M, T):
    return np.asarray(M, float) ** 2 * np.asarray(T, float) ** 2


def _oagl_time(M, T):
    return np.asarray(M, float) * np.asarray(T, float) ** 2


def _ooll_space(M, T):
    return np.asarray(M, float) ** 2 + 0 * np.asarray(T, float)


def _linear_space(M, T):
    return np.asarray(M, float) + 0 * np.asarray(T, float)


def _ooll_mpu(M, T):
    M, T = np.asarray(M, float), np.asarray(T, float)
    return M * (M - 1) / 2 * (2 * T) ** 2  # C(M, 2) MPUs over two length-T sequences


def _oall_mpu(M, T):
    M, T = np.asarray(M, float), np.asarray(T, float)
    return M * (T + M * T) ** 2  # M MPUs over H_m (T) and the common message (M T)


def _oagl_mpu(M, T):
    M, T = np.asarray(M, float), np.asarray(T, float)
    return M * (T + M) ** 2  # M MPUs over H_m (T) and the global context (M tokens)


TABLE1: dict[str, dict[str, str]] = {
    "ooll": {"space": "O(M^2)", "time": "O(M^2 T^2)"},
    "oall": {"space": "O(M)", "time": "O(M^2 T^2)"},
    "oagl": {"space": "O(M)", "time": "O(M T^2)"},
}
"""Paper Table 1 as printed (aligned inputs, M modalities of length T)."""

TIME_ORDERS: dict[str, Callable] = {"ooll": _ooll_time, "oall": _oall_time, "oagl": _oagl_time}
"""Table 1 time complexity f(M, T) per strategy."""
SPACE_ORDERS: dict[str, Callable] = {"ooll": _ooll_space, "oall": _linear_space,
                                     "oagl": _linear_space}
"""Table 1 space complexity (number of MPUs, i.e. parameters without sharing) f(M, T)."""
MPU_COSTS: dict[str, Callable] = {"ooll": _ooll_mpu, "oall": _oall_mpu, "oagl": _oagl_mpu}
"""Exact attention cost from section 3.3 (an MPU over lengths (a, b) costs (a + b)^2):
OOLL C(M,2) (2T)^2, OALL M (T + M T)^2, OAGL M (T + M)^2. Note OALL's is O(M^3 T^2), one power of
M more than Table 1 prints (the main text's own OALL formula degenerates to it)."""

_PARAM_COLUMNS = frozenset({"params", "parameters", "n_params", "num_params"})
COMPLEXITY_LABELS: dict[str, str] = {"macs": "MACs", "seconds": "time (s)",
                                     "memory_bytes": "peak memory (bytes)",
                                     "params": "parameters"}

# --------------------------------------------------------------------------- helpers


def _style() -> dict:
    """rc parameters of every figure (seaborn whitegrid/notebook look, deterministic files)."""
    rc = dict(sns.axes_style("whitegrid"))
    rc.update(sns.plotting_context("notebook", font_scale=0.9))
    rc.update({"svg.hashsalt": "emtlib", "pdf.fonttype": 42, "axes.titleweight": "bold"})
    return rc


def _new_figure(figsize: tuple[float, float]) -> Figure:
    return Figure(figsize=figsize, layout="constrained")


def _slug(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.=-]+", "_", str(text)).strip("_") or "figure"


def save_figure(fig: Figure, name: str, results_dir: str | Path = RESULTS_DIR) -> list[Path]:
    """Write `fig` as `<results_dir>/figures/<name>.png` and `.pdf`; return the two paths.

    Metadata that changes between runs (creation date, software version) is left out, so the
    same figure gives the same bytes every time.
    """
    if not isinstance(fig, Figure):
        raise ValueError(f"fig: expected a matplotlib Figure, found {type(fig).__name__}")
    if not isinstance(name, str) or not name or name != Path(name).name or name in (".", ".."):
        raise ValueError(f"name: expected a plain file name without folders or suffix, found {name!r}")
    out = Path(results_dir) / "figures"
    out.mkdir(parents=True, exist_ok=True)
    png, pdf = out / f"{name}.png", out / f"{name}.pdf"
    with matplotlib.rc_context({"svg.hashsalt": "emtlib", "pdf.fonttype": 42}):
        fig.savefig(png, dpi=FIGURE_DPI, metadata={"Software": None})
        fig.savefig(pdf, metadata={"CreationDate": None, "Producer": None, "Creator": None})
    return [png, pdf]


def _maybe_save(fig: Figure, name: str, results_dir) -> None:
    if results_dir is not None:
        save_figure(fig, name, results_dir)


def method_label(method: str) -> str:
    """Display name of a method key ('emt_dlfr' -> 'EMT-DLFR'); unknown keys are shown as given."""
    return METHOD_LABELS.get(str(method), str(method))


def variant_label(variant: str) -> str:
    """Display name of an ablation variant ('ooll' -> 'OOLL', 'l1=0.5,l2=1.0' -> 'λ1=0.5, λ2=1.0')."""
    v = str(variant)
    if v in VARIANT_LABELS:
        return VARIANT_LABELS[v]
    if v in METHOD_LABELS:
        return METHOD_LABELS[v]
    lw = _parse_lambdas(v)
    if lw is not None:
        return f"λ1={lw[0]:g}, λ2={lw[1]:g}"
    return v


def method_color(method: str, methods: Sequence[str] = ()) -> str:
    """The fixed color of a method; unknown ones get spare colors in the order of `methods`."""
    if method in METHOD_COLORS:
        return METHOD_COLORS[method]
    unknown = [m for m in methods if m not in METHOD_COLORS]
    i = unknown.index(method) if method in unknown else 0
    return _SPARE_COLORS[i % len(_SPARE_COLORS)]


def metric_label(metric: str) -> str:
    """Panel title of a metric, with the direction of better values ('MAE (↓)', 'Acc-7 (↑)')."""
    arrow = "↓" if metric in LOWER_IS_BETTER else "↑"
    return f"{METRIC_LABELS.get(metric, metric)} ({arrow})"


def _axis_label(metric: str) -> str:
    return f"{METRIC_LABELS.get(metric, metric)}" + (" (%)" if metric in PERCENT_METRICS else "")


def _scale(metric: str) -> float:
    return 100.0 if metric in PERCENT_METRICS else 1.0


def _check_frame(frame: Any, required: Sequence[str], what: str) -> pd.DataFrame:
    if not isinstance(frame, pd.DataFrame):
        raise ValueError(f"{what}: expected a pandas DataFrame with columns {list(required)}, "
                         f"found {type(frame).__name__}")
    missing = [c for c in required if c not in frame.columns]
    if missing:
        raise ValueError(f"{what}: expected columns {list(required)}; missing {missing} "
                         f"(found {list(frame.columns)})")
    if frame.empty:
        raise ValueError(f"{what} is empty; expected at least one row with columns {list(required)}")
    return frame


def _normalize_agg(agg: Any, what: str = "agg") -> pd.DataFrame:
    df = _check_frame(agg, AGG_COLUMNS, what).copy()
    df["variant"] = df["variant"].fillna("").astype(str)
    df["method"] = df["method"].astype(str)
    df["dataset"] = df["dataset"].astype(str)
    df["metric"] = df["metric"].astype(str)
    if "std" not in df.columns:
        df["std"] = 0.0
    df["std"] = df["std"].fillna(0.0)
    return df


def _normalize_paper(paper: Any) -> pd.DataFrame | None:
    """The optional paper overlay as a frame with a numeric `rate` (NaN = AUILC) and `mean`."""
    if paper is None:
        return None
    df = paper.copy() if isinstance(paper, pd.DataFrame) else pd.DataFrame(paper)
    if "mean" not in df.columns and "value" in df.columns:
        df = df.rename(columns={"value": "mean"})
    required = ["dataset", "method", "metric", "mean"]
    missing = [c for c in required if c not in df.columns]
    if missing:
        raise ValueError(f"paper: expected columns {required} (+ variant, rate); missing {missing} "
                         f"(found {list(df.columns)})")
    if "variant" not in df.columns:
        df["variant"] = ""
    if "rate" not in df.columns:
        df["rate"] = np.nan
    df["variant"] = df["variant"].fillna("").astype(str)
    df["rate"] = pd.to_numeric(df["rate"].replace({"auilc": np.nan, "AUILC": np.nan}),
                               errors="coerce")
    df["method"] = df["method"].astype(str)
    df["metric"] = df["metric"].astype(str)
    return df


def _select_dataset(df: pd.DataFrame, dataset: str, what: str = "agg") -> pd.DataFrame:
    found = sorted(df["dataset"].unique())
    if dataset not in found:
        raise ValueError(f"dataset {dataset!r} not in {what}; expected one of {found}")
    return df[df["dataset"] == dataset]


def _resolve_metrics(dataset: str, metrics, available: Sequence[str]) -> list[str]:
    if metrics is None:
        if dataset not in DEFAULT_METRICS:
            raise ValueError(f"dataset {dataset!r} has no default metrics; expected one of "
                             f"{sorted(DEFAULT_METRICS)}, or pass metrics=[...]")
        metrics = DEFAULT_METRICS[dataset]
    if isinstance(metrics, str):
        metrics = [metrics]
    metrics = list(metrics)
    if not metrics:
        raise ValueError("metrics: expected at least one metric key, found an empty list")
    known = METRIC_KEYS.get(dataset)
    for m in metrics:
        if known is not None and m not in known:
            raise ValueError(f"unknown metric {m!r} for {dataset}; expected one of {list(known)}")
        if m not in available:
            raise ValueError(f"metric {m!r} has no rows for {dataset}; expected one of "
                             f"{sorted(available)}")
    return metrics


def _band(ax, x, mean, std, color) -> None:
    if np.any(np.asarray(std) > 0):
        ax.fill_between(x, mean - std, mean + std, color=color, alpha=0.15, linewidth=0)


def _rate_ticks(ax, rates: np.ndarray) -> None:
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

    agg: aggregated frame (see module doc). dataset: 'mosi' | 'mosei' | 'sims'.
    methods: method keys in legend order; default every method present, in `METHOD_ORDER`.
    metrics: default MAE, Corr, Acc-7 (Acc-5 on SIMS) and Acc-2 (negative/positive on
    MOSI/MOSEI). Accuracies are drawn in percent. Each line is the seed mean with a +-std band.
    variant: only rows with this variant label ('' = the plain runs); None keeps all rows, which
    must then hold one row per (method, rate, metric).
    paper: optional reference values per rate (paper units), drawn dashed with hollow markers.
    name: file name when saving (default 'fig<4|5|6>_missing_rate_<dataset>').
    """
    df = _select_dataset(_normalize_agg(agg), dataset)
    if variant is not None:
        found = sorted(df["variant"].unique())
        df = df[df["variant"] == variant]
        if df.empty:
            raise ValueError(f"no rows with variant {variant!r} for {dataset}; expected one of "
                             f"{found} (or variant=None)")
    metrics = _resolve_metrics(dataset, metrics, df["metric"].unique())
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
    ref = _normalize_paper(paper)
    if ref is not None:
        ref = ref[(ref["dataset"] == dataset) & ref["rate"].notna()]
        if variant is not None:
            ref = ref[ref["variant"] == variant]

    with matplotlib.rc_context(_style()):
        fig = _new_figure((3.6 * len(metrics) + 0.6, 3.6))
        axes = fig.subplots(1, len(metrics), squeeze=False)[0]
        for ax, metric in zip(axes, metrics):
            k = _scale(metric)
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
            ax.set_ylabel(_axis_label(metric))
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
               else f"missing_rate_{_slug(dataset)}")
    _maybe_save(fig, name or default, results_dir)
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


def _auilc_value(rows: pd.DataFrame) -> float:
    g = rows.sort_values("rate")
    if len(g) < 2:
        raise ValueError(f"AUILC needs at least 2 missing rates; found {g['rate'].tolist()}")
    return auilc(g["rate"].to_numpy(float), g["mean"].to_numpy(float))


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
    rates present when rate='auilc' (no error bar); the values are written above the bars.
    Entries that are all distinct methods (variant '') keep the methods' fixed colors.
    labels: display names overriding `variant_label`. paper: optional overlay (paper units).
    """
    if kind not in ("line", "bar"):
        raise ValueError(f"kind: expected 'line' or 'bar', found {kind!r}")
    df = _select_dataset(_normalize_agg(agg), dataset)
    metrics = _resolve_metrics(dataset, metrics, df["metric"].unique())
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
    ref = _normalize_paper(paper)
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

    with matplotlib.rc_context(_style()):
        width = 3.6 * len(metrics) + 0.6 if kind == "line" else (1.0 + 0.55 * len(entries)) * len(metrics) + 0.6
        fig = _new_figure((max(width, 6.0), 3.6 if kind == "line" else 3.8))
        axes = fig.subplots(1, len(metrics), squeeze=False)[0]
        for ax, metric in zip(axes, metrics):
            k = _scale(metric)
            heights = []
            for i, (key, label, rows) in enumerate(entries):
                color = palette[i]
                g = rows[rows["metric"] == metric].sort_values("rate")
                if g.empty:
                    raise ValueError(f"variant {key!r} has no rows for metric {metric!r}")
                pr = _paper_rows(ref, g, key)
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
                        h, err = _auilc_value(g) * k, None
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
                ax.set_ylabel(_axis_label(metric))
                _rate_ticks(ax, df["rate"].to_numpy(float))
            else:
                what = "AUILC" if rate == "auilc" else f"missing rate {rate:g}"
                ax.set_ylabel(f"{_axis_label(metric)}, {what}")
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
    default = f"ablation_{_slug(dataset)}_{_slug('-'.join(e[0] for e in entries))}_{kind}"
    _maybe_save(fig, name or default, results_dir)
    return fig


def _paper_rows(ref: pd.DataFrame | None, rows: pd.DataFrame, key: str) -> pd.DataFrame | None:
    """Paper rows of the same method/variant as `rows`."""
    if ref is None:
        return None
    m, v = rows["method"].iloc[0], rows["variant"].iloc[0]
    out = ref[(ref["method"] == m) & (ref["variant"] == v)]
    return out if not out.empty else None


# --------------------------------------------------------------------------- Fig 10

_LAMBDA_RE = re.compile(r"^\s*l(?:ambda)?_?1\s*=\s*([0-9.eE+-]+)\s*[,;]\s*l(?:ambda)?_?2\s*=\s*([0-9.eE+-]+)\s*$")


def _parse_lambdas(variant: str) -> tuple[float, float] | None:
    m = _LAMBDA_RE.match(str(variant))
    if m is None:
        return None
    try:
        return float(m.group(1)), float(m.group(2))
    except ValueError:
        return None


def loss_weight_table(agg: pd.DataFrame, dataset: str, metrics=None, *, rate: float | str = "auilc",
                      method: str | None = None) -> pd.DataFrame:
    """Fig 10's values from an aggregated frame whose variants are 'l1=<λ1>,l2=<λ2>'.

    Returns columns lambda_recon (λ1), lambda_attr (λ2), metric, value, in RAW units: the AUILC
    over the rates present (rate='auilc', default) or the seed mean at one missing rate.
    """
    df = _select_dataset(_normalize_agg(agg), dataset)
    if method is not None:
        df = df[df["method"] == method]
    parsed = df["variant"].map(_parse_lambdas)
    df = df[parsed.notna()].copy()
    if df.empty:
        raise ValueError(f"no loss-weight variants for {dataset}; expected variant labels like "
                         f"'l1=0.5,l2=1.0'")
    parsed = parsed[parsed.notna()]
    df["lambda_recon"] = [p[0] for p in parsed]
    df["lambda_attr"] = [p[1] for p in parsed]
    metrics = _resolve_metrics(dataset, metrics, df["metric"].unique())
    rows = []
    for (l1, l2, metric), g in df[df["metric"].isin(metrics)].groupby(
            ["lambda_recon", "lambda_attr", "metric"], sort=True):
        if g["method"].nunique() > 1:
            raise ValueError(f"λ1={l1}, λ2={l2} has rows of several methods "
                             f"{sorted(g['method'].unique())}; expected one; pass method='...'")
        if rate == "auilc":
            value = _auilc_value(g)
        else:
            at = g[np.isclose(g["rate"].to_numpy(float), float(rate))]
            if at.empty:
                raise ValueError(f"λ1={l1}, λ2={l2} has no {metric} at missing rate {rate}; "
                                 f"expected one of {sorted(g['rate'].tolist())}")
            value = float(at["mean"].iloc[0])
        rows.append({"lambda_recon": l1, "lambda_attr": l2, "metric": metric, "value": value})
    return pd.DataFrame(rows, columns=["lambda_recon", "lambda_attr", "metric", "value"])


def loss_weight_heatmap(values: pd.DataFrame, metrics=None, *, dataset: str | None = None,
                        rate: float | str = "auilc", metric: str | None = None,
                        annotate: bool = True, title: str | None = None, name: str | None = None,
                        results_dir: str | Path | None = None) -> Figure:
    """Paper Fig 10: sensitivity to the loss weights λ1 (reconstruction) x λ2 (attraction).

    values: either a frame with columns lambda_recon, lambda_attr, value (RAW units) and, for
    several panels, metric; or an aggregated frame with 'l1=..,l2=..' variants, which is first
    reduced with `loss_weight_table(values, dataset, metrics, rate=rate)` (then `dataset` is
    required). metric: the metric of a frame without a `metric` column (default 'value', unscaled).
    One heatmap per metric: rows λ1, columns λ2 (the paper's grid {0.5, 1.0, 1.5, 2.0}), cell text
    the value (accuracies in percent), the best cell (lowest MAE, otherwise highest) framed;
    brighter is better in every panel.
    """
    if isinstance(values, pd.DataFrame) and "variant" in values.columns and \
            "lambda_recon" not in values.columns:
        if dataset is None:
            raise ValueError("an aggregated frame needs dataset='mosi'|'mosei'|'sims' "
                             "(or pass a frame with columns lambda_recon, lambda_attr, value)")
        table = loss_weight_table(values, dataset, metrics, rate=rate)
        metrics = list(dict.fromkeys(table["metric"]))
    else:
        table = _check_frame(values, ("lambda_recon", "lambda_attr", "value"), "values").copy()
        if "metric" not in table.columns:
            table["metric"] = metric if metric is not None else "value"
        table["metric"] = table["metric"].astype(str)
        found = list(dict.fromkeys(table["metric"]))
        if metrics is None:
            metrics = found
        metrics = [metrics] if isinstance(metrics, str) else list(metrics)
        unknown = [m for m in metrics if m not in found]
        if unknown or not metrics:
            raise ValueError(f"metrics {unknown or metrics} not in values; expected some of {found}")
    suffix = "AUILC" if rate == "auilc" else f"missing rate {rate}"

    with matplotlib.rc_context(_style()):
        fig = _new_figure((4.0 * len(metrics) + 0.4, 3.8))
        axes = fig.subplots(1, len(metrics), squeeze=False)[0]
        for ax, m in zip(axes, metrics):
            g = table[table["metric"] == m]
            if g.duplicated(["lambda_recon", "lambda_attr"]).any():
                raise ValueError(f"metric {m!r}: several values per (lambda_recon, lambda_attr); "
                                 f"expected one")
            grid = g.pivot(index="lambda_recon", columns="lambda_attr", values="value")
            grid = grid.sort_index(axis=0).sort_index(axis=1) * _scale(m)
            lower = m in LOWER_IS_BETTER
            fmt = ".1f" if m in PERCENT_METRICS else ".3f"
            sns.heatmap(grid, ax=ax, annot=annotate, fmt=fmt, cmap="viridis_r" if lower else "viridis",
                        linewidths=0.5, linecolor="white", square=True,
                        cbar_kws={"shrink": 0.8}, annot_kws={"fontsize": 8})
            arr = grid.to_numpy(float)
            if np.isfinite(arr).any():
                flat = np.nanargmin(arr) if lower else np.nanargmax(arr)
                r, c = np.unravel_index(flat, arr.shape)
                ax.add_patch(Rectangle((c, r), 1, 1, fill=False, edgecolor="#d62728", linewidth=2.2,
                                       gid="best"))
            ax.set_xticklabels([f"{v:g}" for v in grid.columns], rotation=0)
            ax.set_yticklabels([f"{v:g}" for v in grid.index], rotation=0)
            ax.set_xlabel("λ2 (high-level attraction)")
            ax.set_ylabel("λ1 (low-level reconstruction)")
            label = METRIC_LABELS.get(m, m) if m != "value" else "value"
            ax.set_title(f"{label}{' (%)' if m in PERCENT_METRICS else ''} ({suffix})"
                         if m in METRIC_LABELS else label)
        fig.suptitle(title if title is not None else "Sensitivity to the loss weights λ1, λ2"
                     + (f" on {DATASET_LABELS.get(dataset, dataset)}" if dataset else ""))
    _maybe_save(fig, name or f"fig10_loss_weights{'_' + _slug(dataset) if dataset else ''}",
                results_dir)
    return fig


# --------------------------------------------------------------------------- Fig 12

MODALITY_ALIASES: dict[str, str] = {
    "text": "text", "t": "text", "l": "text", "language": "text",
    "audio": "audio", "a": "audio", "acoustic": "audio",
    "vision": "vision", "v": "vision", "video": "vision", "visual": "vision",
}
MODALITY_LABELS: dict[str, str] = {"text": "Text", "audio": "Audio", "vision": "Video"}
GLOBAL_TOKEN_LABELS: tuple[str, ...] = ("$g_l$", "$g_a$", "$g_v$")
"""Rows of every map: G = Concat(h_l, h_a, h_v), the global context's three tokens (eq. 8)."""


def avg_pool_time(arr: np.ndarray, stride: int) -> np.ndarray:
    """Average-pool the last (time) axis with window = stride (Fig 12 halves audio/video with 2).

    A trailing partial window is averaged over the frames it has (ceil mode), so nothing is dropped.
    """
    a = np.asarray(arr, dtype=float)
    if stride is None or int(stride) <= 1:
        return a
    s = int(stride)
    T = a.shape[-1]
    n = math.ceil(T / s)
    pad = n * s - T
    padded = np.concatenate([a, np.full(a.shape[:-1] + (pad,), np.nan)], axis=-1) if pad else a
    return np.nanmean(padded.reshape(a.shape[:-1] + (n, s)), axis=-1)


def _canon_maps(maps: Mapping, what: str) -> dict[str, np.ndarray]:
    if not isinstance(maps, Mapping) or not maps:
        raise ValueError(f"{what}: expected a non-empty dict modality -> array (3, T_m), "
                         f"found {type(maps).__name__ if not isinstance(maps, Mapping) else 'an empty dict'}")
    out: dict[str, np.ndarray] = {}
    for key, arr in maps.items():
        mod = MODALITY_ALIASES.get(str(key).lower())
        if mod is None:
            raise ValueError(f"{what}: unknown modality {key!r}; expected one of "
                             f"text/audio/vision (or l/a/v)")
        if mod in out:
            raise ValueError(f"{what}: modality {mod!r} given twice")
        a = np.asarray(arr, dtype=float)
        if a.ndim != 2 or a.shape[0] != 3 or a.shape[1] < 1:
            raise ValueError(f"{what}[{key!r}]: expected shape (3, T_m) (3 global tokens x local "
                             f"positions, heads averaged), found {a.shape}")
        if not np.isfinite(a).all():
            raise ValueError(f"{what}[{key!r}]: expected finite attention weights, found NaN/inf")
        out[mod] = a
    return out


def attention_maps(maps: Mapping[str, np.ndarray], tokens: Sequence[str] | None = None, *,
                   title: str | None = "Global-local cross-modal attention",
                   second: Mapping[str, np.ndarray] | None = None,
                   second_tokens: Sequence[str] | None = None,
                   conditions: Sequence[str] = ("(a) complete", "(b) missing rate 0.5"),
                   pool: Mapping[str, int] | None = None,
                   order: Sequence[str] = ("vision", "audio", "text"),
                   highlight: bool = True, name: str | None = None,
                   results_dir: str | Path | None = None) -> Figure:
    """Paper Fig 12: attention of the global context's 3 tokens over each modality's local features.

    maps: modality ('text'/'audio'/'vision', or 'l'/'a'/'v') -> array (3, T_m), heads averaged,
    rows in G's token order (g_l, g_a, g_v). tokens: the text's word pieces (CLS-less), one per
    text column (the x tick labels); audio/video columns are numbered frames.
    second / second_tokens: an optional second condition (e.g. missing rate 0.5, with [UNK] for
    dropped tokens; tokens default to `tokens`), drawn as a second row of panels.
    pool: stride of the time average pooling per modality, default {'audio': 2, 'vision': 2} as in
    the paper (42 and 50 frames -> 21 and 25); pass {} if the maps are already pooled.
    Each modality has one color scale, shared by both conditions; with `highlight` the column
    most attended on average over the 3 tokens is framed (the paper's colored rectangles).
    """
    pool = {"audio": 2, "vision": 2} if pool is None else dict(pool)
    conds = [_canon_maps(maps, "maps")]
    toks = [tokens]
    if second is not None:
        conds.append(_canon_maps(second, "second"))
        toks.append(second_tokens if second_tokens is not None else tokens)
        if set(conds[1]) != set(conds[0]):
            raise ValueError(f"second: expected the same modalities as maps {sorted(conds[0])}, "
                             f"found {sorted(conds[1])}")
    order = [MODALITY_ALIASES.get(str(m).lower(), str(m)) for m in order]
    mods = [m for m in order if m in conds[0]] + [m for m in conds[0] if m not in order]
    pooled = [{m: avg_pool_time(c[m], pool.get(m, 1)) for m in mods} for c in conds]
    for ci, (c, tk) in enumerate(zip(pooled, toks)):
        if "text" in c and tk is not None:
            if len(tk) != c["text"].shape[1]:
                raise ValueError(f"tokens{'' if ci == 0 else ' (second)'}: expected one per text "
                                 f"column ({c['text'].shape[1]}), found {len(tk)}")
        for m in mods:
            if c[m].shape != pooled[0][m].shape:
                raise ValueError(f"second[{m!r}]: expected the shape of maps[{m!r}] "
                                 f"{conds[0][m].shape}, found {conds[ci][m].shape}")
    widths = [max(pooled[0][m].shape[1], 8) for m in mods]
    nrows = len(pooled)
    vmax = {m: max(float(c[m].max()) for c in pooled) for m in mods}

    with matplotlib.rc_context(_style()):
        fig = _new_figure((15.0, 2.5 * nrows + 0.8))
        axes = fig.subplots(nrows, len(mods), squeeze=False,
                            gridspec_kw={"width_ratios": widths})
        for r, (c, tk) in enumerate(zip(pooled, toks)):
            for j, m in enumerate(mods):
                ax = axes[r, j]
                a = c[m]
                im = ax.imshow(a, aspect="auto", cmap="Blues", vmin=0.0, vmax=vmax[m] or 1.0,
                               interpolation="nearest")
                ax.grid(False)
                ax.set_yticks(range(3))
                ax.set_yticklabels(GLOBAL_TOKEN_LABELS if j == 0 else [])
                T = a.shape[1]
                if m == "text" and tk is not None:
                    ax.set_xticks(range(T))
                    ax.set_xticklabels(list(tk), rotation=90, fontsize=7)
                else:
                    step = max(1, math.ceil(T / 10))
                    ax.set_xticks(range(0, T, step))
                    ax.set_xticklabels([str(t) for t in range(0, T, step)], fontsize=7)
                    s = pool.get(m, 1)
                    ax.set_xlabel("token" if m == "text" else
                                  f"frame{f' (avg-pooled, stride {s})' if s and s > 1 else ''}",
                                  fontsize=8)
                if highlight:
                    col = int(np.argmax(a.mean(axis=0)))
                    ax.add_patch(Rectangle((col - 0.5, -0.5), 1, 3, fill=False,
                                           edgecolor="#d62728", linewidth=1.8, gid="highlight"))
                ax.set_title(f"{MODALITY_LABELS[m] if m in MODALITY_LABELS else m}"
                             + (f" — {conditions[r]}" if second is not None and r < len(conditions)
                                else ""), fontsize=10)
                if r == nrows - 1:
                    fig.colorbar(im, ax=list(axes[:, j]), shrink=0.8, pad=0.01, aspect=15)
        if title:
            fig.suptitle(title)
    _maybe_save(fig, name or "fig12_attention_maps", results_dir)
    return fig


# --------------------------------------------------------------------------- Table 1 scaling


def _strategy_key(strategy: str) -> str:
    s = str(strategy).lower()
    s = re.sub(r"[-_ ]?(serial|parallel)$", "", s)
    if s not in TIME_ORDERS:
        raise ValueError(f"unknown fusion strategy {strategy!r}; expected one of "
                         f"{[k.upper() for k in TIME_ORDERS]} (optionally '-serial')")
    return s


def reference_order(strategy: str, M, T, kind: str = "time") -> np.ndarray:
    """f(M, T) of a strategy: Table 1's 'time' or 'space' order, or the exact 'mpu' cost."""
    tables = {"time": TIME_ORDERS, "space": SPACE_ORDERS, "mpu": MPU_COSTS}
    if kind not in tables:
        raise ValueError(f"kind: expected one of {list(tables)}, found {kind!r}")
    return tables[kind][_strategy_key(strategy)](M, T)


def complexity_scaling(frame: pd.DataFrame, x: str = "M", *,
                       y: Sequence[str] | str | None = None, fixed: float | None = None,
                       reference: str | None = "table1", logscale: bool = True,
                       title: str | None = None, name: str | None = None,
                       results_dir: str | Path | None = None) -> Figure:
    """Notebook 03: measured cost of OOLL / OALL / OAGL as M (modalities) or T (length) grows.

    frame: columns strategy, M, T and the measured columns (macs, seconds, memory_bytes).
    x: 'M' or 'T'; the other variable is held at `fixed` (default: the value that has the most
    distinct x values). y: measured columns, one panel each (default those present with data).
    reference: 'table1' overlays Table 1's orders c.f(M, T) (time: OOLL M^2 T^2, OALL M^2 T^2,
    OAGL M T^2; columns named params/parameters use the space orders M^2, M, M), 'mpu' the exact
    MPU attention costs `MPU_COSTS`, None nothing. c is fitted to the point with the largest x, so
    the dashed curve shows the asymptotic order the measurement should approach. Log-log axes by
    default, where an order is a slope.
    """
    if x not in ("M", "T"):
        raise ValueError(f"x: expected 'M' or 'T', found {x!r}")
    df = _check_frame(frame, ("strategy", "M", "T"), "frame").copy()
    if reference not in ("table1", "mpu", None):
        raise ValueError(f"reference: expected 'table1', 'mpu' or None, found {reference!r}")
    if y is None:
        y = [c for c in ("macs", "seconds", "memory_bytes") if c in df.columns and df[c].notna().any()]
        if not y:
            raise ValueError(f"frame: expected measured columns among ['macs', 'seconds', "
                             f"'memory_bytes'], found {list(df.columns)}")
    y = [y] if isinstance(y, str) else list(y)
    for c in y:
        if c not in df.columns:
            raise ValueError(f"y column {c!r} not in frame; expected some of {list(df.columns)}")
    df["skey"] = df["strategy"].map(_strategy_key)
    other = "T" if x == "M" else "M"
    if fixed is None:
        counts = df.groupby(other)[x].nunique()
        best = counts.max()
        fixed = float(min(v for v, n in counts.items() if n == best))
    sel = df[np.isclose(df[other].to_numpy(float), float(fixed))]
    if sel.empty:
        raise ValueError(f"no rows with {other} = {fixed}; expected one of "
                         f"{sorted(df[other].unique().tolist())}")
    strategies = list(dict.fromkeys(sel["strategy"]))

    with matplotlib.rc_context(_style()):
        fig = _new_figure((4.2 * len(y) + 0.4, 3.8))
        axes = fig.subplots(1, len(y), squeeze=False)[0]
        for ax, col in zip(axes, y):
            kind = "space" if col in _PARAM_COLUMNS else "time"
            if reference == "mpu":
                kind = "mpu"
            for i, s in enumerate(strategies):
                g = sel[(sel["strategy"] == s) & sel[col].notna()].sort_values(x)
                g = g.groupby(x, as_index=False)[[col, "M", "T"]].mean()
                if g.empty:
                    continue
                key = _strategy_key(s)
                color = STRATEGY_COLORS.get(key, _SPARE_COLORS[i % len(_SPARE_COLORS)])
                if str(s).lower() != key:  # serial variants: same hue, dotted
                    ls = ":"
                else:
                    ls = "-"
                xs, ys = g[x].to_numpy(float), g[col].to_numpy(float)
                ax.plot(xs, ys, marker="o", linestyle=ls, color=color, label=str(s).upper(),
                        gid=f"measured:{s}")
                if reference is not None and len(g) >= 1:
                    f = reference_order(key, g["M"].to_numpy(float), g["T"].to_numpy(float), kind)
                    if f[-1] > 0 and ys[-1] > 0:
                        c = ys[-1] / f[-1]
                        order = TABLE1[key]["space" if kind == "space" else "time"] \
                            if kind != "mpu" else "MPU cost"
                        ax.plot(xs, c * f, linestyle="--", linewidth=1.0, color=color, alpha=0.8,
                                label=f"{str(s).upper()} ~ {order}", gid=f"reference:{s}")
            if logscale:
                ax.set_xscale("log")
                ax.set_yscale("log")
                xt = np.unique(sel[x].to_numpy(float))
                ax.xaxis.set_major_locator(FixedLocator(xt))
                ax.xaxis.set_major_formatter(FixedFormatter([f"{v:g}" for v in xt]))
                ax.xaxis.set_minor_locator(NullLocator())
            ax.set_xlabel(f"{x} ({'modalities' if x == 'M' else 'sequence length'}; "
                          f"{other} = {fixed:g})")
            ax.set_ylabel(COMPLEXITY_LABELS.get(col, col))
            ax.set_title(COMPLEXITY_LABELS.get(col, col))
            ax.legend(fontsize=7, frameon=False)
        fig.suptitle(title if title is not None else
                     f"Fusion cost vs {x}: measured (solid) and Table 1 order fitted at the largest "
                     f"{x} (dashed)" if reference else f"Fusion cost vs {x}")
    _maybe_save(fig, name or f"table1_scaling_{x}", results_dir)
    return fig


# ---- data overview (notebook 00) ------------------------------------------------------------

def label_histograms(data, *, name: str | None = None,
                     results_dir: str | Path | None = None) -> Figure:
    """Histogram of the regression labels per split (the label distributions behind Table 2)."""
    splits = list(data.splits)
    fig = _new_figure((4.0 * len(splits), 3.0))
    axes = fig.subplots(1, len(splits), sharey=False)
    lo, hi = _label_range(data.dataset)
    bins = np.linspace(lo, hi, 25)
    for ax, s in zip(np.atleast_1d(axes), splits):
        y = np.asarray(data[s]["regression_labels"], dtype=float)
        ax.hist(y, bins=bins, color=sns.color_palette("deep")[0], edgecolor="white")
        ax.axvline(0.0, color="0.3", lw=0.8, ls="--")
        ax.set_title(f"{s} (N = {len(y)})")
        ax.set_xlabel("sentiment label")
    np.atleast_1d(axes)[0].set_ylabel("samples")
    _maybe_save(fig, name or f"labels_{data.dataset}", results_dir)
    return fig


def _label_range(dataset: str) -> tuple[float, float]:
    from .data.schema import get_spec

    return get_spec(dataset).label_range


def missing_view(split: Mapping, index: int = 0, rates: Sequence[float] = (0.3, 0.5, 0.7), *,
                 name: str | None = None, results_dir: str | Path | None = None) -> Figure:
    """Which positions of one sample the protocol removes at each rate (facts section 2).

    One row per rate, one column per modality; a cell is kept (light), removed (dark) or padding
    (white). Masks come from `emtlib.data.make_missing` on the whole split, as in training.
    """
    from .data.missing import length_mask, make_missing

    if not 0 <= index < len(split["regression_labels"]):
        raise ValueError(f"index {index}: expected 0 <= index < {len(split['regression_labels'])}")
    n_tok = int(np.asarray(split["text_bert"])[index, 1].sum())
    valid = {"text": np.arange(n_tok) < n_tok,
             "audio": length_mask(split["audio_lengths"][index:index + 1],
                                  int(split["audio_lengths"][index]))[0],
             "vision": length_mask(split["vision_lengths"][index:index + 1],
                                   int(split["vision_lengths"][index]))[0]}
    fig = _new_figure((12.0, 0.9 + 0.7 * len(rates)))
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
    _maybe_save(fig, name or "missing_view", results_dir)
    return fig


def paper_vs_ours(compared: pd.DataFrame, *, title: str | None = None, name: str | None = None,
                  results_dir: str | Path | None = None) -> Figure:
    """Bars of the paper's value and ours per metric (the frame of `emtlib.paper.compare`).

    Accuracies and F1 (in %) share one panel, MAE and Corr another, so the scales stay readable.
    """
    df = _check_frame(compared, ("paper", "ours"), "compared")
    pct = [m for m in df.index if m in PERCENT_METRICS]
    raw = [m for m in df.index if m not in PERCENT_METRICS]
    groups = [g for g in (raw, pct) if g]
    fig = _new_figure((4.0 + 0.9 * len(df.index), 3.2))
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
    _maybe_save(fig, name or "paper_vs_ours", results_dir)
    return fig


def bar_chart(values: pd.Series, *, ylabel: str, title: str | None = None,
              name: str | None = None, results_dir: str | Path | None = None) -> Figure:
    """One bar per labelled value (e.g. Table 9's parameters per sharing combination)."""
    if len(values) == 0:
        raise ValueError("values: expected at least one labelled value, found none")
    fig = _new_figure((1.2 + 0.8 * len(values), 3.2))
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
    _maybe_save(fig, name or "bars", results_dir)
    return fig
