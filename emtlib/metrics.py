"""Evaluation metrics of MOSI/MOSEI and CH-SIMS, and AUILC (paper eq. 17).

The metric definitions follow the released code exactly (docs/metrics.md,
official `utils/metricsTop.py`). One difference is deliberate: the released code rounds
MOSI/MOSEI metrics to 4 decimals; here every value is returned UNROUNDED, and rounding
is left to `round_for_display`. `auilc` is the plain trapezoid of eq. 17; `auilc_official`
reproduces the released `run_once.py` number, roundings included (docs/metrics.md#auilc).

Numerical notes:
- Thresholds, clipping, rounding and binning are applied in each input's own floating
  dtype (float32 stays float32, as with the released code's torch outputs), so a value
  that sits exactly on a bin edge lands where the released code puts it.
- MAE and Pearson correlation are accumulated in float64 (the released MAE is a float32
  mean); the difference is far below the 4 decimals anyone reports.
- F1 and accuracy are computed by hand with the same arithmetic as sklearn's
  `f1_score(average='weighted')` and `accuracy_score`, so the module does not import sklearn.
"""
from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

_DATASET_NAMES: tuple[str, ...] = ("mosi", "mosei", "sims")

METRIC_KEYS: dict[str, tuple[str, ...]] = {
    "mosi": ("mae", "corr", "acc7", "acc5", "acc2_has0", "f1_has0", "acc2_non0", "f1_non0"),
    "mosei": ("mae", "corr", "acc7", "acc5", "acc2_has0", "f1_has0", "acc2_non0", "f1_non0"),
    "sims": ("mae", "corr", "acc5", "acc3", "acc2", "f1"),
}
"""Our metric keys per dataset, in a fixed order."""

_OFFICIAL_MOSI_MOSEI: dict[str, str] = {
    "mae": "MAE", "corr": "Corr", "acc7": "Mult_acc_7", "acc5": "Mult_acc_5",
    "acc2_has0": "Has0_acc_2", "f1_has0": "Has0_F1_score",
    "acc2_non0": "Non0_acc_2", "f1_non0": "Non0_F1_score",
}
_OFFICIAL_SIMS: dict[str, str] = {
    "mae": "MAE", "corr": "Corr", "acc5": "Mult_acc_5", "acc3": "Mult_acc_3",
    "acc2": "Mult_acc_2", "f1": "F1_score",
}

# CH-SIMS right-closed bin edges (lo, hi] (docs/metrics.md#sims, `__eval_sims_regression`).
SIMS_EDGES_ACC2: tuple[float, ...] = (-1.01, 0.0, 1.01)
SIMS_EDGES_ACC3: tuple[float, ...] = (-1.01, -0.1, 0.1, 1.01)
SIMS_EDGES_ACC5: tuple[float, ...] = (-1.01, -0.7, -0.1, 0.1, 0.7, 1.01)

# Missing-rate grids. The released code (and the paper's figures) start at 0.0; the
# captions of Tables 6-7 say {0.1, ..., 1.0} / {0.1, ..., 0.5} (docs/metrics.md#auilc,
# docs/paper-vs-code.md#auilc-grid).
RATES_MOSI_MOSEI: tuple[float, ...] = tuple(round(i * 0.1, 1) for i in range(11))
RATES_SIMS: tuple[float, ...] = tuple(round(i * 0.1, 1) for i in range(6))
RATES_CAPTION_MOSI_MOSEI: tuple[float, ...] = tuple(round(i * 0.1, 1) for i in range(1, 11))
RATES_CAPTION_SIMS: tuple[float, ...] = tuple(round(i * 0.1, 1) for i in range(1, 6))

_MAX_INDICES_SHOWN = 5


# --------------------------------------------------------------------------- validation


def _check_dataset(dataset: object) -> str:
    """Return `dataset` if it is one of mosi/mosei/sims, else raise ValueError."""
    if not isinstance(dataset, str) or dataset not in _DATASET_NAMES:
        raise ValueError(f"dataset: expected one of {'/'.join(_DATASET_NAMES)}, found {dataset!r}")
    return dataset


