"""EMT-DLFR model: every fusion x update x pooling x sharing variant, masks, output contract.

The text encoder is injected through `model.text_encoder` = a local directory written to tmp_path
holding the config.json of a tiny random BERT (hidden 32, 1 layer), built with pretrained=False;
this also exercises the local-directory path of the resolver. Batches are built by hand here in
the data layer's contract.
"""
from __future__ import annotations

import itertools

import pytest
import torch
from transformers import BertConfig

from emtlib.config import ExperimentConfig, LossConfig, ModelConfig, TrainConfig
from emtlib.losses import total_loss
from emtlib.models import (TextEncoderNotFound, build_model, build_text_encoder,
                           resolve_text_encoder, text_encoder_config)

L, TA, TV, DA, DV = 8, 7, 6, 3, 4
TEXT_TOKENS = [8, 5, 3]  # incl. CLS and SEP; the last sample has a single word
A_LEN = [7, 4, 1]
V_LEN = [2, 6, 3]


@pytest.fixture(scope="module")
def tiny_bert_dir(tmp_path_factory):
    d = tmp_path_factory.mktemp("tiny_bert")
    BertConfig(vocab_size=2100, hidden_size=32, num_hidden_layers=1, num_attention_heads=2,
               intermediate_size=64, max_position_embeddings=64).save_pretrained(d)
    return str(d)


def tiny_config(bert_dir: str, method: str = "emt_dlfr", loss: LossConfig | None = None, **model) -> ExperimentConfig:
    m = dict(text_encoder=bert_dir, text_len=L, audio_dim=DA, audio_len=TA, vision_dim=DV, vision_len=TV,
             a_lstm_hidden=6, audio_out=4, v_lstm_hidden=5, video_out=5, d_model=16, fusion_layers=2,
             heads=2, attn_dropout=0.1, ff_dropout=0.1, post_fusion_dim=8, post_fusion_dropout=0.1,
             gmc_pred_dim=8, text_pred_dim=8, audio_pred_dim=2, video_pred_dim=3)
    m.update(model)
    if loss is None:
        loss = LossConfig() if method == "emt_dlfr" else LossConfig(lambda_recon=0, lambda_attr=0)
    return ExperimentConfig(method=method, model=ModelConfig(**m), loss=loss,
                            train=TrainConfig(batch_size=3, device="cpu"))


def make_batch(seed: int = 0, rate: float = 0.5) -> dict:
    g = torch.Generator().manual_seed(seed)
    B = len(TEXT_TOKENS)
    text = torch.zeros(B, 3, L, dtype=torch.long)  # (B, 3, L)
    for i, n in enumerate(TEXT_TOKENS):
        text[i, 0, 0], text[i, 0, n - 1] = 101, 102
        text[i, 0, 1:n - 1] = torch.randint(1000, 2000, (n - 2,), generator=g)
        text[i, 1, :n] = 1
    valid_t = text[:, 1].bool()
    kept = (torch.rand(B, L, generator=g) > rate) & valid_t
    for i, n in enumerate(TEXT_TOKENS):
        kept[i, 0] = kept[i, n - 1] = True
    text_m = text.clone()
    text_m[:, 0] = torch.where(valid_t & ~kept, torch.full_like(text[:, 0], 100), text[:, 0])
    batch = {"text": text, "text_m": text_m, "text_kept": kept}
    for name, T, D, lens in (("audio", TA, DA, A_LEN), ("vision", TV, DV, V_LEN)):
        lengths = torch.tensor(lens)
        valid = torch.arange(T)[None] < lengths[:, None]  # (B, T)
        x = torch.randn(B, T, D, generator=g) * valid[..., None]
        k = (torch.rand(B, T, generator=g) > rate) & valid
        batch.update({name: x, f"{name}_m": x * k[..., None], f"{name}_lengths": lengths,
                      f"{name}_kept": k})
    batch["labels"] = torch.tensor([1.5, -0.5, 0.0])
    batch["index"] = torch.arange(B)
    batch["id"] = [f"s{i}" for i in range(B)]
    return batch


def perturb_padding(batch: dict, seed: int = 1, extra: int = 3) -> dict:
    """Random values at every padded position (text ids, frames) and extra padded frames."""
    g = torch.Generator().manual_seed(seed)
    b = {k: (v.clone() if torch.is_tensor(v) else v) for k, v in batch.items()}
    for key in ("text", "text_m"):
        pad = ~b[key][:, 1].bool()
        b[key][:, 0] = torch.where(pad, torch.randint(1000, 2000, pad.shape, generator=g), b[key][:, 0])
    for name, D in (("audio", DA), ("vision", DV)):
        lengths = b[f"{name}_lengths"]
        for key in (name, f"{name}_m"):
            x = torch.cat([b[key], torch.zeros(b[key].shape[0], extra, D)], dim=1)  # (B, T + extra, D)
            pad = torch.arange(x.shape[1])[None] >= lengths[:, None]
            b[key] = torch.where(pad[..., None], torch.randn(x.shape, generator=g) * 5, x)
        b[f"{name}_kept"] = torch.cat([b[f"{name}_kept"], torch.ones(b[name].shape[0], extra, dtype=torch.bool)], 1)
    return b


SHARINGS = list(itertools.product([True, False], repeat=3))


