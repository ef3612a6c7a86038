"""The run cache, grids and aggregation of emtlib.experiments."""
from __future__ import annotations

import json

import pytest

import emtlib.train
from emtlib.config import apply_overrides
from emtlib.experiments import (RunSpec, aggregate, auilc_frame, config_key, metric_table,
                                record_path, records_frame, run)
from emtlib.executors import run_grid
from emtlib.metrics import METRIC_KEYS


@pytest.fixture
def fake_fit(monkeypatch):
    """Replace training by a stub that returns a record whose MAE encodes the config."""
    calls = []

    class Result:
        def __init__(self, record):
            self.record = record

    def fit(cfg):
        calls.append(cfg)
        mae = 1.0 + cfg.missing_rate + cfg.seed / 1000
        metrics = {**dict.fromkeys(METRIC_KEYS[cfg.dataset], 0.5), "mae": mae,
                   "acc7": 0.5 - cfg.missing_rate / 4}
        return Result({"config": cfg.to_dict(), "metrics": metrics})

    monkeypatch.setattr(emtlib.train, "fit", fit)
    return calls


def test_same_spec_twice_trains_once(tmp_path, fake_fit):
    spec = RunSpec(missing_rate=0.5, seed=3, variant="oagl")
    a = run(spec, tmp_path)
    b = run(spec, tmp_path)
    assert len(fake_fit) == 1 and a == b
    path = record_path(spec.config(), tmp_path)
    assert path.parent == tmp_path / "mosi" / "emt_dlfr" / "rate0.50" / "seed3"
    assert json.loads(path.read_text())["metrics"]["mae"] == 1.503
    # the same config under another label is the same run
    c = run(RunSpec(missing_rate=0.5, seed=3, variant="parallel"), tmp_path)
    assert len(fake_fit) == 1 and c["spec"]["variant"] == "parallel" and c["metrics"] == a["metrics"]


def test_changed_config_is_not_reused(tmp_path, fake_fit):
    run(RunSpec(seed=1), tmp_path)
    run(RunSpec(seed=1, overrides=("model.fusion=ooll",)), tmp_path)
    run(RunSpec(seed=1, overrides=("loss.lambda_recon=0.5",)), tmp_path)
    assert len(fake_fit) == 3
    # how a run is displayed does not change what it computes
    cfg = RunSpec(seed=1).config()
    assert config_key(cfg) == config_key(apply_overrides(cfg, ["train.quiet=true"]))
    assert config_key(cfg) != config_key(apply_overrides(cfg, ["train.batch_size=4"]))


def test_killed_run_is_never_read_as_complete(tmp_path, fake_fit):
    spec = RunSpec(seed=2)
    path = record_path(spec.config(), tmp_path)
    path.parent.mkdir(parents=True)
    # a killed writer leaves only its temporary file behind ...
    (path.parent / (path.name + "abc.part")).write_text('{"metrics": {"mae": 0.1}}')
    # ... and a file truncated by something else is not a record either
    path.write_text('{"config": {"dataset": "mosi"}, "metr')
    with pytest.warns(UserWarning, match="not a complete record"):
        r = run(spec, tmp_path)
    assert len(fake_fit) == 1 and r["metrics"]["mae"] == pytest.approx(1.002)
    assert json.loads(path.read_text())["key"] == config_key(spec.config())


def test_cache_only_grid_names_every_missing_run_and_trains_nothing(tmp_path, fake_fit, monkeypatch):
    from emtlib.experiments import MissingRecordError

    specs = [RunSpec(missing_rate=r, seed=1, variant="v") for r in (0.0, 0.5, 1.0)]
    run_grid(specs[:1], tmp_path, progress=False)
    monkeypatch.setenv("EMTLIB_CACHE_ONLY", "1")
    with pytest.raises(MissingRecordError) as e:
        run_grid(specs, tmp_path)
    msg = str(e.value)
    assert msg.startswith("2 run(s) have no record") and "rate 0.5 seed 1" in msg
    assert "rate 1 seed 1" in msg and "variant v" in msg and "scripts/refresh_notebooks.sh" in msg
    assert len(fake_fit) == 1 and len(list(tmp_path.rglob("*.json"))) == 1
    assert run_grid(specs[:1], tmp_path)[0]["spec"]["variant"] == "v"  # stored: replayed
    with pytest.raises(MissingRecordError, match="1 run"):
        run(specs[2], tmp_path)
    monkeypatch.setenv("EMTLIB_CACHE_ONLY", "maybe")
    with pytest.raises(ValueError, match="expected 1 or 0"):
        run_grid(specs, tmp_path)


