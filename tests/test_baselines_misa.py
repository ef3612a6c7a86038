"""Baseline MISA: its losses by hand (the difference loss with its detached norm, CMD), the total loss
with the preset weights, the text-length quirk and its fix, the optimizer, and training on a fixed batch.

Presets and the parameter count with bert-base: tests/test_baselines_common.py.
"""
from __future__ import annotations

import math

import pytest
import torch

from emtlib.models.baselines import misa
from tests.baselines_helpers import eval_loss, hparams, tiny_batch_from_counts, tiny_bert_seeded

pytestmark = pytest.mark.usefixtures("own_rng")  # the tests seed torch's global RNG; restored after each


# ------------------------------------------------------------------------------------------- losses

X1 = torch.tensor([[1.0, 2.0], [3.0, 4.0], [5.0, 0.0]])
X2 = torch.tensor([[0.0, 1.0], [2.0, 1.0], [1.0, 4.0]])


def test_diff_loss_hand_computed():
    # centred X1 = [[-2,0],[0,2],[2,-2]], row norms 2, 2, 2*sqrt2 -> [[-1,0],[0,1],[1/r2,-1/r2]]
    # centred X2 = [[-1,-1],[1,-1],[0,2]], row norms r2, r2, 2 -> [[-1/r2,-1/r2],[1/r2,-1/r2],[0,1]]
    # X1n^T X2n = [[1/r2, r2], [1/r2, -r2]] -> squares 0.5, 2, 0.5, 2 -> mean 1.25
    assert misa.diff_loss(X1, X2).item() == pytest.approx(1.25, abs=1e-5)
    # the norm is detached: the gradient equals that of the same formula with constant norms
    a = X1.clone().requires_grad_(True)
    misa.diff_loss(a, X2).backward()
    b = X1.clone().requires_grad_(True)
    n1 = torch.tensor([[2.0], [2.0], [2 * math.sqrt(2)]]) + 1e-6
    n2 = torch.tensor([[math.sqrt(2)], [math.sqrt(2)], [2.0]]) + 1e-6
    c1, c2 = (b - b.mean(0)) / n1, (X2 - X2.mean(0)) / n2
    (c1.t() @ c2).pow(2).mean().backward()
    assert torch.allclose(a.grad, b.grad, atol=1e-6)


def test_cmd_hand_computed():
    # means (3,2) vs (1,2): ||(2,0)|| = 2
    # k=2: (8/3, 8/3) vs (2/3, 2)   -> sqrt(4 + 4/9)
    # k=3: (0, 0)     vs (0, 2)     -> 2
    # k=4: (32/3, 32/3) vs (2/3, 6) -> sqrt(100 + 196/9)
    # k=5: (0, 0)     vs (0, 10)    -> 10
    expected = 2 + math.sqrt(40 / 9) + 2 + math.sqrt(1096 / 9) + 10
    assert misa.cmd(X1, X2, 5).item() == pytest.approx(expected, rel=1e-6)
    assert misa.cmd(X1, X2, 1).item() == pytest.approx(2.0)
    assert misa.cmd(X1, X1, 5).item() == pytest.approx(0.0, abs=1e-6)


def test_misa_loss_combines_terms_with_preset_weights():
    torch.manual_seed(1)
    model = misa.MISA(hparams("misa", "mosi"), tiny_bert_seeded()).eval()
    batch = tiny_batch_from_counts()
    with torch.no_grad():
        out = model(batch)
        t = model.loss(out, batch)
    p = model.preset
    assert (p.diff_weight, p.sim_weight, p.recon_weight) == (0.1, 0.3, 1.0)
    assert t["task"].item() == pytest.approx(((out["pred"] - batch["labels"]) ** 2).mean().item(), rel=1e-6)
    sh = out["shared"]
    sim = (misa.cmd(sh["t"], sh["v"]) + misa.cmd(sh["t"], sh["a"]) + misa.cmd(sh["a"], sh["v"])) / 3
    assert t["cmd"].item() == pytest.approx(sim.item(), rel=1e-6)
    total = t["task"] + 0.1 * t["diff"] + 0.3 * t["cmd"] + 1.0 * t["recon"]
    assert t["total"].item() == pytest.approx(total.item(), rel=1e-6)


# -------------------------------------------------------------------------------- quirks, optimizer

