"""Tests of emtlib.metrics against numbers worked out by hand (docs/metrics.md, paper eq. 17)."""
from __future__ import annotations

import math
import warnings

import numpy as np
import pytest

from emtlib.metrics import (
    METRIC_KEYS,
    RATES_CAPTION_MOSI_MOSEI,
    RATES_CAPTION_SIMS,
    RATES_MOSI_MOSEI,
    RATES_SIMS,
    auilc,
    auilc_official,
    official_names,
    rate_grid,
    regression_metrics,
    round_for_display,
)


class _FakeTensor:
    """Quacks like a torch tensor (detach/cpu/numpy), so the test needs no torch import."""

    def __init__(self, values: list[float]) -> None:
        self._values = np.asarray(values, dtype=np.float32).reshape(-1, 1)

    def detach(self) -> "_FakeTensor":
        return self

    def cpu(self) -> "_FakeTensor":
        return self

    def numpy(self) -> np.ndarray:
        return self._values


# --------------------------------------------------------------------------- MOSI / MOSEI


def test_keys_and_order_follow_metric_keys() -> None:
    assert METRIC_KEYS["mosi"] == (
        "mae", "corr", "acc7", "acc5", "acc2_has0", "f1_has0", "acc2_non0", "f1_non0"
    )
    assert METRIC_KEYS["mosei"] == METRIC_KEYS["mosi"]
    assert METRIC_KEYS["sims"] == ("mae", "corr", "acc5", "acc3", "acc2", "f1")
    for ds in ("mosi", "mosei", "sims"):
        out = regression_metrics(ds, [0.3, -0.5, 0.9], [0.2, -0.4, 0.6])
        assert tuple(out) == METRIC_KEYS[ds]
        assert all(type(v) is float for v in out.values())


def test_acc7_rounds_halves_to_even() -> None:
    preds = [0.5, 1.5, 2.5, -0.5, -2.5]
    # half to even: 0.5->0, 1.5->2, 2.5->2, -0.5->-0, -2.5->-2, so these labels all match
    even = regression_metrics("mosi", preds, [0.0, 2.0, 2.0, 0.0, -2.0])
    assert even["acc7"] == 1.0
    # half away from zero would give 1, 2, 3, -1, -3; only 1.5->2 matches those
    away = regression_metrics("mosi", preds, [1.0, 2.0, 3.0, -1.0, -3.0])
    assert away["acc7"] == pytest.approx(1 / 5)
    # Acc-5 clips to [-2, 2] first: 2.5->2 and -2.5->-2, then rounds as above
    assert even["acc5"] == 1.0


def test_clipping_for_acc7_acc5_but_not_mae() -> None:
    # pred 5.0 counts as 3 for Acc-7 (matches label 3, not label 2) and as 2 for Acc-5
    # (matches both labels, since 3 clips to 2 as well)
    out = regression_metrics("mosi", [5.0, 5.0], [3.0, 2.0])
    assert out["acc7"] == pytest.approx(1 / 2)
    assert out["acc5"] == 1.0
    # MAE uses the unclipped 5.0: (|5-3| + |5-2|) / 2 = 2.5 (clipped it would be 0.5)
    assert out["mae"] == pytest.approx(2.5)


def test_zero_labels_in_has0_dropped_in_non0() -> None:
    labels = [0.0, 1.0, -1.0, 2.0, -2.0]
    preds = [-1.0, 1.0, 1.0, 2.0, -2.0]
    out = regression_metrics("mosei", preds, labels)
    # has0, all 5 samples: truth >= 0 -> T T F T F; pred >= 0 -> F T T T F; 3 of 5 agree
    assert out["acc2_has0"] == pytest.approx(3 / 5)
    # non0 drops the label-0 sample, 4 left: truth > 0 -> T F T F; pred > 0 -> T T T F
    assert out["acc2_non0"] == pytest.approx(3 / 4)


def test_prediction_zero_is_non_negative_but_not_positive() -> None:
    out = regression_metrics("mosi", [0.0], [0.5])
    assert out["acc2_has0"] == 1.0  # 0.0 >= 0 and 0.5 >= 0
    assert out["acc2_non0"] == 0.0  # 0.0 > 0 is False, 0.5 > 0 is True