def test_grid_resumes_and_aggregates(tmp_path, fake_fit):
    specs = [RunSpec(missing_rate=r, seed=s) for r in (0.0, 0.5, 1.0) for s in (1, 3)]
    run_grid(specs[:2], tmp_path, progress=False)
    records = run_grid(specs, tmp_path, progress=False)
    assert len(fake_fit) == 6 and len(records) == 6  # 2 first, then the 4 missing
    frame = records_frame(records)
    assert len(frame) == 6 * 8 and set(frame["metric"]) == set(METRIC_KEYS["mosi"])
    agg = aggregate(frame)
    row = agg[(agg.rate == 0.5) & (agg.metric == "mae")].iloc[0]
    assert row["mean"] == pytest.approx(1.502) and row["n"] == 2
    assert row["std"] == pytest.approx(0.001)  # population std of 1.501, 1.503
    au = auilc_frame(agg).set_index("metric")["auilc"]
    # acc7 seed means 0.5, 0.375, 0.25 -> x100: 50, 37.5, 25 over spacing 0.5
    assert au["acc7"] == pytest.approx(0.5 * (50 + 37.5) / 2 + 0.5 * (37.5 + 25) / 2)
    # mae means 1.002, 1.502, 2.002 -> x100 rounded to 2 decimals, trapezoid, /100 as printed
    assert au["mae"] == pytest.approx(round(0.5 * (100.2 + 150.2) / 2 + 0.5 * (150.2 + 200.2) / 2, 1) / 100)
    plain = auilc_frame(agg, official=False).set_index("metric")["auilc"]
    assert plain["mae"] == pytest.approx(0.25 * (1.002 + 1.502) + 0.25 * (1.502 + 2.002))
    # one row per rate (never an average over rates), or the rows of one rate
    t = metric_table(agg)
    assert list(t.index) == [("emt_dlfr", "", 0.0), ("emt_dlfr", "", 0.5), ("emt_dlfr", "", 1.0)]
    assert t.loc[("emt_dlfr", "", 0.5), "mae"] == pytest.approx(1.502)
    t = metric_table(agg, rate=1.0)
    assert list(t.index) == [("emt_dlfr", "")] and t.iloc[0]["mae"] == pytest.approx(2.002)
    with pytest.raises(ValueError, match="missing rate 0.3"):
        metric_table(agg, rate=0.3)


def test_real_data_spec_needs_a_root_and_fails_with_the_loader_message(tmp_path):
    with pytest.raises(ValueError, match="data_root"):
        RunSpec(synthetic=False).config()
    with pytest.raises(FileNotFoundError, match="MOSI/Processed/unaligned_50.pkl"):
        config_key(RunSpec(synthetic=False, data_root=str(tmp_path)).config())


# Pinned keys: a record cached by one version must be found by the next unless what the run
# computes changed. Last deliberate change: the demo's EMT-DLFR has 2 heads and the fused LSTM,
# keep-mask dropout and fused Adam kernels (docs/profiles.md); the baselines' demo keys stay.
PINNED_KEYS = {
    ("emt_dlfr", "mosi", "paper", 0.5): "b507fd8521ea",
    ("emt", "mosi", "paper", 0.0): "9d753a13d8b3",
    ("emt_dlfr", "mosei", "paper", 0.5): "448d4f31cf2c",
    ("emt_dlfr", "mosi", "paper", 0.0): "d059d7437c18",
    ("misa", "mosi", "paper", 0.0): "bdf12cf40d30",
    ("emt_dlfr", "mosi", "demo", 0.4): "56134e3eb3be",
    ("tfr_net", "mosi", "demo", 0.4): "cb63cecc52e3",
}

# The demo's EMT-DLFR before the change above: 4 heads, the default kernels, no text packing.
_DEMO_AS_FIRST_KEYED = ["model.heads=4", "model.lstm_kernel=packed", "model.dropout_kernel=native",
                        "train.adam_kernel=foreach"]


