"""Configs: released values (docs/training.md#released-configuration), JSON round trip, typed
overrides, validation."""
from __future__ import annotations

import json

import pytest

from emtlib.config import (DataConfig, ExperimentConfig, LossConfig, ModelConfig, TrainConfig,
                           apply_overrides, paper_config, smoke_config)


def test_paper_config_mosi_values():
    c = paper_config("mosi")
    assert (c.train.batch_size, c.train.lr_bert, c.train.lr_audio, c.train.lr_video, c.train.lr_other) \
        == (32, 5e-5, 1e-3, 1e-4, 1e-3)
    assert (c.train.wd_bert, c.train.wd_audio, c.train.wd_video, c.train.wd_other) == (1e-3, 1e-2, 1e-3, 1e-3)
    m = c.model
    assert (m.d_model, m.fusion_layers, m.heads, m.ff_expansion) == (128, 3, 4, 4)
    assert (m.attn_dropout, m.ff_dropout, m.emb_dropout) == (0.3, 0.1, 0.0)
    assert (m.a_lstm_hidden, m.audio_out, m.v_lstm_hidden, m.video_out) == (32, 16, 64, 32)
    assert (m.post_fusion_dim, m.post_fusion_dropout) == (256, 0.3)
    assert (m.text_len, m.audio_dim, m.audio_len, m.vision_dim, m.vision_len) == (50, 5, 375, 20, 500)
    assert (m.gmc_pred_dim, m.text_pred_dim, m.audio_pred_dim, m.video_pred_dim) == (128, 256, 8, 16)
    assert m.mpu_share and m.modality_share and m.layer_share
    assert (m.fusion, m.update, m.pooling, m.attn_act_fn) == ("oagl", "parallel", "attention", "tanh")
    assert m.text_encoder == "bert-base-uncased"
    assert (c.loss.lambda_recon, c.loss.lambda_attr, c.loss.attraction) == (1.0, 1.0, "simsiam")
    assert (c.train.update_epochs, c.train.early_stop, c.train.max_epochs, c.train.key_eval) == (4, 8, None, "loss")
    assert c.data.missing_seeds == (111, 1111, 11111)


def test_paper_config_mosei_and_sims_values():
    e = paper_config("mosei")
    assert e.train.batch_size == 16 and e.model.fusion_layers == 2 and e.model.d_model == 128
    assert (e.train.lr_bert, e.train.lr_audio, e.train.lr_video, e.train.lr_other) == (2e-5, 1e-4, 1e-4, 1e-4)
    assert (e.model.a_lstm_hidden, e.model.v_lstm_hidden, e.model.post_fusion_dim) == (16, 32, 128)
    assert (e.model.audio_dim, e.model.vision_dim) == (74, 35)
    s = paper_config("sims")
    assert s.model.d_model == 32 and s.model.fusion_layers == 4 and s.train.batch_size == 32
    assert (s.loss.lambda_recon, s.loss.lambda_attr) == (0.5, 0.5)
    assert (s.train.wd_audio, s.train.wd_video, s.train.wd_other) == (0.0, 0.0, 0.0)
    assert (s.model.text_len, s.model.audio_dim, s.model.vision_dim, s.model.vision_len) == (39, 33, 709, 55)
    assert s.model.text_encoder == "bert-base-chinese"


def test_complete_setting_preset():
    c = paper_config("mosi", method="emt")
    assert c.method == "emt" and c.loss.lambda_recon == 0 and c.loss.lambda_attr == 0
    assert c.missing_rate == 0.0
    with pytest.raises(ValueError, match="complete setting"):
        apply_overrides(paper_config("mosi"), ["method=emt"])
    ok = apply_overrides(paper_config("mosi"), ["method=emt", "loss.lambda_recon=0", "loss.lambda_attr=0"])
    assert ok.method == "emt"


@pytest.mark.parametrize("make", [lambda: paper_config("mosi"), lambda: paper_config("sims", "emt"),
                                  lambda: smoke_config("mosei")])
