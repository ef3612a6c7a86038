"""The notebooks' session: the profile mechanism, the banner, the data tables and figures; the
grids the notebooks run and the tables they show (emtlib.notebook)."""
from __future__ import annotations

import math
from itertools import product

import numpy as np
import pandas as pd
import pytest

from emtlib import notebook as N
from emtlib.data.mmsa import MMSAData, class_table, shapes_table
from emtlib.notebook import Session, setup
from emtlib import plots
from tests.conftest import tiny_data


def test_smoke_profile_grids(capsys):
    s = setup("sims", synthetic=True, profile="smoke")
    assert s.smoke and s.synthetic
    out = capsys.readouterr().out
    assert "profile:      smoke" in out and "synthetic stand-in shaped like SIMS" in out
    assert "records:      stored ones read back, missing ones trained" in out
    assert s.rates() == (0.0, 0.5) and s.seeds() == (111,)
    specs = s.grid({"a": ("model.pooling=average",), "b": ()})
    assert [(x.variant, x.missing_rate) for x in specs] == [("a", 0.0), ("a", 0.5), ("b", 0.0), ("b", 0.5)]
    assert specs[0].config().model.pooling == "average"
    specs = s.grid(method=("tfn", "emt_dlfr"), rates=(0.0,))  # several methods, methods outermost
    assert [(x.method, x.missing_rate) for x in specs] == [("tfn", 0.0), ("emt_dlfr", 0.0)]
    assert specs[0].config().baseline.text_encoder == "minilm"


def test_demo_profile_protocol_and_replay_banner(capsys, monkeypatch):
    s = setup("mosi", synthetic=True, profile="demo")
    assert s.rates() == (0.0, 0.2, 0.4, 0.6, 0.8, 1.0)
    assert s.seeds() == s.seeds("complete") == (111, 1111, 11111)
    assert s.loss_weights((0.5, 1.0, 1.5, 2.0)) == (0.5, 2.0)
    cfg = s.spec("emt_dlfr", 0.4).config()
    assert cfg.profile == "demo" and cfg.model.freeze_text and cfg.train.bucket_by_length
    assert cfg.data.synthetic_scale == 0.5
    capsys.readouterr()
    monkeypatch.setenv("EMTLIB_CACHE_ONLY", "1")
    setup("mosi", synthetic=True, profile="demo")
    out = capsys.readouterr().out  # a replay prints the same on every machine
    assert "device:       auto\n" in out and "precision:    fp32\n" in out  # no "-> ..."
    assert "replayed from stored records (cache-only)" in out


def test_paper_profile_without_data_fails_with_the_loader_message(tmp_path):
    with pytest.raises(FileNotFoundError, match="MOSI/Processed/unaligned_50.pkl"):
        setup("mosi", data_root=str(tmp_path), profile="paper")
    with pytest.raises(ValueError, match="expected one of"):
        setup("mosi", profile="fast")


def test_paper_profile_protocol(capsys):
    s = setup("mosei", synthetic=True, profile="paper")
    assert s.rates() == tuple(round(0.1 * i, 1) for i in range(11))
    assert s.seeds() == (111, 1111, 11111) and len(s.seeds("complete")) == 5
    assert "text encoder: bert-base-uncased" in capsys.readouterr().out


def test_class_and_shape_tables_and_data_figures(tmp_path):
    d = tiny_data("mosi", n=6)
    d["train"]["regression_labels"][:] = [-1, 0, 0, 2, 3, -0.5]
    data = MMSAData("mosi", None, None, False, d)
    t = class_table(data)
    assert t.loc["train"].tolist() == [2, 2, 2, 6]
    assert shapes_table(data).loc["audio", "shape"] == "(6, 375, 5)"
    fig = plots.label_histograms(data, results_dir=tmp_path, name="h")
    assert len(fig.axes) == 3 and (tmp_path / "figures" / "h.png").is_file()
    assert sum(p.get_height() for p in fig.axes[0].patches) == 6
    fig = plots.missing_view(d["train"], index=1, rates=(0.0, 1.0))
    assert len(fig.axes) == 6
    # rate 1.0 removes every word piece of the sample but [CLS] and [SEP]
    n_tok = int(d["train"]["text_bert"][1, 1].sum())
    img = fig.axes[3].images[0].get_array()
    assert img.shape == (1, n_tok) and img[0, 0] == 0 and img[0, -1] == 0 and np.all(img[0, 1:-1] == 1)
    with pytest.raises(ValueError, match="index 9"):
        plots.missing_view(d["train"], index=9)


