"""The seven baselines as ExperimentConfig methods: configs, build_model, parameter counts, fit, CLI.

The learning test prints, per baseline, test MAE / Corr / seconds per epoch (`pytest -s`);
benchmarks/baselines_smoke.py produces the full table (both missing rates, parameters).
"""
from __future__ import annotations

import json
import math

import numpy as np
import pytest
import torch

from emtlib.__main__ import main
from emtlib.complexity import count_parameters
from emtlib.config import (BASELINES, ExperimentConfig, apply_overrides, paper_config,
                           smoke_config)
from emtlib.models import build_model, build_text_encoder
from emtlib.config import hparams_class, learning_overrides
from emtlib.procedures import TASK_LOSS_TERM
from emtlib.data import load_data
from emtlib.data.dataset import make_datasets
from emtlib.train import fit

RATE = 0.3  # both views differ (TFR-Net's reconstruction targets, masked text) but learning is easy


# ---- configs and models (no training) --------------------------------------------------------

@pytest.mark.parametrize("dataset", ["mosi", "mosei", "sims"])
def test_paper_configs_build_and_round_trip(dataset):
    cfgs = {m: paper_config(dataset, method=m) for m in BASELINES}
    encoder = build_text_encoder(cfgs["tfn"].baseline.text_encoder, pretrained=False)  # one BERT
    for m, c in cfgs.items():
        assert c.model is None and c.loss is None and c.profile == "paper"
        assert isinstance(c.baseline, hparams_class(m)) and c.baseline.dataset == dataset
        assert c.baseline.faithful_quirks and c.train.max_epochs is None
        d = c.to_dict()
        assert set(d["train"]) == {"max_epochs", "device", "precision", "bucket_by_length", "num_workers", "quiet"}
        assert ExperimentConfig.from_dict(json.loads(json.dumps(d))) == c
        assert ExperimentConfig.from_json(c.to_json()) == c
        model = build_model(c, pretrained_text=False, text_encoder=encoder)
        n_inf, n_all = count_parameters(model), count_parameters(model, inference_only=False)
        assert 0 < n_inf <= n_all
        if hasattr(model, "num_parameters"):  # MISA, Self-MM, MMIM define inference-only counts
            assert n_inf == model.num_parameters(inference=True)
            assert n_all == model.num_parameters(inference=False)
    expected = "bert-base-chinese" if dataset == "sims" else "bert-base-uncased"
    assert cfgs["mult"].baseline.text_encoder == expected


def test_table8_parameter_counts_through_build_model():
    """Paper Table 8 on MOSI: MulT 111.0M, TFR-Net 124.3M (reconstruction networks excluded)."""
    mult = build_model(paper_config("mosi", method="mult"), pretrained_text=False)
    assert count_parameters(mult) == 111_039_001
    tfr = build_model(paper_config("mosi", method="tfr_net"), pretrained_text=False)
    n = count_parameters(tfr)
    assert n == 124_260_697 and count_parameters(tfr, inference_only=False) == 124_332_860
    assert abs(count_parameters(mult) / 1e6 - 111.0) < 0.1 and abs(n / 1e6 - 124.3) < 0.1


def test_baseline_overrides_and_validation():
    c = apply_overrides(paper_config("mosi", method="mult"),
                        ["baseline.lr=1e-4", "baseline.faithful_quirks=false",
                         "train.max_epochs=3", "missing_rate=0.5"])
    assert c.baseline.lr == 1e-4 and c.baseline.faithful_quirks is False
    assert c.train.max_epochs == 3 and c.missing_rate == 0.5
    t = apply_overrides(paper_config("mosi", method="tfr_net"), ["baseline.weight_gen_loss=(1,2,3)"])
    assert t.baseline.weight_gen_loss == (1.0, 2.0, 3.0)
    assert ExperimentConfig.from_json(t.to_json()) == t
    with pytest.raises(ValueError, match="baseline.batch_size"):  # EMT's optimisation field
        apply_overrides(c, ["train.batch_size=4"])
    with pytest.raises(ValueError, match="does not apply"):
        apply_overrides(c, ["model.d_model=64"])
    with pytest.raises(ValueError, match="does not apply"):
        apply_overrides(paper_config("mosi"), ["baseline.lr=1e-3"])
    with pytest.raises(ValueError, match="valid keys of baseline are .*'lr'"):
        apply_overrides(c, ["baseline.learning_rate=1e-3"])
    with pytest.raises(ValueError, match="baseline.dataset"):
        ExperimentConfig(method="mult", dataset="sims", baseline=paper_config("mosi", method="mult").baseline)
    # a bare baseline config gets the released preset; EMT sections stay None
    bare = ExperimentConfig(method="lmf", dataset="mosei")
    assert bare.model is None and bare.baseline == paper_config("mosei", method="lmf").baseline
    assert paper_config("mosi", method="misa", baseline_source="tfr_net").baseline.batch_size == 64