def _to_numpy(x: Any, name: str) -> np.ndarray:
    """Flatten an array, list or torch tensor to 1-D numpy, keeping float32/float64 dtypes."""
    # torch tensor: as the released metrics do, `.view(-1).cpu().detach().numpy()`
    if hasattr(x, "detach"):
        t = x.detach().cpu()
        try:
            x = t.numpy()
        except TypeError:  # e.g. bfloat16 has no numpy dtype
            x = t.float().numpy()
    arr = np.asarray(x)
    if arr.dtype.kind == "O":
        raise ValueError(f"{name}: expected numbers, found an object array")
    arr = arr.reshape(-1)
    if arr.dtype not in (np.float32, np.float64):
        arr = arr.astype(np.float64)
    return arr


def _check_finite(arr: np.ndarray, name: str) -> None:
    """Raise ValueError naming how many entries of `arr` are NaN/inf and where."""
    bad = np.flatnonzero(~np.isfinite(arr))
    if bad.size:
        shown = ", ".join(str(i) for i in bad[:_MAX_INDICES_SHOWN])
        more = ", ..." if bad.size > _MAX_INDICES_SHOWN else ""
        raise ValueError(
            f"{name}: {bad.size} non-finite value(s) (NaN/inf) out of {arr.size}, "
            f"at flat indices [{shown}{more}]"
        )


def _prepare(y_pred: Any, y_true: Any) -> tuple[np.ndarray, np.ndarray]:
    """Flatten and validate predictions and labels (same size, non-empty, finite)."""
    pred = _to_numpy(y_pred, "y_pred")
    true = _to_numpy(y_true, "y_true")
    if pred.size != true.size:
        raise ValueError(
            f"y_pred and y_true must have the same number of elements; found shapes "
            f"{tuple(np.shape(y_pred))} ({pred.size} elements) and "
            f"{tuple(np.shape(y_true))} ({true.size} elements)"
        )
    if pred.size == 0:
        raise ValueError("y_pred and y_true are empty; metrics need at least one sample")
    _check_finite(pred, "y_pred")
    _check_finite(true, "y_true")
    return pred, true


# --------------------------------------------------------------------------- building blocks


def _accuracy(pred: np.ndarray, true: np.ndarray) -> float:
    """Fraction of equal entries (sklearn `accuracy_score` / released `__multiclass_acc`)."""
    return int(np.count_nonzero(pred == true)) / true.size


def _weighted_f1(true: np.ndarray, pred: np.ndarray) -> float:
    """sklearn `f1_score(true, pred, average='weighted')`, computed by hand.

    For each class c seen in either array, F1_c = 2*tp_c / (n_true_c + n_pred_c) (sklearn's
    formula; never 0/0 because c occurs somewhere), and the result is the support-weighted
    mean sum_c n_true_c * F1_c / sum_c n_true_c. A class that is never predicted gets F1 0,
    as sklearn's default does.
    """
    weighted_sum = 0.0
    for c in np.union1d(true, pred):
        is_true, is_pred = true == c, pred == c
        n_true = int(np.count_nonzero(is_true))
        n_pred = int(np.count_nonzero(is_pred))
        tp = int(np.count_nonzero(is_true & is_pred))
        weighted_sum += (2.0 * tp / (n_true + n_pred)) * n_true
    return weighted_sum / true.size


def pearson_corr(x: Any, y: Any) -> float:
    """Pearson correlation of two equal-length 1-D arrays, computed in float64.

    Matches `np.corrcoef(x, y)[0, 1]` (clipped to [-1, 1]), but returns float('nan')
    without a RuntimeWarning when either input is constant (zero variance), e.g.
    a model that predicts the same value for every sample.
    """
    a = np.asarray(x, dtype=np.float64).reshape(-1)
    b = np.asarray(y, dtype=np.float64).reshape(-1)
    if a.size != b.size:
        raise ValueError(f"pearson_corr: sizes differ ({a.size} vs {b.size})")
    if a.size == 0 or a.min() == a.max() or b.min() == b.max():
        return float("nan")
    da, db = a - a.mean(), b - b.mean()
    saa, sbb = float(da @ da), float(db @ db)
    if saa == 0.0 or sbb == 0.0:  # underflow of tiny spreads
        return float("nan")
    r = float(da @ db) / math.sqrt(saa) / math.sqrt(sbb)
    return min(1.0, max(-1.0, r))


