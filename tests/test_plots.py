"""Tests of the figures of result frames, emtlib.plots.missing_rate (Figs 4-9, 11) and
emtlib.plots.loss_weights (Fig 10): layout (panels, lines, bars), units (percent), files, errors."""
from __future__ import annotations

import matplotlib

matplotlib.use("Agg")

import numpy as np
import pandas as pd
import pytest
from matplotlib.figure import Figure
from matplotlib.patches import Rectangle

from emtlib import plots
from emtlib.metrics import METRIC_KEYS, auilc

RATES = (0.0, 0.5, 1.0)
SIMS_RATES = (0.0, 0.2, 0.4)


def _value(metric: str, method_i: int, rate: float) -> float:
    """A distinct, known raw value per (metric, method, rate)."""
    if metric == "mae":
        return 0.7 + 0.1 * method_i + 0.3 * rate
    return 0.8 - 0.05 * method_i - 0.2 * rate + 0.001 * len(metric)


def make_agg(dataset="mosi", methods=("tfr_net", "emt_dlfr"), variant="", rates=RATES,
             metrics=None) -> pd.DataFrame:
    rows = []
    for i, method in enumerate(methods):
        for r in rates:
            for m in (metrics or METRIC_KEYS[dataset]):
                rows.append({"dataset": dataset, "method": method, "variant": variant, "rate": r,
                             "metric": m, "mean": _value(m, i, r), "std": 0.01, "n": 3})
    return pd.DataFrame(rows)


def make_variants(variants, method="emt_dlfr", dataset="mosi", rates=RATES) -> pd.DataFrame:
    frames = []
    for i, v in enumerate(variants):
        f = make_agg(dataset, methods=(method,), variant=v, rates=rates)
        f["mean"] = [(_value(m, i, r)) for m, r in zip(f["metric"], f["rate"])]
        frames.append(f)
    return pd.concat(frames, ignore_index=True)


def lines_by_gid(ax, prefix):
    return [ln for ln in ax.get_lines() if (ln.get_gid() or "").startswith(prefix)]


def mean_of(agg, method, metric, variant=""):
    g = agg[(agg.method == method) & (agg.metric == metric) & (agg.variant == variant)]
    return g.sort_values("rate")["mean"].to_numpy()


# --------------------------------------------------------------------------- Figs 4-6


def test_missing_rate_curves_layout_and_units():
    agg = make_agg("mosi", methods=("emt_dlfr", "tfr_net", "mult"))
    fig = plots.missing_rate_curves(agg, "mosi")
    assert isinstance(fig, Figure)
    axes = fig.axes
    assert len(axes) == 4
    assert [ax.get_title() for ax in axes] == ["MAE (↓)", "Corr (↑)", "Acc-7 (↑)", "Acc-2 (↑)"]
    for ax in axes:
        lines = lines_by_gid(ax, "method:")
        # legend order of METHOD_ORDER: baselines first, ours last
        assert [ln.get_gid() for ln in lines] == ["method:mult", "method:tfr_net", "method:emt_dlfr"]
        for ln in lines:
            np.testing.assert_allclose(ln.get_xdata(), RATES)
    mae = lines_by_gid(axes[0], "method:emt_dlfr")[0]
    np.testing.assert_allclose(mae.get_ydata(), mean_of(agg, "emt_dlfr", "mae"))
    acc7 = lines_by_gid(axes[2], "method:emt_dlfr")[0]
    np.testing.assert_allclose(acc7.get_ydata(), 100 * mean_of(agg, "emt_dlfr", "acc7"))
    acc2 = lines_by_gid(axes[3], "method:tfr_net")[0]
    np.testing.assert_allclose(acc2.get_ydata(), 100 * mean_of(agg, "tfr_net", "acc2_non0"))
    assert axes[2].get_ylabel() == "Acc-7 (%)"
    legend = [t.get_text() for t in fig.legends[0].get_texts()]
    assert legend == ["MulT", "TFR-Net", "EMT-DLFR"]
    # +-std band per method
    assert len(axes[0].collections) == 3


