"""Tests of emtlib.plots.bars: ours next to the paper per metric, one bar per labelled value."""
from __future__ import annotations

import matplotlib

matplotlib.use("Agg")

import numpy as np
import pandas as pd
import pytest

from emtlib import paper, plots


def test_paper_vs_ours_splits_raw_and_percent_metrics(tmp_path, saved):
    ours = {"mae": 0.71, "corr": 0.79, "acc7": 0.466, "acc2_non0": 0.853}
    compared = paper.compare(ours, "table4", "mosi", "emt", units="fraction").loc[list(ours)]
    fig = plots.paper_vs_ours(compared, results_dir=tmp_path)
    raw, pct = fig.axes
    assert [t.get_text() for t in raw.get_xticklabels()] == ["MAE", "Corr"]
    assert [t.get_text() for t in pct.get_xticklabels()] == ["Acc-7", "Acc-2"]
    assert pct.get_ylabel() == "%" and raw.get_ylabel() == "value"
    heights = [b.get_height() for b in pct.patches]  # paper bars, then ours
    np.testing.assert_allclose(heights, [*compared.loc[["acc7", "acc2_non0"], "paper"],
                                         *compared.loc[["acc7", "acc2_non0"], "ours"]])
    assert heights[2] == pytest.approx(46.6)  # our fraction in percent, on the paper's scale
    assert saved == [("paper_vs_ours", tmp_path)]


def test_bar_chart_one_bar_per_value():
    values = pd.Series([110.5, 111.1, 112.4], index=["all", "mpu+layer", "none"])
    fig = plots.bar_chart(values, ylabel="parameters (M)", title="Table 9")
    ax = fig.axes[0]
    np.testing.assert_allclose([b.get_height() for b in ax.patches], values)
    assert [t.get_text() for t in ax.get_xticklabels()] == list(values.index)
    lo, hi = ax.get_ylim()
    assert lo < 110.5 and hi > 112.4 and lo > 0  # zoomed on the values, not from 0
    with pytest.raises(ValueError, match="at least one labelled value"):
        plots.bar_chart(pd.Series([], dtype=float), ylabel="x")
