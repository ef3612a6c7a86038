"""The input frames: checks and normalisation of aggregated results and of the paper overlay."""
from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd

from ..metrics import METRIC_KEYS, auilc

AGG_COLUMNS: tuple[str, ...] = ("dataset", "method", "variant", "rate", "metric", "mean")
"""Columns an aggregated frame must have (`std` and `n` are optional)."""

DEFAULT_METRICS: dict[str, tuple[str, ...]] = {
    "mosi": ("mae", "corr", "acc7", "acc2_non0"),
    "mosei": ("mae", "corr", "acc7", "acc2_non0"),
    "sims": ("mae", "corr", "acc5", "acc2"),
}
"""The four metrics of Figs 4-6 per dataset (Acc-2 of MOSI/MOSEI is the negative/positive one)."""


def check_frame(frame: Any, required: Sequence[str], what: str) -> pd.DataFrame:
    """`frame` itself, once it is a non-empty DataFrame with the `required` columns."""
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


def normalize_agg(agg: Any, what: str = "agg") -> pd.DataFrame:
    """A checked copy of an aggregated frame: string keys, variant '' for NaN, std 0 when absent."""
    df = check_frame(agg, AGG_COLUMNS, what).copy()
    df["variant"] = df["variant"].fillna("").astype(str)
    df["method"] = df["method"].astype(str)
    df["dataset"] = df["dataset"].astype(str)
    df["metric"] = df["metric"].astype(str)
    if "std" not in df.columns:
        df["std"] = 0.0
    df["std"] = df["std"].fillna(0.0)
    return df


def normalize_paper(paper: Any) -> pd.DataFrame | None:
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


def select_dataset(df: pd.DataFrame, dataset: str, what: str = "agg") -> pd.DataFrame:
    """The rows of one dataset, which must be present."""
    found = sorted(df["dataset"].unique())
    if dataset not in found:
        raise ValueError(f"dataset {dataset!r} not in {what}; expected one of {found}")
    return df[df["dataset"] == dataset]


def resolve_metrics(dataset: str, metrics, available: Sequence[str]) -> list[str]:
    """The metrics to draw: those given (one key or a list) or the dataset's default four, checked."""
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


def auilc_value(rows: pd.DataFrame) -> float:
    """AUILC (paper eq. 17) of the seed means over the rates present (trapezoid)."""
    g = rows.sort_values("rate")
    if len(g) < 2:
        raise ValueError(f"AUILC needs at least 2 missing rates; found {g['rate'].tolist()}")
    return auilc(g["rate"].to_numpy(float), g["mean"].to_numpy(float))