def _bin_right_closed(x: np.ndarray, edges: Sequence[float]) -> np.ndarray:
    """Class index i of each value with edges[i] < x <= edges[i+1], compared in x's dtype."""
    e = np.asarray(edges, dtype=x.dtype)
    out = np.full(x.shape, -1, dtype=np.int64)
    for i in range(len(e) - 1):
        out[(x > e[i]) & (x <= e[i + 1])] = i
    if np.any(out < 0):  # cannot happen after clipping to [-1, 1]; guards edge changes
        raise ValueError("a value fell outside the bin edges")
    return out


# --------------------------------------------------------------------------- metrics


def _mosi_mosei(pred: np.ndarray, true: np.ndarray) -> dict[str, float]:
    """Released `__eval_mosei_regression` without the final 4-decimal rounding
    (docs/metrics.md#rounding)."""
    p64, t64 = pred.astype(np.float64), true.astype(np.float64)
    out: dict[str, float] = {
        "mae": float(np.mean(np.abs(p64 - t64))),  # unclipped
        "corr": pearson_corr(p64, t64),  # unclipped
        # clip, then np.round (half to even), then equality
        "acc7": _accuracy(np.round(np.clip(pred, -3.0, 3.0)), np.round(np.clip(true, -3.0, 3.0))),
        "acc5": _accuracy(np.round(np.clip(pred, -2.0, 2.0)), np.round(np.clip(true, -2.0, 2.0))),
    }
    # negative / non-negative: all samples, y >= 0 vs pred >= 0
    has0_true, has0_pred = true >= 0, pred >= 0
    out["acc2_has0"] = _accuracy(has0_pred, has0_true)
    out["f1_has0"] = _weighted_f1(has0_true, has0_pred)
    # negative / positive: drop labels exactly 0, then y > 0 vs pred > 0
    keep = true != 0
    if np.any(keep):
        non0_true, non0_pred = true[keep] > 0, pred[keep] > 0
        out["acc2_non0"] = _accuracy(non0_pred, non0_true)
        out["f1_non0"] = _weighted_f1(non0_true, non0_pred)
    else:
        out["acc2_non0"] = out["f1_non0"] = float("nan")
    return out


def _sims(pred: np.ndarray, true: np.ndarray) -> dict[str, float]:
    """Released `__eval_sims_regression` (docs/metrics.md#sims): clip both to [-1, 1],
    bins (lo, hi]."""
    p = np.clip(pred, -1.0, 1.0)
    t = np.clip(true, -1.0, 1.0)
    p2, t2 = _bin_right_closed(p, SIMS_EDGES_ACC2), _bin_right_closed(t, SIMS_EDGES_ACC2)
    return {
        "mae": float(np.mean(np.abs(p.astype(np.float64) - t.astype(np.float64)))),  # clipped
        "corr": pearson_corr(p, t),  # clipped
        "acc5": _accuracy(_bin_right_closed(p, SIMS_EDGES_ACC5), _bin_right_closed(t, SIMS_EDGES_ACC5)),
        "acc3": _accuracy(_bin_right_closed(p, SIMS_EDGES_ACC3), _bin_right_closed(t, SIMS_EDGES_ACC3)),
        "acc2": _accuracy(p2, t2),
        "f1": _weighted_f1(t2, p2),
    }


def regression_metrics(dataset: str, y_pred: Any, y_true: Any) -> dict[str, float]:
    """All test metrics of one split, as unrounded fractions, keyed as `METRIC_KEYS[dataset]`.

    `y_pred`/`y_true` may be numpy arrays, lists or torch tensors of any shape; they are
    flattened and must have the same number of elements, at least one, all finite.

    MOSI/MOSEI: MAE and Corr on unclipped values; Acc-7/Acc-5 clip to [-3, 3]/[-2, 2], then
    round half to even, then compare; `*_has0` use y >= 0 vs pred >= 0 on all samples;
    `*_non0` drop samples whose label is exactly 0 and use y > 0 vs pred > 0. If every label
    is 0, `acc2_non0` and `f1_non0` are NaN. SIMS: predictions and labels clipped to [-1, 1]
    first (MAE/Corr too), then right-closed bins. F1 is sklearn's weighted F1.
    Corr is NaN (without a warning) when predictions or labels are constant.
    """
    name = _check_dataset(dataset)
    pred, true = _prepare(y_pred, y_true)
    out = _sims(pred, true) if name == "sims" else _mosi_mosei(pred, true)
    return {k: out[k] for k in METRIC_KEYS[name]}


