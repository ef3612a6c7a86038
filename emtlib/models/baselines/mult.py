"""MulT, the Multimodal Transformer (Tsai et al., ACL 2019), as run by the EMT-DLFR authors.

Sources (read for facts, rewritten): MMSA `models/singleTask/MULT.py` (the official EMT-DLFR
`models/baselines/MULT.py` has the same model; the TFR-Net repo's copy too), official
`trains/baselines/MULT.py`, MMSA `trains/singleTask/MULT.py`, official `config/config_regression.py`
(__MULT). Notes: docs/baselines.md#mult. Encoder: transformer_encoder.py.

    text_m (B, 3, L) --frozen BERT--> (B, L, 768) --dropout--> Conv1d(k_l, pad 0) --> X_l (L-k_l+1, B, d)
    audio_m (B, Ta, Da), padded back to T_a          --> Conv1d(k_a, pad 0) --> X_a (T_a-k_a+1, B, d)
    vision_m likewise                                --> X_v
    for target m and sources n, o:  H_m = mem_m([CM_{m<-n}(X_m, X_n) | CM_{m<-o}(X_m, X_o)])   (T_m', B, 2d)
    last = [H_l[-1] | H_a[-1] | H_v[-1]]                                                        (B, 6d)
    pred = out(proj2(dropout(relu(proj1(last)))) + last)                                         (B,)

CM_{m<-n}: cross-modal TransformerEncoder (depth nlevels, width d), queries from m, keys/values
from n; its attention dropout is the KEY modality's (attn_dropout for text keys, attn_dropout_a
for audio keys, attn_dropout_v for vision keys), as the original `get_network` assigns it. mem_m:
self-attention encoder of width 2d and depth max(nlevels, 3), attention dropout `attn_dropout`.
No positional embedding. Every attention uses the causal "future" mask (attn_mask=True).
The Conv1d projections are built even when the input width already equals d (and then skipped),
so they count as parameters exactly as in the original.

Lengths: the original always saw the dataset's full padded length, and its "last time step" and its
causal masks (diagonal offset 1 + |T_k - T_q|) depend on it. `pad_to_full_length` (default True)
zero-pads the cropped batch back to `audio_len`/`vision_len`, which reproduces the original input
exactly; False runs on the cropped batch (cheaper, not equivalent).

Parameters (official MOSI preset, d=40, 10 heads, 4 levels, kernels 1/5/1): 1,556,761 outside BERT
(conv 32,520 + 6 cross-modal encoders 473,760 + 3 memory encoders 934,560 + head 115,921); with the
frozen bert-base-uncased (109,482,240, pooler included) 111,039,001 = the paper's 111.0M (Table 8).

Quirks of the original code that are bugs:
1. Double step (official trainer only; MMSA's steps once per group): `optimizer.step()` after
   EVERY batch and again at each accumulation boundary, while gradients are zeroed only every
   `update_epochs` (8) batches, so the k-th batch of a group steps on the sum of k batch gradients.
   faithful_quirks=True with `double_step` (the 'authors' values) reproduces it
   (emtlib.procedures.DoubleStepProcedure);
   fixed: one step per group of `update_epochs` batches (summed gradients), as MMSA.
2. Frozen BERT dropout active in training (see tfn.py). faithful_quirks=True reproduces it;
   fixed: the frozen encoder is always in eval mode.
Kept in both modes: the configured weight decay is never passed to Adam; no padding masks
anywhere (padded steps are attended to); the "last" step is the last PADDED position; trailing
partial accumulation groups lose their boundary step.
"""
from __future__ import annotations

import torch
import torch.nn as nn
import torch.nn.functional as F

from emtlib.config.baselines import MulTHParams
from .transformer_encoder import TransformerEncoder, encode_text, freeze, l1_loss, pad_text, pad_time