def test_missing_rate_curves_writes_png_and_pdf(tmp_path):
    agg = make_agg("mosi", methods=("emt_dlfr",), metrics=["mae", "acc7"])
    fig = plots.missing_rate_curves(agg, "mosi", metrics=["acc7"], results_dir=tmp_path)
    assert len(fig.axes) == 1
    out = tmp_path / "figures"
    assert (out / "fig4_missing_rate_mosi.png").stat().st_size > 1000
    assert (out / "fig4_missing_rate_mosi.pdf").read_bytes().startswith(b"%PDF")


def test_missing_rate_curves_sims_defaults_and_colors():
    agg = make_agg("sims", methods=("emt_dlfr", "self_mm"), rates=SIMS_RATES)
    fig = plots.missing_rate_curves(agg, "sims")
    titles = [ax.get_title() for ax in fig.axes]
    assert titles == ["MAE (↓)", "Corr (↑)", "Acc-5 (↑)", "Acc-2 (↑)"]
    acc5 = lines_by_gid(fig.axes[2], "method:self_mm")[0]
    np.testing.assert_allclose(acc5.get_xdata(), SIMS_RATES)
    np.testing.assert_allclose(acc5.get_ydata(), 100 * mean_of(agg, "self_mm", "acc5"))
    # the same method keeps its color whatever the other methods are
    other = plots.missing_rate_curves(make_agg("mosi", methods=("lmf", "emt_dlfr")), "mosi")
    c1 = lines_by_gid(fig.axes[0], "method:emt_dlfr")[0].get_color()
    c2 = lines_by_gid(other.axes[0], "method:emt_dlfr")[0].get_color()
    assert c1 == c2 == plots.METHOD_COLORS["emt_dlfr"]


def test_missing_rate_curves_methods_metrics_variant_and_paper_overlay():
    agg = pd.concat([make_agg("mosi", methods=("tfr_net", "emt_dlfr")),
                     make_variants(["ooll"], method="emt_dlfr")], ignore_index=True)
    paper = pd.DataFrame([{"dataset": "mosi", "method": "emt_dlfr", "variant": "", "rate": r,
                           "metric": "acc7", "mean": 46.0 - 10 * r} for r in RATES])
    fig = plots.missing_rate_curves(agg, "mosi", methods=["emt_dlfr"], metrics=["acc7", "corr"],
                                    paper=paper)
    assert len(fig.axes) == 2
    ax = fig.axes[0]
    assert len(lines_by_gid(ax, "method:")) == 1
    ref = lines_by_gid(ax, "paper:emt_dlfr")
    assert len(ref) == 1 and ref[0].get_linestyle() == "--"
    np.testing.assert_allclose(ref[0].get_ydata(), [46.0, 41.0, 36.0])  # paper units, unscaled
    assert "EMT-DLFR (paper)" in [t.get_text() for t in fig.legends[0].get_texts()]
    with pytest.raises(ValueError, match="several rows.*variant"):
        plots.missing_rate_curves(agg, "mosi", variant=None)


def test_missing_rate_curves_errors():
    agg = make_agg("mosi")
    with pytest.raises(ValueError, match="unknown metric 'acc3' for mosi; expected one of"):
        plots.missing_rate_curves(agg, "mosi", metrics=["acc3"])
    with pytest.raises(ValueError, match=r"dataset 'sims' not in agg; expected one of \['mosi'\]"):
        plots.missing_rate_curves(agg, "sims")
    with pytest.raises(ValueError, match="agg is empty; expected"):
        plots.missing_rate_curves(agg.iloc[0:0], "mosi")
    with pytest.raises(ValueError, match=r"missing \['mean'\]"):
        plots.missing_rate_curves(agg.drop(columns="mean"), "mosi")
    with pytest.raises(ValueError, match="methods .*'misa'.* expected some of"):
        plots.missing_rate_curves(agg, "mosi", methods=["misa"])
    with pytest.raises(ValueError, match="metric 'acc5' has no rows"):
        plots.missing_rate_curves(make_agg("mosi", metrics=["mae", "acc7"]), "mosi",
                                  metrics=["acc5"])


# --------------------------------------------------------------------------- Figs 7, 8, 9, 11