def _session(profile: str) -> Session:
    return Session("mosi", profile, True, None, "cpu", None, "/tmp/unused")


def test_complete_setting_grid_trains_the_seven_baselines_and_emt_at_rate_0():
    assert N.compared_methods("complete") == ("tfn", "lmf", "mult", "misa", "self_mm", "mmim",
                                              "tfr_net", "emt")
    assert N.compared_methods("incomplete")[-1] == "emt_dlfr"
    specs = _session("paper").grid(method=N.compared_methods("complete"), setting="complete")
    assert len(specs) == 8 * 5 and {x.missing_rate for x in specs} == {0.0}
    assert [x.seed for x in specs[:5]] == [1111, 1112, 1113, 1114, 1115]
    assert [x.method for x in specs[::5]] == list(N.compared_methods("complete"))
    specs = _session("paper").grid(method="tfn")  # the incomplete setting: 11 rates x 3 seeds
    assert len(specs) == 33 and specs[-1].missing_rate == 1.0


def test_ablation_variants_configure_what_the_paper_varies():
    s = _session("smoke")

    def cfg(variants, label):
        return s.spec(variant=label, overrides=variants[label]).config()

    m = cfg(N.FUSION_VARIANTS, "oall-serial").model
    assert (m.fusion, m.update) == ("oall", "serial")
    assert (cfg(N.FUSION_VARIANTS, "ooll").model.update) == "parallel"
    assert list(N.SHARING_VARIANTS)[5] == "mpu=1,mod=0,layer=1"
    m = cfg(N.SHARING_VARIANTS, "mpu=1,mod=0,layer=1").model
    assert (m.mpu_share, m.modality_share, m.layer_share) == (True, False, True)
    assert {tuple(getattr(cfg(N.SHARING_VARIANTS, k).model, f) for f in N.SHARING_FLAGS)
            for k in N.SHARING_VARIANTS} == set(product((False, True), repeat=3))
    assert [cfg(N.POOLING_VARIANTS, k).model.pooling for k in N.POOLING_VARIANTS] == \
        ["attention", "average", "mlp"]
    lambdas = {k: (cfg(N.DLFR_VARIANTS, k).loss.lambda_recon, cfg(N.DLFR_VARIANTS, k).loss.lambda_attr)
               for k in N.DLFR_VARIANTS}
    assert lambdas == {"emt": (0, 0), "emt-llfr": (1.0, 0), "emt-hlfr": (0, 1.0), "emt-dlfr": (1.0, 1.0)}
    assert cfg(N.ATTRACTION_VARIANTS, "cosine").loss.attraction == "cosine"


def test_loss_weight_grid_per_profile():
    grid = (0.5, 1.0, 1.5, 2.0)
    assert _session("paper").loss_weights(grid) == grid
    assert _session("smoke").loss_weights(grid) == (0.5, 2.0)
    variants = N.loss_weight_variants((0.5, 2.0))
    assert list(variants) == ["l1=0.5,l2=0.5", "l1=0.5,l2=2.0", "l1=2.0,l2=0.5", "l1=2.0,l2=2.0"]
    loss = _session("smoke").spec(overrides=variants["l1=2.0,l2=0.5"]).config().loss
    assert (loss.lambda_recon, loss.lambda_attr) == (2.0, 0.5)
    assert len(N.loss_weight_variants(grid)) == 16


@pytest.mark.parametrize("profile, M_values, T_values, timed", [
    ("smoke", (2, 3, 4, 6, 8), (25, 50, 100, 200), False),
    ("paper", (2, 3, 4, 5, 6, 7, 8), (25, 50, 100, 200, 400, 800), True)])
def test_fusion_scaling_measures_the_profiles_grid(monkeypatch, profile, M_values, T_values, timed):
    calls = []
    monkeypatch.setattr("emtlib.complexity.fusion_scaling", lambda **kw: calls.append(kw) or len(calls))
    assert _session(profile).fusion_scaling() == (1, 2)
    by_M, by_T = calls
    assert (by_M["M_values"], by_M["T"], by_M["measure_time"]) == (M_values, 100, timed)
    assert (by_T["M_values"], by_T["T_values"], by_T["measure_time"]) == ((3,), T_values, timed)
    assert str(by_M["device"]) == str(by_T["device"]) == "cpu"


