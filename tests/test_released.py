"""Fidelity to the released model: identity projections, parameter counts, and the checkpoint mapping.

Parameter counts are derived here by per-layer arithmetic from the released hyperparameters
(tests/fixtures/released_layout.py: PAPER), and checked against emtlib's models and against the
hand-written released key layout. Checkpoints are exported under the released names and loaded
back through the mapping; no file of the authors is needed.
"""
from __future__ import annotations

import pytest
import torch
import torch.nn as nn
from transformers import BertConfig

from emtlib.complexity import count_parameters, random_batch
from emtlib.config import ExperimentConfig, LossConfig, ModelConfig, TrainConfig, apply_overrides, \
    paper_config, smoke_config
from emtlib.models import (CheckpointMismatch, build_model, export_released_state_dict,
                           load_checkpoint, load_released_checkpoint)
from emtlib.models.emt_dlfr import projection
from emtlib.models.released import (BERT_POSITION_IDS, POSITION_TABLE, checkpoint_format,
                                    load_released_state_dict, read_state_dict)
from tests.fixtures.released_layout import BERT, PAPER, PRED_HIDDEN, released_layout

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


def layout_inference_params(layout: dict) -> int:
    """Distinct inference parameters of a released key layout with all sharing on."""
    buffers = ("pos_embed.pe", "position_ids", "running_mean", "running_var", "num_batches_tracked")
    training = ("projector", "predictor", "recon")
    total = 0
    for name, shape in layout.items():
        bare = name.removeprefix("Model.")
        if any(b in bare for b in buffers) or any(t in bare for t in training):
            continue
        if bare.startswith("fusion.mpus.") and not bare.startswith("fusion.mpus.0.0.0."):
            continue  # the same MPU under another name
        if bare.startswith("fusion.attn_pools.") and not bare.startswith("fusion.attn_pools.0."):
            continue
        total += torch.Size(shape).numel()
    return total


# ---- helpers -----------------------------------------------------------------------------------

def outputs(model: nn.Module, batch: dict) -> list[torch.Tensor]:
    """Every tensor of the forward contract, in a fixed order."""
    def flat(x):
        if torch.is_tensor(x):
            return [x]
        if isinstance(x, dict):
            return [t for k in sorted(x) for t in flat(x[k])]
        return [t for v in x for t in flat(v)] if isinstance(x, (list, tuple)) else []
    with torch.no_grad():
        return flat(model(batch))


def max_output_difference(a: nn.Module, b: nn.Module, batch: dict) -> float:
    oa, ob = outputs(a.eval(), batch), outputs(b.eval(), batch)
    assert len(oa) == len(ob) > 0
    return max((x.double() - y.double()).abs().max().item() for x, y in zip(oa, ob))


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


def test_exporter_gives_the_released_key_layout(paper):
    ds, cfg, model = paper
    layout = released_layout(ds)
    exported = export_released_state_dict(model)
    assert set(exported) == set(layout)
    assert {k: tuple(v.shape) for k, v in exported.items()} == layout
    assert layout_inference_params(layout) == COUNTS[ds]


# ---- 2-3. round trips ------------------------------------------------------------------------

def test_paper_round_trip_gives_identical_outputs(paper):
    ds, cfg, model = paper
    torch.manual_seed(1)  # another initialisation for the model the checkpoint is loaded into
    loaded = load_released_checkpoint(export_released_state_dict(model), cfg)
    own, back = model.state_dict(), loaded.state_dict()
    assert own.keys() == back.keys() and all(torch.equal(own[k], back[k]) for k in own)
    batch = random_batch(cfg.model, batch_size=2, lengths=(12, 20, 15), seed=3)
    diff = max_output_difference(model, loaded, batch)
    print(f"{ds}: max |output difference| after the round trip = {diff}")
    assert diff == 0.0


