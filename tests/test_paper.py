"""The paper's reported numbers (emtlib.paper): values checked by hand against the paper text,
table shapes, cross-checks with differences the running text states, units and compare()."""
from __future__ import annotations

import ast
import math
import re
from pathlib import Path

import pandas as pd
import pytest

from emtlib import paper as P
from emtlib.metrics import METRIC_KEYS, RATES_MOSI_MOSEI, auilc


def val(name, dataset, method, metric, source="reproduced", **variant):
    return P.paper_values(name, dataset, method, source=source, **variant)[metric]


# --------------------------------------------------------------------------- shapes


@pytest.mark.parametrize("name, dataset, shape", [
    ("table4", "mosi", (13, 8)), ("table4", "mosei", (13, 8)),
    ("table5", "sims", (10, 6)),
    ("table6", "mosi", (12, 8)), ("table6", "mosei", (12, 8)),
    ("table7", "sims", (12, 6)),
    ("table8", "mosi", (5, 4)),
    ("table9", "mosi", (8, 3)),
])
def test_wide_shapes(name, dataset, shape):
    w = P.wide(name, dataset)
    assert w.shape == shape
    assert not w.index.has_duplicates
    if name in ("table4", "table5", "table6", "table7"):
        assert tuple(w.columns) == METRIC_KEYS[dataset]


@pytest.mark.parametrize("name, n_quoted, n_reproduced", [
    ("table4", 8, 5), ("table5", 5, 5), ("table6", 4, 8), ("table7", 4, 8)])
def test_quoted_and_reproduced_rows(name, n_quoted, n_reproduced):
    ds = P.datasets(name)[0]
    assert len(P.wide(name, ds, source="quoted")) == n_quoted
    assert len(P.wide(name, ds, source="reproduced")) == n_reproduced


def test_long_and_small_tables():
    assert P.table("table1").shape == (3, 3)
    assert P.table(2).shape == (9, 6)
    assert P.table("table3").shape == (15, 4)
    sizes = {f"table{i}": len(P.table(i)) for i in range(4, 10)}
    assert sizes == {"table4": 13 * 16, "table5": 10 * 6, "table6": 12 * 16,
                     "table7": 12 * 6, "table8": 5 * 4, "table9": 8 * 3}
    assert len(P.long()) == sum(sizes.values())
    assert P.datasets("table4") == ("mosi", "mosei")
    assert P.metric_keys("table7", "sims") == METRIC_KEYS["sims"]
    with pytest.raises(KeyError):
        P.table("table10")


# --------------------------------------------------------------------------- numbers read from the text


def test_table9_parameter_counts_and_flags():
    w = P.wide("table9")
    assert w["params_m"].tolist() == [116.4, 113.4, 112.4, 112.1, 111.4, 111.1, 110.8, 110.5]
    assert w.index[0] == (False, False, False) and w.index[-1] == (True, True, True)
    assert w.loc[(False, True, True), "mae"] == 1.101
    assert w.loc[(False, True, False), "corr"] == 0.489
    # The flags agree with the per-module counts (docs/model.md#parameter-counts, d = 128, L = 3):
    # 2 MPU directions x 3 modalities x 3 layers of MPUs (330,112 each) and 3 layer-level pools
    # (148,225 each).
    rest = 110_468_146 - 330_112 - 148_225
    for (mpu, mod, layer), params in w["params_m"].items():
        n_mpu = (1 if mpu else 2) * (1 if mod else 3) * (1 if layer else 3)
        n_pool = 1 if layer else 3
        assert round((rest + n_mpu * 330_112 + n_pool * 148_225) / 1e6, 1) == params


def test_table8_values():
    w = P.wide("table8")
    assert [w.loc[("emt_dlfr", f), "macs_g"] for f in ("oagl", "ooll", "oall")] == [1.5, 3.1, 8.3]
    assert w.loc[("mult", "-"), "params_m"] == 111.0
    assert w.loc[("tfr_net", "-"), "params_m"] == 124.3
    assert math.isnan(w.loc[("mult", "-"), "macs_g"])
    assert val("table8", "mosi", "emt_dlfr", "gpu_mem_gb", fusion="oall") == 31.5
    assert val("table8", "mosi", "emt_dlfr", "train_time_s", fusion="oagl") == 15.4
    assert val("table8", "mosi", "tfr_net", "train_time_s", fusion=None) == 24.8