def test_fields_added_later_enter_the_key_only_away_from_their_default():
    cfg = apply_overrides(RunSpec(profile="demo", missing_rate=0.4).config(), _DEMO_AS_FIRST_KEYED)
    assert config_key(cfg) == "05c8f4e6abfe"  # its key from before all four fields existed
    assert cfg.model.text_packing is False
    for override in ("model.text_packing=true", "model.lstm_kernel=fused", "train.adam_kernel=fused",
                     "model.dropout_kernel=keep_mask"):
        assert config_key(cfg) != config_key(apply_overrides(cfg, [override])), override


@pytest.mark.parametrize("method,dataset,profile,rate", sorted(PINNED_KEYS))
def test_cache_keys_change_only_deliberately(method, dataset, profile, rate):
    spec = RunSpec(method=method, dataset=dataset, profile=profile, missing_rate=rate)
    assert config_key(spec.config()) == PINNED_KEYS[method, dataset, profile, rate]


def test_records_of_models_whose_projection_became_the_identity_are_not_reused():
    before = "d508848196fa"  # SIMS paper config at rate 0.5: video_out = d_model = 32
    cfg = RunSpec(method="emt_dlfr", dataset="sims", profile="paper", missing_rate=0.5).config()
    assert config_key(cfg) != before


@pytest.mark.parametrize("content, why", [
    ("[]", "holds a JSON list, not a record"),
    ('{"config": {"dataset": "mosi"}, "key": "K"}', "lacks metrics"),
    ('{"config": {"dataset": "mosi"}, "key": "K", "metrics": {}}', r"has metrics \[\], expected"),
    ('{"config": {"dataset": "mosi"}, "key": "other", "metrics": {}}', "is keyed 'other'"),
    ('{"config": {"dataset": "mosi"}, "key": "K", "metrics": M}', "no finite value for corr"),
])
def test_a_record_that_is_not_one_is_redone_with_a_warning(tmp_path, fake_fit, content, why):
    spec = RunSpec(seed=4)
    key, path = config_key(spec.config()), record_path(spec.config(), tmp_path)
    metrics = {**dict.fromkeys(METRIC_KEYS["mosi"], 0.5), "corr": None}
    path.parent.mkdir(parents=True)
    path.write_text(content.replace('"K"', json.dumps(key)).replace("M", json.dumps(metrics)))
    with pytest.warns(UserWarning, match=why):
        record = run(spec, tmp_path)
    assert len(fake_fit) == 1 and record["metrics"]["mae"] == pytest.approx(1.004)


def test_records_are_strict_json_with_their_non_finite_values_named(tmp_path, fake_fit):
    from emtlib.train import write_record

    spec = RunSpec(seed=6)
    key, path = config_key(spec.config()), record_path(spec.config(), tmp_path)
    metrics = {**dict.fromkeys(METRIC_KEYS["mosi"], 0.5), "corr": float("nan")}
    write_record({"config": spec.config().to_dict(), "metrics": metrics, "key": key,
                  "history": [{"valid": {"loss": float("inf")}}]}, path)
    text = path.read_text()
    assert "NaN" not in text and "Infinity" not in text
    back = json.loads(text)
    assert back["metrics"]["corr"] is None
    assert back["nonfinite"] == ["history.0.valid.loss", "metrics.corr"]
    assert run(spec, tmp_path)["metrics"]["corr"] is None and not fake_fit  # declared: served
    assert oct(path.stat().st_mode & 0o777) == oct(0o666 & ~_umask())
    # .part files a killed writer left are removed by the next worker that claims the run
    other = RunSpec(seed=7)
    stale = record_path(other.config(), tmp_path)
    stale.parent.mkdir(parents=True)
    (stale.parent / f".{stale.name}.x1.part").write_text("{")
    run(other, tmp_path)
    assert not list(stale.parent.glob("*.part"))


def _umask() -> int:
    import os

    u = os.umask(0)
    os.umask(u)
    return u


def test_the_synthetic_generators_version_is_part_of_the_key(monkeypatch):
    import emtlib.data.synthetic as synthetic

    cfg = RunSpec(seed=1).config()
    before = config_key(cfg)
    monkeypatch.setattr(synthetic, "GENERATOR_VERSION", synthetic.GENERATOR_VERSION + 1)
    assert config_key(cfg) != before