@pytest.mark.parametrize("method", BASELINES)
def test_smoke_configs_use_minilm(method):
    c = smoke_config("mosi", method=method)
    assert c.baseline.text_encoder == "minilm" and c.profile == "smoke"
    assert c.train.max_epochs <= 3 and c.data.max_samples_per_split is not None
    assert ExperimentConfig.from_json(c.to_json()) == c


# ---- training through fit ---------------------------------------------------------------------

def label_mean_mae(cfg: ExperimentConfig) -> tuple[float, object]:
    """Test MAE of the training labels' mean, on the splits fit uses."""
    data = load_data(cfg)
    ds = make_datasets(data, cfg)
    y, y_train = ds["test"].labels["labels"].numpy(), ds["train"].labels["labels"].numpy()
    return float(np.abs(y - y_train.mean()).mean()), data


@pytest.mark.parametrize("method", BASELINES)
def test_baseline_learns_through_fit(method):
    cfg = apply_overrides(smoke_config("mosi", method=method, missing_rate=RATE),
                          learning_overrides(method))
    baseline, data = label_mean_mae(cfg)
    result = fit(cfg, data=data)
    r = result.record
    mae, corr = r["metrics"]["mae"], r["metrics"]["corr"]
    first, last = (r["history"][i]["train"][TASK_LOSS_TERM[method]] for i in (0, -1))
    print(f"\n{method}: test MAE {mae:.3f} (label mean {baseline:.3f}), corr {corr:.3f}, "
          f"{np.mean(r['train_epoch_s']):.1f} s/epoch, train {TASK_LOSS_TERM[method]} {first:.3f} -> "
          f"{last:.3f}, {r['wall_time_s']:.0f} s")
    assert r["config"]["method"] == method and r["config"]["baseline"]["text_encoder"] == "minilm"
    assert r["config"]["model"] is None and r["selection_key"] == "loss"
    assert ExperimentConfig.from_dict(r["config"]) == cfg
    json.dumps(r)
    assert all(math.isfinite(v) for h in r["history"] for v in h["train"].values())
    assert last < first
    assert mae < baseline
    _method_checks(method, result)


def _method_checks(method: str, result) -> None:
    proc, hist = result.procedure, result.record["history"]
    if method == "self_mm":  # labels move from epoch 2 on and stay in [-H, H]
        H = proc.h.H
        assert all(hist[0]["train"][f"label_gap_{s}"] == 0.0 for s in "TAV")
        for s in "TAV":
            y = proc.bank.label_map[s]
            assert hist[-1]["train"][f"label_gap_{s}"] > 0.01
            assert torch.isfinite(y).all() and y.abs().max() <= H + 1e-6
            assert not torch.equal(y, proc.bank.label_map["M"])
    if method == "mmim":  # one stage-1 step of the trained run changes only MMILB
        from emtlib.data.dataset import make_loader
        from emtlib.models.baselines import mmim

        model, cfg = result.model, ExperimentConfig.from_dict(result.record["config"])
        ds = make_datasets(load_data(cfg), cfg)["train"]
        batch = next(iter(make_loader(ds, 8, shuffle=False, seed=0)))
        before = {k: v.clone() for k, v in model.state_dict().items()}
        mmim.stage1_step(model, batch, proc.optimizers[0])
        after = model.state_dict()
        changed = {k for k in before if not torch.equal(before[k], after[k])}
        assert changed and all(k.startswith("mi_") for k in changed), changed
    if method == "tfr_net":  # generation loss enters the training loss from epoch 2
        assert hist[0]["train"]["loss"] == pytest.approx(hist[0]["train"]["pred_l1"])
        assert hist[1]["train"]["loss"] > hist[1]["train"]["pred_l1"]


def test_cli_trains_a_baseline(tmp_path, capsys):
    out = tmp_path / "r.json"
    assert main(["train", "--method", "lmf", "--dataset", "mosi", "--synthetic", "--profile", "smoke",
                 "--set", "train.max_epochs=1", "--out", str(out)]) == 0
    r = json.loads(out.read_text())
    assert r["config"]["method"] == "lmf" and r["config"]["baseline"]["rank"] == 3
    assert r["epochs"] == 1 and "mae" in capsys.readouterr().out