def test_misa_text_length_quirk_and_fix():
    torch.manual_seed(2)
    bert = tiny_bert_seeded()
    # text counts up to 10 > cropped audio length 7 and > some vision lengths
    batch = tiny_batch_from_counts()
    assert int(batch["text"][:, 1].sum(1).max()) > batch["audio_m"].shape[1]
    faithful = misa.MISA(hparams("misa", "mosi"), bert).eval()
    fixed = misa.MISA(hparams("misa", "mosi", faithful_quirks=False), bert).eval()
    fixed.load_state_dict(faithful.state_dict(), strict=False)
    # Faithful: zero-padding to the original full length (as in the MMSA pickle) changes nothing.
    padded = dict(batch, audio_m=torch.nn.functional.pad(batch["audio_m"], (0, 0, 0, 30)),
                  vision_m=torch.nn.functional.pad(batch["vision_m"], (0, 0, 0, 30)))
    with torch.no_grad():
        assert torch.allclose(faithful(batch)["pred"], faithful(padded)["pred"], atol=1e-6)
    # Frames past each clip's end: read by the faithful model (text-count lengths), ignored by the fix.
    noisy = dict(batch)
    for key, len_key in (("audio_m", "audio_lengths"), ("vision_m", "vision_lengths")):
        x = batch[key].clone()
        T = x.shape[1]
        beyond = torch.arange(T)[None, :] >= batch[len_key][:, None]
        x[beyond] = 5.0
        noisy[key] = x
    with torch.no_grad():
        assert torch.allclose(fixed(batch)["pred"], fixed(noisy)["pred"], atol=1e-6)
        assert not torch.allclose(faithful(batch)["pred"], faithful(noisy)["pred"], atol=1e-4)
    # dead modules exist only in the faithful build and are not used
    assert hasattr(faithful, "unused_sp_discriminator") and not hasattr(fixed, "unused_sp_discriminator")


def test_misa_optimizer_single_adam_without_weight_decay():
    model = misa.MISA(hparams("misa", "mosi"), tiny_bert_seeded())
    opt = misa.make_optimizer(model)
    assert len(opt.param_groups) == 1
    assert opt.param_groups[0]["weight_decay"] == 0 and opt.param_groups[0]["lr"] == 1e-4
    assert sum(t.numel() for t in opt.param_groups[0]["params"]) == model.num_parameters(inference=False)
    h = hparams("misa", "mosi")
    assert (h.grad_clip, h.update_epochs) == (0.8, 2)


# ----------------------------------------------------------------------------------------- training

def test_misa_trains_on_a_fixed_batch():
    torch.manual_seed(6)
    model = misa.MISA(hparams("misa", "mosi", lr=1e-3, dropout=0.0), tiny_bert_seeded(6))
    batch = tiny_batch_from_counts()
    opt = misa.make_optimizer(model)

    def total():
        model.eval()
        return model.loss(model(batch), batch)["total"]

    start = eval_loss(total)
    for _ in range(20):
        model.train()
        opt.zero_grad()
        t = model.loss(model(batch), batch)
        assert torch.isfinite(t["total"])
        t["total"].backward()
        misa.clip_gradients(model)
        opt.step()
    assert all(v.grad is not None and torch.isfinite(v.grad).all() for n, v in model.named_parameters()
               if not n.startswith("unused_") and "pooler" not in n)
    end = eval_loss(total)
    print(f"\nMISA total loss {start:.3f} -> {end:.3f}")
    assert end < 0.5 * start


def test_cmd_keeps_finite_gradients_when_a_batch_has_no_spread():
    """Every modality missing (rate 1.0) gives identical rows: the original sqrt(0) has an
    infinite gradient (NaN weights); ours is 0 there and the original everywhere else."""
    from emtlib.models.baselines.misa import cmd

    x = torch.ones(4, 3, requires_grad=True)
    cmd(x, torch.ones(4, 3)).backward()
    assert torch.isfinite(x.grad).all() and (x.grad == 0).all()
    a = torch.randn(5, 3, dtype=torch.float64, requires_grad=True)
    b = torch.randn(5, 3, dtype=torch.float64)
    m1, m2 = a.mean(0), b.mean(0)
    want = (m1 - m2).pow(2).sum().sqrt() + sum(
        ((a - m1).pow(k).mean(0) - (b - m2).pow(k).mean(0)).pow(2).sum().sqrt() for k in range(2, 6))
    torch.testing.assert_close(cmd(a, b), want)
    assert torch.autograd.gradcheck(lambda t: cmd(t, b), (a,))