# --------------------------------------------------------------------------- display


def official_names(dataset: str) -> dict[str, str]:
    """Map our metric keys to the released code's key names (docs/metrics.md)."""
    name = _check_dataset(dataset)
    table = _OFFICIAL_SIMS if name == "sims" else _OFFICIAL_MOSI_MOSEI
    return {k: table[k] for k in METRIC_KEYS[name]}


def round_for_display(metrics: Mapping[str, float], digits: int = 4) -> dict[str, float]:
    """A copy of `metrics` rounded like the released `round(value, 4)` (NaN stays NaN)."""
    return {k: float(np.round(float(v), digits)) for k, v in metrics.items()}


# --------------------------------------------------------------------------- AUILC


def rate_grid(dataset: str, start_at_zero: bool = True) -> tuple[float, ...]:
    """Missing rates of the AUILC: from 0.0 as coded (default), or from 0.1 as the captions say."""
    name = _check_dataset(dataset)
    if name == "sims":
        return RATES_SIMS if start_at_zero else RATES_CAPTION_SIMS
    return RATES_MOSI_MOSEI if start_at_zero else RATES_CAPTION_MOSI_MOSEI


def _check_curve(rates: Any, values: Any) -> tuple[np.ndarray, np.ndarray]:
    """Validate an (increasing rates, values) curve for the AUILC trapezoid."""
    r = np.asarray(rates, dtype=np.float64)
    v = np.asarray(values, dtype=np.float64)
    if r.ndim != 1 or v.ndim != 1:
        raise ValueError(f"rates and values must be 1-D; found shapes {r.shape} and {v.shape}")
    if r.size != v.size:
        raise ValueError(f"rates and values differ in length: {r.size} vs {v.size}")
    if r.size < 2:
        raise ValueError(f"AUILC needs at least 2 points; found {r.size}")
    _check_finite(r, "rates")
    _check_finite(v, "values")
    if r.min() < 0.0 or r.max() > 1.0:
        raise ValueError(f"rates must lie within [0, 1]; found min {r.min()} and max {r.max()}")
    steps = np.diff(r)
    if np.any(steps <= 0):
        i = int(np.flatnonzero(steps <= 0)[0])
        raise ValueError(
            f"rates must be strictly increasing; rates[{i}] = {r[i]} is followed by "
            f"rates[{i + 1}] = {r[i + 1]}"
        )
    return r, v


def auilc(rates: Any, values: Any) -> float:
    """Area under a metric-vs-missing-rate curve, paper eq. 17, without any rounding.

    sum_i (v_i + v_{i+1}) / 2 * (p_{i+1} - p_i) over consecutive rates; rates may be unevenly
    spaced. Values are used as given (fractions give fractions; pass x100 values for %).
    """
    r, v = _check_curve(rates, values)
    return float(np.sum((v[:-1] + v[1:]) / 2.0 * np.diff(r)))


def auilc_official(rates: Any, seed_mean_values: Any) -> float:
    """AUILC exactly as the released `run_once.py` computes it (docs/metrics.md#auilc).

    `seed_mean_values` are the per-rate seed means of one metric as fractions (e.g. 0.8123;
    MAE 0.72). Each is x100 and rounded to 2 decimals, the trapezoid uses the constant grid
    spacing (0.1 on the released grids), summed in order, and the result is rounded to 1
    decimal; the returned number is on the x100 scale. The paper prints the MAE and Corr
    AUILC divided by 100 again (e.g. 110.6 is printed as 1.106). Rates must be evenly spaced.
    """
    r, v = _check_curve(rates, seed_mean_values)
    steps = np.diff(r)
    step = round(float(steps[0]), 10)  # 0.1 exactly on the released grids
    if np.any(np.abs(steps - step) > 1e-9):
        raise ValueError(f"auilc_official needs evenly spaced rates; found steps {steps.tolist()}")
    scaled = np.round(v * 100.0, 2)  # released: round(np.mean(values) * 100, 2)
    pair_sums = scaled[:-1] + scaled[1:]
    total = 0.0
    for s in pair_sums:  # released: np.sum over axis 0 of a 2-D array, i.e. in order
        total += float(s)
    return float(np.round(total / 2 * step, 1))  # released: ... / 2 * 0.1, .round(1)