class MulT(nn.Module):
    """Multimodal Transformer on the incomplete view; `forward(batch)['pred']` is (B,)."""

    training_only_prefixes: tuple = ()
    """Parameter-name prefixes unused at inference (emtlib.complexity.count_parameters): none."""

    def __init__(self, p: MulTHParams, text_encoder: nn.Module):
        super().__init__()
        self.p = p
        self.text_encoder = text_encoder
        if not p.finetune_bert:
            freeze(self.text_encoder)
        d, self.d_text = p.d_model, text_encoder.config.hidden_size
        self.proj_l = nn.Conv1d(self.d_text, d, p.conv_kernel_l, padding=0, bias=False)
        self.proj_a = nn.Conv1d(p.audio_dim, d, p.conv_kernel_a, padding=0, bias=False)
        self.proj_v = nn.Conv1d(p.vision_dim, d, p.conv_kernel_v, padding=0, bias=False)
        key_dropout = {"l": p.attn_dropout, "a": p.attn_dropout_a, "v": p.attn_dropout_v}

        def encoder(width, depth, attn_dropout):
            return TransformerEncoder(width, p.heads, depth, attn_dropout=attn_dropout,
                                      relu_dropout=p.relu_dropout, res_dropout=p.res_dropout,
                                      embed_dropout=p.embed_dropout, attn_mask=p.attn_mask)

        self.trans_l_with_a = encoder(d, p.nlevels, key_dropout["a"])
        self.trans_l_with_v = encoder(d, p.nlevels, key_dropout["v"])
        self.trans_a_with_l = encoder(d, p.nlevels, key_dropout["l"])
        self.trans_a_with_v = encoder(d, p.nlevels, key_dropout["v"])
        self.trans_v_with_l = encoder(d, p.nlevels, key_dropout["l"])
        self.trans_v_with_a = encoder(d, p.nlevels, key_dropout["a"])
        mem_depth = max(p.nlevels, 3)
        self.trans_l_mem = encoder(2 * d, mem_depth, p.attn_dropout)
        self.trans_a_mem = encoder(2 * d, mem_depth, p.attn_dropout)
        self.trans_v_mem = encoder(2 * d, mem_depth, p.attn_dropout)
        combined = 6 * d
        self.proj1 = nn.Linear(combined, combined)
        self.proj2 = nn.Linear(combined, combined)
        self.out_layer = nn.Linear(combined, 1)

    def train(self, mode: bool = True):
        super().train(mode)
        if not self.p.finetune_bert and not self.p.faithful_quirks:
            self.text_encoder.eval()
        return self

    @staticmethod
    def _project(x: torch.Tensor, conv: nn.Conv1d) -> torch.Tensor:
        """(B, C, T) -> (T', B, d); the conv is skipped when C already equals d (as coded)."""
        if x.shape[1] != conv.out_channels:
            k = conv.kernel_size[0]
            if x.shape[-1] < k:  # a cropped batch shorter than the kernel: the zero frames that
                x = F.pad(x, (0, k - x.shape[-1]))  # padding to full length would have given
            x = conv(x)  # (B, d, T - k + 1)
        return x.permute(2, 0, 1)  # (T', B, d)

    def forward(self, batch: dict) -> dict:
        p = self.p
        text = encode_text(self.text_encoder, pad_text(batch["text_m"], p.text_len), p.finetune_bert)
        audio, vision = batch["audio_m"], batch["vision_m"]
        if p.pad_to_full_length:
            audio = pad_time(audio, p.audio_len, "audio_m")  # (B, T_a, D_a)
            vision = pad_time(vision, p.vision_len, "vision_m")  # (B, T_v, D_v)
        x_l = F.dropout(text.transpose(1, 2), p=p.text_dropout, training=self.training)  # (B, 768, L)
        x_l = self._project(x_l, self.proj_l)  # (L', B, d)
        x_a = self._project(audio.transpose(1, 2), self.proj_a)  # (T_a', B, d)
        x_v = self._project(vision.transpose(1, 2), self.proj_v)  # (T_v', B, d)

        h_l = torch.cat([self.trans_l_with_a(x_l, x_a, x_a), self.trans_l_with_v(x_l, x_v, x_v)], 2)
        h_l = self.trans_l_mem(h_l)  # (L', B, 2d)
        h_a = torch.cat([self.trans_a_with_l(x_a, x_l, x_l), self.trans_a_with_v(x_a, x_v, x_v)], 2)
        h_a = self.trans_a_mem(h_a)  # (T_a', B, 2d)
        h_v = torch.cat([self.trans_v_with_l(x_v, x_l, x_l), self.trans_v_with_a(x_v, x_a, x_a)], 2)
        h_v = self.trans_v_mem(h_v)  # (T_v', B, 2d)

        last = torch.cat([h_l[-1], h_a[-1], h_v[-1]], dim=1)  # (B, 6d)
        hidden = F.dropout(F.relu(self.proj1(last)), p=p.output_dropout, training=self.training)
        hidden = self.proj2(hidden) + last  # (B, 6d)
        return {"pred": self.out_layer(hidden).view(-1), "features": last}

    def loss(self, outputs: dict, batch: dict, epoch: int = 1):
        """L1 on the incomplete-view prediction; the same at validation."""
        total = l1_loss(outputs["pred"], batch["labels"])
        return total, {"pred_l1": total.item(), "total": total.item()}


def optimizer_groups(model: MulT, preset: MulTHParams, faithful_quirks: bool | None = None) -> list[dict]:
    """One Adam group over all trainable parameters at `lr`; no weight decay (as coded)."""
    return [{"params": [p for p in model.parameters() if p.requires_grad], "lr": preset.lr}]


def make_optimizer(model: MulT, preset: MulTHParams, faithful_quirks: bool | None = None):
    """(Adam, ReduceLROnPlateau(mode='min', factor=0.1, patience)) stepped on the valid L1."""
    opt = torch.optim.Adam(optimizer_groups(model, preset, faithful_quirks))
    sched = torch.optim.lr_scheduler.ReduceLROnPlateau(opt, mode="min", factor=0.1,
                                                       patience=preset.plateau_patience)
    return opt, sched
