"""Baselines TFN, LMF, MulT and TFR-Net: parameter counts, hand-computed pieces, training sanity, quirks."""
from __future__ import annotations

import math
from dataclasses import replace

import pytest
import torch
from transformers import BertConfig, BertModel

from emtlib.models.baselines import lmf, mult, tfn, tfr_net
from emtlib.config import paper_config, paper_hparams
from emtlib.procedures import accumulation_step_schedule, make_baseline_procedure
from emtlib.models.baselines.transformer_encoder import (TransformerEncoder, future_mask,
                                                         sinusoidal_positions)

MODULES = {"tfn": (tfn, tfn.TFN), "lmf": (lmf, lmf.LMF), "mult": (mult, mult.MulT),
           "tfr_net": (tfr_net, tfr_net.TFRNet)}
TINY = dict(text_len=8, audio_len=12, vision_len=10)  # MOSI feature dims, tiny padded lengths


def hparams(method: str, dataset: str, source: str | None = None, **changes):
    """The released hyperparameters of `method` on `dataset` (from `source`), with `changes`."""
    return replace(paper_hparams(method, dataset, source), **changes)


def tiny_bert(dropout: float = 0.1) -> BertModel:
    torch.manual_seed(0)
    return BertModel(BertConfig(hidden_size=32, num_hidden_layers=1, num_attention_heads=2,
                                intermediate_size=64, vocab_size=30522, hidden_dropout_prob=dropout,
                                attention_probs_dropout_prob=dropout))


def tiny_batch(seed: int = 0, L: int = 8, audio_lengths=(10, 7, 5, 3), vision_lengths=(8, 6, 4, 2),
               n_tok=(8, 6, 5, 3), rate: float = 0.4) -> dict:
    """A batch in the collate contract; audio/vision cropped to the batch maximum (10 and 8)."""
    g = torch.Generator().manual_seed(seed)
    B = len(n_tok)
    text = torch.zeros(B, 3, L, dtype=torch.long)
    for i, n in enumerate(n_tok):
        text[i, 0, 0], text[i, 0, n - 1] = 101, 102
        text[i, 0, 1:n - 1] = torch.randint(1000, 2000, (n - 2,), generator=g)
        text[i, 1, :n] = 1
    valid_t = text[:, 1].bool()
    kept_t = valid_t & (torch.rand(B, L, generator=g) > rate)
    kept_t[:, 0] = True
    kept_t[torch.arange(B), torch.tensor(n_tok) - 1] = True
    text_m = text.clone()
    text_m[:, 0][valid_t & ~kept_t] = 100
    batch = {"text": text, "text_m": text_m, "text_kept": kept_t,
             "labels": torch.tensor([2.0, -1.5, 0.5, -2.5])[:B], "index": torch.arange(B),
             "id": [f"v{i}" for i in range(B)]}
    for m, lengths, D in (("audio", audio_lengths, 5), ("vision", vision_lengths, 20)):
        lengths = torch.tensor(lengths)
        T = int(lengths.max())
        valid = torch.arange(T)[None] < lengths[:, None]
        x = torch.randn(B, T, D, generator=g) * valid[..., None]
        kept = valid & (torch.rand(B, T, generator=g) > rate)
        batch.update({m: x, f"{m}_m": x * kept[..., None], f"{m}_lengths": lengths, f"{m}_kept": kept})
    return batch


def tiny_hparams(method: str, faithful: bool = True, no_dropout: bool = False):
    p = hparams(method, "mosi", faithful_quirks=faithful, **TINY)
    if method in ("tfn", "lmf"):  # small fusion tensors keep the tests fast
        p = replace(p, audio_hidden=8, video_hidden=8, text_hidden=16)
        if method == "tfn":
            p = replace(p, text_out=8, post_fusion_dim=16)
    if no_dropout:
        p = replace(p, **{f: 0.0 for f in p.__dataclass_fields__ if "drop" in f})
    return p


# ----------------------------------------------------------------------------- parameter counts