def test_weighted_f1_by_hand() -> None:
    labels = [1.0, 2.0, 0.5, 3.0, -1.0, -2.0]
    preds = [1.0, 1.0, 1.0, -1.0, 1.0, 1.0]
    # truth: T T T T F F (4 pos, 2 neg); pred: T T T F T T (5 pos, 1 neg)
    # class T: tp = 3 (idx 0,1,2); precision 3/5, recall 3/4, F1 = 2*(9/20)/(27/20) = 2/3
    # class F: tp = 0; precision 0/1, recall 0/2, F1 = 0
    # weighted by true support: (4 * 2/3 + 2 * 0) / 6 = 4/9; accuracy is 3/6
    out = regression_metrics("mosi", preds, labels)
    assert out["f1_has0"] == pytest.approx(4 / 9)
    assert out["f1_non0"] == pytest.approx(4 / 9)  # no zero labels: same samples
    assert out["acc2_has0"] == pytest.approx(1 / 2)
    # the same booleans through CH-SIMS' two bins: (-1.01, 0] vs (0, 1.01]
    sims = regression_metrics(
        "sims", [0.2, 0.2, 0.2, -0.2, 0.2, 0.2], [0.2, 0.4, 0.6, 0.8, -0.2, -0.4]
    )
    assert sims["f1"] == pytest.approx(4 / 9)
    assert sims["acc2"] == pytest.approx(1 / 2)


def test_weighted_f1_single_class_is_one() -> None:
    out = regression_metrics("mosi", [1.0, 2.0], [0.5, 3.0])
    assert out["f1_has0"] == 1.0 and out["f1_non0"] == 1.0


def test_mae_and_corr_by_hand() -> None:
    # x = 1,2,3 (mean 2), y = 1,2,4 (mean 7/3): dx = -1,0,1; dy = -4/3,-1/3,5/3
    # sxy = 4/3 + 5/3 = 3; sxx = 2; syy = (16+1+25)/9 = 14/3; r = 3 / sqrt(2 * 14/3)
    out = regression_metrics("mosi", [1.0, 2.0, 3.0], [1.0, 2.0, 4.0])
    assert out["corr"] == pytest.approx(3 / math.sqrt(28 / 3))
    assert out["mae"] == pytest.approx(1 / 3)


def test_constant_predictions_give_nan_corr_without_warning() -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        out = regression_metrics("mosi", [0.3, 0.3, 0.3, 0.3], [1.0, -1.0, 2.0, 0.0])
        # everything clipped to 1.0 on SIMS is constant as well
        sims = regression_metrics("sims", [2.0, 3.0, 4.0], [0.2, -0.4, 0.6])
    assert math.isnan(out["corr"]) and math.isnan(sims["corr"])
    assert out["mae"] == pytest.approx((0.7 + 1.3 + 1.7 + 0.3) / 4)


def test_all_zero_labels_give_nan_non0_metrics() -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        out = regression_metrics("mosi", [0.5, -0.5], [0.0, 0.0])
    assert math.isnan(out["acc2_non0"]) and math.isnan(out["f1_non0"])
    assert out["acc2_has0"] == pytest.approx(1 / 2)


# --------------------------------------------------------------------------- CH-SIMS


@pytest.mark.parametrize(
    ("pred", "label", "key", "expected"),
    [
        (0.0, -0.2, "acc2", 1.0),  # 0.0 is in (-1.01, 0]: negative
        (0.0, 0.2, "acc2", 0.0),
        (0.1, 0.0, "acc3", 1.0),  # 0.1 is in (-0.1, 0.1]: neutral
        (0.1, 0.2, "acc3", 0.0),
        (-0.1, -0.2, "acc3", 1.0),  # -0.1 is in (-1.01, -0.1]: negative
        (0.7, 0.4, "acc5", 1.0),  # 0.7 is in (0.1, 0.7]
        (0.7, 0.8, "acc5", 0.0),
        (-0.7, -0.8, "acc5", 1.0),  # -0.7 is in (-1.01, -0.7]: lowest
        (-1.0, -0.8, "acc5", 1.0),  # -1.0 is in the lowest bin
        (-1.0, -0.8, "acc3", 1.0),
        (-1.5, -0.8, "acc5", 1.0),  # clipped to -1.0 first
        (1.3, 0.8, "acc5", 1.0),  # clipped to 1.0, in (0.7, 1.01]
    ],
)
def test_sims_bin_edges(pred: float, label: float, key: str, expected: float) -> None:
    assert regression_metrics("sims", [pred], [label])[key] == expected


