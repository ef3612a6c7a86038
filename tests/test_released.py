"""Fidelity to the released model: identity projections and parameter counts.

Parameter counts are derived here by per-layer arithmetic from the released hyperparameters
(tests/fixtures/released_layout.py: PAPER) and checked against emtlib's models.
"""
from __future__ import annotations

import pytest
import torch
import torch.nn as nn
from transformers import BertConfig

from emtlib.complexity import count_parameters, random_batch
from emtlib.config import ExperimentConfig, LossConfig, ModelConfig, TrainConfig, paper_config
from emtlib.models import build_model
from emtlib.models.emt_dlfr import projection
from tests.fixtures.released_layout import BERT, PAPER, PRED_HIDDEN

DATASETS = ("mosi", "mosei", "sims")
COUNTS_BEFORE = {"mosi": 110_468_146, "mosei": 110_250_114, "sims": 102_722_402}  # Linear everywhere
COUNTS = {"mosi": 110_468_146, "mosei": 110_250_114, "sims": 102_721_378}  # SIMS video: identity


# ---- arithmetic per layer --------------------------------------------------------------------

def linear(n_in: int, n_out: int, bias: bool = True) -> int:
    return n_in * n_out + (n_out if bias else 0)


def bert_params(vocab: int) -> int:
    h, f = BERT["width"], BERT["ffn"]
    embeddings = (vocab + BERT["positions"] + BERT["token_types"]) * h + 2 * h
    layer = 4 * linear(h, h) + 2 * h + linear(h, f) + linear(f, h) + 2 * h
    return embeddings + BERT["layers"] * layer + linear(h, h)  # + pooler


def lstm_params(n_in: int, hidden: int) -> int:
    return 4 * hidden * (n_in + hidden) + 2 * 4 * hidden  # weight_ih, weight_hh, two biases


def mpu_params(d: int) -> int:
    attention = linear(d, d, False) + linear(d, 2 * d, False) + linear(d, d)
    cross = 2 * d + 2 * d + attention  # LN_q, LN_c
    self_ = 2 * d + attention
    ffn = 2 * d + linear(d, 8 * d) + linear(4 * d, d)  # GEGLU
    return cross + self_ + ffn


def inference_params(ds: str) -> int:
    """BERT + subnets + projections + one shared MPU + one shared pool + head."""
    p = PAPER[ds]
    d, t = p["d"], BERT["width"]
    subnets = lstm_params(p["audio_dim"], p["a_hidden"]) + lstm_params(p["vision_dim"], p["v_hidden"])
    subnets += sum(linear(h, o) for h, o in ((p["a_hidden"], p["audio_out"]), (p["v_hidden"], p["video_out"]))
                   if h != o)
    projections = sum(w * d for w in (t, p["audio_out"], p["video_out"]) if w != d)
    pool = linear(3 * d, 3 * d) + linear(3 * d, 1)
    head_in = t + p["audio_out"] + p["video_out"] + 3 * d
    head = linear(head_in, p["post"]) + linear(p["post"], p["post"]) + linear(p["post"], 1)
    return bert_params(p["vocab"]) + subnets + projections + mpu_params(d) + pool + head


def training_only_params(ds: str) -> int:
    """SimSiam projectors and predictors (BatchNorm affine only in the predictor), reconstruction heads."""
    p = PAPER[ds]
    d = p["d"]
    widths = {"gmc_tokens": 3 * d, "text": BERT["width"], "audio": p["audio_out"], "video": p["video_out"]}
    heads = sum(linear(n, n) + linear(n, PRED_HIDDEN[k], False) + 2 * PRED_HIDDEN[k]
                + linear(PRED_HIDDEN[k], n) for k, n in widths.items())
    return heads + linear(d, BERT["width"]) + linear(d, p["audio_dim"]) + linear(d, p["vision_dim"])


# ---- helpers -----------------------------------------------------------------------------------