@pytest.fixture(scope="module")
def bert_base():
    return BertModel(BertConfig())  # random bert-base-uncased: 109,482,240 parameters with the pooler


def n_params(model, exclude: str | None = None) -> int:
    return sum(q.numel() for n, q in model.named_parameters() if not (exclude and n.startswith(exclude)))


def test_bert_base_count(bert_base):
    assert n_params(bert_base) == 109_482_240


def test_mult_parameters_match_table8(bert_base):
    """Official (authors') MOSI MulT with frozen bert-base: 111,039,001 = paper Table 8's 111.0M.

    By hand: convs 768*40*1 + 5*40*5 + 20*40*1 = 32,520; 6 cross-modal encoders of 4 layers at d=40
    (12d^2 + 13d per layer + 2d final LN) = 473,760; 3 memory encoders of 4 layers at 2d=80 =
    934,560; head (240x240 twice + 240x1) = 115,921; BERT (pooler included) 109,482,240.
    """
    model = mult.MulT(hparams("mult", "mosi"), bert_base)
    assert n_params(model) == 111_039_001
    assert n_params(model, exclude="text_encoder.") == 1_556_761
    assert abs(n_params(model) / 1e6 - 111.0) < 0.1


def test_tfr_net_parameters_match_table8(bert_base):
    """Official (authors') MOSI TFR-Net: 124,260,697 inference parameters, the paper's 124.3M
    (Table 8 counts no "networks for feature reconstruction", i.e. not the three generators,
    72,163); with the generators 124,332,860, which would also round to 124.3M.

    The three 'final' encoders, whose embedding dim is the padded length T = 50 / 375 / 500 (1 head,
    3 layers: 12T^2 + 13T per layer + 2T), hold 14,190,425 of the 14,850,620 non-BERT parameters.
    """
    model = tfr_net.TFRNet(hparams("tfr_net", "mosi"), bert_base)
    total = n_params(model)
    generators = sum(q.numel() for n, q in model.named_parameters() if n.startswith("generator"))
    finals = sum(q.numel() for n, q in model.named_parameters() if "_final." in n)
    assert total == 124_332_860 and generators == 72_163 and finals == 14_190_425
    assert abs(total / 1e6 - 124.3) < 0.1 and abs((total - generators) / 1e6 - 124.3) < 0.1


# ----------------------------------------------------------------------------- forward, backward, overfitting

@pytest.mark.parametrize("faithful", [True, False])
@pytest.mark.parametrize("method", list(MODULES))
def test_forward_backward_finite(method, faithful):
    module, cls = MODULES[method]
    p = tiny_hparams(method, faithful)
    model = cls(p, tiny_bert())
    batch = tiny_batch()
    out = model(batch)
    assert out["pred"].shape == (4,)
    total, terms = model.loss(out, batch, epoch=2)
    assert torch.isfinite(total) and all(math.isfinite(v) for v in terms.values())
    total.backward()
    opt, _ = module.make_optimizer(model, p, faithful)
    names = {id(q): n for n, q in model.named_parameters()}
    trained = [q for g in opt.param_groups for q in g["params"]]
    assert trained and all(torch.isfinite(q.grad).all() for q in trained if q.grad is not None)
    # every optimised parameter gets a gradient, except BERT's pooler (unused by TFR-Net)
    assert all(q.grad is not None for q in trained if ".pooler." not in names[id(q)])
    # frozen text encoders (TFN, LMF, MulT) get no gradient and are not optimised
    if method != "tfr_net":
        assert all(q.grad is None and not q.requires_grad for q in model.text_encoder.parameters())


# TFN/LMF train slowly at their preset learning rates (5e-4 / 1e-3, small nets): a clear but
# smaller drop in 20 steps is what they show; the Transformers overfit fast.
DROP = {"tfn": 0.99, "lmf": 0.99, "mult": 0.7, "tfr_net": 0.7}