@pytest.mark.parametrize("fusion,update,pooling",
                         list(itertools.product(["oagl", "ooll", "oall"], ["parallel", "serial"],
                                                ["attention", "average", "mlp"])))
def test_every_variant_forward_backward(tiny_bert_dir, fusion, update, pooling):
    batch = make_batch()
    for mpu, mod, lay in SHARINGS:
        torch.manual_seed(0)
        cfg = tiny_config(tiny_bert_dir, fusion=fusion, update=update, pooling=pooling,
                          mpu_share=mpu, modality_share=mod, layer_share=lay)
        model = build_model(cfg)
        model.train()
        out = model(batch)
        assert out["pred_m"].shape == (3,) and out["pred"].shape == (3,)
        loss, terms = total_loss(out, batch, cfg.loss)
        assert torch.isfinite(loss)
        loss.backward()
        emt_grads = [p.grad for p in model.fusion.parameters()]
        assert all(gr is not None and torch.isfinite(gr).all() for gr in emt_grads)
        assert model.proj_audio.weight.grad.abs().sum() > 0


@pytest.mark.parametrize("fusion", ["oagl", "ooll", "oall"])
def test_padding_does_not_change_outputs(tiny_bert_dir, fusion):
    torch.manual_seed(0)
    cfg = tiny_config(tiny_bert_dir, fusion=fusion, mpu_share=False, layer_share=False)
    model = build_model(cfg).eval()
    batch = make_batch()
    with torch.no_grad():
        a = model(batch)
        b = model(perturb_padding(batch))
        la, _ = total_loss(a, batch, cfg.loss)
        lb, _ = total_loss(b, perturb_padding(batch), cfg.loss)
    torch.testing.assert_close(a["pred_m"], b["pred_m"], rtol=1e-5, atol=1e-6)
    torch.testing.assert_close(a["pred"], b["pred"], rtol=1e-5, atol=1e-6)
    torch.testing.assert_close(la, lb, rtol=1e-5, atol=1e-6)
    # and something real does change it
    c = make_batch()
    c["audio_m"][0, 0] += 3.0
    with torch.no_grad():
        assert not torch.allclose(model(c)["pred_m"][0], a["pred_m"][0])


def test_pred_m_ignores_complete_view_in_eval(tiny_bert_dir):
    torch.manual_seed(0)
    model = build_model(tiny_config(tiny_bert_dir)).eval()
    batch = make_batch()
    other = make_batch(seed=5)
    mixed = dict(batch, text=other["text"], audio=other["audio"], vision=other["vision"])
    with torch.no_grad():
        torch.testing.assert_close(model(batch)["pred_m"], model(mixed)["pred_m"])


def test_complete_setting_reads_complete_view(tiny_bert_dir):
    torch.manual_seed(0)
    model = build_model(tiny_config(tiny_bert_dir, method="emt")).eval()
    batch = make_batch()
    with torch.no_grad():
        out = model(batch)
        direct = model.encode_view(batch["text"], batch["audio"], batch["audio_lengths"],
                                   batch["vision"], batch["vision_lengths"]).pred
        swapped = model(dict(batch, text_m=batch["text"] * 0, audio_m=batch["audio"] * 0))
    assert set(out) == {"pred_m"}
    torch.testing.assert_close(out["pred_m"], direct)
    torch.testing.assert_close(swapped["pred_m"], out["pred_m"])
    assert not any(k in n for n, _ in model.named_parameters() for k in ("projector", "predictor", "recon"))


def _count_calls(module):
    calls = []
    module.register_forward_hook(lambda *a: calls.append(1))
    return calls


@pytest.mark.parametrize("lam_recon,lam_attr", [(1.0, 1.0), (0.0, 1.0), (1.0, 0.0), (0.0, 0.0)])
def test_lambda_zero_skips_heads(tiny_bert_dir, lam_recon, lam_attr):
    torch.manual_seed(0)
    cfg = tiny_config(tiny_bert_dir, loss=LossConfig(lambda_recon=lam_recon, lambda_attr=lam_attr))
    model = build_model(cfg).train()
    bert_calls = _count_calls(model.text_model)
    audio_calls = _count_calls(model.audio_model)
    fusion_calls = _count_calls(model.fusion)
    batch = make_batch()
    out = model(batch)
    assert ("recon" in out) == (lam_recon > 0) and hasattr(model, "recon_text") == (lam_recon > 0)
    assert ("attraction" in out) == (lam_attr > 0) and ("pred" in out) == (lam_attr > 0)
    assert hasattr(model, "projector") == (lam_attr > 0) and hasattr(model, "predictor") == (lam_attr > 0)
    views = 2 if lam_attr > 0 else 1
    assert len(audio_calls) == views and len(fusion_calls) == views
    # lambda_attr = 0 with recon: BERT alone runs on the complete text for the target
    assert len(bert_calls) == views + (1 if lam_attr == 0 and lam_recon > 0 else 0)
    loss, terms = total_loss(out, batch, cfg.loss)
    assert ("loss_recon" in terms) == (lam_recon > 0) and ("loss_attr" in terms) == (lam_attr > 0)
    loss.backward()
    if lam_recon > 0 and lam_attr == 0:
        assert not out["recon"]["text"]["target"].requires_grad