def test_sims_edges_compare_in_float32_like_the_released_code() -> None:
    # float32(0.1) > float64(0.1), but the released code compares in float32: neutral
    pred = np.array([0.1, 0.7], dtype=np.float32)
    out = regression_metrics("sims", pred, np.array([0.0, 0.4], dtype=np.float32))
    # acc3: 0.1 and 0.0 both neutral, 0.7 and 0.4 both positive; comparing float32(0.1)
    # in float64 would make it positive and give 1/2
    assert out["acc3"] == 1.0
    assert out["acc5"] == 1.0  # 0.1 -> (-0.1, 0.1], 0.7 -> (0.1, 0.7]


def test_sims_mae_on_clipped_values() -> None:
    # preds clip to 1.0 and -1.0, labels clip to 1.0: |1-1| + |-1-(-0.6)| = 0.4, over 2
    out = regression_metrics("sims", [5.0, -3.0], [1.5, -0.6])
    assert out["mae"] == pytest.approx(0.2)


# --------------------------------------------------------------------------- inputs and errors


def test_accepts_lists_arrays_and_tensor_like() -> None:
    preds, labels = [0.5, -1.2, 2.0, 0.0], [1.0, -1.0, 2.2, -0.4]
    from_list = regression_metrics("mosi", preds, labels)
    from_2d = regression_metrics("mosi", np.array(preds).reshape(-1, 1), np.array(labels))
    from_tensor = regression_metrics("mosi", _FakeTensor(preds), _FakeTensor(labels))
    for key in METRIC_KEYS["mosi"]:
        assert from_2d[key] == from_list[key]
        assert from_tensor[key] == pytest.approx(from_list[key], abs=1e-6)


@pytest.mark.parametrize("name", ["MOSI", "iemocap", "", None])
def test_unknown_dataset(name: object) -> None:
    with pytest.raises(ValueError, match="expected one of mosi/mosei/sims, found"):
        regression_metrics(name, [0.1], [0.2])  # type: ignore[arg-type]


def test_mismatched_lengths() -> None:
    with pytest.raises(ValueError, match=r"\(3,\).*\(2, 1\)"):
        regression_metrics("mosi", [0.1, 0.2, 0.3], [[0.1], [0.2]])


def test_empty_inputs() -> None:
    with pytest.raises(ValueError, match="empty"):
        regression_metrics("sims", [], [])


def test_non_finite_inputs() -> None:
    with pytest.raises(ValueError, match=r"y_pred: 2 non-finite.*\[1, 3\]"):
        regression_metrics("mosi", [0.1, float("nan"), 0.3, float("inf")], [0.0] * 4)
    with pytest.raises(ValueError, match=r"y_true: 1 non-finite.*\[0\]"):
        regression_metrics("sims", [0.1], [float("nan")])


# --------------------------------------------------------------------------- display


def test_official_names() -> None:
    assert official_names("mosi") == {
        "mae": "MAE", "corr": "Corr", "acc7": "Mult_acc_7", "acc5": "Mult_acc_5",
        "acc2_has0": "Has0_acc_2", "f1_has0": "Has0_F1_score",
        "acc2_non0": "Non0_acc_2", "f1_non0": "Non0_F1_score",
    }
    assert official_names("sims") == {
        "mae": "MAE", "corr": "Corr", "acc5": "Mult_acc_5", "acc3": "Mult_acc_3",
        "acc2": "Mult_acc_2", "f1": "F1_score",
    }


def test_round_for_display() -> None:
    metrics = {"mae": 0.712345678, "corr": float("nan"), "acc2": 2 / 3}
    shown = round_for_display(metrics)
    assert shown["mae"] == 0.7123 and shown["acc2"] == 0.6667
    assert math.isnan(shown["corr"])
    assert metrics["mae"] == 0.712345678  # input untouched
    assert round_for_display(metrics, digits=2)["mae"] == 0.71


# --------------------------------------------------------------------------- AUILC