def _agg(rows):
    return pd.DataFrame(rows, columns=["dataset", "method", "variant", "rate", "metric", "mean"])


def test_seed_means_selects_one_method_at_one_rate():
    agg = _agg([("mosi", "emt", "", 0.0, "mae", 0.71), ("mosi", "emt", "", 0.0, "corr", 0.79),
                ("mosi", "emt", "", 0.5, "mae", 0.95), ("mosi", "tfn", "", 0.0, "mae", 0.90)])
    assert N.seed_means(agg, "emt").to_dict() == {"mae": 0.71, "corr": 0.79}
    assert N.seed_means(agg, "emt", rate=0.5).to_dict() == {"mae": 0.95}
    with pytest.raises(KeyError, match="mmim"):
        N.seed_means(agg, "mmim")
    with pytest.raises(ValueError, match="several datasets"):
        N.seed_means(pd.concat([agg, agg.assign(dataset="mosei")]), "emt")


def test_scaling_macs_in_millions():
    scaling = pd.DataFrame({"strategy": ["oagl", "oagl", "ooll", "ooll"], "M": [2, 3, 2, 3],
                            "T": 100, "macs": [1_230_000, 1_860_000, 2_460_000, 7_380_000]})
    t = N.scaling_macs(scaling, "M")
    assert t.index.tolist() == [2, 3] and t.columns.tolist() == ["oagl", "ooll"]
    assert t.loc[3].tolist() == [1.9, 7.4] and t.loc[2, "oagl"] == 1.2


def _sharing_params():
    rows = [(a, b, c, 110.5 + 2 * (not a) + 1.5 * (not b) + 1 * (not c))
            for a, b, c in product((False, True), repeat=3)]
    return pd.DataFrame(rows, columns=["mpu_share", "modality_share", "layer_share", "params_M"])


def test_sharing_params_labelled_with_marks():
    bars = N.sharing_params(_sharing_params())
    assert bars.index.tolist() == ["✗✗✗", "✗✗✓", "✗✓✗", "✗✓✓", "✓✗✗", "✓✗✓", "✓✓✗", "✓✓✓"]
    assert bars["✗✗✗"] == 115.0 and bars["✓✗✓"] == 112.0 and bars["✓✓✓"] == 110.5


def test_table9_in_the_papers_rows_with_official_auilcs():
    # two rates 0.0 and 0.5 (the smoke grid): official AUILC = round((x0 + x1) * 100 / 2 * 0.5, 1) / 100
    rows = []
    for k, label in enumerate(N.SHARING_VARIANTS):
        rows += [("mosi", "emt_dlfr", label, 0.0, "mae", 1.0 + k / 100),
                 ("mosi", "emt_dlfr", label, 0.5, "mae", 1.2 + k / 100),
                 ("mosi", "emt_dlfr", label, 0.0, "corr", 0.6), ("mosi", "emt_dlfr", label, 0.5, "corr", 0.2)]
    t = N.table9(_sharing_params(), _agg(rows))
    assert t.index.equals(N.paper.wide("table9").index) and t.columns.tolist() == ["params_m", "mae", "corr"]
    # the paper's row 2 shares MPUs only: variant 'mpu=1,mod=0,layer=0' (k = 4)
    assert t.index[1] == (True, False, False)
    assert t.iloc[1].tolist() == pytest.approx([113.0, (104 + 124) / 4 / 100, 0.2])
    assert t.iloc[0].tolist() == pytest.approx([115.0, 0.55, 0.2])  # nothing shared: k = 0
    assert t.iloc[-1].tolist() == pytest.approx([110.5, (107 + 127) / 4 / 100, 0.2])
    t = N.table9(_sharing_params(), _agg(rows[:4]))  # runs of one variant only
    assert math.isnan(t.iloc[-1]["mae"]) and t.iloc[0]["mae"] == pytest.approx(0.55)


def test_figure10_table_rows_are_the_weight_pairs():
    values = pd.DataFrame({"lambda_recon": [0.5, 0.5, 2.0, 2.0], "lambda_attr": [0.5, 2.0, 0.5, 2.0],
                           "metric": "mae", "value": [1.1004, 1.2, 1.3, 1.4]})
    t = N.figure10_table(pd.concat([values, values.assign(metric="corr", value=0.5)]))
    assert t.columns.tolist() == ["corr", "mae"] and t.loc[(0.5, 0.5), "mae"] == 1.1
    assert t.loc[(2.0, 0.5)].tolist() == [0.5, 1.3]