def test_simsiam_outputs_and_per_view_batchnorm(tiny_bert_dir):
    torch.manual_seed(0)
    model = build_model(tiny_config(tiny_bert_dir)).train()
    calls = {k: _count_calls(model.projector[k]) for k in ("gmc", "text", "audio", "video")}
    out = model(make_batch())
    for k, v in out["attraction"].items():
        assert not v["z"].requires_grad and not v["z_m"].requires_grad
        assert v["p"].requires_grad and v["p_m"].requires_grad
        assert len(calls[k]) == 2  # once per view: BatchNorm statistics never pooled across views
        # per-view BN in train mode: each view's z is standardised on its own batch
        torch.testing.assert_close(v["z"].mean(0), torch.zeros_like(v["z"].mean(0)), atol=1e-5, rtol=0)
        torch.testing.assert_close(v["z_m"].mean(0), torch.zeros_like(v["z"].mean(0)), atol=1e-5, rtol=0)
    assert out["attraction"]["gmc"]["p"].shape == (3, 3 * 16)
    assert out["attraction"]["text"]["p"].shape == (3, 32)


def test_cosine_attraction_has_no_projector(tiny_bert_dir):
    cfg = tiny_config(tiny_bert_dir, loss=LossConfig(attraction="cosine"))
    model = build_model(cfg).train()
    assert not hasattr(model, "projector")
    out = model(make_batch())
    assert set(out["attraction"]["gmc"]) == {"h_m", "h"}
    loss, terms = total_loss(out, make_batch(), cfg.loss)
    assert -4.0 <= terms["loss_attr"] - terms["loss_pred"] <= 4.0


def test_recon_targets_and_masks(tiny_bert_dir):
    torch.manual_seed(0)
    model = build_model(tiny_config(tiny_bert_dir)).train()
    batch = make_batch()
    out = model(batch)
    r = out["recon"]
    assert r["text"]["pred"].shape == (3, L - 1, 32) and not r["text"]["target"].requires_grad
    exp_t = batch["text"][:, 1, 1:].bool() & ~batch["text_kept"][:, 1:]
    assert torch.equal(r["text"]["mask"], exp_t)
    for name, key, T, lens in (("audio", "audio", TA, A_LEN), ("video", "vision", TV, V_LEN)):
        valid = torch.arange(T)[None] < torch.tensor(lens)[:, None]
        assert torch.equal(r[name]["mask"], valid & ~batch[f"{key}_kept"])
        assert torch.equal(r[name]["target"], batch[key])
    assert r["audio"]["pred"].shape == (3, TA, DA) and r["video"]["pred"].shape == (3, TV, DV)


def test_attention_capture(tiny_bert_dir):
    torch.manual_seed(0)
    model = build_model(tiny_config(tiny_bert_dir)).eval()
    batch = make_batch()
    with torch.no_grad():
        plain = model(batch)
        out = model(batch, return_attention=True)
    assert "attention" not in plain
    torch.testing.assert_close(plain["pred_m"], out["pred_m"])
    for name, T, lens in (("text", L - 1, [n - 2 for n in TEXT_TOKENS]), ("audio", TA, A_LEN),
                          ("video", TV, V_LEN)):
        maps = out["attention"][name]
        assert len(maps) == 2 and len(out["attention_complete"][name]) == 2
        for a in maps:
            assert a.shape == (3, 2, 3, T)  # (B, heads, 3 global tokens, T_m)
            torch.testing.assert_close(a.sum(-1), torch.ones(3, 2, 3))
            pad = torch.arange(T)[None] >= torch.tensor(lens)[:, None]  # (B, T)
            assert a.masked_select(pad[:, None, None, :].expand_as(a)).abs().max() < 1e-6 \
                if pad.any() else True
    with pytest.raises(ValueError, match="OAGL"):
        build_model(tiny_config(tiny_bert_dir, fusion="ooll"))(batch, return_attention=True)


def test_training_batch_of_one_raises(tiny_bert_dir):
    model = build_model(tiny_config(tiny_bert_dir)).train()
    batch = make_batch()
    one = {k: (v[:1] if torch.is_tensor(v) else v[:1]) for k, v in batch.items()}
    with pytest.raises(ValueError, match="one sample"):
        model(one)


def test_parameter_groups_cover_everything_once(tiny_bert_dir):
    model = build_model(tiny_config(tiny_bert_dir))
    groups = model.parameter_groups(TrainConfig(batch_size=4))
    ids = [id(p) for g in groups for p in g["params"]]
    assert len(ids) == len(set(ids)) == len(list(model.parameters()))
    names = {g["name"]: g for g in groups}
    assert names["bert_no_decay"]["weight_decay"] == 0.0
    assert names["video"]["lr"] == TrainConfig().lr_video
    opt = torch.optim.Adam(groups)  # extra 'name' keys are accepted
    assert len(opt.param_groups) == 5


def test_text_encoder_resolution(tiny_bert_dir, tmp_path):
    assert resolve_text_encoder(tiny_bert_dir) == str(__import__("pathlib").Path(tiny_bert_dir).resolve())
    with pytest.raises(TextEncoderNotFound, match="minilm"):
        resolve_text_encoder(str(tmp_path / "nope"))
    with pytest.raises(TextEncoderNotFound, match="local directory"):
        build_text_encoder("no-such-org/no-such-bert", pretrained=True)
    assert text_encoder_config("bert-base-chinese").vocab_size == 21128
    assert text_encoder_config("bert-base-uncased").hidden_size == 768
    enc = build_text_encoder(tiny_bert_dir, pretrained=False)
    assert enc.config.hidden_size == 32


