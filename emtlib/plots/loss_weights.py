"""Paper Fig 10: sensitivity to the loss weights λ1 (reconstruction) and λ2 (attraction)."""
from __future__ import annotations

from pathlib import Path

import matplotlib
import numpy as np
import pandas as pd
import seaborn as sns
from matplotlib.figure import Figure
from matplotlib.patches import Rectangle

from .frames import auilc_value, check_frame, normalize_agg, resolve_metrics, select_dataset
from .style import (DATASET_LABELS, LOWER_IS_BETTER, METRIC_LABELS, PERCENT_METRICS, maybe_save,
                    new_figure, parse_lambdas, rc_params, scale, slug)


def loss_weight_table(agg: pd.DataFrame, dataset: str, metrics=None, *, rate: float | str = "auilc",
                      method: str | None = None) -> pd.DataFrame:
    """Fig 10's values from an aggregated frame whose variants are 'l1=<λ1>,l2=<λ2>'.

    Returns columns lambda_recon (λ1), lambda_attr (λ2), metric, value, in RAW units: the AUILC
    over the rates present (rate='auilc', default) or the seed mean at one missing rate.
    """
    df = select_dataset(normalize_agg(agg), dataset)
    if method is not None:
        df = df[df["method"] == method]
    parsed = df["variant"].map(parse_lambdas)
    df = df[parsed.notna()].copy()
    if df.empty:
        raise ValueError(f"no loss-weight variants for {dataset}; expected variant labels like "
                         f"'l1=0.5,l2=1.0'")
    parsed = parsed[parsed.notna()]
    df["lambda_recon"] = [p[0] for p in parsed]
    df["lambda_attr"] = [p[1] for p in parsed]
    metrics = resolve_metrics(dataset, metrics, df["metric"].unique())
    rows = []
    for (l1, l2, metric), g in df[df["metric"].isin(metrics)].groupby(
            ["lambda_recon", "lambda_attr", "metric"], sort=True):
        if g["method"].nunique() > 1:
            raise ValueError(f"λ1={l1}, λ2={l2} has rows of several methods "
                             f"{sorted(g['method'].unique())}; expected one; pass method='...'")
        if rate == "auilc":
            value = auilc_value(g)
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
        table = check_frame(values, ("lambda_recon", "lambda_attr", "value"), "values").copy()
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

    with matplotlib.rc_context(rc_params()):
        fig = new_figure((4.0 * len(metrics) + 0.4, 3.8))
        axes = fig.subplots(1, len(metrics), squeeze=False)[0]
        for ax, m in zip(axes, metrics):
            g = table[table["metric"] == m]
            if g.duplicated(["lambda_recon", "lambda_attr"]).any():
                raise ValueError(f"metric {m!r}: several values per (lambda_recon, lambda_attr); "
                                 f"expected one")
            grid = g.pivot(index="lambda_recon", columns="lambda_attr", values="value")
            grid = grid.sort_index(axis=0).sort_index(axis=1) * scale(m)
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
    maybe_save(fig, name or f"fig10_loss_weights{'_' + slug(dataset) if dataset else ''}",
                results_dir)
    return fig