@pytest.mark.parametrize("method", list(MODULES))
def test_loss_decreases_on_a_fixed_batch(method):
    module, cls = MODULES[method]
    p = tiny_hparams(method, faithful=True, no_dropout=True)
    torch.manual_seed(1)
    model = cls(p, tiny_bert(dropout=0.0)).train()
    batch = tiny_batch()
    opt, _ = module.make_optimizer(model, p)
    clip = p.grad_clip if method in ("mult", "tfr_net") else None
    losses = []
    for _ in range(20):
        opt.zero_grad()
        total, _ = model.loss(model(batch), batch, epoch=2)
        total.backward()
        if clip is not None:
            torch.nn.utils.clip_grad_value_([q for q in model.parameters() if q.requires_grad], clip)
        opt.step()
        losses.append(total.item())
    assert sum(losses[-5:]) / 5 < DROP[method] * losses[0], losses  # Adam at lr 1e-3 oscillates


# ----------------------------------------------------------------------------- hand-computed pieces

def test_tfn_fusion_dimension_and_2x2_example():
    z = tfn.tensor_fusion(torch.tensor([[2.0]]), torch.tensor([[3.0]]), torch.tensor([[5.0]]))
    # [1,2] (x) [1,3] (x) [1,5], text fastest: a_i v_j t_k for (i,j,k) in row-major order
    assert z.tolist() == [[1.0, 5.0, 3.0, 15.0, 2.0, 10.0, 6.0, 30.0]]
    p = hparams("tfn", "mosi")  # MMSA MOSI: (32+1)(128+1)(32+1)
    model = tfn.TFN(replace(p, **TINY), tiny_bert())
    assert model.post_fusion_layer_1.in_features == 33 * 129 * 33 == 140_481
    out = model.eval()(tiny_batch())
    assert out["fusion"].shape == (4, 140_481)
    assert ((out["pred"] > -3) & (out["pred"] < 3)).all()


def test_time_average_divides_by_full_padded_length():
    x = torch.tensor([[[1.0], [2.0], [0.0]]])  # cropped batch, the dataset pads to 5 frames
    assert tfn.time_average(x, 5).item() == pytest.approx(0.6)
    with pytest.raises(ValueError, match="full padded length"):
        tfn.time_average(x, 2)


def test_lmf_low_rank_fusion_equals_explicit_tensor_formula():
    g = torch.Generator().manual_seed(0)
    B, a, v, t, r = 3, 2, 3, 2, 4
    z_a, z_v, z_t = (torch.randn(B, n, generator=g) for n in (a, v, t))
    W_a, W_v, W_t = (torch.randn(r, n + 1, 1, generator=g) for n in (a, v, t))
    w, b = torch.randn(1, r, generator=g), torch.randn(1, 1, generator=g)
    got = lmf.low_rank_fusion(z_a, z_v, z_t, W_a, W_v, W_t, w, b)
    # explicit: W = sum_r w_r W_a^r (x) W_v^r (x) W_t^r, out = <W, Z> + b with Z = z'_a (x) z'_v (x) z'_t
    W = torch.einsum("r,ri,rj,rk->ijk", w[0], W_a[..., 0], W_v[..., 0], W_t[..., 0])
    one = torch.ones(B, 1)
    za, zv, zt = (torch.cat([one, z], 1) for z in (z_a, z_v, z_t))
    Z = torch.einsum("bi,bj,bk->bijk", za, zv, zt)
    want = (Z * W).sum(dim=(1, 2, 3)) + b[0, 0]
    torch.testing.assert_close(got, want)


def test_future_mask_matches_triu_on_a_tiny_case():
    inf = float("-inf")
    want = torch.tensor([[0, 0, 0, inf, inf],
                         [0, 0, 0, 0, inf],
                         [0, 0, 0, 0, 0]])  # T_q = 3, T_k = 5: diagonal 1 + |5 - 3| = 3
    assert torch.equal(future_mask(3, 5), want)
    assert torch.equal(future_mask(2, 2), torch.tensor([[0, inf], [0, 0]]))
    # and it makes self-attention causal: step 0 ignores later steps
    enc = TransformerEncoder(8, 2, 2, attn_mask=True).eval()
    x = torch.randn(5, 1, 8)
    y = x.clone()
    y[3:] = torch.randn(2, 1, 8)
    torch.testing.assert_close(enc(x)[:3], enc(y)[:3])


