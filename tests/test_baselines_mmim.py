"""Baseline MMIM: its mutual-information bounds by hand (Gaussian log-likelihood, CPC's NCE, the
entropy estimate), the two stages (parameter split and re-initialisation, stage 1 moving only the
MMILB, the memory and entropy schedule with its quirk, the MOSEI stage-1 limit quirk), and training
with both stages.

Presets and the parameter count with bert-base: tests/test_baselines_common.py.
"""
from __future__ import annotations

import math
from dataclasses import replace

import pytest
import torch

from emtlib.models.baselines import mmim
from emtlib.procedures import stage1_limit
from tests.baselines_helpers import eval_loss, hparams, tiny_batch_from_counts, tiny_bert_seeded

pytestmark = pytest.mark.usefixtures("own_rng")  # the tests seed torch's global RNG; restored after each


# ------------------------------------------------------------------------------------------- bounds

def test_lld_hand_computed():
    mu = torch.tensor([[1.0, 0.0], [0.0, 0.0]])
    y = torch.tensor([[0.0, 0.0], [0.0, 2.0]])
    logvar = torch.tensor([[0.0, 0.0], [math.log(2.0), 0.0]])
    # sample 1: -(1)^2/2 = -0.5; sample 2: -0/(2*2) - 2^2/2 = -2  -> mean -1.25
    assert mmim.lld_gaussian(mu, logvar, y).item() == pytest.approx(-1.25)
    torch.manual_seed(3)
    m = mmim.MMILB(6, 4)
    x, yy = torch.randn(5, 6), torch.randn(5, 4)
    lld, samples, H = m(x, yy)
    assert lld.item() == pytest.approx(mmim.lld_gaussian(m.mlp_mu(x), m.mlp_logvar(x), yy).item())
    assert samples == {"pos": None, "neg": None} and H == 0.0


def test_cpc_nce_hand_computed():
    x = torch.tensor([[3.0, 4.0], [1.0, 0.0]])  # -> [[0.6, 0.8], [1, 0]]
    xp = torch.tensor([[0.0, 2.0], [1.0, 1.0]])  # -> [[0, 1], [1/r2, 1/r2]]
    r = 1 / math.sqrt(2)
    pos = [0.8, r]
    lse = [math.log(math.exp(0.8) + math.exp(1.4 * r)), math.log(math.exp(0.0) + math.exp(r))]
    expected = -((pos[0] - lse[0]) + (pos[1] - lse[1])) / 2
    assert mmim.cpc_nce(x, xp).item() == pytest.approx(expected, rel=1e-6)
    # identity case: nce = log(e + 1) - 1
    eye = torch.eye(2)
    assert mmim.cpc_nce(eye, 3 * eye).item() == pytest.approx(math.log(math.e + 1) - 1, rel=1e-6)


def test_gaussian_entropy_hand_computed():
    pos = torch.tensor([[1.0, 0.0], [-1.0, 0.0], [0.0, 1.0], [0.0, -1.0]])  # Sigma = 0.5 I
    neg = 3 * pos  # Sigma = 4.5 I
    # 0.25 * (2 log 0.5 + 2 log 4.5) = 0.5 log 2.25 = log 1.5
    assert mmim.gaussian_entropy(pos, neg).item() == pytest.approx(math.log(1.5), rel=1e-5)


# ------------------------------------------------------------------------------------------- stages

def _mmim(seed=5, **kw):
    torch.manual_seed(seed)
    model = mmim.MMIM(hparams("mmim", "mosi", **kw), tiny_bert_seeded(seed))
    return model


def _two_batches():
    """Two different 8-sample batches with 4 positive and 4 negative labels each (for MMIM's H)."""
    lab = (2.0, -1.5, 0.5, -2.5, 1.0, -0.5, 1.5, -1.0)
    b1 = tiny_batch_from_counts(text_counts=(10, 8, 6, 9, 4, 7, 5, 10),
                                audio_lengths=(7, 3, 5, 1, 6, 2, 4, 7),
                                vision_lengths=(9, 4, 2, 8, 5, 1, 3, 6), labels=lab, seed=1)
    b2 = tiny_batch_from_counts(text_counts=(9, 7, 10, 5, 6, 8, 4, 10),
                                audio_lengths=(2, 7, 4, 6, 1, 3, 5, 7),
                                vision_lengths=(3, 9, 6, 2, 7, 4, 8, 1), labels=lab[::-1], seed=2)
    return b1, b2


