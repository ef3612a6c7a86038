"""Baselines MulT and TFR-Net (crossmodal Transformers): parameter counts against the paper's Table 8,
the Transformer pieces by hand (future mask, sinusoidal positions), TFR-Net's reconstruction loss and
masks, cropped batches equal to full-length ones, and the quirks (TFR-Net's final encoder attending
across the batch, its optimizer groups).

Training sanity, frozen-BERT dropout, the double-step training loop and released values shared with the
other baselines: tests/test_baselines_common.py.
"""
from __future__ import annotations

import math

import pytest
import torch
from transformers import BertConfig, BertModel

from emtlib.models.baselines import mult, tfr_net
from emtlib.models.baselines.transformer_encoder import (TransformerEncoder, future_mask,
                                                         sinusoidal_positions)
from tests.baselines_helpers import MODULES, hparams, tiny_batch, tiny_bert, tiny_hparams


# --------------------------------------------------------------------------------- parameter counts

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


# ----------------------------------------------------------------------------- hand-computed pieces

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


# ------------------------------------------------------------------------------------------ lengths

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


# ------------------------------------------------------------------------------------------- quirks

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