def test_round_trip_json(make):
    c = make()
    d = c.to_dict()
    text = json.dumps(d)
    back = ExperimentConfig.from_dict(json.loads(text))
    assert back == c
    assert ExperimentConfig.from_json(c.to_json()) == c
    assert isinstance(back.data.missing_seeds, tuple)
    assert ModelConfig.from_dict(c.model.to_dict()) == c.model
    assert TrainConfig.from_dict(json.loads(json.dumps(c.train.to_dict()))) == c.train


def test_overrides_typed():
    c = apply_overrides(paper_config("mosi"), [
        "model.fusion=ooll", "loss.lambda_recon=0.5", "model.d_model=64", "model.mpu_share=false",
        "train.max_epochs=3", "seed=7", "data.missing_seeds=(1, 2, 3)", "data.root=/tmp/x",
        "missing_rate=0.3"])
    assert c.model.fusion == "ooll" and c.loss.lambda_recon == 0.5 and c.model.d_model == 64
    assert c.model.mpu_share is False and c.train.max_epochs == 3 and c.seed == 7
    assert c.data.missing_seeds == (1, 2, 3) and c.data.root == "/tmp/x" and c.missing_rate == 0.3
    c2 = apply_overrides(c, ["train.max_epochs=none", "data.root=None"])
    assert c2.train.max_epochs is None and c2.data.root is None
    assert apply_overrides(paper_config("mosi"), ["model.pooling=mlp"]).model.pooling == "mlp"


def test_override_errors():
    c = paper_config("mosi")
    with pytest.raises(ValueError, match="d_model"):  # lists valid keys
        apply_overrides(c, ["model.d_modle=3"])
    with pytest.raises(ValueError, match="valid sections"):
        apply_overrides(c, ["modle.d_model=3"])
    with pytest.raises(ValueError, match="expected an int"):
        apply_overrides(c, ["model.d_model=abc"])
    with pytest.raises(ValueError, match="expected one of"):
        apply_overrides(c, ["model.fusion=serial"])
    with pytest.raises(ValueError, match="key=value"):
        apply_overrides(c, ["model.d_model"])
    with pytest.raises(ValueError, match="unknown key"):
        ExperimentConfig.from_dict({**c.to_dict(), "extra": 1})


def test_validation_errors():
    with pytest.raises(ValueError, match="pooling"):
        ModelConfig(pooling="max")
    with pytest.raises(ValueError, match="divisible"):
        ModelConfig(d_model=30, heads=4)
    with pytest.raises(ValueError, match="attraction"):
        LossConfig(attraction="byol")
    with pytest.raises(ValueError, match=">= 0"):
        LossConfig(lambda_attr=-1)
    with pytest.raises(ValueError, match="key_eval"):
        TrainConfig(key_eval="acc")
    with pytest.raises(ValueError, match="source"):
        DataConfig(source="web")
    with pytest.raises(ValueError, match="dataset"):
        paper_config("iemocap")


def test_smoke_config_is_small():
    c = smoke_config("mosi")
    assert c.profile == "smoke" and c.model.text_encoder == "minilm"
    assert c.model.d_model <= 32 and c.model.fusion_layers <= 2
    assert c.train.max_epochs is not None and c.train.max_epochs <= 3
    assert c.data.max_samples_per_split is not None
    assert c.loss.lambda_attr > 0 and c.loss.lambda_recon > 0


def test_the_complete_setting_refuses_a_missing_rate():
    """A rate-0.5 'emt' run would train at 0.0 and be filed under 0.5: every entry point refuses it."""
    from emtlib.experiments import RunSpec

    for make in (lambda: paper_config("mosi", "emt", missing_rate=0.5),
                 lambda: smoke_config("mosi", "emt", missing_rate=0.5),
                 lambda: RunSpec(method="emt", missing_rate=0.5).config(),
                 lambda: apply_overrides(paper_config("mosi", "emt"), ["missing_rate=0.5"])):
        with pytest.raises(ValueError, match="complete setting.*emt_dlfr"):
            make()
    assert smoke_config("mosi", "emt").missing_rate == 0.0
    assert smoke_config("mosi").missing_rate == 0.3
