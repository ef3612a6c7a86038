"""Loss terms of EMT-DLFR (paper eqs. 10-16, docs/training.md#losses).

    L = L1(pred_m)                                                     task, eq. 10
      + lambda_2 * [ sum_{gmc,text,audio,video} L_sim + L1(pred) ]     attraction, eq. 15
      + lambda_1 * [ recon_text + recon_audio + recon_video ]          reconstruction, eq. 11

Reading of the complete setting (method 'emt', paper 3.6 / Tables 4-5): one complete view and
L = L1(pred_m) only, where `pred_m` is then that complete-view prediction (the model's output
contract names the primary prediction `pred_m` in both settings).
"""
from __future__ import annotations

import torch
import torch.nn.functional as F

from emtlib.config import LossConfig

RECON_EPS = 1e-6


def task_loss(pred: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
    """L1 prediction loss (eq. 10): mean |pred - y|."""
    return (pred.float().view(-1) - labels.float().view(-1)).abs().mean()


def reconstruction_loss(pred: torch.Tensor, target: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """Masked SmoothL1 (beta 1), summed and divided by (masked positions x feature dim + 1e-6).

    pred, target (B, T, D); mask (B, T) bool, True at masked valid positions
    (docs/model.md#reconstruction-heads). With no masked position (rate 0.0) the loss is exactly 0.
    """
    m = mask.unsqueeze(-1).expand_as(pred).to(torch.float32)  # (B, T, D)
    p, t = pred.float() * m, target.float() * m
    return F.smooth_l1_loss(p, t, reduction="sum", beta=1.0) / (m.sum() + RECON_EPS)


def neg_cosine(x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """D(x, y) of eq. 14, averaged over the batch: -mean_b cos(x_b, y_b)."""
    return -F.cosine_similarity(x.float(), y.float(), dim=1, eps=1e-8).mean()


def simsiam_loss(p_m: torch.Tensor, z: torch.Tensor, p: torch.Tensor, z_m: torch.Tensor) -> torch.Tensor:
    """Symmetric SimSiam (eq. 13): 0.5 * [D(p_m, sg(z)) + D(p, sg(z_m))]; z's are detached here too."""
    return 0.5 * (neg_cosine(p_m, z.detach()) + neg_cosine(p, z_m.detach()))


def attraction_terms(attraction: dict, kind: str) -> dict[str, torch.Tensor]:
    """Per-target attraction losses for key in (gmc, text, audio, video).

    'simsiam' uses eq. 13. 'cosine' (paper 5.2.6, "without SimSiam") is the plain negative cosine
    D(h_m, h) between the raw representations of the two views, gradients through both.
    """
    if kind == "simsiam":
        return {k: simsiam_loss(v["p_m"], v["z"], v["p"], v["z_m"]) for k, v in attraction.items()}
    if kind == "cosine":
        return {k: neg_cosine(v["h_m"], v["h"]) for k, v in attraction.items()}
    raise ValueError(f"unknown attraction {kind!r}: expected 'simsiam' or 'cosine'")


def total_loss(outputs: dict, batch: dict, loss_cfg: LossConfig,
               method: str | None = None) -> tuple[torch.Tensor, dict[str, float]]:
    """The training (and validation) objective (docs/training.md#total-loss) and its terms as
    floats.

    Terms: 'loss_pred_m', and when active 'loss_pred', 'attr_<key>', 'loss_attr',
    'recon_<modality>', 'loss_recon', and always 'loss' (the total). With method 'emt' (complete
    setting) the loss is L1(pred_m) alone, whatever the lambdas.
    """
    y = batch["labels"]
    loss_pred_m = task_loss(outputs["pred_m"], y)
    loss = loss_pred_m
    terms: dict[str, torch.Tensor] = {"loss_pred_m": loss_pred_m}
    if method == "emt":
        terms["loss"] = loss
        return loss, {k: float(v.detach()) for k, v in terms.items()}
    if loss_cfg.lambda_attr > 0:
        if "attraction" not in outputs or "pred" not in outputs:
            raise ValueError("loss.lambda_attr > 0 but the model returned no complete view: build the "
                             "model from the same config (method 'emt_dlfr') as the loss")
        attr = attraction_terms(outputs["attraction"], loss_cfg.attraction)
        loss_pred = task_loss(outputs["pred"], y)
        loss_attr = sum(attr.values()) + loss_pred  # eq. 15
        terms.update({f"attr_{k}": v for k, v in attr.items()})
        terms.update(loss_pred=loss_pred, loss_attr=loss_attr)
        loss = loss + loss_cfg.lambda_attr * loss_attr
    if loss_cfg.lambda_recon > 0:
        if "recon" not in outputs:
            raise ValueError("loss.lambda_recon > 0 but the model returned no reconstructions: build "
                             "the model from the same config (method 'emt_dlfr') as the loss")
        rec = {k: reconstruction_loss(v["pred"], v["target"], v["mask"]) for k, v in outputs["recon"].items()}
        loss_recon = sum(rec.values())
        terms.update({f"recon_{k}": v for k, v in rec.items()})
        terms["loss_recon"] = loss_recon
        loss = loss + loss_cfg.lambda_recon * loss_recon
    terms["loss"] = loss
    return loss, {k: float(v.detach()) for k, v in terms.items()}