def test_sinusoidal_positions_zero_where_first_channel_is_zero():
    x = torch.ones(4, 2, 6)
    x[2, 1, 0] = 0.0
    pe = sinusoidal_positions(x)
    assert pe.shape == (4, 2, 6) and torch.all(pe[2, 1] == 0)
    # position t+1 otherwise: sines first, then cosines, frequency exp(-i ln(1e4)/(half-1))
    freq = torch.exp(torch.arange(3.0) * -(math.log(10000.0) / 2))
    torch.testing.assert_close(pe[1, 0], torch.cat([torch.sin(2 * freq), torch.cos(2 * freq)]))


def test_tfr_net_reconstruction_loss_by_hand():
    pred = torch.tensor([[[0.5, 2.0], [9.0, 9.0]]])  # (B=1, T=2, D=2)
    target = torch.zeros(1, 2, 2)
    mask = torch.tensor([[True, False]])  # only step 0 is reconstructed
    # SmoothL1(0.5) = 0.5 * 0.5^2 = 0.125; SmoothL1(2.0) = 2 - 0.5 = 1.5; count 2 (1 step x 2 dims)
    got = tfr_net.reconstruction_loss(pred, target, mask)
    assert got.item() == pytest.approx(1.625 / (2 + 1e-4), rel=1e-6)
    # the CMD term is added, divided by the same count
    with_cmd = tfr_net.reconstruction_loss(pred, target, mask, weight_sim=5.0)
    m = torch.tensor([[[1.0, 1.0], [0.0, 0.0]]])
    want = got + 5.0 * tfr_net.cmd(pred * m, target * m) / (2 + 1e-4)
    assert with_cmd.item() == pytest.approx(want.item(), rel=1e-6)


def test_accumulation_schedule_by_hand():
    T, F_ = True, False
    assert accumulation_step_schedule(10, 4, double_step=True) == [
        (T, 1), (F_, 1), (F_, 1), (F_, 2), (T, 1), (F_, 1), (F_, 1), (F_, 2), (T, 1), (F_, 1)]
    assert accumulation_step_schedule(10, 4, double_step=False) == [
        (T, 0), (F_, 0), (F_, 0), (F_, 1), (T, 0), (F_, 0), (F_, 0), (F_, 1), (T, 0), (F_, 0)]
    assert accumulation_step_schedule(3, 1, double_step=False) == [(T, 1)] * 3


# ----------------------------------------------------------------------------- lengths

@pytest.mark.parametrize("method", ["mult", "tfr_net"])
def test_cropped_batch_equals_full_length_batch(method):
    """Padding back to the dataset's lengths inside the model reproduces the uncropped input."""
    module, cls = MODULES[method]
    model = cls(tiny_hparams(method), tiny_bert()).eval()
    batch = tiny_batch()
    full = dict(batch)
    for m, T in (("audio", 12), ("vision", 10)):
        for k in (m, f"{m}_m", f"{m}_kept"):
            x = batch[k]
            full[k] = torch.cat([x, x.new_zeros((x.shape[0], T - x.shape[1]) + x.shape[2:])], 1)
    with torch.no_grad():
        torch.testing.assert_close(model(batch)["pred"], model(full)["pred"])


