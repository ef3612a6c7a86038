"""Loss terms against hand-computed values; stop-gradient; rate 0.0 gives zero reconstruction."""
from __future__ import annotations

import math

import pytest
import torch

from emtlib.config import LossConfig
from emtlib.losses import (attraction_terms, neg_cosine, reconstruction_loss, simsiam_loss,
                           task_loss, total_loss)


def test_task_loss_by_hand():
    pred = torch.tensor([1.0, -2.0, 0.5])
    y = torch.tensor([0.0, 1.0, 0.5])
    assert task_loss(pred, y).item() == pytest.approx((1 + 3 + 0) / 3)


def test_reconstruction_loss_by_hand():
    pred = torch.tensor([[[0.5, 2.0], [9.0, 9.0]]])  # (1, 2, 2)
    target = torch.zeros(1, 2, 2)
    mask = torch.tensor([[True, False]])
    # smooth_l1: 0.5 * 0.5^2 = 0.125; |2| - 0.5 = 1.5; one masked position x 2 features
    assert reconstruction_loss(pred, target, mask).item() == pytest.approx(1.625 / (2 + 1e-6), rel=1e-6)
    # several masked positions and a non-zero target
    pred = torch.tensor([[[1.0], [0.0], [3.0]]])
    target = torch.tensor([[[0.8], [5.0], [0.0]]])
    mask = torch.tensor([[True, True, False]])
    expected = (0.5 * 0.2 ** 2 + (5.0 - 0.5)) / (2 + 1e-6)
    assert reconstruction_loss(pred, target, mask).item() == pytest.approx(expected, rel=1e-6)


def test_reconstruction_zero_when_nothing_masked():
    pred, target = torch.randn(2, 4, 3), torch.randn(2, 4, 3)
    loss = reconstruction_loss(pred, target, torch.zeros(2, 4, dtype=torch.bool))
    assert loss.item() == 0.0


def test_simsiam_by_hand():
    p_m, z = torch.tensor([[1.0, 0.0]]), torch.tensor([[0.0, 1.0]])  # cos 0
    p, z_m = torch.tensor([[1.0, 1.0]]), torch.tensor([[1.0, 0.0]])  # cos 1/sqrt(2)
    assert simsiam_loss(p_m, z, p, z_m).item() == pytest.approx(-0.5 * (0 + 1 / math.sqrt(2)))
    # batch mean of cosines
    a = torch.tensor([[1.0, 0.0], [1.0, 0.0]])
    b = torch.tensor([[1.0, 0.0], [-1.0, 0.0]])
    assert neg_cosine(a, b).item() == pytest.approx(-(1 - 1) / 2)


def test_simsiam_stops_gradient_through_targets():
    torch.manual_seed(0)
    proj = torch.nn.Linear(4, 4)
    pred = torch.nn.Linear(4, 4)
    x, x_m = torch.randn(5, 4, requires_grad=True), torch.randn(5, 4, requires_grad=True)
    zp, zp_m = proj(x), proj(x_m)
    # hand z's NOT detached: the loss itself must stop their gradient
    loss = simsiam_loss(pred(zp_m), zp, pred(zp).detach(), zp_m)
    loss.backward()
    assert x.grad is None or x.grad.abs().max() == 0  # x reaches the loss only as a target
    assert x_m.grad.abs().max() > 0


def _outputs(with_attr=True, with_recon=True):
    g = torch.Generator().manual_seed(0)
    out = {"pred_m": torch.tensor([0.5, -1.0]), "pred": torch.tensor([1.0, 0.0])}
    if with_attr:
        out["attraction"] = {k: {n: torch.randn(2, 3, generator=g) for n in ("p_m", "z_m", "p", "z")}
                             for k in ("gmc", "text", "audio", "video")}
    if with_recon:
        out["recon"] = {k: {"pred": torch.randn(2, 4, 2, generator=g), "target": torch.randn(2, 4, 2, generator=g),
                            "mask": torch.rand(2, 4, generator=g) > 0.5} for k in ("text", "audio", "video")}
    return out


def test_total_loss_by_hand():
    out = _outputs()
    batch = {"labels": torch.tensor([0.0, 1.0])}
    cfg = LossConfig(lambda_recon=0.7, lambda_attr=0.3)
    loss, terms = total_loss(out, batch, cfg)
    l1_m = (0.5 + 2.0) / 2
    l1 = (1.0 + 1.0) / 2

    def cos(a, b):
        return ((a * b).sum(1) / (a.norm(dim=1) * b.norm(dim=1))).mean()

    sims = sum(-0.5 * (cos(v["p_m"], v["z"]) + cos(v["p"], v["z_m"])) for v in out["attraction"].values())

    def rec(v):
        m = v["mask"][..., None].float()
        d = (v["pred"] - v["target"]).abs() * m
        s = torch.where(d < 1, 0.5 * d ** 2, d - 0.5).sum()
        return s / (m.sum() * 2 + 1e-6)

    recon = sum(rec(v) for v in out["recon"].values())
    expected = l1_m + 0.3 * (sims + l1) + 0.7 * recon
    assert loss.item() == pytest.approx(expected.item(), rel=1e-5)
    assert terms["loss_pred_m"] == pytest.approx(l1_m) and terms["loss_pred"] == pytest.approx(l1)
    assert terms["loss_attr"] == pytest.approx((sims + l1).item(), rel=1e-5)
    assert terms["loss_recon"] == pytest.approx(recon.item(), rel=1e-5)
    assert terms["loss"] == pytest.approx(loss.item())


def test_total_loss_lambda_zero_and_complete_setting():
    batch = {"labels": torch.tensor([0.0, 1.0])}
    loss, terms = total_loss({"pred_m": torch.tensor([0.5, -1.0])}, batch, LossConfig(0.0, 0.0))
    assert loss.item() == pytest.approx(1.25) and set(terms) == {"loss_pred_m", "loss"}
    loss, terms = total_loss(_outputs(), batch, LossConfig(1.0, 1.0), method="emt")  # complete setting
    assert loss.item() == pytest.approx(1.25) and set(terms) == {"loss_pred_m", "loss"}
    loss, terms = total_loss(_outputs(with_attr=False), batch, LossConfig(lambda_recon=1.0, lambda_attr=0.0))
    assert "loss_attr" not in terms and "loss_recon" in terms
    with pytest.raises(ValueError, match="complete view"):
        total_loss(_outputs(with_attr=False), batch, LossConfig(lambda_recon=1.0, lambda_attr=1.0))


def test_cosine_attraction_by_hand():
    h_m = torch.tensor([[1.0, 0.0], [0.0, 2.0]], requires_grad=True)
    h = torch.tensor([[1.0, 1.0], [0.0, 1.0]], requires_grad=True)
    t = attraction_terms({"gmc": {"h_m": h_m, "h": h}}, "cosine")["gmc"]
    assert t.item() == pytest.approx(-(1 / math.sqrt(2) + 1) / 2)
    t.backward()
    assert h.grad.abs().sum() > 0 and h_m.grad.abs().sum() > 0  # no stop-gradient without SimSiam