def test_tables_4_to_7_spot_values():
    assert val("table4", "mosi", "emt", "mae") == 0.705
    assert val("table4", "mosi", "emt", "acc2_has0") == 83.3   # left of "83.3/85.0"
    assert val("table4", "mosi", "emt", "acc2_non0") == 85.0
    assert val("table4", "mosei", "emt", "acc7") == 54.5
    assert val("table4", "mosei", "mmim", "f1_non0") == 85.1
    assert val("table4", "mosi", "mmim", "corr", source="quoted") == 0.800
    assert math.isnan(val("table4", "mosi", "tfn", "acc2_has0", source="quoted"))
    assert val("table5", "sims", "emt", "mae") == 0.396
    assert val("table5", "sims", "emt", "acc3") == 67.4
    assert val("table5", "sims", "mult", "f1", source="quoted") == 79.7
    assert val("table6", "mosi", "emt_dlfr", "mae") == 1.106
    assert val("table6", "mosi", "emt_dlfr", "acc5") == 35.6
    assert val("table6", "mosei", "emt_dlfr", "corr") == 0.546
    assert val("table6", "mosei", "mmim", "acc2_non0") == 72.4
    assert val("table6", "mosi", "tfr_net", "acc2_non0", source="quoted") == 69.0
    assert val("table7", "sims", "emt_dlfr", "mae") == 0.215
    assert val("table7", "sims", "misa", "f1") == 28.9
    assert val("table7", "sims", "misa", "corr", source="quoted") == 0.038
    refs = P.table("table4").groupby("method")["ref"].agg(set)
    assert refs["amml"] == {"[69]"} and refs["emt"] == {""}


def test_differences_stated_in_the_text():
    # Section 5.1.1 (Table 4): EMT vs reproduced TFR-Net / MulT.
    assert val("table4", "mosi", "tfr_net", "mae") - val("table4", "mosi", "emt", "mae") \
        == pytest.approx(0.016)
    assert val("table4", "mosei", "emt", "acc7") - val("table4", "mosei", "tfr_net", "acc7") \
        == pytest.approx(2.2)
    assert val("table4", "mosi", "mult", "mae") - val("table4", "mosi", "emt", "mae") \
        == pytest.approx(0.141)
    assert val("table4", "mosei", "emt", "corr") - val("table4", "mosei", "mult", "corr") \
        == pytest.approx(0.043)
    # Table 5: EMT vs Self-MM: 0.015 MAE, 0.022 Corr, 1.5% Acc-2.
    emt, smm = P.paper_values("table5", "sims", "emt"), P.paper_values("table5", "sims", "self_mm")
    assert (smm["mae"] - emt["mae"], emt["corr"] - smm["corr"], emt["acc2"] - smm["acc2"]) \
        == pytest.approx((0.015, 0.022, 1.5))
    # Section 5.1.2 (Table 6, MOSI): EMT-DLFR vs the second performer (reproduced rows).
    w = P.wide("table6", "mosi", source="reproduced")
    best_other = pd.concat([w.drop("emt_dlfr").min().loc[["mae"]],
                            w.drop("emt_dlfr").max().drop("mae")])
    gap = (w.loc["emt_dlfr"] - best_other).abs()
    assert gap[["mae", "corr", "acc7", "acc5", "f1_has0", "f1_non0"]].tolist() \
        == pytest.approx([0.050, 0.034, 4.7, 5.1, 3.9, 4.1])
    w = P.wide("table6", "mosei", source="reproduced")
    assert w["mae"].drop("emt_dlfr").min() - w.loc["emt_dlfr", "mae"] == pytest.approx(0.020)
    assert w.loc["emt_dlfr", "corr"] - w["corr"].drop("emt_dlfr").max() == pytest.approx(0.032)
    # Table 7: 0.015 MAE and 0.025 Corr over the previous best.
    w = P.wide("table7", source="reproduced")
    assert w["mae"].drop("emt_dlfr").min() - w.loc["emt_dlfr", "mae"] == pytest.approx(0.015)
    assert w.loc["emt_dlfr", "corr"] - w["corr"].drop("emt_dlfr").max() == pytest.approx(0.025)
    # Table 9's all-shared model is Table 6's EMT-DLFR on MOSI.
    t9 = P.paper_values("table9", "mosi", "emt_dlfr", mpu_share=True, modality_share=True,
                        layer_share=True)
    assert (t9["mae"], t9["corr"]) == (val("table6", "mosi", "emt_dlfr", "mae"),
                                       val("table6", "mosi", "emt_dlfr", "corr"))


