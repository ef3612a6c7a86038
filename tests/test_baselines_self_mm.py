"""Baseline Self-MM: the unimodal label generation (label bank: class centres, an update by hand, labels
that move away from the multimodal ones yet stay bounded, the empty-class quirk), the weighted loss by
hand, the optimizer groups, and training on a fixed batch with the label bank.

Presets and the parameter count with bert-base: tests/test_baselines_common.py.
"""
from __future__ import annotations

import math

import pytest
import torch

from emtlib.models.baselines import self_mm
from tests.baselines_helpers import eval_loss, hparams, tiny_batch_from_counts, tiny_bert_seeded

pytestmark = pytest.mark.usefixtures("own_rng")  # the tests seed torch's global RNG; restored after each


# --------------------------------------------------------------------------------------- label bank

def _bank_with_centres():
    """3 train samples: 0 (+1) and 2 (+1) share positive features, 1 (-1) has the negative ones."""
    dims = {"M": 2, "T": 2, "A": 2, "V": 2}
    bank = self_mm.SelfMMLabelBank(torch.tensor([1.0, -1.0, 1.0]), dims, H=3.0)
    pos = {"M": [1.0, 0.0], "T": [0.0, 1.0], "A": [1.0, 1.0], "V": [2.0, 0.0]}
    feats = {s: torch.tensor([pos[s], [-c for c in pos[s]], pos[s]]) for s in dims}
    bank.update_features(torch.arange(3), feats)
    bank.update_centres()
    return bank


def test_label_bank_centres_and_hand_computed_update():
    bank = _bank_with_centres()
    assert torch.equal(bank.centres["V"]["pos"], torch.tensor([2.0, 0.0]))
    assert torch.equal(bank.centres["V"]["neg"], torch.tensor([-2.0, 0.0]))
    # Sample 2 (y_M = 1) at epoch n = 2, its new features:
    #   fusion (0.5, 0): d_p = 0.5, d_n = 1.5 -> delta_f = 2
    #   text   (0, 0):   delta_s = 0, alpha = 0    -> new = 0.5 (1 + 0 - 2) = -0.5
    #                    y_T = 1/3 * 1 + 2/3 * (-0.5) = 0
    #   audio  (1, 1) = the positive centre: d_p = 0 -> delta_s = 2 r2 / 1e-8 -> new clamped to H = 3
    #                    y_A = 1/3 + 2/3 * 3 = 7/3
    #   video  (-1, 0):  d_p = 3, d_n = 1 -> delta_s = -2/3, alpha = -1/3
    #                    new = 0.5 (-1/3) 1 + 0.5 (1 - 2/3 - 2) = -1 -> y_V = 1/3 - 2/3 = -1/3
    new = {"M": torch.tensor([[0.5, 0.0]]), "T": torch.tensor([[0.0, 0.0]]),
           "A": torch.tensor([[1.0, 1.0]]), "V": torch.tensor([[-1.0, 0.0]])}
    bank.update_labels(torch.tensor([2]), new, epoch=1)  # epoch 1: no update
    assert bank.labels(torch.tensor([2]))["T"].item() == 1.0
    bank.update_labels(torch.tensor([2]), new, epoch=2)
    got = bank.labels(torch.tensor([2]))
    assert got["M"].item() == 1.0  # never changed
    assert got["T"].item() == pytest.approx(0.0, abs=1e-6)
    assert got["A"].item() == pytest.approx(7 / 3, rel=1e-6)
    assert got["V"].item() == pytest.approx(-1 / 3, rel=1e-6)
    # the other samples are untouched
    assert bank.labels(torch.tensor([0, 1]))["T"].tolist() == [1.0, -1.0]


def test_label_bank_moves_away_and_stays_bounded():
    g = torch.Generator().manual_seed(4)
    n, H = 40, 1.0
    y = (torch.rand(n, generator=g) * 2 - 1)
    dims = {"M": 8, "T": 4, "A": 3, "V": 5}
    bank = self_mm.SelfMMLabelBank(y, dims, H=H)
    for epoch in (1, 2, 3, 4):
        for idx in torch.randperm(n, generator=g).split(8):
            f = {s: torch.randn(len(idx), d, generator=g) * 3 for s, d in dims.items()}
            bank.update_labels(idx, f, epoch)
            bank.update_features(idx, f)
            bank.update_centres()
        lab = bank.labels(torch.arange(n))
        if epoch == 1:
            assert all(torch.equal(lab[s], y) for s in "TAV")
    for s in "TAV":
        assert torch.isfinite(lab[s]).all()
        assert lab[s].abs().max() <= H + 1e-6
        assert (lab[s] - y).abs().mean() > 0.05  # generated labels moved away from y_M
    assert torch.equal(lab["M"], y)