def test_minilm_pretrained_encoder():
    import os
    path = resolve_text_encoder("minilm")
    assert os.path.isdir(path)
    enc = build_text_encoder("minilm", pretrained=True)
    assert enc.config.hidden_size == 384 and enc.config.num_hidden_layers == 6
    assert enc.pooler is not None


def test_rate_zero_gives_zero_reconstruction(tiny_bert_dir):
    torch.manual_seed(0)
    cfg = tiny_config(tiny_bert_dir)
    model = build_model(cfg).train()
    batch = make_batch(rate=0.0)
    assert torch.equal(batch["text_m"], batch["text"])
    _, terms = total_loss(model(batch), batch, cfg.loss)
    assert terms["recon_text"] == terms["recon_audio"] == terms["recon_video"] == 0.0
    assert terms["loss_attr"] != 0.0


# ---- attention kernels, activation checkpointing, precision (docs/model.md#attention-kernels) ----

def _both_kernels(model, batch, cfg):
    from emtlib.models.layers import attention_kernel

    results = {}
    for kernel in ("explicit", "fused"):
        model.zero_grad(set_to_none=True)
        torch.manual_seed(1)  # the same dropout draws elsewhere (FFN, head, BERT)
        with attention_kernel(model, kernel):
            out = model(batch)
            loss, _ = total_loss(out, batch, cfg.loss)
        loss.backward()
        results[kernel] = (out["pred_m"].detach(), [p.grad.clone() for p in model.fusion.parameters()
                                                    if p.grad is not None])
    return results["explicit"], results["fused"]


@pytest.mark.parametrize("fusion", ["oagl", "ooll", "oall"])
def test_fused_attention_computes_the_explicit_function(tiny_bert_dir, fusion):
    """Same outputs and gradients from both kernels (no attention dropout, so no random draw differs)."""
    torch.manual_seed(0)
    cfg = tiny_config(tiny_bert_dir, fusion=fusion, attn_dropout=0.0)
    model = build_model(cfg).train()
    (pe, ge), (pf, gf) = _both_kernels(model, make_batch(), cfg)
    torch.testing.assert_close(pf, pe, rtol=1e-4, atol=1e-5)
    assert len(ge) == len(gf) > 0
    for a, b in zip(ge, gf):
        torch.testing.assert_close(b, a, rtol=1e-3, atol=1e-5)


def test_fused_attention_with_no_valid_key_averages_uniformly(tiny_bert_dir):
    """A text with no word (CLS, SEP only): every text key of that sample is padding. Both kernels
    then average the values uniformly (no NaN); only the gradient into that row's scores differs
    (the explicit fill passes none), so only outputs are compared."""
    batch = make_batch()
    batch["text"][2, 1] = 0
    batch["text"][2, 1, :2] = 1
    batch["text_m"][2] = batch["text"][2]
    torch.manual_seed(0)
    cfg = tiny_config(tiny_bert_dir, attn_dropout=0.0)
    model = build_model(cfg).train()
    (pe, _), (pf, _) = _both_kernels(model, batch, cfg)
    assert torch.isfinite(pf).all()
    torch.testing.assert_close(pf, pe, rtol=1e-4, atol=1e-5)


def test_attention_capture_always_runs_explicit(tiny_bert_dir):
    torch.manual_seed(0)
    model = build_model(tiny_config(tiny_bert_dir, attention="fused")).eval()
    with torch.no_grad():
        out = model(make_batch(), return_attention=True)
    maps = out["attention"]["audio"][0]  # (B, heads, 3, T_a)
    torch.testing.assert_close(maps.sum(-1), torch.ones(maps.shape[:-1]))


def test_text_checkpointing_changes_nothing_but_memory(tiny_bert_dir):
    batch = make_batch()
    grads = []
    for ckpt in (False, True):
        torch.manual_seed(0)
        cfg = tiny_config(tiny_bert_dir, text_checkpointing=ckpt)
        model = build_model(cfg).train()
        torch.manual_seed(1)
        loss, _ = total_loss(model(batch), batch, cfg.loss)
        loss.backward()
        grads.append([p.grad for p in model.text_model.parameters() if p.grad is not None])
    assert len(grads[0]) == len(grads[1]) > 0
    for a, b in zip(*grads):
        torch.testing.assert_close(b, a)


def test_fused_lstm_reads_the_packed_lstm_at_each_length():
    """AuViSubNet 'fused' (the padded batch in one LSTM call, read at each length) gives the
    packed run's final states, sequences (zero past each length) and gradients: two layers, lengths
    from 1 to T, random values in the padding."""
    from emtlib.models.layers import AuViSubNet

    g = torch.Generator().manual_seed(0)
    B, T, D = 5, 9, 3
    lengths = torch.tensor([9, 1, 4, 7, 2])
    x = torch.randn(B, T, D, generator=g)  # the padding holds random values too
    probe_h, probe_s = torch.randn(4, generator=g), torch.randn(4, generator=g)
    results = {}
    for kernel in ("packed", "fused"):
        torch.manual_seed(0)
        net = AuViSubNet(D, 6, 4, num_layers=2, kernel=kernel)
        h, seq = net(x, lengths)  # (B, 4), (B, T, 4)
        loss = (h @ probe_h).pow(2).sum() + (seq @ probe_s).pow(2).sum()
        grads = torch.autograd.grad(loss, list(net.parameters()))
        results[kernel] = (h, seq, grads)
    (h0, s0, g0), (h1, s1, g1) = results["packed"], results["fused"]
    assert s1.shape == s0.shape == (B, T, 4)
    torch.testing.assert_close(h1, h0)
    torch.testing.assert_close(s1, s0)  # past each length: linear_1 of 0, its bias, in both
    for a, b in zip(g0, g1):
        torch.testing.assert_close(b, a)
    with pytest.raises(ValueError, match="LSTM kernel 'cudnn'"):
        AuViSubNet(D, 6, 4, kernel="cudnn")