def test_ablation_chart_lines(tmp_path, saved):
    agg = make_variants(["oagl", "ooll", "oall"])
    fig = plots.ablation_chart(agg, "mosi", ["ooll", "oall", "oagl"], results_dir=tmp_path)
    assert saved == [("ablation_mosi_ooll-oall-oagl_line", tmp_path)]
    assert len(fig.axes) == 4
    lines = lines_by_gid(fig.axes[2], "variant:")
    assert [ln.get_gid() for ln in lines] == ["variant:ooll", "variant:oall", "variant:oagl"]
    np.testing.assert_allclose(lines[0].get_xdata(), RATES)
    np.testing.assert_allclose(lines[0].get_ydata(), 100 * mean_of(agg, "emt_dlfr", "acc7", "ooll"))
    assert [t.get_text() for t in fig.legends[0].get_texts()] == ["OOLL", "OALL", "OAGL"]


def test_ablation_chart_bars_at_rate_and_auilc_with_reference_method():
    agg = pd.concat([make_variants(["emt", "emt-llfr", "emt-hlfr", "emt-dlfr"]),
                     make_agg("mosi", methods=("tfr_net",))], ignore_index=True)
    variants = ["emt", "emt-llfr", "emt-hlfr", "emt-dlfr", "tfr_net"]
    fig = plots.ablation_chart(agg, "mosi", variants, metrics=["mae", "acc2_non0"], kind="bar",
                               rate=0.5)
    assert len(fig.axes) == 2
    bars = [p for p in fig.axes[1].patches if isinstance(p, Rectangle)]
    assert len(bars) == 5
    expected = [100 * _value("acc2_non0", i, 0.5) for i in range(4)] + \
               [100 * _value("acc2_non0", 0, 0.5)]
    np.testing.assert_allclose([b.get_height() for b in bars], expected)
    assert [t.get_text() for t in fig.axes[1].get_xticklabels()] == \
        ["EMT", "EMT-LLFR", "EMT-HLFR", "EMT-DLFR", "TFR-Net"]
    # AUILC bars: the trapezoid of the seed means (x100 for accuracies)
    paper = [{"dataset": "mosi", "method": "emt_dlfr", "variant": "emt-dlfr", "rate": "auilc",
              "metric": "mae", "mean": 1.106}]
    fig = plots.ablation_chart(agg, "mosi", variants, metrics=["mae", "acc2_non0"], kind="bar",
                               paper=paper)
    mae_bars = [p for p in fig.axes[0].patches if isinstance(p, Rectangle)]
    want = auilc(RATES, [_value("mae", 1, r) for r in RATES])
    np.testing.assert_allclose(mae_bars[1].get_height(), want)
    marker = lines_by_gid(fig.axes[0], "paper:emt-dlfr")
    assert len(marker) == 1 and marker[0].get_ydata()[0] == pytest.approx(1.106)


def test_ablation_chart_of_methods_uses_their_colors_and_the_papers_rows():
    from matplotlib.colors import to_hex

    from emtlib import paper

    agg = make_agg("mosi", methods=("tfn", "mult", "emt"), rates=(0.0,))
    fig = plots.ablation_chart(agg, "mosi", ["tfn", "mult", "emt"], metrics=["mae"], kind="bar",
                               rate=0.0, paper=paper.overlay("table4", "mosi", rate=0.0))
    bars = [p for p in fig.axes[0].patches if isinstance(p, Rectangle)]
    assert [to_hex(b.get_facecolor()) for b in bars] == [plots.METHOD_COLORS[m] for m in
                                                         ("tfn", "mult", "emt")]
    np.testing.assert_allclose([b.get_height() for b in bars], [_value("mae", i, 0.0) for i in range(3)])
    # the paper's diamonds: TFN's quoted row (no reproduced one), MulT's and EMT's reproduced rows
    marks = [lines_by_gid(fig.axes[0], f"paper:{m}")[0].get_ydata()[0] for m in ("tfn", "mult", "emt")]
    assert marks == [0.901, 0.846, 0.705]