@pytest.mark.parametrize("prefix", ["Model.", "module.Model.", ""])
def test_smoke_round_trip_through_a_file(tmp_path, prefix):
    cfg = smoke_config("mosi")
    model = built(cfg)
    path = tmp_path / "emt-dlfr-mosi-regression.pth"
    torch.save(export_released_state_dict(model, prefix=prefix), path)
    state = read_state_dict(path)
    assert checkpoint_format(state) == "released"
    loaded = load_released_checkpoint(path, cfg)
    assert not loaded.training
    assert max_output_difference(model, loaded, random_batch(cfg.model, 2, lengths=(9, 11, 13))) == 0.0
    summary = load_released_state_dict(built(cfg, seed=2), state)
    assert summary["prefix"] == prefix and summary["names"] == len(state)
    assert summary["verified"] == [POSITION_TABLE, BERT_POSITION_IDS]


def test_identity_projections_and_unshared_modules_round_trip(bert16):
    for flags in ({}, {"mpu_share": False, "modality_share": False, "layer_share": False}):
        cfg = tiny(bert16, **flags)
        model = built(cfg)
        state = export_released_state_dict(model, bert_position_ids=False)  # transformers >= 4.31
        assert not any(".proj_text." in k or ".proj_video." in k for k in state)
        loaded = load_released_checkpoint(state, cfg)
        assert max_output_difference(model, loaded, tiny_batch(cfg)) == 0.0


def test_a_shared_checkpoint_loads_into_an_unshared_configuration(bert16):
    shared = built(tiny(bert16))
    cfg = tiny(bert16, mpu_share=False, modality_share=False, layer_share=False)
    loaded = load_released_checkpoint(export_released_state_dict(shared), cfg)
    assert max_output_difference(shared, loaded, tiny_batch(cfg)) == 0.0


# ---- errors ------------------------------------------------------------------------------------

def test_checkpoint_from_another_configuration_lists_every_difference(bert16):
    state = export_released_state_dict(built(tiny(bert16, video_out=12, fusion_layers=3)))
    with pytest.raises(CheckpointMismatch) as e:
        load_released_checkpoint(state, tiny(bert16))
    msg = str(e.value)
    assert "in the checkpoint, not in the model (127)" in msg  # 120 + 4 of the third layer, 3 video
    for name in ("video_model.linear_1.weight", "proj_video.weight",
                 "fusion.mpus.2.0.0.layers.0.0.fn.to_q.weight", "... and 115 more"):
        assert name in msg
    assert "shape mismatches, checkpoint vs model (8)" in msg
    assert "Model.video_projector.net.0.weight: (12, 12) vs (16, 16)" in msg
    assert "another configuration" in msg


def test_paper_checkpoint_of_another_dataset_is_refused(bert16):
    mosi_like = tiny(bert16, d_model=8, heads=2)  # text (16) and video (16) now projected
    state = export_released_state_dict(built(mosi_like))
    with pytest.raises(CheckpointMismatch) as e:
        load_released_checkpoint(state, tiny(bert16))
    msg = str(e.value)
    assert "Model.proj_text.weight" in msg and "Model.fusion.pos_embed.pe: (1, 32, 8) vs (1, 32, 16)" in msg


def test_tampered_position_table_is_an_error(bert16):
    cfg = tiny(bert16)
    state = export_released_state_dict(built(cfg))
    state["Model." + POSITION_TABLE] = state["Model." + POSITION_TABLE].clone()
    state["Model." + POSITION_TABLE][0, 3, 5] += 0.01
    with pytest.raises(CheckpointMismatch, match=r"position table .* differs .* by up to 0\.01"):
        load_released_checkpoint(state, cfg)
    learned = dict(state, **{"Model." + POSITION_TABLE: torch.randn(1, 32, 16)})
    with pytest.raises(CheckpointMismatch, match="learnable_pos_emb=true"):
        load_released_checkpoint(learned, cfg)
    # with a learnable table the released entry is a parameter, loaded as is
    lcfg = tiny(bert16, learnable_pos_emb=True)
    loaded = load_released_checkpoint(learned, lcfg)
    assert torch.equal(loaded.fusion.pos_emb.pe, learned["Model." + POSITION_TABLE])