def test_mmim_parameter_split_and_reinit():
    model = _mmim()
    before = model.fusion_prj.linear_1.weight.detach().clone()
    g = torch.Generator().manual_seed(0)
    opt_mmilb, opt_main, sched = mmim.make_optimizers(model, generator=g)
    names = {id(t): n for n, t in model.named_parameters()}
    mmilb_names = {names[id(t)] for t in opt_mmilb.param_groups[0]["params"]}
    assert mmilb_names == {n for n, _ in model.named_parameters() if n.startswith("mi_")}
    bert_group, main_group = opt_main.param_groups
    assert all(names[id(t)].startswith("bert.") for t in bert_group["params"])
    assert (bert_group["lr"], main_group["lr"], opt_mmilb.param_groups[0]["lr"]) == (5e-5, 1e-3, 1e-3)
    assert not torch.equal(before, model.fusion_prj.linear_1.weight)  # xavier_normal_ re-init
    w = model.fusion_prj.linear_1.weight
    assert w.std().item() == pytest.approx(math.sqrt(2 / sum(w.shape)), rel=0.15)
    assert isinstance(sched, torch.optim.lr_scheduler.ReduceLROnPlateau) and sched.patience == 20


def test_mmim_stage1_changes_only_mmilb():
    model = _mmim()
    opt_mmilb, _, _ = mmim.make_optimizers(model)
    before = {k: v.detach().clone() for k, v in model.state_dict().items()}
    terms = mmim.stage1_step(model, tiny_batch_from_counts(), opt_mmilb)
    assert math.isfinite(terms["loss"]) and terms["loss"] == pytest.approx(-terms["lld"])
    after = model.state_dict()
    changed = {k for k in before if not torch.equal(before[k], after[k])}
    assert changed, "stage 1 must move the MMILB"
    assert all(k.startswith(("mi_tv.mlp_", "mi_ta.mlp_")) for k in changed), changed
    # quirk 2: entropy_prj gets no stage-1 gradient, so it never moves
    assert not any("entropy_prj" in k for k in changed)


def test_mmim_memory_and_entropy_schedule():
    model = _mmim()
    p = model.preset
    mem = mmim.MMIMMemory(p.mem_size)
    assert mem.view(0) is None
    b0, b = _two_batches()
    with torch.no_grad():
        out0 = model(b0, labels=b0["labels"], mem=mem.view(0))
        assert out0["H"] == 0.0 and out0["pn"]["tv"]["pos"].shape == (4, p.d_vout // 4)
        mem.push(out0["pn"], 0)
        out1 = model(b, labels=b["labels"], mem=mem.view(1))
        assert torch.is_tensor(out1["H"]) and torch.isfinite(out1["H"])
        # H enters the loss only once batch_index > mem_size
        l1 = mmim.stage2_loss(out1, b["labels"], p, batch_index=1)
        l2 = mmim.stage2_loss(out1, b["labels"], p, batch_index=2)
        assert (l1["total"] - l2["total"]).item() == pytest.approx(p.beta * out1["H"].item(), rel=1e-5)
        base = l1["task"] + p.alpha * out1["nce"] - p.beta * out1["lld"]
        assert l1["total"].item() == pytest.approx(base.item(), rel=1e-6)
        # quirk 3: the same 4 positives twice give a singular 4x4 covariance -> H not finite
        dup = mmim.MMIMMemory(p.mem_size)
        dup.push(out1["pn"], 0)
        out_dup = model(b, labels=b["labels"], mem=dup.view(1))
        assert not torch.isfinite(out_dup["H"])
        assert not torch.isfinite(mmim.stage2_loss(out_dup, b["labels"], p, 2)["total"])
        fixed = replace(p, faithful_quirks=False)
        assert torch.isfinite(mmim.stage2_loss(out_dup, b["labels"], fixed, 2)["total"])
    mem.push(out1["pn"], 1)
    assert len(mem.pos["tv"]) == 1  # mem_size 1: replaced, not appended


def test_mmim_stage1_limit_quirk():
    assert stage1_limit("mosei") == ("first", 2)
    assert stage1_limit("mosei", faithful_quirks=False) == ("fraction", 0.5)
    assert stage1_limit("mosi") is None and stage1_limit("sims", faithful_quirks=False) is None


# ----------------------------------------------------------------------------------------- training

def test_mmim_trains_with_both_stages():
    model = _mmim(8, lr_main=3e-3)
    opt_mmilb, opt_main, _ = mmim.make_optimizers(model)
    b1, b2 = _two_batches()
    batches = [b1, b2]

    def task():
        model.eval()
        return sum(model.valid_loss(model(b), b) for b in batches) / 2

    start = eval_loss(task)
    for epoch in range(5):
        for b in batches:
            s1 = mmim.stage1_step(model, b, opt_mmilb)
            assert math.isfinite(s1["loss"])
        memory = mmim.MMIMMemory(model.preset.mem_size)
        for i in range(4):  # batch indices 0..3: H is used from index 2 on
            s2 = mmim.stage2_step(model, batches[i % 2], opt_main, memory, i)
            assert all(math.isfinite(v) for v in s2.values()), s2
    assert s2["H"] != 0.0
    end = eval_loss(task)
    print(f"\nMMIM L1 {start:.3f} -> {end:.3f}")
    assert end < 0.7 * start