def test_table2_table3_and_run_counts():
    t2 = P.table("table2")
    sums = t2.groupby("dataset")["total"].sum()
    assert sums["mosi"] == P.TABLE2_ALL_REPORTED["mosi"] == 2199
    assert sums["sims"] == P.TABLE2_ALL_REPORTED["sims"] == 2281
    assert P.TABLE2_ALL_REPORTED["mosei"] == 23453 and sums["mosei"] == 22856  # paper's typo
    row = t2[(t2.dataset == "mosi") & (t2.split == "test")].iloc[0]
    assert (row.negative, row.neutral, row.positive) == (379, 30, 277)
    t3 = P.table("table3")
    assert t3.loc["layers"].tolist()[1:] == [3, 2, 4]
    assert t3.loc["d", "sims"] == 32 and t3.loc["attn_dropout", "mosi"] == 0.3
    assert t3.loc["lr_bert", "mosi"] == 5e-5
    assert P.table("table1").set_index("fusion").loc["oagl", "time"] == "O(M T^2)"
    assert P.N_RUNS == {"complete": 5, "incomplete": 3}


# --------------------------------------------------------------------------- Table 1: cost orders


def test_table1_order_forms():
    assert P.table1_order("oagl", 3, 10) == 300 and P.table1_order("ooll", 3, 10) == 900
    assert P.table1_order("oall", 3, 10) == 900
    assert P.table1_order("ooll", 4, 10, "space") == 16 and P.table1_order("oall", 4, 10, "space") == 4
    assert P.table1_order("ooll", 3, 10, "text") == 2 * 3 * 4 * 100  # 1/2 sum_m (2 (M-1) T)^2
    assert P.table1_order("oall", 3, 10, "text") == 3 * 16 * 100
    assert P.table1_order("oagl", 3, 10, "text") == 3 * 13 ** 2
    assert P.table1_order("ooll", 3, 10, "mpu") == 3 * 400  # C(3, 2) pairs x (T + T)^2
    assert P.table1_order("oall", 3, 10, "mpu") == 3 * 40 ** 2  # 3 MPUs x (T + 3 T)^2
    assert P.table1_order("oagl", 3, 10, "mpu") == 3 * 13 ** 2  # 3 MPUs x (T + 3 tokens)^2
    with pytest.raises(ValueError, match="unknown strategy 'mult'"):
        P.table1_order("mult", 3, 10)
    with pytest.raises(ValueError, match="unknown form 'table1'"):
        P.table1_order("oagl", 3, 10, "table1")


@pytest.mark.parametrize("strategy", ["ooll", "oall", "oagl"])
@pytest.mark.parametrize("form", ["time", "space"])
def test_table1_order_grows_with_the_printed_exponents(strategy, form):
    printed = P.TABLE1[strategy][form]  # e.g. 'O(M^2 T^2)'
    power = {v: int(e or 1) for v, e in re.findall(r"([MT])(?:\^(\d))?", printed)}
    f = P.table1_order
    assert f(strategy, 10, 7, form) / f(strategy, 5, 7, form) == 2 ** power.get("M", 0)
    assert f(strategy, 5, 14, form) / f(strategy, 5, 7, form) == 2 ** power.get("T", 0)
    assert P.table("table1").set_index("fusion").loc[strategy, form] == printed


# --------------------------------------------------------------------------- layering