def test_fused_lstm_kernel_computes_the_same_function(tiny_bert_dir):
    """model.lstm_kernel: predictions, losses and gradients of EMT-DLFR agree (same init, same
    dropout draws: the LSTMs have one layer and draw nothing)."""
    batch = make_batch()
    results = []
    for kernel in ("packed", "fused"):
        torch.manual_seed(0)
        cfg = tiny_config(tiny_bert_dir, lstm_kernel=kernel)
        model = build_model(cfg).train()
        torch.manual_seed(1)
        out = model(batch)
        loss, terms = total_loss(out, batch, cfg.loss)
        loss.backward()
        results.append((out["pred_m"], terms, {n: p.grad for n, p in model.named_parameters()}))
    (pred0, terms0, grads0), (pred1, terms1, grads1) = results
    torch.testing.assert_close(pred1, pred0)
    assert all(abs(terms1[k] - terms0[k]) <= 1e-5 * (1 + abs(terms0[k])) for k in terms0)
    for name, a in grads0.items():
        b = grads1[name]
        assert (a is None) == (b is None), name
        # Up to rounding, on each gradient's scale: the SimSiam projectors' first layers feed a
        # BatchNorm, which leaves their weights' gradients as small differences of large terms
        # (and their biases' 0 up to rounding), so elementwise rounding differs by CPU model.
        if a is not None:
            assert (b - a).abs().max() <= 1e-4 * a.abs().max() + 1e-5, name


@pytest.mark.parametrize("impl", ["sdpa", "eager"])
def test_packed_text_forward_equals_the_padded_call(impl):
    from transformers import BertConfig, BertModel

    from emtlib.models.text_encoder import packed_text_forward

    torch.manual_seed(0)
    config = BertConfig(hidden_size=32, num_hidden_layers=2, num_attention_heads=4,
                        intermediate_size=64)
    config._attn_implementation = impl
    bert = BertModel(config).eval()
    lengths = torch.tensor([12, 3, 5, 7, 2, 12, 4, 9, 6])  # first fit: 12 | 12 | 9+3 | 7+5 | 6+4+2
    valid = torch.arange(12)[None] < lengths[:, None]  # (B, L)
    ids = torch.randint(1, 1000, valid.shape) * valid
    seg = torch.randint(0, 2, valid.shape) * valid
    text = torch.stack([ids, valid.long(), seg], 1)  # (B, 3, L)
    padded = bert(input_ids=ids, attention_mask=valid.long(), token_type_ids=seg).last_hidden_state
    packed = packed_text_forward(bert, text)
    torch.testing.assert_close(packed[valid], padded[valid])
    assert (packed[~valid] == 0).all()
    probe = torch.randn(32)  # a loss that depends on every valid output
    # the pooler is unused; softmax ignores the key bias, whose gradient is 0 up to rounding
    params = [p for n, p in bert.named_parameters() if "pooler" not in n and "key.bias" not in n]
    g_padded = torch.autograd.grad((padded[valid] @ probe).pow(2).sum(), params)
    g_packed = torch.autograd.grad((packed[valid] @ probe).pow(2).sum(), params)
    for a, b in zip(g_padded, g_packed):
        torch.testing.assert_close(b, a, rtol=0, atol=1e-4 * float(a.abs().max()))
    config._attn_implementation = "flash_attention_2"
    with pytest.raises(ValueError, match="text_packing needs .* 'sdpa', 'eager' or"):
        packed_text_forward(bert, text)


def test_text_packing_computes_the_same_function(tiny_bert_dir):
    """model.text_packing: BERT on the packed valid tokens gives the padded call's predictions,
    losses and gradients (BERT without dropout so both draw the same random numbers)."""
    batch = make_batch()
    assert len(set(TEXT_TOKENS)) > 1  # lengths vary: rows are packed together
    results = []
    for packing in (False, True):
        torch.manual_seed(0)
        cfg = tiny_config(tiny_bert_dir, text_packing=packing)
        model = build_model(cfg).train()
        model.text_model.eval()
        torch.manual_seed(1)
        out = model(batch)
        loss, terms = total_loss(out, batch, cfg.loss)
        loss.backward()
        results.append((out["pred_m"], terms, [p.grad for p in model.parameters()
                                               if p.grad is not None]))
    (pred0, terms0, grads0), (pred1, terms1, grads1) = results
    torch.testing.assert_close(pred1, pred0)
    assert terms1.keys() == terms0.keys() and all(
        abs(terms1[k] - terms0[k]) <= 1e-5 * (1 + abs(terms0[k])) for k in terms0)
    assert len(grads0) == len(grads1) > 0
    for a, b in zip(grads0, grads1):
        torch.testing.assert_close(b, a, rtol=1e-4, atol=1e-6)