def test_rate_grids() -> None:
    assert RATES_MOSI_MOSEI == (0.0, 0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 1.0)
    assert RATES_SIMS == (0.0, 0.1, 0.2, 0.3, 0.4, 0.5)
    assert RATES_CAPTION_MOSI_MOSEI == RATES_MOSI_MOSEI[1:]
    assert RATES_CAPTION_SIMS == RATES_SIMS[1:]
    assert rate_grid("mosi") == rate_grid("mosei") == RATES_MOSI_MOSEI
    assert rate_grid("sims") == RATES_SIMS
    assert rate_grid("mosei", start_at_zero=False) == RATES_CAPTION_MOSI_MOSEI
    assert rate_grid("sims", start_at_zero=False) == RATES_CAPTION_SIMS


def test_auilc_by_hand() -> None:
    # 0.5 * (1+3)/2 + 0.5 * (3+2)/2 = 1 + 1.25
    assert auilc([0.0, 0.5, 1.0], [1.0, 3.0, 2.0]) == pytest.approx(2.25)


def test_auilc_uneven_spacing() -> None:
    # 0.1 * (2+4)/2 + 0.3 * (4+4)/2 + 0.6 * (4+1)/2 = 0.3 + 1.2 + 1.5
    assert auilc([0.0, 0.1, 0.4, 1.0], [2.0, 4.0, 4.0, 1.0]) == pytest.approx(3.0)


def test_auilc_official_rounding() -> None:
    means = [0.812349, 0.8, 0.786149]
    # x100, 2 decimals: 81.23, 80.00, 78.61; pairs 161.23 + 158.61 = 319.84;
    # / 2 * 0.1 = 15.992 -> 16.0, where the unrounded area is 0.05 * 319.8498 = 15.99249
    assert auilc_official([0.0, 0.1, 0.2], means) == 16.0
    assert 100 * auilc([0.0, 0.1, 0.2], means) == pytest.approx(15.99249)
    # MAE 1.106 at every rate over 0.0..1.0 gives 110.6, which the paper prints as 1.106
    assert auilc_official(RATES_MOSI_MOSEI, [1.106] * 11) == 110.6


@pytest.mark.parametrize(
    ("rates", "values", "message"),
    [
        ([0.0, 0.2, 0.1], [1.0, 1.0, 1.0], "strictly increasing"),
        ([0.0, 0.1, 0.1], [1.0, 1.0, 1.0], "strictly increasing"),
        ([0.5, 1.1], [1.0, 1.0], r"within \[0, 1\]"),
        ([-0.1, 0.5], [1.0, 1.0], r"within \[0, 1\]"),
        ([0.0, 0.5], [1.0, 1.0, 1.0], "differ in length"),
        ([0.5], [1.0], "at least 2"),
        ([0.0, 0.5], [1.0, float("nan")], "values: 1 non-finite"),
    ],
)
def test_auilc_errors(rates: list[float], values: list[float], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        auilc(rates, values)
    with pytest.raises(ValueError, match=message):
        auilc_official(rates, values)


def test_auilc_official_needs_even_spacing() -> None:
    with pytest.raises(ValueError, match="evenly spaced"):
        auilc_official([0.0, 0.1, 0.4], [1.0, 1.0, 1.0])


def test_f1_and_accuracy_agree_with_sklearn_on_random_cases():
    """The hand-written weighted F1 / accuracy equal sklearn's, as the released code calls it."""
    from sklearn.metrics import accuracy_score, f1_score

    rng = np.random.default_rng(0)
    for _ in range(50):
        n = int(rng.integers(2, 40))
        y = np.round(rng.uniform(-3, 3, n) * 3) / 3
        p = rng.normal(0, 1.5, n).astype(np.float32)
        m = regression_metrics("mosi", p, y)
        assert m["f1_has0"] == pytest.approx(f1_score(y >= 0, p >= 0, average="weighted"), abs=1e-12)
        assert m["acc2_has0"] == pytest.approx(accuracy_score(y >= 0, p >= 0), abs=1e-12)
        nz = y != 0
        if nz.any():
            assert m["f1_non0"] == pytest.approx(
                f1_score(y[nz] > 0, p[nz] > 0, average="weighted"), abs=1e-12)
