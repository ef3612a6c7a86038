"""The look shared by every figure: rc style, fixed colors, display labels, deterministic files."""
from __future__ import annotations

import re
from collections.abc import Sequence
from pathlib import Path

import matplotlib
import seaborn as sns
from matplotlib.figure import Figure

from emtlib.files import RESULTS_DIR, atomic_write, resolve


FIGURE_DPI = 150
"""Resolution of the PNG files."""

DATASET_LABELS: dict[str, str] = {"mosi": "CMU-MOSI", "mosei": "CMU-MOSEI", "sims": "CH-SIMS"}

METRIC_LABELS: dict[str, str] = {
    "mae": "MAE", "corr": "Corr", "acc7": "Acc-7", "acc5": "Acc-5", "acc3": "Acc-3",
    "acc2": "Acc-2", "f1": "F1", "acc2_non0": "Acc-2", "f1_non0": "F1",
    "acc2_has0": "Acc-2 (has-0)", "f1_has0": "F1 (has-0)",
}
LOWER_IS_BETTER: frozenset[str] = frozenset({"mae"})
PERCENT_METRICS: frozenset[str] = frozenset(
    {"acc7", "acc5", "acc3", "acc2", "f1", "acc2_non0", "f1_non0", "acc2_has0", "f1_has0"})
"""Metrics stored as fractions and plotted x100."""

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
SPARE_COLORS: tuple[str, ...] = ("#17becf", "#393b79", "#637939", "#8c6d31", "#843c39",
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
"""One fixed color per fusion strategy (Table 1 scaling)."""

_LAMBDA_RE = re.compile(r"^\s*l(?:ambda)?_?1\s*=\s*([0-9.eE+-]+)\s*[,;]\s*l(?:ambda)?_?2\s*=\s*([0-9.eE+-]+)\s*$")


def rc_params() -> dict:
    """rc parameters of every figure (seaborn whitegrid/notebook look, deterministic files)."""
    rc = dict(sns.axes_style("whitegrid"))
    rc.update(sns.plotting_context("notebook", font_scale=0.9))
    rc.update({"svg.hashsalt": "emtlib", "pdf.fonttype": 42, "axes.titleweight": "bold"})
    return rc


def new_figure(figsize: tuple[float, float]) -> Figure:
    """A pyplot-free figure with constrained layout (nothing global to close)."""
    return Figure(figsize=figsize, layout="constrained")


def slug(text: str) -> str:
    """`text` as a safe file-name part."""
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
    out = resolve(results_dir) / "figures"
    png, pdf = out / f"{name}.png", out / f"{name}.pdf"
    with matplotlib.rc_context({"svg.hashsalt": "emtlib", "pdf.fonttype": 42}):
        atomic_write(png, lambda f: fig.savefig(f, format="png", dpi=FIGURE_DPI,
                                                metadata={"Software": None}))
        atomic_write(pdf, lambda f: fig.savefig(f, format="pdf", metadata={
            "CreationDate": None, "Producer": None, "Creator": None}))
    return [png, pdf]


def maybe_save(fig: Figure, name: str, results_dir) -> None:
    """`save_figure` unless `results_dir` is None."""
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
    lw = parse_lambdas(v)
    if lw is not None:
        return f"λ1={lw[0]:g}, λ2={lw[1]:g}"
    return v


def method_color(method: str, methods: Sequence[str] = ()) -> str:
    """The fixed color of a method; unknown ones get spare colors in the order of `methods`."""
    if method in METHOD_COLORS:
        return METHOD_COLORS[method]
    unknown = [m for m in methods if m not in METHOD_COLORS]
    i = unknown.index(method) if method in unknown else 0
    return SPARE_COLORS[i % len(SPARE_COLORS)]


def metric_label(metric: str) -> str:
    """Panel title of a metric, with the direction of better values ('MAE (↓)', 'Acc-7 (↑)')."""
    arrow = "↓" if metric in LOWER_IS_BETTER else "↑"
    return f"{METRIC_LABELS.get(metric, metric)} ({arrow})"


def axis_label(metric: str) -> str:
    """Axis label of a metric, with its unit ('Acc-7 (%)')."""
    return f"{METRIC_LABELS.get(metric, metric)}" + (" (%)" if metric in PERCENT_METRICS else "")


def scale(metric: str) -> float:
    """Factor from stored to plotted values: 100 for accuracies and F1, else 1."""
    return 100.0 if metric in PERCENT_METRICS else 1.0


def parse_lambdas(variant: str) -> tuple[float, float] | None:
    """(λ1, λ2) of a loss-weight variant label 'l1=<λ1>,l2=<λ2>', else None."""
    m = _LAMBDA_RE.match(str(variant))
    if m is None:
        return None
    try:
        return float(m.group(1)), float(m.group(2))
    except ValueError:
        return None