def test_bf16_autocast_forward_with_float32_losses(tiny_bert_dir):
    from emtlib.runtime import autocast, to_float

    torch.manual_seed(0)
    cfg = tiny_config(tiny_bert_dir)
    model = build_model(cfg).train()
    batch = make_batch()
    with autocast(torch.device("cpu"), "bf16"):
        out = model(batch)
    assert out["pred_m"].dtype == torch.bfloat16  # the head's Linear ran in bf16
    out = to_float(out)
    assert out["pred_m"].dtype == torch.float32
    assert out["recon"]["audio"]["pred"].dtype == torch.float32
    loss, terms = total_loss(out, batch, cfg.loss)
    assert loss.dtype == torch.float32 and torch.isfinite(loss)
    loss.backward()
    assert all(p.grad is None or p.grad.dtype == torch.float32 for p in model.parameters())
    bn = model.projector["gmc"][1]  # BatchNorm statistics stay float32
    assert bn.running_mean.dtype == torch.float32 and torch.isfinite(bn.running_mean).all()


def test_cpu_attention_dropout_drops_with_probability_p_and_keeps_the_mean():
    """With v = identity, the output rows are the dropped-out attention probabilities."""
    from emtlib.models.layers import attention_with_dropout_cpu

    torch.manual_seed(0)
    B, h, Tq, Tk, p = 2, 2, 64, 32, 0.3
    q, k = torch.randn(B, h, Tq, Tk), torch.randn(B, h, Tk, Tk)
    v = torch.eye(Tk).expand(B, h, Tk, Tk)
    mask = torch.zeros(B, 1, 1, Tk)
    mask[0, ..., -4:] = -torch.finfo(torch.float32).max  # 4 padded keys in sample 0
    expected = ((q @ k.transpose(-1, -2)) * 0.5 + mask).softmax(-1)
    draws = torch.stack([attention_with_dropout_cpu(q, k, v, mask, 0.5, p) for _ in range(400)])
    dropped = (draws == 0).float().mean().item()
    assert abs(dropped - (p + (1 - p) * 4 / (2 * Tk))) < 0.01  # padded keys are 0 anyway
    sd = expected * (p / (1 - p) / len(draws)) ** 0.5  # std of the mean of the scaled keeps
    assert ((draws.mean(0) - expected).abs() <= 5 * sd + 1e-6).all()
    assert (draws[:, 0, ..., -4:] == 0).all()


@pytest.mark.parametrize("p", [0.1, 0.3, 0.5, 0.9])
def test_keep_mask_keeps_each_entry_independently_with_probability_one_minus_p(p):
    from emtlib.models.layers import keep_mask

    torch.manual_seed(0)
    keep, keep_prob = keep_mask((40, 30, 1001), p)  # 1,201,200 entries: 300,300 words of 4 draws
    assert keep.dtype == torch.bool and keep.shape == (40, 30, 1001)
    assert keep_prob == 1 - round(p * 65536) / 65536 and abs(keep_prob - (1 - p)) <= 2 ** -17
    flat = keep.flatten().float()
    sd = (keep_prob * (1 - keep_prob) / flat.numel()) ** 0.5
    assert abs(flat.mean().item() - keep_prob) < 5 * sd
    by_word = flat.view(-1, 4)  # each of the four draws of a word keeps with that probability
    for i in range(4):
        assert abs(by_word[:, i].mean().item() - keep_prob) < 5 * sd * 2
    # the draws of one word, and neighbouring words, are uncorrelated
    for a, b in ((by_word[:, 0], by_word[:, 1]), (by_word[:, 2], by_word[:, 3]),
                 (by_word[:, 1], by_word[:, 3]), (by_word[:-1, 3], by_word[1:, 0])):
        assert abs(torch.corrcoef(torch.stack([a, b]))[0, 1].item()) < 5 / by_word.shape[0] ** 0.5
    assert keep_mask((7,), 0.0)[0].all()


def test_dropped_attention_gradients_are_those_of_the_composition():
    """_DroppedAttention, which recomputes the dropped probabilities in backward, against autograd
    through q k^T * scale + mask -> softmax -> * keep * keep_scale -> @ v with the same mask
    (float64, gradcheck too)."""
    from emtlib.models.layers import _DroppedAttention

    g = torch.Generator().manual_seed(0)
    q = torch.randn(2, 3, 5, 4, generator=g, dtype=torch.float64, requires_grad=True)
    k, v = (torch.randn(2, 3, 7, 4, generator=g, dtype=torch.float64, requires_grad=True)
            for _ in range(2))
    mask = torch.zeros(2, 1, 1, 7, dtype=torch.float64)
    mask[1, ..., -2:] = -1e30  # two padded keys in sample 1
    keep = torch.rand(2, 3, 5, 7, generator=g) > 0.3

    def dropped(q, k, v):
        return _DroppedAttention.apply(q, k, v, mask, keep, 0.5, 1 / 0.7)

    assert torch.autograd.gradcheck(dropped, (q, k, v))
    out = dropped(q, k, v)
    ref = ((q @ k.transpose(-1, -2) * 0.5 + mask).softmax(-1) * keep / 0.7) @ v
    torch.testing.assert_close(out, ref)
    probe = torch.randn(out.shape, generator=g, dtype=torch.float64)
    for a, b in zip(torch.autograd.grad((out * probe).sum(), (q, k, v)),
                    torch.autograd.grad((ref * probe).sum(), (q, k, v))):
        torch.testing.assert_close(a, b)