def test_ablation_chart_errors_and_method_filter():
    agg = pd.concat([make_variants(["attention", "average"], method="emt_dlfr"),
                     make_variants(["attention"], method="emt")], ignore_index=True)
    with pytest.raises(ValueError, match="matches several methods"):
        plots.ablation_chart(agg, "mosi", ["attention", "average"])
    fig = plots.ablation_chart(agg, "mosi", ["attention", "average"], method="emt_dlfr",
                               metrics="corr")
    assert len(fig.axes) == 1 and len(lines_by_gid(fig.axes[0], "variant:")) == 2
    fig = plots.ablation_chart(agg, "mosi", [("emt", "attention"), ("emt_dlfr", "attention")],
                               metrics="corr")
    assert len(lines_by_gid(fig.axes[0], "variant:")) == 2
    with pytest.raises(ValueError, match="variant 'mlp' has no rows; expected"):
        plots.ablation_chart(agg, "mosi", ["mlp"])
    with pytest.raises(ValueError, match="kind: expected 'line' or 'bar'"):
        plots.ablation_chart(agg, "mosi", ["average"], kind="pie")
    with pytest.raises(ValueError, match="no acc7 at missing rate 0.3; expected one of"):
        plots.ablation_chart(agg, "mosi", ["average"], metrics="acc7", kind="bar", rate=0.3)
    with pytest.raises(ValueError, match="unknown metric 'f1' for mosi"):
        plots.ablation_chart(agg, "mosi", ["average"], metrics="f1")


# --------------------------------------------------------------------------- Fig 10


GRID = (0.5, 1.0, 1.5, 2.0)


def test_loss_weight_heatmap_from_values_frame(tmp_path, saved):
    rows = [{"lambda_recon": l1, "lambda_attr": l2, "metric": m,
             "value": (0.80 - 0.01 * abs(l1 - 1) - 0.02 * abs(l2 - 1)) if m != "mae"
             else 0.9 + 0.01 * l1 + 0.01 * l2}
            for l1 in GRID for l2 in GRID for m in ("mae", "acc7")]
    fig = plots.loss_weight_heatmap(pd.DataFrame(rows), ["mae", "acc7"], results_dir=tmp_path,
                                    name="fig10")
    heat = [ax for ax in fig.axes if ax.collections and ax.get_xlabel().startswith("λ2")]
    assert len(heat) == 2
    acc = heat[1]
    texts = [t.get_text() for t in acc.texts]
    assert len(texts) == 16 and "80.0" in texts  # percent, λ1 = λ2 = 1.0
    assert [t.get_text() for t in acc.get_xticklabels()] == ["0.5", "1", "1.5", "2"]
    best = [p for p in acc.patches if p.get_gid() == "best"]
    assert len(best) == 1 and best[0].get_xy() == (1, 1)  # row λ1 = 1.0, column λ2 = 1.0
    best_mae = [p for p in heat[0].patches if p.get_gid() == "best"][0]
    assert best_mae.get_xy() == (0, 0)  # lowest MAE at λ1 = λ2 = 0.5
    assert saved == [("fig10", tmp_path)]


def test_loss_weight_heatmap_from_agg_and_errors():
    labels = [f"l1={l1},l2={l2}" for l1 in GRID for l2 in GRID]
    agg = make_variants(labels)
    table = plots.loss_weight_table(agg, "mosi", ["acc2_non0"], rate=0.5)
    assert len(table) == 16 and set(table["lambda_recon"]) == set(GRID)
    fig = plots.loss_weight_heatmap(agg, ["corr", "acc2_non0"], dataset="mosi")
    heat = [ax for ax in fig.axes if ax.get_xlabel().startswith("λ2")]
    assert len(heat) == 2 and "AUILC" in heat[0].get_title()
    with pytest.raises(ValueError, match="needs dataset="):
        plots.loss_weight_heatmap(agg)
    with pytest.raises(ValueError, match="no loss-weight variants for mosi; expected variant"):
        plots.loss_weight_table(make_agg("mosi"), "mosi")
    with pytest.raises(ValueError, match=r"values: expected columns .*missing \['value'\]"):
        plots.loss_weight_heatmap(pd.DataFrame({"lambda_recon": [1.0], "lambda_attr": [1.0]}))
