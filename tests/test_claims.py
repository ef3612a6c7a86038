"""The claims ledger: the paper's claims as data (emtlib.paper.claims) and their verdicts from
records (emtlib.notebook.claims_table), checked on hand-built records."""
from __future__ import annotations

import pytest

from emtlib import paper
from emtlib.notebook import claims_table, paired_verdict

RATES = (0.0, 0.5, 1.0)
SEEDS = (111, 1111, 11111)


def record(method, variant, rate, seed, mae):
    return {"config": {"dataset": "mosi", "method": method, "missing_rate": rate, "seed": seed},
            "spec": {"variant": variant}, "metrics": {"mae": mae}}


def arm(method, variant, mae_at):
    """Records of one arm: mae_at(rate, seed) for every rate and seed."""
    return [record(method, variant, r, s, mae_at(r, s)) for r in RATES for s in SEEDS]


def test_every_comparison_notebook_has_claims_with_paper_numbers():
    for nb in ("01", "02", "04", "05", "06", "07", "08", "09"):
        cs = paper.claims(nb)
        assert cs and all(c.notebook == nb and c.paper for c in cs)
    c = paper.claims("02")[0]
    assert c.text == "EMT-DLFR beats TFN on AUILC of MAE"
    assert c.paper == "1.106 vs 1.316 (Table 6, TFN reproduced)"  # Table 6, MOSI rows
    assert paper.claims("01", "sims")[0].paper.startswith("0.")  # Table 5 for CH-SIMS
    with pytest.raises(KeyError, match="01, 02 and 04-09"):
        paper.claims("03")


def test_verdicts_by_hand():
    assert paired_verdict([0.05, 0.06, 0.04]) == "holds"  # t = 8.7 > 4.30 (df 2)
    assert paired_verdict([-0.05, -0.06, -0.04]) == "reversed"
    assert paired_verdict([0.05, -0.04, 0.01]) == "within noise"
    assert paired_verdict([0.05, -0.04, 0.01], kind="matches") == "holds (within noise)"
    assert paired_verdict([0.05]) == "too few seeds"
    # t = 0.01 / (0.01 / sqrt 3) = 1.73 < 4.30: a consistent but noisy gap is not significant
    assert paired_verdict([0.0, 0.01, 0.02]) == "within noise"


def test_claims_table_computes_auilc_per_seed_and_pairs_seeds():
    # EMT-HLFR 0.05 MAE below EMT-LLFR at every rate and seed, plus seed noise shared by both
    noise = {111: 0.0, 1111: 0.03, 11111: -0.02}
    recs = (arm("emt_dlfr", "emt-llfr", lambda r, s: 1.0 + r + noise[s])
            + arm("emt_dlfr", "emt-hlfr", lambda r, s: 0.95 + r + noise[s] + 0.001 * (s == 111))
            + arm("emt_dlfr", "emt", lambda r, s: 0.9 + r + noise[s])  # beats both: reversed
            + arm("emt_dlfr", "emt-dlfr", lambda r, s: 0.95 + r + noise[s] - 0.01 * (s == 1111))
            + arm("tfr_net", "", lambda r, s: 1.2 + r))
    t = claims_table(recs, "07")
    # AUILC over (0, 0.5, 1) of c + r: 0.25 * (c + c + 0.5) + 0.25 * (c + 0.5 + c + 1) = c + 0.5;
    # HLFR per seed 1.451, 1.48, 1.43: mean 1.4537, population std 0.0205; LLFR 1.5, 1.53, 1.48
    assert t.loc["EMT-HLFR beats EMT-LLFR", "ours"] == "AUILC of MAE: 1.454 ± 0.020 vs 1.503 ± 0.021"
    assert t.loc["EMT-HLFR beats EMT-LLFR", "verdict"] == "holds"
    assert t.loc["EMT-LLFR beats vanilla EMT", "verdict"] == "reversed"
    assert t.loc["EMT-DLFR is best: it beats EMT-HLFR", "verdict"] == "within noise"
    assert t.loc["vanilla EMT edges out TFR-Net on MAE", "verdict"] == "holds"
    assert (t["seeds"] == 3).all()


def test_complete_setting_claims_read_rate_zero():
    recs = [record("emt", "", 0.0, s, 0.70 + 0.01 * i) for i, s in enumerate(SEEDS)]
    for b in ("tfn", "lmf", "mult", "misa", "self_mm", "mmim", "tfr_net"):
        recs += [record(b, "", 0.0, s, 0.80 + 0.01 * i) for i, s in enumerate(SEEDS)]
    t = claims_table(recs, "01")
    assert t.loc["EMT beats MulT on MAE", "ours"] == "MAE: 0.710 ± 0.008 vs 0.810 ± 0.008"
    assert (t["verdict"] == "holds").all()  # a constant 0.1 gap: zero spread, p = 0


def test_a_missing_arm_is_named():
    with pytest.raises(KeyError, match="no records of 'emt_dlfr' variant 'emt' for claim"):
        claims_table(arm("emt_dlfr", "emt-llfr", lambda r, s: 1.0), "07")
