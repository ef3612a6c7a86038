"""Baseline tests over several models: forward and backward finite and the loss decreasing on a fixed
batch (TFN, LMF, MulT, TFR-Net), frozen-BERT dropout (TFN, LMF, MulT), the training procedures
(gradient accumulation schedule, MulT/TFR-Net's double step against TFN/LMF's plain loop), the
released hyperparameters per source (all seven baselines), and the parameter counts with bert-base of
MISA, Self-MM and MMIM.

Each model's own tests: tests/test_baselines_{tensor_fusion,crossmodal,misa,self_mm,mmim}.py.
"""
from __future__ import annotations

import math
from dataclasses import replace

import pytest
import torch
from transformers import BertConfig, BertModel

from emtlib.config import paper_config
from emtlib.config.baselines import MISAHParams, MMIMHParams, SelfMMHParams
from emtlib.models.baselines import misa, mmim, mult, self_mm, tfr_net
from emtlib.procedures import accumulation_step_schedule, make_baseline_procedure
from tests.baselines_helpers import MODULES, hparams, tiny_batch, tiny_bert, tiny_hparams


# ----------------------------------------- forward, backward, overfitting (TFN, LMF, MulT, TFR-Net)

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


@pytest.mark.parametrize("method", ["tfn", "lmf", "mult"])
def test_frozen_bert_dropout_follows_train_mode_only_when_faithful(method):
    _, cls = MODULES[method]
    assert cls(tiny_hparams(method, True), tiny_bert()).train().text_encoder.training
    assert not cls(tiny_hparams(method, False), tiny_bert()).train().text_encoder.training


# ------------------------------------------------------------------------------ training procedures

def test_accumulation_schedule_by_hand():
    T, F_ = True, False
    assert accumulation_step_schedule(10, 4, double_step=True) == [
        (T, 1), (F_, 1), (F_, 1), (F_, 2), (T, 1), (F_, 1), (F_, 1), (F_, 2), (T, 1), (F_, 1)]
    assert accumulation_step_schedule(10, 4, double_step=False) == [
        (T, 0), (F_, 0), (F_, 0), (F_, 1), (T, 0), (F_, 0), (F_, 0), (F_, 1), (T, 0), (F_, 0)]
    assert accumulation_step_schedule(3, 1, double_step=False) == [(T, 1)] * 3


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


# --------------------------------------------------------------------------- released values, sizes

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


@pytest.mark.usefixtures("own_rng")  # as in the MISA, Self-MM and MMIM files
def test_presets_tables():
    assert hparams("misa", "mosei").dropout == 0.5 and hparams("misa", "sims").recon_weight == 0.8
    tfr = hparams("misa", "mosi", source="tfr_net")
    assert (tfr.batch_size, tfr.diff_weight, tfr.sim_weight, tfr.recon_weight, tfr.grad_clip) == \
        (64, 0.3, 0.8, 0.8, 1.0)
    s = hparams("self_mm", "sims")
    assert (s.H, s.v_lstm_hidden, s.post_text_dim, s.audio_dim, s.vision_dim) == \
        (1.0, 64, 64, 33, 709)
    assert hparams("self_mm", "mosei").lr_video == 1e-4 and hparams("self_mm", "mosei").wd_other == 1e-2
    m = hparams("mmim", "mosei")
    assert isinstance(m, MMIMHParams) and (m.audio_dim, m.vision_dim, m.alpha, m.beta, m.mem_size) == \
        (74, 35, 0.1, 0.1, 1)
    assert isinstance(hparams("misa", "mosi"), MISAHParams) and isinstance(s, SelfMMHParams)
    with pytest.raises(ValueError, match="available"):
        hparams("mmim", "mosi", source="tfr_net")
    with pytest.raises(ValueError, match="iemocap"):
        hparams("misa", "iemocap")
    assert replace(hparams("misa", "mosi"), faithful_quirks=False).faithful_quirks is False


@pytest.mark.usefixtures("own_rng")  # as in the MISA, Self-MM and MMIM files
def test_parameter_counts_bert_base_mosi():
    bert = BertModel(BertConfig())  # random bert-base-uncased: 109,482,240 parameters
    assert sum(t.numel() for t in bert.parameters()) == 109_482_240
    counts = {}
    for name, cls in (("misa", misa.MISA), ("self_mm", self_mm.SelfMM), ("mmim", mmim.MMIM)):
        model = cls(hparams(name, "mosi"), bert)
        counts[name] = (model.num_parameters(inference=True), model.num_parameters(inference=False))
    print("\nMOSI parameter counts (inference, total):", counts)
    for inf, tot in counts.values():
        assert 109.5e6 <= inf <= 111e6 and inf <= tot
    # Worked out by hand from the architectures (see the module docstrings):
    # MISA: LSTMs+LN audio 1,180, video 16,720; projections 98,688 + 2,944 + 10,624; private/shared 66,048;
    #       transformer layer 593,024; fusion 295,681; recon 49,536 (training only); dead modules 3,588.
    assert counts["misa"] == (110_567_149, 110_620_273)
    # Self-MM: subnets 1,472 + 272 + 6,912 + 1,056; heads M 121,217, T 25,697, A 561, V 2,145 (T/A/V: training).
    assert counts["self_mm"] == (109_613_169, 109_641_572)
    # MMIM: encoders 3,472 + 5,392; fusion 119,169; MMILB 2 x 25,220 and CPC 103,200 (training only).
    assert counts["mmim"] == (109_610_273, 109_763_913)
