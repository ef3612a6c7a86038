"""Training: the released accumulation pattern, determinism, and learning on the stand-in."""
from __future__ import annotations

import json
import os

import numpy as np
import pytest
import torch

from emtlib.__main__ import main
from emtlib.config import apply_overrides, smoke_config
from emtlib.data import load_data
from emtlib.train import accumulation_schedule, evaluate_model, fit

# A budget that learns: ~320 synthetic MOSI training samples, 2 epochs (about 40 s a run here).
LEARNING = ["data.synthetic_scale=0.25", "data.max_samples_per_split=none", "train.max_epochs=2",
            "train.early_stop=3", "train.batch_size=32", "train.lr_other=2e-3",
            "train.lr_audio=2e-3", "train.lr_video=2e-3"]


def test_accumulation_schedule_matches_the_released_counts():
    # MOSI: 1284 samples / 32 = 41 batches -> 10 steps, 1 batch discarded
    # (docs/training.md#gradient-accumulation)
    s = accumulation_schedule(41, 4)
    assert sum(s) == 10 and s[3] and not s[2] and not any(s[40:])
    # SIMS: 43 batches -> 10 steps, 3 discarded
    s = accumulation_schedule(43, 4)
    assert sum(s) == 10 and s.index(True) == 3 and not any(s[40:])
    assert accumulation_schedule(3, 1) == [True, True, True]


def label_mean_mae(data) -> float:
    y, y_train = data["test"]["regression_labels"], data["train"]["regression_labels"]
    return float(np.abs(y - y_train.mean()).mean())


def test_training_beats_the_label_mean_on_incomplete_and_complete_views():
    """EMT-DLFR trained at missing rate 0.5 learns: its test MAE beats the train-mean predictor's
    on the rate-0.5 test split (the run's own score) and on the complete test split."""
    cfg = apply_overrides(smoke_config("mosi", missing_rate=0.5), LEARNING)
    with pytest.warns(UserWarning, match="last batch of one sample"):  # 321 = 10 * 32 + 1
        result = fit(cfg)
    baseline = label_mean_mae(load_data(cfg))
    scores = {0.5: result.record["metrics"],
              0.0: evaluate_model(result.model, apply_overrides(cfg, ["missing_rate=0.0"]))}
    for rate, m in scores.items():
        print(f"rate {rate}: test MAE {m['mae']:.3f} vs label-mean {baseline:.3f}, "
              f"corr {m['corr']:.3f}")
        assert m["mae"] < 0.95 * baseline
        assert m["corr"] > 0.2
    assert scores[0.0]["mae"] < scores[0.5]["mae"]  # missing views cost accuracy
    assert result.record["data"]["train_samples_dropped_per_epoch"] == 1


def test_adam_kernel_picks_pytorchs_implementation_of_the_same_update():
    """train.adam_kernel: 'foreach' (the default) and 'fused' (the paper and demo profiles') build
    Adam with those flags over the same five groups; one update from the same gradients agrees to
    rounding."""
    from emtlib.models import build_model
    from emtlib.train import make_procedure

    cfg = smoke_config("mosi", missing_rate=0.5)
    assert cfg.train.adam_kernel == "fused"
    params = {}
    for kernel in ("foreach", "fused"):
        c = apply_overrides(cfg, [f"train.adam_kernel={kernel}"])
        with torch.random.fork_rng():
            torch.manual_seed(0)
            model = build_model(c, pretrained_text=False)
        (opt,), _ = make_procedure(c, model, torch.device("cpu")).make_optimization()
        assert bool(opt.defaults["fused"]) is (kernel == "fused")
        assert bool(opt.defaults["foreach"]) is (kernel == "foreach")
        assert len(opt.param_groups) == 5
        trainable = [p for p in model.parameters() if p.requires_grad]
        for i, p in enumerate(trainable):
            p.grad = torch.full_like(p, 1e-3 * (1 + i % 7))
        opt.step()
        params[kernel] = [p.detach().clone() for p in trainable]
    for a, b in zip(params["foreach"], params["fused"]):
        torch.testing.assert_close(b, a, rtol=1e-6, atol=1e-7)


def test_same_seed_same_metrics_and_global_rng_untouched():
    cfg = apply_overrides(smoke_config("mosi", missing_rate=0.3), ["train.max_epochs=1"])
    torch.manual_seed(5)
    before = torch.get_rng_state()
    a = fit(cfg).record
    assert torch.equal(torch.get_rng_state(), before)
    b = fit(cfg).record
    assert a["metrics"] == b["metrics"] and a["history"] == b["history"]
    c = fit(apply_overrides(cfg, ["seed=112"])).record
    assert c["metrics"] != a["metrics"]


def test_record_contents_and_complete_setting():
    cfg = apply_overrides(smoke_config("mosi", method="emt"), ["train.max_epochs=2"])
    r = fit(cfg).record
    # L1 only (docs/training.md#complete-and-incomplete-settings)
    assert set(r["history"][0]["valid"]) == {"loss_pred_m", "loss"}
    assert r["best_epoch"] in (1, 2) and r["epochs"] == 2
    assert r["config"]["method"] == "emt" and r["data"]["synthetic"]
    assert len(r["data"]["sha1"]) == 40 and r["emtlib_version"]
    json.dumps(r)  # JSON-safe


def test_cli_train_writes_a_record(tmp_path, capsys):
    out = tmp_path / "r.json"
    assert main(["train", "--dataset", "mosi", "--synthetic", "--missing-rate", "0.2", "--seed", "3",
                 "--profile", "smoke", "--set", "train.max_epochs=1", "--out", str(out)]) == 0
    r = json.loads(out.read_text())
    assert r["config"]["seed"] == 3 and r["config"]["missing_rate"] == 0.2
    assert r["config"]["train"]["max_epochs"] == 1 and set(r["metrics"]) >= {"mae", "acc7"}
    assert "mae" in capsys.readouterr().out


def test_cli_train_real_data_missing_fails_clearly(tmp_path, capsys):
    args = ["train", "--dataset", "mosi", "--data", str(tmp_path), "--profile", "smoke",
            "--out", str(tmp_path / "r.json")]
    assert main(args) == 2
    err = capsys.readouterr().err
    assert err.startswith("emtlib train: error: no MOSI pickle") and "Traceback" not in err
    assert "MOSI/Processed/unaligned_50.pkl" in err
    with pytest.raises(FileNotFoundError, match="MOSI/Processed/unaligned_50.pkl"):
        main(args + ["--debug"])  # the traceback on request


def test_cli_checks_out_before_training(tmp_path, capsys):
    """A record path that cannot be written is refused before a single batch is trained."""
    args = ["train", "--dataset", "mosi", "--synthetic", "--profile", "smoke"]
    assert main(args + ["--out", str(tmp_path)]) == 2
    assert "is a folder" in capsys.readouterr().err
    (tmp_path / "r.json").write_text("{}")
    assert main(args + ["--out", str(tmp_path / "r.json")]) == 2
    assert "exists: choose another name, or pass --force" in capsys.readouterr().err
    (tmp_path / "locked").mkdir(mode=0o500)
    if not os.access(tmp_path / "locked", os.W_OK):  # root can write anywhere
        assert main(args + ["--out", str(tmp_path / "locked" / "r.json")]) == 2
        assert "cannot be written" in capsys.readouterr().err
