"""The numbers reported in the EMT-DLFR paper (Sun et al., IEEE TAC 2023), as data.

Source: the paper's text (a text extraction of the PDF, not kept in the repository). The result
tables are kept below as the rows printed in the paper (tab-separated, bold markup removed)
and parsed on import, so each number can be checked against the text by eye.

Units (exactly as printed):
- accuracies and F1 (`acc*`, `f1*`) in percent, e.g. 85.5;
- MAE and Corr as plain numbers, e.g. 0.705;
- Tables 6, 7 and 9 are AUILCs (paper eq. 17) of each metric over the missing-rate grid. The paper
  prints the MAE/Corr AUILC divided by 100 (e.g. 1.106 for 110.6; docs/metrics.md#auilc), which is
  the same number as the trapezoid of the MAE/Corr *fractions*; the accuracy AUILCs are on the
  percent scale (trapezoid of percents). So `metrics.auilc` applied to a run's fractions, followed
  by `to_paper_units`, gives the paper's units; `auilc_official` values (x100 scale) go through
  `official_auilc_to_paper_units` instead.
- Table 8: MACs in G (fusion module only), #Params in M, training time in s per epoch,
  GPU memory in GB; Table 9: #Params in M.
A '-' in the paper (not reported) is NaN here.

Metric keys are ours (`emtlib.metrics.METRIC_KEYS`). For MOSI/MOSEI the paper prints "Acc-2"
and "F1" as "left/right": left = negative/non-negative (`acc2_has0`, `f1_has0`), right =
negative/positive (`acc2_non0`, `f1_non0`), paper section 4.2.

Method keys: tfn, lmf, mult (the paper's "MuT"), misa, self_mm, mmim, amml, tfr_net, emt
(Tables 4-5, complete setting, no DLFR) and emt_dlfr (Tables 6-9); see `DISPLAY_NAME`.
Rows of Tables 4-7 carry `source`: 'reproduced' (the authors' reruns under one setting, the
rows the paper compares against) or 'quoted' (copied from another paper; `ref` names it:
'[30]' MMIM paper, '[69]' AMML, '[16]' TFR-Net, '[70]' M-SENA).

API
- `table(name)`: one table as a DataFrame ('table1' ... 'table9'); Tables 4-9 are long/tidy
  (one row per number: table, dataset, setting, method, [source, ref | fusion | sharing
  flags], metric, value); Tables 1-3 are small wide frames.
- `long()`: Tables 4-9 stacked in one long frame.
- `wide(name, dataset)`: methods x metrics for one dataset.
- `datasets(name)`, `metric_keys(name, dataset)`: what a result table covers.
- `paper_values(name, dataset, method, ...)`: one row as a Series metric -> value.
- `compare(ours, name, dataset, method, ...)`: paper, ours, diff (= ours - paper) per metric.
- `method_table(setting, dataset)`: which of Tables 4-7 holds a dataset's rows in a setting.
- `side_by_side(ours, name, dataset)`: our row of each method next to the paper's (Tables 4-7);
  `overlay(name, dataset, rate)`: the paper's rows in the form `emtlib.plots` draws.
- `to_paper_units(metrics)`: a run's metrics (fractions) -> the paper's units;
  `official_auilc_to_paper_units` does the same for `metrics.auilc_official` values.
- `table1_order(strategy, M, T, form)`: Table 1's cost orders (and the main text's) as f(M, T).
- Constants: `N_RUNS`, `TABLE8_SETUP`, `DISPLAY_NAME`, `TABLE1`, `TABLE2_ALL_REPORTED`,
  `TEXT_FACTS`.

Notes on the source (see also docs/paper-vs-code.md):
- Number of runs averaged: complete setting 5 (Tables 4-5), incomplete setting 3 (Tables 6-7,
  paper 4.4); Table 8's cost numbers are means of 5 runs (batch size 32, one V100 32GB).
- The captions of Tables 6/7 say the AUILC is computed over missing rates {0.1, ..., 1.0} /
  {0.1, ..., 0.5}; the released code and the figures start at 0.0 (docs/metrics.md#auilc). The
  captions also misspell AUILC as "AUJLC".
- Table 2: MOSEI "All = 23453" is not the sum of its splits (16326 + 1871 + 4659 = 22856);
  MOSI (2199) and CH-SIMS (2281) add up.
- Table 9's MAE/Corr are AUILCs (CMU-MOSI, incomplete setting); its all-shared row
  (1.106 / 0.486) is Table 6's EMT-DLFR row.
- Every number of Tables 1-9 was legible in the extraction (all tables came out as clean
  tab-separated rows, checked line by line against this module's copies). Bold marks the
  best among the reproduced rows only (e.g. Table 4 bolds EMT's MOSEI MAE 0.527 although the
  quoted MMIM row has 0.526), and on MOSI Acc-2/F1 both MMIM and EMT are bold.
- Figures 4-11 are plots only: the extraction holds no numbers from them. `TEXT_FACTS` keeps
  the few numbers the running text states about them.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from collections.abc import Callable, Mapping
from typing import Any

import pandas as pd

from emtlib.metrics import METRIC_KEYS

# --------------------------------------------------------------------------- constants

N_RUNS: dict[str, int] = {"complete": 5, "incomplete": 3}
"""Runs averaged per reported number (paper 4.4 and captions of Tables 4-7)."""

TABLE8_SETUP: dict[str, Any] = {"runs": 5, "batch_size": 32, "gpu": "Tesla V100 (32GB)",
                                "macs_tool": "thop (pytorch-OpCounter)",
                                "macs_scope": "fusion module only",
                                "params_scope": "inference model (no reconstruction/attraction nets)"}

DISPLAY_NAME: dict[str, str] = {
    "tfn": "TFN", "lmf": "LMF", "mult": "MulT", "misa": "MISA", "self_mm": "Self-MM",
    "mmim": "MMIM", "amml": "AMML", "tfr_net": "TFR-Net", "emt": "EMT", "emt_dlfr": "EMT-DLFR",
    "ooll": "OOLL", "oall": "OALL", "oagl": "OAGL",
}
"""Key -> name for display. The paper itself writes MulT as "MuT"."""

_PAPER_NAME_TO_KEY: dict[str, str] = {
    "TFN": "tfn", "LMF": "lmf", "MuT": "mult", "MISA": "misa", "Self-MM": "self_mm",
    "MMIM": "mmim", "AMML": "amml", "TFR-Net": "tfr_net", "EMT": "emt", "EMT-DLFR": "emt_dlfr",
}

TABLE_NAMES: tuple[str, ...] = tuple(f"table{i}" for i in range(1, 10))
AUILC_TABLES: tuple[str, ...] = ("table6", "table7", "table9")
"""Tables whose values are AUILCs over missing rates (MAE/Corr printed /100)."""

TABLE_CAPTIONS: dict[str, str] = {
    "table1": "Computational complexity of the three fusion strategies (M modalities, length T).",
    "table2": "Dataset statistics: negative/neutral/positive samples per split.",
    "table3": "Hyperparameters per dataset.",
    "table4": "CMU-MOSI and CMU-MOSEI, complete setting (mean of 5 runs).",
    "table5": "CH-SIMS, complete setting (mean of 5 runs).",
    "table6": "CMU-MOSI and CMU-MOSEI, incomplete setting: AUILC (mean of 3 runs).",
    "table7": "CH-SIMS, incomplete setting: AUILC (mean of 3 runs).",
    "table8": "Cost of the fusion strategies on CMU-MOSI, incomplete setting.",
    "table9": "Hierarchical parameter sharing in EMT on CMU-MOSI, incomplete setting (AUILC).",
}

TEXT_FACTS: dict[str, Any] = {
    # 5.2.2: "compared with the not-shared case, sharing all parameters in EMT enjoys 6M
    # parameters reduction. Since the text BERT encoder has 109.5M parameters, there are only
    # less than 1M (actually, 0.5M) parameters in EMT for the all-shared model."
    "bert_params_m": 109.5,
    "emt_all_shared_params_m": 0.5,
    "sharing_params_reduction_m": 6,
    # 5.2.1: OAGL has "5x less [MACs] than OALL and 2x less than OOLL" (Table 8: 8.3/1.5, 3.1/1.5).
    "macs_ratio_oall_over_oagl": 5,
    "macs_ratio_ooll_over_oagl": 2,
    # 5.2.4 (Fig. 9, CMU-MOSI, incomplete): EMT-LLFR underperforms EMT-HLFR by these amounts
    # (LLFR minus HLFR; the figures' Acc-2 is negative/positive).
    "fig9_llfr_minus_hlfr": {"mae": 0.022, "corr": -0.034, "acc7": -2.0, "acc2_non0": -0.9},
    # 5.2.5 (Fig. 10): lambda grid 0.5..2.0 step 0.5 for both weights; best at (1.0, 1.0).
    "fig10_lambda_grid": (0.5, 1.0, 1.5, 2.0),
    "fig10_best_lambdas": (1.0, 1.0),
    # 5.3 (Fig. 12): sample, lengths, and predictions.
    "fig12_sample": "jUzDDGyPkXU_27",
    "fig12_audio_len": 42, "fig12_vision_len": 50, "fig12_pool_stride": 2,
    "fig12_label": -2.0, "fig12_pred_complete": -2.1,
    "fig12_missing_rate": 0.5, "fig12_pred_incomplete": -1.0,
}
"""Numbers the running text states outside the tables (figures are images without data)."""

# --------------------------------------------------------------------------- raw tables
# Rows copied from the paper text, bold markup removed. Markers: † quoted from [30] in Table 4
# and from [70] in Table 5; ‡ from [69]; ◇ (printed $\diamond$ in Tables 6-7) from [16].

_TABLE4_RAW = """
TFN†	0.901	0.698	34.9	-	-/80.8	-/80.7	0.593	0.700	50.2	-	-/82.5	-/82.1
LMF†	0.917	0.695	33.2	-	-/82.5	-/82.4	0.623	0.677	48.0	-	-/82.0	-/82.1
MuT†	0.861	0.711	-	-	81.5/84.1	80.6/83.9	0.580	0.703	-	-	-/82.5	-/82.3
MISA†	0.804	0.764	-	-	80.8/82.1	80.8/82.0	0.568	0.724	-	-	82.6/84.2	82.7/84.0
Self-MM†	0.712	0.795	45.8	-	82.5/84.8	82.7/84.9	0.529	0.767	53.5	-	82.7/85.0	83.0/84.9
MMIM†	0.700	0.800	46.7	-	84.1/86.1	84.0/86.0	0.526	0.772	54.2	-	82.2/86.0	82.7/86.0
AMML‡	0.723	0.792	46.3	-	-/84.9	-/84.8	0.614	0.776	52.4	-	-/85.3	-/85.2
TFR-Net◇	0.754	0.783	-	54.7	-/84.1	-/-	-	-	-	-	-/-	-/-
MuT	0.846	0.725	40.4	46.7	81.7/83.4	81.9/83.5	0.564	0.731	52.6	54.1	80.5/83.5	80.9/83.6
Self-MM	0.717	0.793	46.4	52.8	82.9/84.6	82.8/84.6	0.533	0.766	53.6	55.4	82.4/85.0	82.8/85.0
MMIM	0.712	0.790	46.9	53.0	83.3/85.3	83.4/85.4	0.536	0.764	53.2	55.0	82.5/85.0	82.4/85.1
TFR-Net	0.721	0.789	46.1	53.2	82.7/84.0	82.7/84.0	0.551	0.756	52.3	54.3	81.8/83.5	81.6/83.8
EMT	0.705	0.798	47.4	54.1	83.3/85.0	83.2/85.0	0.527	0.774	54.5	56.3	83.4/86.0	83.7/86.0
"""

_TABLE5_RAW = """
TFN†	0.437	0.582	-	-	77.1	76.9
LMF†	0.438	0.578	-	-	77.4	77.4
MuT†	0.453	0.564	-	-	78.6	79.7
MISA†	0.447	0.563	-	-	76.5	76.6
Self-MM†	0.425	0.595	-	-	80.0	80.4
MuT	0.442	0.581	40.0	65.7	78.2	78.5
Self-MM	0.411	0.601	43.1	66.1	78.6	78.6
MMIM	0.422	0.597	42.0	65.5	78.3	78.2
TFR-Net	0.437	0.583	41.2	64.2	78.0	78.1
EMT	0.396	0.623	43.5	67.4	80.1	80.1
"""

_TABLE6_RAW = """
TFN◇	1.327	0.300	-	23.3	-/60.4	-/-	-	-	-	-	-/-	-/-
MuT◇	1.288	0.334	-	24.4	-/61.8	-/-	-	-	-	-	-/-	-/-
MISA◇	1.209	0.403	-	27.1	-/63.2	-/-	-	-	-	-	-/-	-/-
TFR-Net◇	1.155	0.467	-	30.4	-/69.0	-/-	-	-	-	-	-/-	-/-
TFN	1.316	0.308	22.3	23.7	61.0/60.9	59.7/59.7	0.695	0.500	46.1	46.6	75.2/74.1	73.4/71.5
LMF	1.310	0.299	21.5	22.7	59.7/59.3	56.4/56.1	0.718	0.447	45.3	45.7	72.2/73.9	69.5/69.4
MuT	1.263	0.348	23.1	24.6	63.1/63.2	60.7/61.0	0.700	0.504	46.3	46.8	74.4/75.1	72.9/72.6
MISA	1.202	0.405	25.7	27.4	63.9/63.7	59.0/58.8	0.698	0.514	45.1	45.7	75.2/75.7	74.4/74.0
Self-MM	1.162	0.444	27.8	30.3	66.9/67.5	65.4/66.2	0.685	0.507	46.7	47.3	75.1/75.4	73.7/72.9
MMIM	1.168	0.450	27.0	29.4	66.8/66.9	64.6/65.8	0.694	0.502	45.9	46.4	74.9/72.4	72.4/69.3
TFR-Net	1.156	0.452	27.7	30.5	67.6/67.8	65.7/66.1	0.689	0.511	46.9	47.3	74.7/74.2	73.5/73.4
EMT-DLFR	1.106	0.486	32.5	35.6	69.6/70.3	69.6/70.3	0.665	0.546	47.9	48.8	76.4/76.9	75.2/75.9
"""

_TABLE7_RAW = """
TFN◇	0.233	0.259	18.1	-	37.3	-
MuT◇	0.244	0.227	17.3	-	37.0	-
MISA◇	0.294	0.038	10.6	-	34.7	-
TFR-Net◇	0.237	0.253	18.0	-	37.7	-
TFN	0.230	0.262	18.1	30.5	37.5	37.5
LMF	0.241	0.237	17.4	30.1	36.5	36.1
MuT	0.242	0.233	16.7	30.0	37.3	36.8
MISA	0.293	0.053	10.6	26.4	34.8	28.9
Self-MM	0.231	0.258	18.3	30.5	37.4	37.5
MMIM	0.244	0.238	17.7	29.8	37.0	36.2
TFR-Net	0.236	0.253	17.8	30.0	37.3	37.2
EMT-DLFR	0.215	0.287	20.4	31.9	38.4	38.5
"""

# Fusion Strategy	MACs (G)	#Params (M)	Training Time (s)	GPU Memory (GB)
_TABLE8_RAW = """
MuT	-	111.0	17.5	17.8
TFR-Net	-	124.3	24.8	16.9
OOLL	3.1	110.5	17.1	17.8
OALL	8.3	110.5	21.2	31.5
OAGL	1.5	110.5	15.4	10.8
"""

# MPU	Modality	Layer	#Params (M)	MAE	Corr   (x = not shared, v = shared)
_TABLE9_RAW = """
x	x	x	116.4	1.105	0.486
v	x	x	113.4	1.103	0.484
x	v	x	112.4	1.105	0.489
x	x	v	112.1	1.104	0.487
v	v	x	111.4	1.103	0.487
v	x	v	111.1	1.106	0.485
x	v	v	110.8	1.101	0.488
v	v	v	110.5	1.106	0.486
"""

_MARKERS: dict[str, dict[str, str]] = {
    "table4": {"†": "[30]", "‡": "[69]", "◇": "[16]"},
    "table5": {"†": "[70]"},
    "table6": {"◇": "[16]"},
    "table7": {"◇": "[16]"},
}

# Order of the printed columns; "a/b" cells give two metrics.
_MOSI_MOSEI_PRINTED = ("mae", "corr", "acc7", "acc5", ("acc2_has0", "acc2_non0"),
                       ("f1_has0", "f1_non0"))
_SIMS_PRINTED = ("mae", "corr", "acc5", "acc3", "acc2", "f1")
_TABLE8_METRICS = ("macs_g", "params_m", "train_time_s", "gpu_mem_gb")
_TABLE9_METRICS = ("params_m", "mae", "corr")
_SHARING_FLAGS = ("mpu_share", "modality_share", "layer_share")


def _num(cell: str) -> float:
    cell = cell.strip()
    return math.nan if cell == "-" else float(cell)


def _rows(raw: str) -> list[list[str]]:
    return [line.split("\t") for line in raw.strip().splitlines()]


def _parse_cells(cells: list[str], printed: tuple) -> dict[str, float]:
    if len(cells) != len(printed):
        raise ValueError(f"expected {len(printed)} cells, got {len(cells)}: {cells}")
    out: dict[str, float] = {}
    for spec, cell in zip(printed, cells):
        if isinstance(spec, tuple):
            left, right = cell.split("/")
            out[spec[0]], out[spec[1]] = _num(left), _num(right)
        else:
            out[spec] = _num(cell)
    return out


def _method_table(name: str, raw: str, datasets: tuple[str, ...], setting: str) -> pd.DataFrame:
    printed = _SIMS_PRINTED if datasets == ("sims",) else _MOSI_MOSEI_PRINTED
    markers = _MARKERS[name]
    records = []
    for cells in _rows(raw):
        label, ref = cells[0], ""
        for mark, cite in markers.items():
            if label.endswith(mark):
                label, ref = label[: -len(mark)], cite
        method = _PAPER_NAME_TO_KEY[label]
        source = "quoted" if ref else "reproduced"
        rest = cells[1:]
        width = len(printed)
        if len(rest) != width * len(datasets):
            raise ValueError(f"{name}: row {cells[0]!r} has {len(rest)} value cells")
        for k, dataset in enumerate(datasets):
            values = _parse_cells(rest[k * width:(k + 1) * width], printed)
            for metric in METRIC_KEYS[dataset]:
                records.append({"table": name, "dataset": dataset, "setting": setting,
                                "method": method, "source": source, "ref": ref,
                                "metric": metric, "value": values[metric]})
    return pd.DataFrame.from_records(records)


def _table8() -> pd.DataFrame:
    records = []
    for cells in _rows(_TABLE8_RAW):
        label = cells[0]
        if label in ("OOLL", "OALL", "OAGL"):
            method, fusion = "emt_dlfr", label.lower()
        else:
            method, fusion = _PAPER_NAME_TO_KEY[label], None
        for metric, cell in zip(_TABLE8_METRICS, cells[1:], strict=True):
            records.append({"table": "table8", "dataset": "mosi", "setting": "incomplete",
                            "method": method, "fusion": fusion, "metric": metric,
                            "value": _num(cell)})
    return pd.DataFrame.from_records(records)


def _table9() -> pd.DataFrame:
    records = []
    for cells in _rows(_TABLE9_RAW):
        flags = {f: c == "v" for f, c in zip(_SHARING_FLAGS, cells[:3], strict=True)}
        for metric, cell in zip(_TABLE9_METRICS, cells[3:], strict=True):
            records.append({"table": "table9", "dataset": "mosi", "setting": "incomplete",
                            "method": "emt_dlfr", **flags, "metric": metric,
                            "value": _num(cell)})
    return pd.DataFrame.from_records(records)


# --------------------------------------------------------------------------- Table 1: cost orders

TABLE1: dict[str, dict[str, str]] = {
    "ooll": {"space": "O(M^2)", "time": "O(M^2 T^2)"},
    "oall": {"space": "O(M)", "time": "O(M^2 T^2)"},
    "oagl": {"space": "O(M)", "time": "O(M T^2)"},
}
"""Table 1 as printed: space (MPUs) and time of one fusion layer, M aligned modalities of length T."""

_COST_ORDERS: dict[str, dict[str, Callable]] = {
    "time": {"ooll": lambda M, T: M ** 2 * T ** 2, "oall": lambda M, T: M ** 2 * T ** 2,
             "oagl": lambda M, T: M * T ** 2},
    "space": {"ooll": lambda M, T: M ** 2, "oall": lambda M, T: M, "oagl": lambda M, T: M},
    "text": {"ooll": lambda M, T: 2 * M * (M - 1) ** 2 * T ** 2,
             "oall": lambda M, T: M * (M + 1) ** 2 * T ** 2, "oagl": lambda M, T: M * (T + M) ** 2},
    "mpu": {"ooll": lambda M, T: 2 * M * (M - 1) * T ** 2,
            "oall": lambda M, T: M * (M + 1) ** 2 * T ** 2, "oagl": lambda M, T: M * (T + M) ** 2},
}


def table1_order(strategy: str, M, T, form: str = "time"):
    """The cost order f(M, T) of one fusion layer of `strategy`, element-wise on numbers or arrays.

    Only the order matters: overlay c * f with c fitted to one measured point.

    form='time' / 'space': Table 1 as printed (`TABLE1`): time OOLL M^2 T^2, OALL M^2 T^2,
        OAGL M T^2; space (number of MPUs) M^2, M, M.
    form='text': the main-text formulas of section 3.3.3 as printed, with T_m = T for all m:
        OOLL  1/2 sum_m (sum_{n != m} (T_m + T_n))^2 = 2 M (M-1)^2 T^2
        OALL  sum_m (T_m + sum_n T_n)^2              = M (M+1)^2 T^2
        OAGL  sum_m (T_m + M)^2                      = M (T + M)^2
      NB the printed OOLL and OALL formulas grow like M^3 T^2, not the M^2 T^2 of Table 1.
    form='mpu': the per-MPU cost (T_q + T_k)^2 summed over the MPUs of one layer:
        OOLL  C(M, 2) pairs of (T + T)^2 = 2 M (M-1) T^2   (Table 1's M^2 T^2)
        OALL  M (T + M T)^2 = M (M+1)^2 T^2,   OAGL  M (T + M)^2   (= 'text')
      The attention matmuls of one fusion layer (q.k^T and attn.v of both directions' cross- and
      self-attention) cost exactly 2 d x this many MACs; the projections, FFN and pooling add
      terms linear in T (d^2 T per MPU direction), which dominate while T is below ~10 d (OAGL)
      or ~5 d (OOLL); OAGL's eq. 9 pool (M candidates of width M d) adds M^3 d^2, small for M << T.
    """
    if form not in _COST_ORDERS:
        raise ValueError(f"unknown form {form!r}: expected one of {list(_COST_ORDERS)}")
    if strategy not in TABLE1:
        raise ValueError(f"unknown strategy {strategy!r}: expected one of {list(TABLE1)}")
    return _COST_ORDERS[form][strategy](M, T)


def _table1() -> pd.DataFrame:
    return pd.DataFrame([{"fusion": s, **orders} for s, orders in TABLE1.items()])


_TABLE2_RAW = """
mosi	552/53/679	92/13/124	379/30/277	2199
mosei	4738/3540/8048	506/433/932	1350/1025/2284	23453
sims	742/207/419	248/69/139	248/69/140	2281
"""

TABLE2_ALL_REPORTED: dict[str, int] = {
    cells[0]: int(cells[4]) for cells in _rows(_TABLE2_RAW)}
"""Table 2's "All" column as printed. MOSEI's 23453 is not the sum of its splits (22856)."""


def _table2() -> pd.DataFrame:
    records = []
    for cells in _rows(_TABLE2_RAW):
        for split, cell in zip(("train", "val", "test"), cells[1:4], strict=True):
            neg, neu, pos = (int(x) for x in cell.split("/"))
            records.append({"dataset": cells[0], "split": split, "negative": neg,
                            "neutral": neu, "positive": pos, "total": neg + neu + pos})
    return pd.DataFrame.from_records(records)


_TABLE3: list[tuple[str, str, tuple[Any, Any, Any]]] = [
    # key, printed label, (CMU-MOSI, CMU-MOSEI, CH-SIMS)
    ("batch_size", "Batch size", (32, 16, 32)),
    ("lr", "Learning rate", (1e-3, 1e-4, 1e-3)),
    ("lr_bert", "Learning rate of BERT", (5e-5, 2e-5, 2e-5)),
    ("optimizer", "Optimizer", ("Adam", "Adam", "Adam")),
    ("early_stop", "Early stop (# epochs)", (8, 8, 8)),
    ("grad_accum", "Gradient accumulation (# batches)", (4, 4, 4)),
    ("d", "Hidden unit size d in EMT", (128, 128, 32)),
    ("layers", "Stacked layers L in EMT", (3, 2, 4)),
    ("heads", "# attention heads", (4, 4, 4)),
    ("ffn_expansion", "Expansion factor of FFN", (4, 4, 4)),
    ("embed_dropout", "Embedding dropout", (0.0, 0.0, 0.0)),
    ("attn_dropout", "Attention dropout", (0.3, 0.0, 0.0)),
    ("ffn_dropout", "FFN dropout", (0.1, 0.0, 0.0)),
    ("lambda1", "Loss weight lambda_1", (1.0, 1.0, 0.5)),
    ("lambda2", "Loss weight lambda_2", (1.0, 1.0, 0.5)),
]


def _table3() -> pd.DataFrame:
    frame = pd.DataFrame(
        [(label, *vals) for _, label, vals in _TABLE3],
        index=pd.Index([k for k, _, _ in _TABLE3], name="key"),
        columns=["hyperparameter", "mosi", "mosei", "sims"], dtype=object)
    return frame


_TABLES: dict[str, pd.DataFrame] = {
    "table1": _table1(),
    "table2": _table2(),
    "table3": _table3(),
    "table4": _method_table("table4", _TABLE4_RAW, ("mosi", "mosei"), "complete"),
    "table5": _method_table("table5", _TABLE5_RAW, ("sims",), "complete"),
    "table6": _method_table("table6", _TABLE6_RAW, ("mosi", "mosei"), "incomplete"),
    "table7": _method_table("table7", _TABLE7_RAW, ("sims",), "incomplete"),
    "table8": _table8(),
    "table9": _table9(),
}

# Columns that identify a row (besides dataset) in each long table.
_ROW_KEYS: dict[str, tuple[str, ...]] = {
    "table4": ("source", "method"), "table5": ("source", "method"),
    "table6": ("source", "method"), "table7": ("source", "method"),
    "table8": ("method", "fusion"), "table9": _SHARING_FLAGS,
}

# --------------------------------------------------------------------------- access


def _check_name(name: str) -> str:
    key = str(name).lower().replace(" ", "")
    if key.isdigit():
        key = f"table{key}"
    if key not in _TABLES:
        raise KeyError(f"unknown table {name!r}: expected one of {list(TABLE_NAMES)}")
    return key


def table(name: str | int) -> pd.DataFrame:
    """A copy of one table ('table1' ... 'table9', or 1 ... 9); Tables 4-9 in long form."""
    return _TABLES[_check_name(str(name))].copy()


def long() -> pd.DataFrame:
    """Tables 4-9 stacked in one long frame (columns absent in a table are NaN/None)."""
    return pd.concat([_TABLES[f"table{i}"] for i in range(4, 10)], ignore_index=True)


def datasets(name: str | int) -> tuple[str, ...]:
    """The datasets a result table (4-9) covers."""
    key = _check_name(str(name))
    return tuple(dict.fromkeys(_TABLES[key]["dataset"]))


def metric_keys(name: str | int, dataset: str) -> tuple[str, ...]:
    """The metric keys of a result table (4-9) for one dataset, in our canonical order."""
    key = _check_name(str(name))
    frame = _TABLES[key]
    return tuple(dict.fromkeys(frame.loc[frame["dataset"] == dataset, "metric"]))


def wide(name: str | int, dataset: str | None = None, source: str | None = None) -> pd.DataFrame:
    """One result table (4-9) for one dataset as rows x metrics, in the paper's row order.

    Rows are indexed by (source, method) for Tables 4-7 (just `method` when `source` is given:
    'reproduced' or 'quoted'), (method, fusion) for Table 8, and the three sharing flags for
    Table 9 (Table 8's reference rows MulT and TFR-Net show fusion '-'). `dataset` may be
    omitted when the table covers one dataset only.
    """
    key = _check_name(str(name))
    if key not in _ROW_KEYS:
        raise KeyError(f"{key} is not a result table; use table({key!r})")
    frame = _TABLES[key]
    ds = _pick_dataset(key, dataset)
    frame = frame[frame["dataset"] == ds]
    row_keys = list(_ROW_KEYS[key])
    if source is not None:
        if "source" not in row_keys:
            raise ValueError(f"{key} has no 'source' column")
        frame = frame[frame["source"] == source]
        row_keys.remove("source")
    cells: dict[tuple, dict[str, float]] = {}
    for rec in frame.itertuples(index=False):
        row = tuple("-" if pd.isna(getattr(rec, k)) else getattr(rec, k) for k in row_keys)
        cells.setdefault(row, {})[rec.metric] = rec.value
    cols = list(dict.fromkeys(frame["metric"]))
    out = pd.DataFrame([[vals.get(c, math.nan) for c in cols] for vals in cells.values()],
                       index=pd.MultiIndex.from_tuples(list(cells), names=row_keys),
                       columns=cols, dtype=float)
    if len(row_keys) == 1:
        out.index = out.index.get_level_values(0)
    out.columns.name = "metric"
    return out


def _pick_dataset(key: str, dataset: str | None) -> str:
    available = tuple(dict.fromkeys(_TABLES[key]["dataset"]))
    if dataset is None:
        if len(available) != 1:
            raise ValueError(f"{key} covers {list(available)}: pass dataset=")
        return available[0]
    ds = str(dataset).lower()
    if ds not in available:
        raise KeyError(f"{key} has no dataset {dataset!r}: expected one of {list(available)}")
    return ds


def paper_values(name: str | int, dataset: str | None, method: str,
                 source: str = "reproduced", **variant: Any) -> pd.Series:
    """One printed row as a Series metric -> value (paper units; NaN where '-').

    Tables 4-7 select by `source` ('reproduced' by default, or 'quoted'); Table 8 needs
    `fusion=` for the EMT rows ('ooll', 'oall', 'oagl'); Table 9 needs the three flags
    `mpu_share=, modality_share=, layer_share=`.
    """
    key = _check_name(str(name))
    if key not in _ROW_KEYS:
        raise KeyError(f"{key} is not a result table")
    frame = _TABLES[key]
    ds = _pick_dataset(key, dataset)
    mask = (frame["dataset"] == ds) & (frame["method"] == method)
    if "source" in frame.columns:
        mask &= frame["source"] == source
    for col, val in variant.items():
        if col not in frame.columns:
            raise KeyError(f"{key} has no column {col!r}")
        mask &= frame[col].eq(val) if val is not None else frame[col].isna()
    if key == "table8" and method == "emt_dlfr" and "fusion" not in variant:
        raise ValueError("table8: pass fusion='ooll'|'oall'|'oagl' for EMT-DLFR")
    if key == "table9" and set(_SHARING_FLAGS) - set(variant):
        raise ValueError(f"table9: pass all of {list(_SHARING_FLAGS)}")
    sel = frame[mask]
    if sel.empty:
        raise KeyError(f"no row in {key} for dataset={ds!r}, method={method!r}, "
                       f"source={source!r}, {variant}")
    series = pd.Series(sel["value"].to_numpy(dtype=float), index=sel["metric"].to_list(),
                       name=f"{key}:{ds}:{method}")
    if series.index.has_duplicates:
        raise ValueError(f"{key}: the selection matches several rows; add a variant")
    series.index.name = "metric"
    return series


# --------------------------------------------------------------------------- units and comparison


def _is_percent_metric(key: str) -> bool:
    return key.startswith("acc") or key.startswith("f1")


def to_paper_units(metrics: Mapping[str, Any], rounded: bool = False) -> dict[str, float]:
    """A run's metrics (fractions, as `emtlib.metrics` returns them) in the paper's units.

    Accuracies and F1 (`acc*`, `f1*`) are multiplied by 100; `mae`, `corr` and any other key
    pass through unchanged. The same holds for AUILCs computed with `metrics.auilc` on
    fractions. `rounded=True` rounds like the paper prints: 1 decimal for percentages,
    3 for MAE/Corr (other keys untouched).
    """
    out: dict[str, float] = {}
    for k, v in dict(metrics).items():
        val = float(v)
        if _is_percent_metric(k):
            val *= 100.0
            if rounded:
                val = round(val, 1)
        elif rounded and k in ("mae", "corr"):
            val = round(val, 3)
        out[k] = val
    return out


def official_auilc_to_paper_units(auilcs: Mapping[str, Any]) -> dict[str, float]:
    """`metrics.auilc_official` values (x100 scale) in the paper's units: MAE/Corr / 100."""
    return {k: float(v) / 100.0 if k in ("mae", "corr") else float(v)
            for k, v in dict(auilcs).items()}


def _as_mapping(ours: Any) -> dict[str, float]:
    if isinstance(ours, pd.DataFrame):
        if {"metric", "value"} <= set(ours.columns):
            if ours["metric"].duplicated().any():
                raise ValueError("ours: duplicate metrics in the 'metric' column")
            return dict(zip(ours["metric"], ours["value"].astype(float)))
        if len(ours) != 1:
            raise ValueError("ours: pass a one-row DataFrame (columns = metrics), a frame with "
                             f"'metric' and 'value' columns, a Series or a dict; got {len(ours)} rows")
        return {k: float(v) for k, v in ours.iloc[0].items()}
    if isinstance(ours, pd.Series):
        return {k: float(v) for k, v in ours.items()}
    if isinstance(ours, Mapping):
        return {k: float(v) for k, v in ours.items()}
    raise TypeError(f"ours: expected a dict, Series or DataFrame, got {type(ours).__name__}")


def compare(ours: Any, name: str | int, dataset: str | None, method: str,
            source: str = "reproduced", units: str = "paper", **variant: Any) -> pd.DataFrame:
    """Paper vs ours for one printed row: columns paper, ours, diff (= ours - paper).

    `ours` is a dict / Series metric -> value, a one-row DataFrame with metric columns, or a
    long frame with 'metric' and 'value' columns. It is taken to be in the paper's units
    (`units='paper'`); pass `units='fraction'` to convert it with `to_paper_units` first.
    Rows are the table's metrics in canonical order; metrics absent from `ours` give NaN,
    keys the table does not have are ignored. Selection arguments as in `paper_values`.
    """
    paper = paper_values(name, dataset, method, source=source, **variant)
    mine = _as_mapping(ours)
    if units == "fraction":
        mine = to_paper_units(mine)
    elif units != "paper":
        raise ValueError(f"units must be 'paper' or 'fraction', got {units!r}")
    ours_col = pd.Series([mine.get(k, math.nan) for k in paper.index], index=paper.index,
                         dtype=float)
    out = pd.DataFrame({"paper": paper.astype(float), "ours": ours_col})
    out["diff"] = out["ours"] - out["paper"]
    return out


# --------------------------------------------------------------------------- several methods


def method_table(setting: str, dataset: str) -> str:
    """The method table with `dataset`'s rows in `setting`: Table 4 / 5 (complete), 6 / 7 (incomplete)."""
    for key in ("table4", "table5", "table6", "table7"):
        frame = _TABLES[key]
        if (frame["setting"] == setting).all() and dataset in set(frame["dataset"]):
            return key
    raise KeyError(f"no method table for setting={setting!r}, dataset={dataset!r}: expected "
                   "setting 'complete' or 'incomplete' and dataset 'mosi', 'mosei' or 'sims'")


def _paper_row_source(frame: pd.DataFrame, method: str) -> str | None:
    """'reproduced' when the table has the authors' rerun of `method`, else 'quoted', else None."""
    sources = set(frame.loc[frame["method"] == method, "source"])
    return "reproduced" if "reproduced" in sources else ("quoted" if sources else None)


def _method_rows(name: str | int, dataset: str) -> tuple[str, str, pd.DataFrame]:
    """(table key, dataset, the table's rows for it) of Table 4, 5, 6 or 7: the method tables."""
    key = _check_name(str(name))
    if key not in ("table4", "table5", "table6", "table7"):
        raise KeyError(f"expected one of the method tables 4-7, not {key}")
    ds = _pick_dataset(key, dataset)
    frame = _TABLES[key]
    return key, ds, frame[frame["dataset"] == ds]


def _wide_ours(ours: pd.DataFrame) -> pd.DataFrame:
    """`ours` as methods x metrics: a wide frame (index method, or (method, variant) with one
    variant per method, as `experiments.metric_table` returns) or a long frame with columns
    method, metric and one of value / mean / auilc."""
    if not isinstance(ours, pd.DataFrame):
        raise TypeError(f"ours: expected a DataFrame, got {type(ours).__name__}")
    if "method" in ours.columns and "metric" in ours.columns:
        value = next((c for c in ("value", "mean", "auilc") if c in ours.columns), None)
        if value is None:
            raise ValueError("ours: a long frame needs a 'value', 'mean' or 'auilc' column")
        if ours.duplicated(["method", "metric"]).any():
            raise ValueError("ours: several rows per (method, metric); select one variant and rate")
        return ours.pivot(index="method", columns="metric", values=value)
    if isinstance(ours.index, pd.MultiIndex):
        methods = ours.index.get_level_values("method")
        if methods.duplicated().any():
            raise ValueError("ours: several variants of one method; select one variant")
        ours = ours.set_axis(methods, axis=0)
    return ours


def side_by_side(ours: pd.DataFrame, name: str | int, dataset: str, units: str = "fraction",
                 methods=None) -> pd.DataFrame:
    """Our rows interleaved with the paper's for several methods (Tables 4-7).

    Index (method, source): source 'ours', then the paper's 'reproduced' row (the authors'
    rerun) or, for a method the table reproduces nowhere (e.g. TFN on MOSI in Table 4), its
    'quoted' row. Columns are the table's metrics in canonical order. `ours` is methods x
    metrics (see `_wide_ours`); `units='fraction'` converts a run's fractions to the paper's
    units first (use 'paper' for `experiments.auilc_frame` values, which already are).
    methods: the order of the rows; default the methods of `ours`, in the paper's row order.
    A method of `ours` the table does not have gets its 'ours' row only.
    """
    if units not in ("paper", "fraction"):
        raise ValueError(f"units must be 'paper' or 'fraction', got {units!r}")
    key, ds, frame = _method_rows(name, dataset)
    cols = list(dict.fromkeys(frame["metric"]))
    mine = _wide_ours(ours)
    order = [m for m in DISPLAY_NAME if m in set(frame["method"])]  # the paper's row order
    if methods is None:
        methods = [m for m in order if m in mine.index] + [m for m in mine.index if m not in order]
    rows, index = [], []
    for m in methods:
        if m not in mine.index:
            raise KeyError(f"ours has no row for method {m!r}; found {list(mine.index)}")
        vals = {k: float(v) for k, v in mine.loc[m].items() if pd.notna(v)}
        if units == "fraction":
            vals = to_paper_units(vals)
        rows.append([vals.get(c, math.nan) for c in cols])
        index.append((m, "ours"))
        source = _paper_row_source(frame, m)
        if source is not None:
            p = paper_values(key, ds, m, source=source)
            rows.append([float(p.get(c, math.nan)) for c in cols])
            index.append((m, source))
    return pd.DataFrame(rows, index=pd.MultiIndex.from_tuples(index, names=["method", "source"]),
                        columns=pd.Index(cols, name="metric"), dtype=float)


def overlay(name: str | int, dataset: str, rate: float | None = None, methods=None) -> pd.DataFrame:
    """The paper's rows of Tables 4-7 as an `emtlib.plots` overlay (columns dataset, method,
    variant, rate, metric, mean), one row per method: 'reproduced' or, failing that, 'quoted'.

    rate: the missing rate the values belong to (0.0 for the complete setting of Tables 4-5);
    None (NaN) marks AUILCs (Tables 6-7), which `plots.ablation_chart(kind='bar')` draws when
    rate='auilc'.
    """
    frame = _method_rows(name, dataset)[2]
    frame = frame[frame["value"].notna()]
    keep = [m for m in dict.fromkeys(frame["method"]) if methods is None or m in methods]
    parts = [frame[(frame["method"] == m) & (frame["source"] == _paper_row_source(frame, m))]
             for m in keep]
    out = pd.concat(parts, ignore_index=True) if parts else frame.iloc[:0]
    return pd.DataFrame({"dataset": out["dataset"], "method": out["method"], "variant": "",
                         "rate": math.nan if rate is None else float(rate),
                         "metric": out["metric"], "mean": out["value"].astype(float)})


# --------------------------------------------------------------------------- the paper's claims


@dataclass(frozen=True)
class Claim:
    """One comparison the paper draws, as checked against our records (emtlib.notebook.claims_table).

    The claim is "`better` beats `worse`" on `metric`: per seed, in the incomplete setting, the
    AUILC of the metric over the run's missing rates (paper eq. 17); in the complete setting, the
    metric at rate 0.
    """

    notebook: str
    """The notebook that shows it ('01', '02', '04'-'09')."""
    text: str
    """The claim in one line, as the paper makes it."""
    better: tuple[str, str]
    """(method, variant) the paper finds better."""
    worse: tuple[str, str]
    """(method, variant) the paper finds worse."""
    paper: str
    """The paper's numbers for the two, or where it shows them when it prints none."""
    metric: str = "mae"
    """The metric compared (emtlib.metrics keys)."""
    setting: str = "incomplete"
    """'incomplete' (AUILC over rates) or 'complete' (rate 0)."""
    kind: str = "beats"
    """'beats' (better is better) or 'matches' (better is at least as good: a gap within the
    seed noise agrees with the claim)."""


_RESULT_TABLES = {("complete", "mosi"): "table4", ("complete", "mosei"): "table4",
                  ("complete", "sims"): "table5", ("incomplete", "mosi"): "table6",
                  ("incomplete", "mosei"): "table6", ("incomplete", "sims"): "table7"}
_BASELINE_ORDER = ("tfn", "lmf", "mult", "misa", "self_mm", "mmim", "tfr_net")


def _method_claims(notebook: str, setting: str, dataset: str) -> list[Claim]:
    ours = "emt" if setting == "complete" else "emt_dlfr"
    name = _RESULT_TABLES[setting, dataset]
    what = "MAE" if setting == "complete" else "AUILC of MAE"
    mine = paper_values(name, dataset, ours)["mae"]
    out = []
    for b in _BASELINE_ORDER:
        try:  # the authors' rerun where there is one, else the number they quote
            theirs, src = paper_values(name, dataset, b)["mae"], "reproduced"
        except KeyError:
            theirs, src = paper_values(name, dataset, b, source="quoted")["mae"], "quoted"
        out.append(Claim(notebook, f"{DISPLAY_NAME[ours]} beats {DISPLAY_NAME[b]} on {what}",
                         (ours, ""), (b, ""),
                         f"{mine:.3f} vs {theirs:.3f} (Table {name[5:]}, {DISPLAY_NAME[b]} {src})",
                         setting=setting))
    return out


def claims(notebook: str, dataset: str = "mosi") -> list[Claim]:
    """The paper's claims that notebook `notebook` ('01', '02', '04'-'09') checks; the ablation
    notebooks' claims are about CMU-MOSI, the only dataset the paper ablates on."""
    if notebook == "01":
        return _method_claims("01", "complete", dataset)
    if notebook == "02":
        return _method_claims("02", "incomplete", dataset)
    e = "emt_dlfr"
    if notebook == "04":
        fig = "Fig. 7 (no numbers printed)"
        return [Claim("04", "OAGL beats OOLL", (e, "oagl"), (e, "ooll"), fig),
                Claim("04", "OAGL beats OALL", (e, "oagl"), (e, "oall"), fig),
                Claim("04", "OALL beats OOLL", (e, "oall"), (e, "ooll"), fig),
                Claim("04", "parallel OAGL beats serial OAGL", (e, "oagl"), (e, "oagl-serial"), fig),
                Claim("04", "parallel OALL beats serial OALL", (e, "oall"), (e, "oall-serial"), fig)]
    if notebook == "05":
        flags = ("mpu_share", "modality_share", "layer_share")
        t9 = {v: paper_values("table9", "mosi", e, **dict(zip(flags, (v,) * 3)))["mae"]
              for v in (True, False)}
        return [Claim("05", "full sharing matches no sharing with far fewer parameters",
                      (e, "mpu=1,mod=1,layer=1"), (e, "mpu=0,mod=0,layer=0"),
                      f"{t9[True]:.3f} vs {t9[False]:.3f} (Table 9, AUILC of MAE)", kind="matches")]
    if notebook == "06":
        fig = "Fig. 8 (no numbers printed)"
        return [Claim("06", "attention pooling beats average pooling", (e, "attention"), (e, "average"), fig),
                Claim("06", "average pooling beats MLP pooling", (e, "average"), (e, "mlp"), fig)]
    if notebook == "07":
        fig = "Fig. 9"
        return [Claim("07", "EMT-LLFR beats vanilla EMT", (e, "emt-llfr"), (e, "emt"), fig),
                Claim("07", "EMT-HLFR beats vanilla EMT", (e, "emt-hlfr"), (e, "emt"), fig),
                Claim("07", "EMT-HLFR beats EMT-LLFR", (e, "emt-hlfr"), (e, "emt-llfr"),
                      "Fig. 9; by 0.022 MAE (section 5.2.4)"),
                Claim("07", "EMT-DLFR is best: it beats EMT-HLFR", (e, "emt-dlfr"), (e, "emt-hlfr"), fig),
                Claim("07", "vanilla EMT edges out TFR-Net on MAE", (e, "emt"), ("tfr_net", ""), fig)]
    if notebook == "08":
        return [Claim("08", "too large weights hurt: λ1 = λ2 = 0.5 beats λ1 = λ2 = 2.0",
                      (e, "l1=0.5,l2=0.5"), (e, "l1=2.0,l2=2.0"), "Fig. 10 (no numbers printed)")]
    if notebook == "09":
        return [Claim("09", "SimSiam beats plain negative-cosine attraction", (e, "simsiam"),
                      (e, "cosine"), "Fig. 11 (no numbers printed)")]
    raise KeyError(f"notebook {notebook!r} checks no claim; claims are kept for "
                   "01, 02 and 04-09")