@pytest.mark.parametrize("bf16", [False, True])
def test_feed_forward_recomputing_its_product_gives_autograds_numbers_bit_for_bit(bf16):
    """FeedForward keeps only w_in's output for backward (_GEGLUOut); its output and every
    gradient equal, bit for bit, those of autograd through w_out(a * gelu(b)), in float32 and under
    bf16 autocast (a run's numbers do not change)."""
    import torch.nn.functional as F

    from emtlib.models.layers import FeedForward

    torch.manual_seed(0)
    ff = FeedForward(32, 4, dropout=0.0)
    x = torch.randn(4, 37, 32, requires_grad=True)
    probe = torch.randn(4, 37, 32)
    results = []
    for composed in (True, False):
        ff.zero_grad()
        x.grad = None
        with torch.autocast("cpu", torch.bfloat16, enabled=bf16):
            if composed:
                a, b = ff.w_in(x).chunk(2, dim=-1)
                out = ff.w_out(a * F.gelu(b))
            else:
                out = ff(x)
        out.backward(probe.to(out.dtype))
        results.append([out.detach(), x.grad] + [p.grad for p in ff.parameters()])
    assert results[1][0].dtype == (torch.bfloat16 if bf16 else torch.float32)
    for expected, got in zip(*results):
        assert torch.equal(got, expected)


def test_frozen_text_encoder_caches_rows_and_matches_the_encoder(tiny_bert_dir):
    """Features from the cache equal the frozen encoder's on the cropped batch; each distinct row
    is encoded once; nothing of the encoder trains."""
    torch.manual_seed(0)
    cfg = tiny_config(tiny_bert_dir, freeze_text=True, text_len=L + 2)
    model = build_model(cfg).train()
    assert not model.text_model.training
    batch = make_batch()
    with torch.no_grad():
        direct = model.text_model(input_ids=batch["text"][:, 0], attention_mask=batch["text"][:, 1],
                                  token_type_ids=batch["text"][:, 2]).last_hidden_state
    cached = model._text(batch["text"])
    valid = batch["text"][:, 1].bool()
    torch.testing.assert_close(cached[valid], direct[valid], rtol=1e-5, atol=1e-5)
    assert len(model.text_cache.rows) == 3
    longer = torch.cat([batch["text"], torch.zeros(3, 3, 2, dtype=torch.long)], dim=-1)
    torch.testing.assert_close(model._text(longer)[:, :L], cached)  # the same rows padded further
    assert model._text(longer).shape == (3, L + 2, 32)
    assert len(model.text_cache.rows) == 3
    loss, _ = total_loss(model(batch), batch, cfg.loss)
    loss.backward()
    assert all(p.grad is None for p in model.text_model.parameters())
    assert model.proj_audio.weight.grad is not None


def test_frozen_text_encoder_is_the_encoder_frozen_in_eval_mode_and_cached():
    """The baselines' freeze_text: the same outputs as the encoder in eval mode, no gradient,
    dropout off whatever the owner's mode, each distinct row encoded once."""
    from transformers import BertConfig, BertModel

    from emtlib.models.text_encoder import FrozenTextEncoder

    torch.manual_seed(0)
    bert = BertModel(BertConfig(vocab_size=100, hidden_size=16, num_hidden_layers=1,
                                num_attention_heads=2, intermediate_size=32))
    frozen = FrozenTextEncoder(bert, max_len=8)
    ids = torch.randint(5, 100, (3, 6))
    mask = torch.tensor([[1] * 6, [1] * 4 + [0] * 2, [1] * 2 + [0] * 4])
    frozen.train()  # the owner's train() must not switch dropout on
    out = frozen(input_ids=ids, attention_mask=mask).last_hidden_state
    bert.eval()
    with torch.no_grad():
        want = bert(input_ids=ids, attention_mask=mask).last_hidden_state
    for i, n in enumerate(mask.sum(1).tolist()):
        torch.testing.assert_close(out[i, :n], want[i, :n], atol=1e-5, rtol=1e-5)
    assert not out.requires_grad and not any(p.requires_grad for p in frozen.parameters())
    assert len(frozen.cache.rows) == 3
    frozen(input_ids=ids[:2], attention_mask=mask[:2])
    assert len(frozen.cache.rows) == 3  # seen rows are not encoded again