def _emtlib_imports(module: str) -> set[str]:
    """The emtlib modules that emtlib/<module>.py imports, anywhere in it."""
    tree = ast.parse((Path(P.__file__).parent / f"{module}.py").read_text())
    found = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found |= {a.name for a in node.names}
        elif isinstance(node, ast.ImportFrom):
            base = "emtlib" + (f".{node.module}" if node.module else "") if node.level else node.module
            found |= {f"{base}.{a.name}" for a in node.names} if base == "emtlib" else {base}
    return {".".join(n.split(".")[:2]) for n in found if n.startswith("emtlib.")}


def test_paper_and_metrics_are_leaves_that_plots_reads():
    assert _emtlib_imports("metrics") == set()
    assert _emtlib_imports("paper") == {"emtlib.metrics"}
    assert "emtlib.plots" not in _emtlib_imports("complexity")


# --------------------------------------------------------------------------- units and compare


def test_to_paper_units():
    run = {"mae": 0.7123, "corr": 0.8, "acc7": 0.47456, "acc2_non0": 0.85, "f1_has0": 0.8321,
           "loss": 1.5}
    out = P.to_paper_units(run)
    assert out["mae"] == 0.7123 and out["corr"] == 0.8 and out["loss"] == 1.5
    assert out["acc7"] == pytest.approx(47.456) and out["f1_has0"] == pytest.approx(83.21)
    assert P.to_paper_units(pd.Series(run), rounded=True)["acc7"] == 47.5
    assert P.to_paper_units(run, rounded=True)["mae"] == 0.712
    # AUILC of fractions -> paper units == official (x100) AUILC -> paper units.
    curve = [0.8 - 0.03 * i for i in range(11)]
    a = auilc(RATES_MOSI_MOSEI, curve)
    assert P.to_paper_units({"acc2": a})["acc2"] == pytest.approx(100 * a)
    assert P.official_auilc_to_paper_units({"mae": 110.6, "acc7": 32.5}) \
        == pytest.approx({"mae": 1.106, "acc7": 32.5})


def test_compare():
    ours = {"mae": 0.715, "corr": 0.79, "acc7": 48.0, "acc2_non0": 85.0, "extra": 1.0}
    c = P.compare(ours, "table4", "mosi", "emt")
    assert list(c.columns) == ["paper", "ours", "diff"]
    assert tuple(c.index) == METRIC_KEYS["mosi"]
    assert c.loc["mae", "diff"] == pytest.approx(0.010)
    assert c.loc["acc7", "diff"] == pytest.approx(0.6)
    assert c.loc["acc2_non0", "diff"] == 0.0
    assert math.isnan(c.loc["acc5", "ours"]) and math.isnan(c.loc["acc5", "diff"])
    # fractions, Series, one-row and long DataFrames give the same answer
    frac = {"mae": 0.715, "corr": 0.79, "acc7": 0.48, "acc2_non0": 0.85}
    for given, units in [(frac, "fraction"), (pd.Series(ours), "paper"),
                         (pd.DataFrame([ours]), "paper"),
                         (pd.DataFrame({"metric": list(ours), "value": list(ours.values())}),
                          "paper")]:
        pd.testing.assert_frame_equal(P.compare(given, 4, "mosi", "emt", units=units), c)
    c = P.compare({"params_m": 110.47, "macs_g": 1.2}, "table8", "mosi", "emt_dlfr",
                  fusion="oagl")
    assert c.loc["params_m", "diff"] == pytest.approx(-0.03)
    assert c.loc["macs_g", "diff"] == pytest.approx(-0.3)
    c = P.compare({"mae": 1.2}, "table9", None, "emt_dlfr", mpu_share=False,
                  modality_share=False, layer_share=False)
    assert c.loc["mae", "paper"] == 1.105 and c.loc["params_m", "paper"] == 116.4
    c = P.compare({"acc5": 40.0}, "table7", "sims", "tfn", source="quoted")
    assert c.loc["acc5", "diff"] == pytest.approx(21.9)
    with pytest.raises(ValueError):
        P.compare(ours, "table8", "mosi", "emt_dlfr")      # which fusion?
    with pytest.raises(ValueError):
        P.compare(ours, "table9", "mosi", "emt_dlfr", mpu_share=True)
    with pytest.raises(KeyError):
        P.compare(ours, "table4", "mosi", "amml")           # quoted only
    with pytest.raises(KeyError):
        P.compare(ours, "table4", "sims", "emt")


