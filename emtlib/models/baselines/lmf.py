"""LMF, Low-rank Multimodal Fusion (Liu et al., ACL 2018), as run by MMSA.

Sources (read for facts, rewritten): MMSA `models/singleTask/LMF.py`,
`models/subNets/FeatureNets.py`, `trains/singleTask/LMF.py`. Notes: docs/baselines.md#lmf,
docs/data.md#time-averaging-for-tfn-and-lmf. Missing setting
(docs/baselines.md#protocol-in-the-incomplete-setting): a frozen BERT runs on `text_m` in place of
MMSA's pre-extracted text features.

Encoders are TFN's (see tfn.py, including the time average over the FULL padded length taken from
the preset), except text_out = text_hidden // 2. With z'_m = [1, z_m] (B, h_m + 1):

    f_m    = z'_m @ W_m                     W_m: (rank, h_m + 1, 1) -> f_m: (rank, B, 1)
    pred   = fusion_weights @ (f_a * f_v * f_t) + fusion_bias           (B,)   no output squashing

which equals <sum_r w_r (W_a^r (x) W_v^r (x) W_t^r), z'_a (x) z'_v (x) z'_t> + b, the rank-`rank`
factorisation of TFN's fusion weight tensor. Factors and fusion_weights are Xavier-normal, the
bias 0.

Quirks of the original code that are bugs:
1. Index-based Adam groups: `list(model.parameters())[:3]` at `lr_factors` and `[5:]` at `lr`
   (shared weight decay `wd`). `Module.parameters()` yields the module's OWN parameters before its
   children's, so the list starts [audio_factor, video_factor, text_factor, fusion_weights,
   fusion_bias, audio SubNet..., video SubNet..., text SubNet...]: the factors do get `lr_factors`
   and the subnets `lr`, but `fusion_weights` and `fusion_bias` (indices 3 and 4) are in no group
   and never train (they stay at their Xavier-normal / zero initialisation). An earlier reading took
   the indices in registration order ("audio BN weight, bias and linear_1.weight get lr_factors");
   that is not what PyTorch does. faithful_quirks=True reproduces the slices literally (the frozen
   text encoder is left out of the list; it comes last anyway). Fixed (the evident intent): the
   three factors at `lr_factors`, every other trainable parameter, `fusion_weights` and
   `fusion_bias` included, at `lr`; both with `wd`.
2. Frozen BERT dropout active in training (as in tfn.py). faithful_quirks=True reproduces it;
   fixed: the frozen encoder is always in eval mode.
Kept in both modes: the configured post-fusion dropout is built but never applied (no-op); the
text dropout is a no-op (1-layer LSTM); no output range.
"""
from __future__ import annotations

import torch
import torch.nn as nn
from torch.nn.init import xavier_normal_

from emtlib.config.baselines import LMFHParams, with_quirks
from .tfn import SubNet, TextSubNet, time_average
from .transformer_encoder import encode_text, freeze, l1_loss, pad_text


def low_rank_fusion(z_a, z_v, z_t, factor_a, factor_v, factor_t, weights, bias) -> torch.Tensor:
    """(B, a), (B, v), (B, t) and factors (rank, m+1, 1), weights (1, rank), bias (1, 1) -> (B,)."""
    one = z_a.new_ones(z_a.shape[0], 1)
    f = [torch.matmul(torch.cat([one, z], dim=1), w)  # (B, m+1) @ (rank, m+1, 1) -> (rank, B, 1)
         for z, w in ((z_a, factor_a), (z_v, factor_v), (z_t, factor_t))]
    zy = f[0] * f[1] * f[2]  # (rank, B, 1)
    out = torch.matmul(weights, zy.permute(1, 0, 2))  # (1, rank) @ (B, rank, 1) -> (B, 1, 1)
    return out.view(-1) + bias.view(-1)  # (B,)


class LMF(nn.Module):
    """Low-rank Multimodal Fusion on the incomplete view; `forward(batch)['pred']` is (B,)."""

    training_only_prefixes: tuple = ()
    """Parameter-name prefixes unused at inference (emtlib.complexity.count_parameters): none."""

    def __init__(self, p: LMFHParams, text_encoder: nn.Module):
        super().__init__()
        self.p = p
        d_text = text_encoder.config.hidden_size
        text_out = p.text_hidden // 2
        self.audio_subnet = SubNet(p.audio_dim, p.audio_hidden, p.audio_dropout)
        self.video_subnet = SubNet(p.vision_dim, p.video_hidden, p.video_dropout)
        self.text_subnet = TextSubNet(d_text, p.text_hidden, text_out)
        self.post_fusion_dropout = nn.Dropout(p.post_fusion_dropout)  # never applied (as coded)
        self.audio_factor = nn.Parameter(torch.empty(p.rank, p.audio_hidden + 1, 1))
        self.video_factor = nn.Parameter(torch.empty(p.rank, p.video_hidden + 1, 1))
        self.text_factor = nn.Parameter(torch.empty(p.rank, text_out + 1, 1))
        self.fusion_weights = nn.Parameter(torch.empty(1, p.rank))
        self.fusion_bias = nn.Parameter(torch.zeros(1, 1))
        for w in (self.audio_factor, self.video_factor, self.text_factor, self.fusion_weights):
            xavier_normal_(w)
        self.text_encoder = text_encoder  # frozen; left out of the indexed list
        freeze(self.text_encoder)

    def train(self, mode: bool = True):
        super().train(mode)
        if not self.p.faithful_quirks:
            self.text_encoder.eval()
        return self

    def forward(self, batch: dict) -> dict:
        p = self.p
        text = encode_text(self.text_encoder, pad_text(batch["text_m"], p.text_len), finetune=False)
        z_a = self.audio_subnet(time_average(batch["audio_m"], p.audio_len))  # (B, h_a)
        z_v = self.video_subnet(time_average(batch["vision_m"], p.vision_len))  # (B, h_v)
        z_t = self.text_subnet(text)  # (B, h_t // 2)
        pred = low_rank_fusion(z_a, z_v, z_t, self.audio_factor, self.video_factor, self.text_factor,
                               self.fusion_weights, self.fusion_bias)
        return {"pred": pred}

    def loss(self, outputs: dict, batch: dict, epoch: int = 1):
        """L1 on the incomplete-view prediction; the same at validation."""
        total = l1_loss(outputs["pred"], batch["labels"])
        return total, {"pred_l1": total.item(), "total": total.item()}


def optimizer_groups(model: LMF, preset: LMFHParams, faithful_quirks: bool | None = None) -> list[dict]:
    """Two Adam groups, [factor group at lr_factors, rest at lr]; see quirk 1."""
    if with_quirks(preset, faithful_quirks):
        own = [p for n, p in model.named_parameters() if not n.startswith("text_encoder.")]
        factor, other = own[:3], own[5:]
    else:
        factor_ids = {id(model.audio_factor), id(model.video_factor), id(model.text_factor)}
        factor = [model.audio_factor, model.video_factor, model.text_factor]
        other = [p for n, p in model.named_parameters()
                 if p.requires_grad and id(p) not in factor_ids]
    wd = preset.wd
    return [{"params": factor, "lr": preset.lr_factors, "weight_decay": wd},
            {"params": other, "lr": preset.lr, "weight_decay": wd}]


def make_optimizer(model: LMF, preset: LMFHParams, faithful_quirks: bool | None = None):
    """(Adam, None): LMF has no scheduler."""
    return torch.optim.Adam(optimizer_groups(model, preset, faithful_quirks)), None
