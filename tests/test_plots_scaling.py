"""Tests of emtlib.plots.scaling: measured cost vs M or T against Table 1's orders (notebook 03)."""
from __future__ import annotations

import matplotlib

matplotlib.use("Agg")

import numpy as np
import pandas as pd
import pytest

from emtlib import paper, plots


def curves(ax, kind: str) -> dict:
    """The lines of one kind ('measured' or 'reference') of a panel, by strategy, in drawing order."""
    return {ln.get_gid().split(":", 1)[1]: ln for ln in ax.get_lines()
            if (ln.get_gid() or "").startswith(kind + ":")}


def test_reference_order_reads_table1_through_strategy_labels():
    for label, key in (("ooll", "ooll"), ("OALL", "oall"), ("oagl-serial", "oagl")):
        for form in ("time", "space", "mpu"):
            assert plots.reference_order(label, 3, 10, form) == paper.table1_order(key, 3, 10, form)
    np.testing.assert_array_equal(plots.reference_order("oagl", [2, 4], [10, 10]), [200.0, 400.0])
    with pytest.raises(ValueError, match="unknown fusion strategy 'pmr'; expected one of"):
        plots.reference_order("pmr", 3, 10)


def _cost_frame():
    rows = []
    for s in ("ooll", "oall", "oagl"):
        for M in (2, 3, 4, 6):
            f = plots.reference_order(s, M, 32, "mpu") + 1000.0 * M
            rows.append({"strategy": s, "M": M, "T": 32, "macs": f, "seconds": f * 1e-9,
                         "memory_bytes": 4 * f})
        for T in (8, 16, 64):
            f = plots.reference_order(s, 3, T, "mpu") + 1000.0 * T
            rows.append({"strategy": s, "M": 3, "T": T, "macs": f, "seconds": f * 1e-9,
                         "memory_bytes": 4 * f})
    return pd.DataFrame(rows)


def test_complexity_scaling_panels_and_reference_fit(tmp_path, saved):
    frame = _cost_frame()
    fig = plots.complexity_scaling(frame, "M", results_dir=tmp_path)
    assert len(fig.axes) == 3
    ax = fig.axes[0]
    assert ax.get_xscale() == "log" and ax.get_yscale() == "log"
    measured, reference = curves(ax, "measured"), curves(ax, "reference")
    assert list(measured) == list(reference) == ["ooll", "oall", "oagl"]
    np.testing.assert_allclose(measured["ooll"].get_xdata(), [2, 3, 4, 6])  # T held at 32
    for s, order in (("ooll", lambda M: M ** 2), ("oagl", lambda M: M)):
        meas, ref = measured[s], reference[s]
        x = np.asarray(ref.get_xdata(), float)
        y = np.asarray(ref.get_ydata(), float)
        assert y[-1] == pytest.approx(meas.get_ydata()[-1])  # fitted at the largest M
        np.testing.assert_allclose(y / y[-1], order(x) / order(x[-1]))
    legend = [t.get_text() for t in ax.get_legend().get_texts()]
    assert "OAGL ~ O(M T^2)" in legend and "OOLL ~ O(M^2 T^2)" in legend  # Table 1 as printed
    assert saved == [("table1_scaling_M", tmp_path)]

    fig = plots.complexity_scaling(frame, "T", y="macs")
    assert len(fig.axes) == 1
    np.testing.assert_allclose(curves(fig.axes[0], "measured")["oall"].get_xdata(),
                               [8, 16, 32, 64])  # M held at 3
    ref = curves(fig.axes[0], "reference")["oagl"]
    x, y = np.asarray(ref.get_xdata(), float), np.asarray(ref.get_ydata(), float)
    np.testing.assert_allclose(y / y[-1], (x / x[-1]) ** 2)  # O(M T^2) at fixed M


def test_complexity_scaling_errors():
    frame = _cost_frame()
    with pytest.raises(ValueError, match="x: expected 'M' or 'T'"):
        plots.complexity_scaling(frame, "L")
    with pytest.raises(ValueError, match="y column 'flops' not in frame"):
        plots.complexity_scaling(frame, "M", y="flops")
    with pytest.raises(ValueError, match="no rows with T = 7"):
        plots.complexity_scaling(frame, "M", fixed=7)
    with pytest.raises(ValueError, match="unknown fusion strategy 'mult'"):
        plots.complexity_scaling(frame.assign(strategy="mult"), "M")
    with pytest.raises(ValueError, match="frame is empty"):
        plots.complexity_scaling(frame.iloc[0:0], "M")