def test_missing_and_unexpected_keys_are_named(bert16):
    cfg = tiny(bert16)
    state = export_released_state_dict(built(cfg))
    del state["Model.post_fusion_layer_3.bias"], state["Model." + POSITION_TABLE]
    state["Model.fusion.extra.weight"] = torch.zeros(2)
    with pytest.raises(CheckpointMismatch) as e:
        load_released_checkpoint(state, cfg)
    msg = str(e.value)
    assert "in the model, not in the checkpoint (2)" in msg
    assert "post_fusion_layer_3.bias" in msg and POSITION_TABLE in msg
    assert "in the checkpoint, not in the model (1)" in msg and "fusion.extra.weight" in msg


def test_unshared_checkpoint_does_not_fit_a_shared_configuration(bert16):
    unshared = tiny(bert16, mpu_share=False, layer_share=False)
    model = built(unshared)
    with torch.no_grad():
        model.fusion.mpus[1][0][1].ff.w_in.bias.add_(1.0)  # the copies drift apart in training
    with pytest.raises(CheckpointMismatch, match=r"different values under \d+ names that this "
                                                 r"configuration shares .*mpu_share=True"):
        load_released_checkpoint(export_released_state_dict(model), tiny(bert16))


def test_bad_bert_position_ids_and_foreign_files(bert16, tmp_path):
    cfg = tiny(bert16)
    state = export_released_state_dict(built(cfg))
    state["Model." + BERT_POSITION_IDS] = torch.zeros(1, 64, dtype=torch.long)
    with pytest.raises(CheckpointMismatch, match="position ids"):
        load_released_checkpoint(state, cfg)
    torch.save([1, 2], tmp_path / "list.pt")
    with pytest.raises(CheckpointMismatch, match="expected a state dict"):
        load_released_checkpoint(tmp_path / "list.pt", cfg)


def test_architectures_the_release_does_not_build_are_refused(bert16):
    for override, word in (({"fusion": "ooll"}, "model.fusion='ooll'"),
                           ({"pooling": "average"}, "model.pooling='average'")):
        with pytest.raises(ValueError, match=word):
            export_released_state_dict(built(tiny(bert16, **override)))
    emt = ExperimentConfig(method="emt", model=tiny(bert16).model,
                           loss=LossConfig(lambda_recon=0, lambda_attr=0), train=TrainConfig(device="cpu"))
    with pytest.raises(ValueError, match="method='emt'"):
        load_released_checkpoint(export_released_state_dict(built(tiny(bert16))), emt)


# ---- 4. the library side of the notebooks: emtlib checkpoints, evaluation, attention maps --------

def test_emtlib_checkpoints_load_through_the_same_entry_point(bert16, tmp_path):
    cfg = tiny(bert16)
    model = built(cfg)
    torch.save({"key": "abc", "state_dict": model.state_dict()}, tmp_path / "cache.pt")  # attention's blob
    torch.save(model.state_dict(), tmp_path / "plain.pt")
    for name in ("cache.pt", "plain.pt"):
        assert checkpoint_format(read_state_dict(tmp_path / name)) == "emtlib"
        assert max_output_difference(model, load_checkpoint(tmp_path / name, cfg), tiny_batch(cfg)) == 0.0
    with pytest.raises(CheckpointMismatch, match="fusion.mpus.1.0.0.norm_q.weight"):
        load_checkpoint(model.state_dict(), tiny(bert16, fusion_layers=1))


@pytest.fixture(scope="module")
def smoke_checkpoint(tmp_path_factory):
    """A random smoke model of MOSI at rate 0.5 (6 samples a split) and its released-name file."""
    cfg = apply_overrides(smoke_config("mosi", missing_rate=0.5), ["data.max_samples_per_split=6"])
    model = built(cfg)
    path = tmp_path_factory.mktemp("ckpt") / "emt-dlfr-mosi-regression.pth"
    torch.save(export_released_state_dict(model), path)
    return cfg, model, path


