"""The committed demo records (results/demo) meet the demo profile's targets (docs/profiles.md):
EMT-DLFR's seed-mean test MAE at most 0.80x the train-mean predictor's with complete views and at
most 0.90x at the missing rates either side of 0.5 (the demo grid steps by 0.2), and every
baseline below the mean predictor with complete views. Read back only, as nbval replays them."""
import numpy as np
import pytest

from emtlib.config import BASELINES
from emtlib.experiments import CACHE_ONLY_ENV
from emtlib.notebook import setup


@pytest.fixture(scope="module")
def demo():
    """Notebook 02's demo grid read from results/demo, and the train-mean predictor's test MAE."""
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv(CACHE_ONLY_ENV, "1")  # a missing record fails, naming the refresh command
        S = setup("mosi", synthetic=True, profile="demo", results_dir="results/demo",
                  executor="none")
        _, agg = S.run(S.notebook_grid("02_incomplete_setting"))
        data = S.load()
    y, y_train = data["test"]["regression_labels"], data["train"]["regression_labels"]
    assert len(y) >= 300  # the test-split size, at which 0.02 MAE is told from noise
    return agg, float(np.abs(y - y_train.mean()).mean())


def seed_mean_mae(agg, method: str, rate: float) -> float:
    row = agg[(agg["method"] == method) & np.isclose(agg["rate"], rate) & (agg["metric"] == "mae")
              & (agg["variant"] == "")]
    assert len(row) == 1 and int(row["n"].iloc[0]) == 3, (method, rate)  # the three seeds
    return float(row["mean"].iloc[0])


@pytest.mark.parametrize("rate, most", [(0.0, 0.80), (0.4, 0.90), (0.6, 0.90)])
def test_emt_dlfr_beats_the_mean_predictor_by_the_demo_target(demo, rate, most):
    agg, mean_predictor = demo
    mae = seed_mean_mae(agg, "emt_dlfr", rate)
    assert mae <= most * mean_predictor, f"MAE {mae:.3f} vs mean predictor {mean_predictor:.3f}"


@pytest.mark.parametrize("method", BASELINES)
def test_every_baseline_beats_the_mean_predictor_with_complete_views(demo, method):
    agg, mean_predictor = demo
    assert seed_mean_mae(agg, method, 0.0) < mean_predictor