def test_label_bank_empty_class_quirk():
    dims = {"M": 2, "T": 2, "A": 2, "V": 2}
    for faithful in (True, False):
        bank = self_mm.SelfMMLabelBank(torch.tensor([1.0, 2.0]), dims, H=3.0, faithful_quirks=faithful)
        bank.update_features(torch.arange(2), {s: torch.ones(2, 2) for s in dims})
        bank.update_centres()
        assert torch.isnan(bank.centres["M"]["neg"]).all() == faithful


# ---------------------------------------------------------------------------------- loss, optimizer

def test_self_mm_weighted_loss_hand_computed():
    out = {"M": torch.tensor([1.0, 0.0]), "T": torch.tensor([0.0, 0.0]),
           "A": torch.tensor([2.0, 0.0]), "V": torch.tensor([0.0, 0.0])}
    lab = {"M": torch.tensor([2.0, 0.0]), "T": torch.tensor([1.0, 0.0]),
           "A": torch.tensor([2.0, 0.5]), "V": torch.tensor([2.0, 0.0])}
    t = self_mm.self_mm_loss(out, lab)
    assert t["M"].item() == pytest.approx(0.5)  # mean(|1-2|, 0)
    assert t["T"].item() == pytest.approx(math.tanh(1.0) * 1.0 / 2)  # w = tanh|1-2|, err 1; sample 2: w=0
    assert t["A"].item() == pytest.approx(math.tanh(0.5) * 0.5 / 2)  # sample 1 err 0; sample 2 w tanh .5
    assert t["V"].item() == pytest.approx(0.0)  # w = tanh 0 = 0 for sample 1; err 0 for sample 2
    assert t["total"].item() == pytest.approx(sum(t[s].item() for s in "MTAV"))


def test_self_mm_optimizer_groups():
    model = self_mm.SelfMM(hparams("self_mm", "mosi"), tiny_bert_seeded())
    opt = self_mm.make_optimizer(model)
    lrs = [g["lr"] for g in opt.param_groups]
    wds = [g["weight_decay"] for g in opt.param_groups]
    assert lrs == [5e-5, 5e-5, 5e-3, 5e-3, 1e-3] and wds == [1e-3, 0.0, 1e-3, 1e-3, 1e-3]
    n_groups = [sum(t.numel() for t in g["params"]) for g in opt.param_groups]
    assert sum(n_groups) == model.num_parameters(inference=False)
    assert n_groups[1] == sum(t.numel() for n, t in model.text_model.named_parameters()
                              if "bias" in n or "LayerNorm" in n)


# ----------------------------------------------------------------------------------------- training

def test_self_mm_trains_on_a_fixed_batch_with_label_bank():
    torch.manual_seed(7)
    # 6 samples: a task can lose all its positive labels; the fixed bank keeps the old centre (quirk 2)
    model = self_mm.SelfMM(hparams("self_mm", "mosi", lr_other=1e-2, faithful_quirks=False),
                           tiny_bert_seeded(7))
    batch = tiny_batch_from_counts()
    bank = self_mm.SelfMMLabelBank.for_model(model, batch["labels"])
    opt = self_mm.make_optimizer(model)

    def l1_m():
        model.eval()
        return model.valid_loss(model(batch), batch)

    start = eval_loss(l1_m)
    for step in range(20):
        model.train()
        opt.zero_grad()
        out = model(batch)
        t = model.loss(out, bank.labels(batch["index"]))
        assert torch.isfinite(t["total"])
        t["total"].backward()
        epoch = 1 + step // 10  # label updates from the 11th step on
        bank.update_labels(batch["index"], out["features"], epoch)
        bank.update_features(batch["index"], out["features"])
        bank.update_centres()
        opt.step()
    lab = bank.labels(batch["index"])
    assert all(torch.isfinite(lab[s]).all() and lab[s].abs().max() <= 3.0 for s in "TAV")
    assert torch.equal(lab["M"], batch["labels"])
    assert any((lab[s] - lab["M"]).abs().max() > 0.1 for s in "TAV")
    end = eval_loss(l1_m)
    print(f"\nSelf-MM L1(M) {start:.3f} -> {end:.3f}")
    assert end < 0.5 * start  # the multimodal L1 (the validation key) fell
