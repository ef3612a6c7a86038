"""Notebook 03: measured fusion cost as M or T grows, against Table 1's orders (`emtlib.paper`)."""
from __future__ import annotations

import re
from collections.abc import Sequence
from pathlib import Path

import matplotlib
import numpy as np
import pandas as pd
from matplotlib.figure import Figure
from matplotlib.ticker import FixedFormatter, FixedLocator, NullLocator

from .. import paper
from .frames import check_frame
from .style import SPARE_COLORS, STRATEGY_COLORS, maybe_save, new_figure, rc_params

_PARAM_COLUMNS = frozenset({"params", "parameters", "n_params", "num_params"})
"""Measured columns compared with Table 1's space order (the rest with its time order)."""
COMPLEXITY_LABELS: dict[str, str] = {"macs": "MACs", "seconds": "time (s)",
                                     "memory_bytes": "peak memory (bytes)",
                                     "params": "parameters"}
"""Axis label of each measured column."""


def _strategy_key(strategy: str) -> str:
    """Table 1's key of a strategy label ('OAGL', 'oagl-serial' -> 'oagl')."""
    s = re.sub(r"[-_ ]?(serial|parallel)$", "", str(strategy).lower())
    if s not in paper.TABLE1:
        raise ValueError(f"unknown fusion strategy {strategy!r}; expected one of "
                         f"{[k.upper() for k in paper.TABLE1]} (optionally '-serial')")
    return s


def reference_order(strategy: str, M, T, kind: str = "time") -> np.ndarray:
    """f(M, T) of a strategy label: `paper.table1_order` of its fusion ('time', 'space', 'text', 'mpu')."""
    return paper.table1_order(_strategy_key(strategy), np.asarray(M, float), np.asarray(T, float), kind)


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
    MPU attention costs, None nothing; f is `emtlib.paper.table1_order`. c is fitted to the point
    with the largest x, so the dashed curve shows the asymptotic order the measurement should
    approach. Log-log axes by default, where an order is a slope.
    """
    if x not in ("M", "T"):
        raise ValueError(f"x: expected 'M' or 'T', found {x!r}")
    df = check_frame(frame, ("strategy", "M", "T"), "frame").copy()
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
    for s in df["strategy"].unique():
        _strategy_key(s)  # an unknown label fails before anything is drawn
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

    with matplotlib.rc_context(rc_params()):
        fig = new_figure((4.2 * len(y) + 0.4, 3.8))
        axes = fig.subplots(1, len(y), squeeze=False)[0]
        for ax, col in zip(axes, y):
            kind = "mpu" if reference == "mpu" else "space" if col in _PARAM_COLUMNS else "time"
            for i, s in enumerate(strategies):
                g = sel[(sel["strategy"] == s) & sel[col].notna()].sort_values(x)
                g = g.groupby(x, as_index=False)[[col, "M", "T"]].mean()
                if g.empty:
                    continue
                key = _strategy_key(s)
                color = STRATEGY_COLORS.get(key, SPARE_COLORS[i % len(SPARE_COLORS)])
                ls = "-" if str(s).lower() == key else ":"  # serial variants: same hue, dotted
                xs, ys = g[x].to_numpy(float), g[col].to_numpy(float)
                ax.plot(xs, ys, marker="o", linestyle=ls, color=color, label=str(s).upper(),
                        gid=f"measured:{s}")
                if reference is not None:
                    f = paper.table1_order(key, g["M"].to_numpy(float), g["T"].to_numpy(float), kind)
                    if f[-1] > 0 and ys[-1] > 0:
                        c = ys[-1] / f[-1]
                        order = "MPU cost" if kind == "mpu" else paper.TABLE1[key][kind]
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
    maybe_save(fig, name or f"table1_scaling_{x}", results_dir)
    return fig