def test_side_by_side_interleaves_ours_with_the_papers_rows():
    # metric_table's shape: (method, variant) x metrics, fractions
    ours = pd.DataFrame({"mae": [0.95, 0.70, 0.80], "acc2_non0": [0.80, 0.85, 0.5]},
                        index=pd.MultiIndex.from_tuples([("emt", ""), ("tfn", ""), ("new", "")],
                                                        names=["method", "variant"]))
    t = P.side_by_side(ours, "table4", "mosi")
    # paper row order (TFN before EMT), unknown methods last and without a paper row
    assert list(t.index) == [("tfn", "ours"), ("tfn", "quoted"), ("emt", "ours"),
                             ("emt", "reproduced"), ("new", "ours")]
    assert tuple(t.columns) == METRIC_KEYS["mosi"]
    assert t.loc[("tfn", "ours"), "acc2_non0"] == pytest.approx(85.0)      # x100
    assert t.loc[("tfn", "ours"), "mae"] == 0.70
    assert t.loc[("tfn", "quoted"), "mae"] == 0.901                      # Table 4, ref [30]
    assert t.loc[("emt", "reproduced"), "mae"] == 0.705
    assert math.isnan(t.loc[("emt", "ours"), "corr"])
    # MulT is reproduced on MOSI: its quoted row is not shown
    t = P.side_by_side(pd.DataFrame({"mae": [0.9]}, index=["mult"]), 4, "mosi")
    assert list(t.index) == [("mult", "ours"), ("mult", "reproduced")]
    assert t.loc[("mult", "reproduced"), "mae"] == 0.846
    # a long AUILC frame in paper units, explicit order
    au = pd.DataFrame({"method": ["tfr_net", "emt_dlfr"], "metric": ["mae", "mae"],
                       "auilc": [1.2, 1.1]})
    t = P.side_by_side(au, "table6", "mosi", units="paper", methods=["emt_dlfr", "tfr_net"])
    assert list(t.index.get_level_values("method")) == ["emt_dlfr"] * 2 + ["tfr_net"] * 2
    assert t.loc[("emt_dlfr", "reproduced"), "mae"] == 1.106
    assert t.loc[("tfr_net", "ours"), "mae"] == 1.2
    with pytest.raises(KeyError):
        P.side_by_side(ours, "table8", "mosi")
    with pytest.raises(KeyError, match="no row for method"):
        P.side_by_side(ours, "table4", "mosi", methods=["mmim"])
    with pytest.raises(ValueError, match="several variants"):
        P.side_by_side(pd.DataFrame({"mae": [1.0, 2.0]}, index=pd.MultiIndex.from_tuples(
            [("emt", "a"), ("emt", "b")], names=["method", "variant"])), "table4", "mosi")


def test_overlay_rows_for_the_plots():
    o = P.overlay("table4", "mosi", rate=0.0)
    assert list(o.columns) == ["dataset", "method", "variant", "rate", "metric", "mean"]
    assert (o["rate"] == 0.0).all() and o["mean"].notna().all()
    tfn = o[o["method"] == "tfn"].set_index("metric")["mean"]
    assert tfn["mae"] == 0.901                               # quoted: no reproduced TFN row
    mult = o[o["method"] == "mult"].set_index("metric")["mean"]
    assert mult["mae"] == 0.846 and not o.duplicated(["method", "metric"]).any()
    o = P.overlay(6, "mosi", methods=["tfr_net"])
    assert set(o["method"]) == {"tfr_net"} and o["rate"].isna().all()
    assert o.set_index("metric").loc["mae", "mean"] == 1.156


def test_method_table_per_setting_and_dataset():
    assert [P.method_table("complete", d) for d in ("mosi", "mosei", "sims")] == \
        ["table4", "table4", "table5"]
    assert [P.method_table("incomplete", d) for d in ("mosi", "mosei", "sims")] == \
        ["table6", "table6", "table7"]
    with pytest.raises(KeyError, match="setting='missing'"):
        P.method_table("missing", "mosi")
    with pytest.raises(KeyError, match="dataset='iemocap'"):
        P.method_table("complete", "iemocap")