@pytest.mark.parametrize("dtype", [torch.float32, torch.bfloat16])
def test_keep_mask_dropout_zeroes_or_scales_each_entry_and_its_gradient_alike(dtype):
    """layers.Dropout 'keep_mask' in training on a CPU: each entry is 0 or x * (1 / keep_prob), the
    fraction kept is 1 - p, and the gradient passes exactly where the output was kept; in
    evaluation it is the identity; 'native' is nn.Dropout, draw for draw."""
    from emtlib.models.layers import Dropout

    p = 0.3
    keep_prob = 1 - round(p * 65536) / 65536
    torch.manual_seed(0)
    x = (torch.rand(64, 50, 96) + 0.5).to(dtype).requires_grad_()  # no zero entries
    drop = Dropout(p, "keep_mask").train()
    out = drop(x)
    assert out.dtype == dtype
    kept = out != 0
    scale = torch.tensor(1 / keep_prob).to(dtype)  # the scale in x's dtype, as native dropout's
    assert torch.equal(out[kept], (x.detach() * scale)[kept])
    sd = (keep_prob * (1 - keep_prob) / kept.numel()) ** 0.5
    assert abs(kept.float().mean().item() - keep_prob) < 5 * sd
    probe = torch.randn(x.shape).to(dtype)
    (grad,) = torch.autograd.grad((out * probe).sum(), x)
    assert torch.equal(grad, torch.where(kept, probe * scale, 0))
    assert torch.equal(drop.eval()(x), x)
    torch.manual_seed(1)
    native = Dropout(p, "native").train()(x)
    torch.manual_seed(1)
    assert torch.equal(native, torch.nn.Dropout(p).train()(x))
    with pytest.raises(ValueError, match="dropout kernel 'bernoulli'"):
        Dropout(p, "bernoulli")


def test_keep_mask_dropout_kernel_reaches_every_dropout_and_changes_nothing_in_evaluation(tiny_bert_dir):
    """model.dropout_kernel='keep_mask': every dropout of EMT-DLFR, BERT's included, is a
    keep-mask Dropout and BERT's attention runs KEEP_MASK_ATTENTION; in evaluation the predictions
    equal the native kernel's exactly (same weights), in training the draws differ, and the
    padded and packed text paths both train."""
    from emtlib.models.layers import Dropout
    from emtlib.models.text_encoder import KEEP_MASK_ATTENTION

    batch = make_batch()
    preds, models = [], {}
    for kernel in ("native", "keep_mask"):
        torch.manual_seed(0)
        model = build_model(tiny_config(tiny_bert_dir, dropout_kernel=kernel))
        models[kernel] = model
        preds.append(model.eval()(batch)["pred_m"])
    torch.testing.assert_close(preds[1], preds[0], rtol=0, atol=0)
    fast = models["keep_mask"]
    drops = [m for m in fast.modules() if isinstance(m, torch.nn.Dropout)]
    assert len(drops) > 5 and all(isinstance(m, Dropout) and m.kernel == "keep_mask" for m in drops)
    assert fast.text_model.config._attn_implementation == KEEP_MASK_ATTENTION
    assert all(m.kernel == "native" for m in models["native"].modules() if isinstance(m, Dropout))
    # an encoder shared by a later model takes that model's kernel
    native_again = build_model(tiny_config(tiny_bert_dir), text_encoder=fast.text_model)
    assert native_again.text_model.config._attn_implementation == "sdpa"
    assert all(m.kernel == "native" for m in native_again.modules() if isinstance(m, Dropout))
    for packing in (False, True):
        torch.manual_seed(0)
        cfg = tiny_config(tiny_bert_dir, dropout_kernel="keep_mask", text_packing=packing)
        model = build_model(cfg).train()
        out = model(batch)
        loss, _ = total_loss(out, batch, cfg.loss)
        loss.backward()
        assert torch.isfinite(loss)
        assert not torch.equal(out["pred_m"], preds[1])  # dropout was active
        bert_grads = [p.grad for p in model.text_model.encoder.parameters()]
        assert all(g is not None and torch.isfinite(g).all() for g in bert_grads)


def test_keep_mask_attention_is_sdpa_without_dropout_and_drops_probabilities_with_it():
    """KEEP_MASK_ATTENTION in a BERT: without dropout (evaluation) it is the sdpa attention, bit for
    bit; in training its output differs from sdpa's by the dropout only (p -> 0 limit: none)."""
    from transformers import BertModel

    from emtlib.models.text_encoder import use_text_dropout_kernel

    torch.manual_seed(0)
    config = BertConfig(hidden_size=32, num_hidden_layers=2, num_attention_heads=4, intermediate_size=64)
    config._attn_implementation = "sdpa"
    bert = BertModel(config)
    ids = torch.randint(1, 1000, (3, 9))
    mask = (torch.arange(9)[None] < torch.tensor([[9], [4], [6]])).long()
    ref = bert.eval()(input_ids=ids, attention_mask=mask).last_hidden_state
    use_text_dropout_kernel(bert, "keep_mask")
    out = bert.eval()(input_ids=ids, attention_mask=mask).last_hidden_state
    assert torch.equal(out, ref)
    for m in bert.modules():  # dropout 0 everywhere: training computes the evaluation function
        if isinstance(m, torch.nn.Dropout):
            m.p = 0.0
    bert.train()
    for layer in bert.encoder.layer:
        layer.attention.self.dropout.p = 1e-9  # takes the keep-mask path, keeps every entry
    out = bert(input_ids=ids, attention_mask=mask).last_hidden_state
    valid = mask.bool()
    torch.testing.assert_close(out[valid], ref[valid])


def test_keep_mask_dropout_kernel_refuses_a_text_encoder_attention_it_would_replace_silently():
    from transformers import BertModel

    from emtlib.models.text_encoder import use_text_dropout_kernel

    config = BertConfig(hidden_size=32, num_hidden_layers=1, num_attention_heads=4, intermediate_size=64)
    config._attn_implementation = "eager"
    with pytest.raises(ValueError, match="found 'eager': set model.dropout_kernel=native"):
        use_text_dropout_kernel(BertModel(config), "keep_mask")