def test_evaluate_checkpoint_scores_the_test_split(smoke_checkpoint, tmp_path):
    from emtlib.train import evaluate_checkpoint, evaluate_model

    cfg, model, path = smoke_checkpoint
    direct = evaluate_model(model, cfg)
    assert set(direct) >= {"mae", "corr", "acc2_has0"}
    assert evaluate_checkpoint(path, cfg) == direct
    torch.save(model.state_dict(), tmp_path / "emtlib.pt")
    assert evaluate_checkpoint(tmp_path / "emtlib.pt", cfg, fmt="emtlib") == direct


def test_attention_maps_from_a_checkpoint_path(smoke_checkpoint):
    import numpy as np

    from emtlib.attention import checkpoint_attention, sample_attention
    from emtlib.data import load_data
    from emtlib.data.dataset import make_datasets

    cfg, model, path = smoke_checkpoint
    att = checkpoint_attention(path, cfg, pool_stride=1)
    ref = sample_attention(model, make_datasets(load_data(cfg), cfg)["test"], pool_stride=1)
    assert att["split"] == "test" and att["id"] == ref["id"]
    for view in ("complete", "incomplete"):
        for m in ("text", "audio", "video"):
            np.testing.assert_array_equal(att[view][m], ref[view][m])


def test_cli_evaluate_checkpoint(smoke_checkpoint, tmp_path, capsys):
    from emtlib.__main__ import build_parser, main

    cfg, model, path = smoke_checkpoint
    out = tmp_path / "converted.pt"
    rc = main(["evaluate-checkpoint", "--checkpoint", str(path), "--dataset", "mosi", "--synthetic",
               "--profile", "smoke", "--missing-rate", "0.5", "--set", "data.max_samples_per_split=6",
               "--save-emtlib", str(out)])
    text = capsys.readouterr().out
    assert rc == 0 and "loaded the released checkpoint" in text and "mae=" in text
    saved = torch.load(out, weights_only=True)
    assert all(torch.equal(saved[k], v) for k, v in model.state_dict().items())
    sub = build_parser()._subparsers._group_actions[0].choices["evaluate-checkpoint"]
    assert "module.Model" in sub.format_help() and "post_fusion_layer_1" in sub.format_help()


def test_notebooks_score_and_draw_a_given_checkpoint(tmp_path, capsys):
    """What notebooks 01/02 (`checkpoint_metrics`) and 10 (`figure12_data`) do with `checkpoint`."""
    import numpy as np

    from emtlib.attention import checkpoint_attention, figure12_data
    from emtlib.notebook import Session
    from emtlib.train import evaluate_checkpoint

    S = Session("mosi", "smoke", True, None, "cpu", None, str(tmp_path))
    assert S.checkpoint_metrics(None) is None and "no checkpoint given" in capsys.readouterr().out
    spec = S.spec("emt_dlfr", 0.5)
    path = tmp_path / "released.pth"
    torch.save(export_released_state_dict(built(spec.config())), path)
    table = S.checkpoint_metrics(str(path), rates=(0.0, 0.5))
    assert list(table.index) == [0.0, 0.5]
    for rate in (0.0, 0.5):
        want = evaluate_checkpoint(path, S.spec("emt_dlfr", rate).config())
        assert table.loc[rate].to_dict() == pytest.approx(want)
    maps = figure12_data(None, spec, results_dir=tmp_path, checkpoint=path)
    direct = checkpoint_attention(path, spec.config())
    assert maps["records"]["incomplete"] == {"checkpoint": str(path)} and maps["id"] == direct["id"]
    for m, a in direct["complete"].items():
        np.testing.assert_array_equal(maps["complete"][m], a)
    assert not list(tmp_path.glob("**/*.json"))  # nothing was trained