def test_tfr_net_masks_and_zero_rate():
    model = tfr_net.TFRNet(tiny_hparams("tfr_net"), tiny_bert()).eval()
    batch = tiny_batch()
    with torch.no_grad():
        out = model(batch)
    assert out["recon"]["audio"].shape == (4, 12, 5) and out["recon"]["text"].shape == (4, 8, 32)
    mask_a = out["recon_mask"]["audio"][:, :10]
    valid_a = torch.arange(10)[None] < batch["audio_lengths"][:, None]
    assert torch.equal(mask_a, valid_a & ~batch["audio_kept"])
    assert not out["recon_mask"]["audio"][:, 10:].any()
    clean = tiny_batch(rate=0.0)  # kept == valid: nothing to reconstruct, generation loss 0
    with torch.no_grad():
        _, terms = model.loss(model(clean), clean, epoch=2)
    assert terms["gen"] == 0.0 and terms["total"] == pytest.approx(terms["pred_l1"])
    _, epoch1 = model.loss(out, batch, epoch=1)
    assert epoch1["total"] == pytest.approx(epoch1["pred_l1"]) and epoch1["gen"] > 0


# ----------------------------------------------------------------------------- quirks

def test_tfn_parameters_slice_drops_only_the_output_constants():
    """`list(model.parameters())[2:]` drops output_range and output_shift (own parameters come
    before the children's), NOT the audio BatchNorm as an earlier reading had it: same trained set
    either way."""
    p = tiny_hparams("tfn")
    model = tfn.TFN(p, tiny_bert())
    first_two = list(model.parameters())[:2]
    assert first_two[0] is model.output_range and first_two[1] is model.output_shift
    quirky = {id(q) for g in tfn.optimizer_groups(model, p, True) for q in g["params"]}
    fixed = {id(q) for g in tfn.optimizer_groups(model, p, False) for q in g["params"]}
    assert quirky == fixed == {id(q) for q in model.parameters() if q.requires_grad}
    assert id(model.audio_subnet.norm.weight) in quirky


def test_lmf_optimizer_quirk_index_groups():
    """[:3] are the factors (own parameters come first); fusion_weights/bias (indices 3, 4) never
    train when faithful; fixed puts them in the `lr` group."""
    p = tiny_hparams("lmf")
    model = lmf.LMF(p, tiny_bert())
    factors = [model.audio_factor, model.video_factor, model.text_factor]
    fusion = {id(model.fusion_weights), id(model.fusion_bias)}
    g_quirk = lmf.optimizer_groups(model, p, True)
    assert [id(q) for q in g_quirk[0]["params"]] == [id(f) for f in factors]
    assert g_quirk[0]["lr"] == p.lr_factors and g_quirk[1]["lr"] == p.lr
    quirk_ids = {id(q) for g in g_quirk for q in g["params"]}
    trainable = {id(q) for q in model.parameters() if q.requires_grad}
    assert trainable - quirk_ids == fusion
    assert id(model.audio_subnet.norm.weight) in {id(q) for q in g_quirk[1]["params"]}
    g_fixed = lmf.optimizer_groups(model, p, False)
    assert [id(q) for q in g_fixed[0]["params"]] == [id(f) for f in factors]
    assert {id(q) for g in g_fixed for q in g["params"]} == trainable
    assert all(g["weight_decay"] == p.wd for g in g_quirk + g_fixed)


def procedure(method: str, **changes):
    """The training procedure `fit` runs for `method` on MOSI (a tiny model; only the loop settings
    are looked at)."""
    cfg = replace(paper_config("mosi", method), baseline=hparams(method, "mosi", **changes))
    module, cls = MODULES[method]
    return make_baseline_procedure(cfg, cls(tiny_hparams(method), tiny_bert()), torch.device("cpu"))


def test_double_step_quirk_and_procedures():
    for method in ("mult", "tfr_net"):
        assert procedure(method).double_step
        assert not procedure(method, faithful_quirks=False).double_step
    assert not procedure("mult", double_step=False).double_step  # MMSA's MulT trainer
    assert not hparams("mult", "mosi", source="mmsa").double_step
    m = procedure("mult")
    assert (m.update_epochs, m.clip_value, m.early_stop, m.batch_size) == (8, 0.8, 8, 4)
    t = procedure("tfr_net")
    assert (t.update_epochs, t.clip_value, t.early_stop, t.batch_size) == (4, 0.8, 6, 16)
    assert hparams("tfr_net", "mosi").gen_loss_from_epoch == 2
    for method in ("tfn", "lmf"):  # MMSA's plain loop: one batch per step, no clipping
        p = procedure(method)
        assert (p.update_epochs, p.double_step, p.clip_value) == (1, False, None)
    opt, sched = mult.make_optimizer(mult.MulT(tiny_hparams("mult"), tiny_bert()), hparams("mult", "mosi"))
    assert (sched.patience, sched.factor) == (20, 0.1)