def randomise_batchnorm_statistics(model: nn.Module, seed: int = 5) -> None:
    """Non-default running statistics, so that eval-mode outputs depend on them."""
    g = torch.Generator().manual_seed(seed)
    for name, buf in model.named_buffers():
        if name.endswith("running_mean"):
            buf.copy_(torch.randn(buf.shape, generator=g) * 0.1)
        elif name.endswith("running_var"):
            buf.copy_(torch.rand(buf.shape, generator=g) + 0.5)
        elif name.endswith("num_batches_tracked"):
            buf.fill_(7)


@pytest.fixture(scope="module", params=DATASETS)
def paper(request):
    """(dataset, config, model): the paper configuration with a random-weight BERT (bert-base-*)."""
    ds = request.param
    cfg = paper_config(ds)
    torch.manual_seed(0)
    model = build_model(cfg)  # random BertConfig() / BertConfig(vocab_size=21128)
    randomise_batchnorm_statistics(model)
    return ds, cfg, model


@pytest.fixture(scope="module")
def bert16(tmp_path_factory):
    """A local directory holding a tiny random BERT's config.json, 16 wide (= d_model of tiny())."""
    d = tmp_path_factory.mktemp("bert16")
    BertConfig(vocab_size=2100, hidden_size=16, num_hidden_layers=1, num_attention_heads=2,
               intermediate_size=32, max_position_embeddings=64).save_pretrained(d)
    return str(d)


def tiny(bert_dir: str, **model) -> ExperimentConfig:
    """Text (16) and video (16) already d = 16 wide: two identity projections; audio (5) projected."""
    m = dict(text_encoder=bert_dir, text_len=10, audio_dim=3, audio_len=9, vision_dim=4, vision_len=8,
             a_lstm_hidden=6, audio_out=5, v_lstm_hidden=16, video_out=16, d_model=16, fusion_layers=2,
             heads=2, post_fusion_dim=8, gmc_pred_dim=8, text_pred_dim=8, audio_pred_dim=2,
             video_pred_dim=3, max_seq_len=32)
    m.update(model)
    return ExperimentConfig(method="emt_dlfr", model=ModelConfig(**m), loss=LossConfig(),
                            train=TrainConfig(batch_size=3, device="cpu"))


def built(cfg: ExperimentConfig, seed: int = 0) -> nn.Module:
    torch.manual_seed(seed)
    model = build_model(cfg)
    randomise_batchnorm_statistics(model, seed + 5)
    return model.eval()


def tiny_batch(cfg: ExperimentConfig) -> dict:
    return random_batch(cfg.model, batch_size=3, lengths=(7, 6, 5), seed=1)


# ---- 1. projections as released ----------------------------------------------------------------

def test_projection_is_the_identity_exactly_when_the_width_is_d():
    for width, d in ((32, 32), (768, 768), (16, 16)):
        assert isinstance(projection(width, d), nn.Identity)
    for width, d in ((16, 32), (768, 128), (32, 128), (48, 32)):
        p = projection(width, d)
        assert isinstance(p, nn.Linear) and p.bias is None and p.weight.shape == (d, width)


def test_tiny_model_projects_only_the_modality_that_needs_it(bert16):
    model = built(tiny(bert16))
    assert isinstance(model.proj_text, nn.Identity) and isinstance(model.proj_video, nn.Identity)
    assert isinstance(model.proj_audio, nn.Linear)
    assert not any(n.startswith(("proj_text", "proj_video")) for n in model.state_dict())
    out = model(tiny_batch(tiny(bert16)))
    assert out["pred_m"].shape == (3,) and torch.isfinite(out["pred_m"]).all()


def test_paper_parameter_counts_follow_from_the_layer_shapes(paper):
    ds, cfg, model = paper
    assert inference_params(ds) == COUNTS[ds]
    assert count_parameters(model) == COUNTS[ds]
    assert count_parameters(model, inference_only=False) == COUNTS[ds] + training_only_params(ds)
    # only SIMS changed: its video_out = d_model = 32; MOSI and MOSEI have d = 128, no width equal to it
    assert COUNTS_BEFORE[ds] - COUNTS[ds] == (32 * 32 if ds == "sims" else 0)
    identity = {m for m in ("text", "audio", "video") if isinstance(getattr(model, f"proj_{m}"), nn.Identity)}
    assert identity == ({"video"} if ds == "sims" else set())