def test_tfr_net_final_encoder_attends_across_batch_only_when_faithful():
    """Faithful: sample 1's reconstruction changes when sample 0's input changes (causal over the
    batch); fixed: samples are independent."""
    batch = tiny_batch()
    other = dict(batch)
    other["audio_m"] = batch["audio_m"].clone()
    other["audio_m"][0] += 1.0
    for faithful in (True, False):
        torch.manual_seed(0)
        model = tfr_net.TFRNet(tiny_hparams("tfr_net", faithful), tiny_bert()).eval()
        with torch.no_grad():
            r1, r2 = model(batch)["recon"]["text"], model(other)["recon"]["text"]
        assert not torch.allclose(r1[0], r2[0])  # sample 0 itself changes either way
        assert torch.allclose(r1[3], r2[3]) != faithful


def test_tfr_net_optimizer_groups():
    p = tiny_hparams("tfr_net")
    model = tfr_net.TFRNet(p, tiny_bert())
    decay, no_decay, other = tfr_net.optimizer_groups(model, p)
    names = {id(q): n for n, q in model.named_parameters()}
    assert all("bias" not in names[id(q)] and "LayerNorm" not in names[id(q)] for q in decay["params"])
    assert all("bias" in names[id(q)] or "LayerNorm" in names[id(q)] for q in no_decay["params"])
    assert (decay["lr"], decay["weight_decay"], no_decay["weight_decay"]) == (1e-5, 1e-4, 0.0)
    assert (other["lr"], other["weight_decay"]) == (2e-3, 1e-3)
    assert len(decay["params"]) + len(no_decay["params"]) + len(other["params"]) == len(
        list(model.parameters()))


@pytest.mark.parametrize("method", ["tfn", "lmf", "mult"])
def test_frozen_bert_dropout_follows_train_mode_only_when_faithful(method):
    _, cls = MODULES[method]
    assert cls(tiny_hparams(method, True), tiny_bert()).train().text_encoder.training
    assert not cls(tiny_hparams(method, False), tiny_bert()).train().text_encoder.training


# ----------------------------------------------------------------------------- released values

def test_released_values_per_source():
    p = hparams("mult", "mosi")  # the authors' values
    assert (p.double_step, p.d_model, p.heads, p.conv_kernel_a, p.batch_size, p.grad_clip) == (
        True, 40, 10, 5, 4, 0.8)
    assert (p.audio_len, p.vision_len, p.audio_dim, p.vision_dim) == (375, 500, 5, 20)
    assert hparams("mult", "mosi", source="mmsa").d_model == 50
    q = hparams("tfr_net", "mosei", source="mmsa")
    assert q.weight_gen_loss == (5e-6, 2e-6, 2e-5) and q.weight_sim_loss == 5.0 and q.final_heads == 25
    assert hparams("tfr_net", "sims").weight_gen_loss == (1.0, 0.01, 1e-4)
    assert hparams("lmf", "sims").lr_factors == 5e-4 and hparams("lmf", "sims").text_hidden == 64
    t = hparams("tfn", "mosi", source="tfr_net")
    assert (t.audio_hidden, t.text_out, t.post_fusion_dim, t.lr) == (16, 128, 32, 5e-4)
    assert hparams("tfn", "sims").vision_len == 55
    with pytest.raises(ValueError, match="available"):
        hparams("tfn", "mosi", source="authors")
    with pytest.raises(ValueError, match="does not divide"):
        tfr_net.TFRNet(hparams("tfr_net", "sims", source="mmsa"), tiny_bert())
