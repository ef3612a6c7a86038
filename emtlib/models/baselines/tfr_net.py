"""TFR-Net, the Transformer-based Feature Reconstruction Network (Yuan et al., ACM MM 2021).

Sources (read for facts, rewritten): official EMT-DLFR `models/missingTask/TFR_NET/{model,alignment,
generator,fusion}.py`, `trains/missingTask/TFR_NET.py`, `config/config_regression.py` (__TFR_Net);
MMSA `models/missingTask/TFR_NET/*` (nearly identical; `num_temporal_head` heads in the final
encoders). Notes: docs/baselines.md#tfr-net. Encoder: transformer_encoder.py.

Forward (incomplete view in, complete view only as reconstruction target):

    T_m   = BERT(text_m) (B, L, 768), fine-tuned;  target_t = BERT(text) (B, L, 768), NOT detached
    audio_m, vision_m padded back to the FULL lengths T_a, T_v (see "Lengths")
    X_m   = Conv1d_m(dropout_t(.) for text)  with 'same' padding (k-1)//2          (T_m, B, d)
    h_m   = [mem_m(X_m) | CM_{m<-n}(X_m, X_n) | CM_{m<-o}(X_m, X_o)]               (T_m, B, 3d)
    g_m   = final_m(h_m)                                                            (B, T_m, 3d)
    rec_m = Linear(3d -> D_m)(g_m)                                                  (B, T_m, D_m)
    u_m   = C_GATE_m(h_m, lengths_m)                                                (B, hid_m)
    pred  = Linear(LeakyReLU(Linear(BN([u_t | u_a | u_v]))) -> dropout) -> 1       (B,)

mem_m: self-attention encoder, width d, depth max(nlevels, 3); CM: cross-modal encoders, depth
nlevels, attention dropout of the KEY modality (as the original `get_network`). All these use
sinusoidal PE and the causal "future" mask, no padding masks.

C_GATE (per modality): bidirectional GRU (3 layers, hidden hid) packed by the length = index of
the first 0 of the valid mask -> gate = sigmoid(Conv1d(2hid -> 1, k3, pad 1)) -> gx = tanh(gru) * gate
-> tanh(Linear([h_m | gx] -> hid)) -> max over ALL T time steps (padding included) -> dropout.

Reconstruction loss of modality m (RECLoss 'combine'), mask = valid AND NOT kept (the masked valid
positions), expanded over the feature dim:
    L_m = SmoothL1_sum(rec*mask, target*mask) / (sum(mask) + 1e-4)
          [+ weight_sim_loss * CMD_3(rec*mask, target*mask) / (sum(mask) + 1e-4)   if weight_sim_loss != 0]
    gen = w_t L_t + w_a L_a + w_v L_v;   training loss = L1(pred) + (gen from epoch 2 on);
    validation Loss = L1(pred) only.

Lengths: the final encoders' embedding dim is the dataset's padded length T (50 / 375 / 500 on
MOSI), so the model needs full-length inputs. Batches are cropped to the batch maximum by the
collate function; `forward` zero-pads text rows (with [PAD]) and audio/vision (and their complete
views and masks) back to `text_len`/`audio_len`/`vision_len`, which is exactly the original input.
Outputs (reconstructions, targets, masks) are at full length.

Parameters (official MOSI preset): 14,850,620 outside BERT, of which the three final encoders hold
14,190,425 (T = 50, 375, 500; 12T^2 + 13T per layer, 3 layers, + 2T final LN) and the generators
72,163; with bert-base-uncased (109,482,240, pooler included) 124,332,860. Without the generators
(reconstruction heads, unused at inference) 124,260,697. Both round to the paper's 124.3M (Table 8).

Quirks of the original code that are bugs:
1. The final encoder attends ACROSS THE BATCH. It is fed h_m permuted to (B, 3d, T) and, being
   sequence-first, treats the B samples as the sequence, the 3d channels as the batch and time as
   the embedding (dim T, 1 head official / 25 MMSA, no PE, depth 3, causal mask over the SAMPLES:
   sample i sees samples 0..i of its batch). A sample's reconstruction therefore depends on the
   other samples of its batch and on their order. faithful_quirks=True reproduces this exactly.
   Fixed: the final encoder is a TransformerEncoder over TIME for each sample separately, fed
   h_m as (T, B, 3d): embedding dim 3d, `heads` heads (the alignment encoders' count), depth
   max(nlevels, 3), the same dropouts, no PE, the same causal future mask as every other encoder
   PLUS a key-padding mask that hides padded time steps (text: attention mask; audio/vision:
   t >= length). Its parameters differ (dim 3d instead of T).
2. Double step: `optimizer.step()` after EVERY batch and again at each boundary of the
   `update_epochs` (4) accumulation group, gradients zeroed only at group starts (both repos).
   faithful_quirks=True reproduces it (emtlib.procedures.DoubleStepProcedure); fixed: one step per
   group (summed gradients).
Kept in both modes: the text reconstruction target is not detached (gradients flow into BERT
through the target); the C_GATE max-pool includes padded steps; no padding masks in the
alignment encoders; the CMD term uses the masked tensors including their zero rows.
"""
from __future__ import annotations

import torch
import torch.nn as nn
import torch.nn.functional as F
from torch.nn.utils.rnn import pack_padded_sequence, pad_packed_sequence

from emtlib.config.baselines import TFRNetHParams
from .transformer_encoder import TransformerEncoder, encode_text, l1_loss, pad_text, pad_time

MODALITIES = ("text", "audio", "vision")


# ----------------------------------------------------------------------------- losses

def cmd(x1: torch.Tensor, x2: torch.Tensor, n_moments: int = 3) -> torch.Tensor:
    """Central moment discrepancy without range normalisation: rows of (..., D) are the samples."""
    x1, x2 = x1.reshape(-1, x1.shape[-1]), x2.reshape(-1, x2.shape[-1])  # (N, D)
    m1, m2 = x1.mean(0), x2.mean(0)  # (D,)

    def matchnorm(a, b):
        return ((a - b).pow(2).sum() + 1e-12).sqrt()

    total = matchnorm(m1, m2)
    for k in range(2, n_moments + 1):
        total = total + matchnorm((x1 - m1).pow(k).mean(0), (x2 - m2).pow(k).mean(0))
    return total


def reconstruction_loss(pred: torch.Tensor, target: torch.Tensor, mask: torch.Tensor,
                        weight_sim: float = 0.0) -> torch.Tensor:
    """RECLoss 'combine': pred, target (B, T, D), mask (B, T) (1 = position to reconstruct)."""
    m = mask.to(pred.dtype).unsqueeze(-1).expand_as(pred)  # (B, T, D)
    count = m.sum() + 1e-4
    loss = F.smooth_l1_loss(pred * m, target * m, reduction="sum") / count
    if weight_sim != 0:
        loss = loss + weight_sim * cmd(pred * m, target * m) / count
    return loss


# ----------------------------------------------------------------------------- fusion

def first_zero_lengths(valid: torch.Tensor) -> torch.Tensor:
    """(B, T) bool -> (B,) index of the first False, T when none (argmin of [mask, 0] as coded)."""
    padded = torch.cat([valid.long(), valid.new_zeros(valid.shape[0], 1).long()], dim=1)  # (B, T+1)
    return torch.argmin(padded, dim=1)


class CGate(nn.Module):
    """C_GATE: packed bi-GRU -> conv gate -> tanh(Linear([x | gated])) -> max over time -> dropout."""

    def __init__(self, n_in: int, hidden: int, layers: int, dropout: float):
        super().__init__()
        self.gru = nn.GRU(n_in, hidden, num_layers=layers, bidirectional=True, batch_first=True)
        self.cnn = nn.Conv1d(2 * hidden, 1, kernel_size=3, stride=1, padding=1)
        self.fc = nn.Linear(2 * hidden + n_in, hidden)
        self.dropout_in = nn.Dropout(dropout)

    def forward(self, x: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
        """x (B, T, n_in), lengths (B,) >= 1 -> (B, hidden)."""
        T = x.shape[1]
        packed = pack_padded_sequence(x, lengths.cpu(), batch_first=True, enforce_sorted=False)
        out, _ = pad_packed_sequence(self.gru(packed)[0], batch_first=True, total_length=T)  # (B, T, 2h)
        gate = torch.sigmoid(self.cnn(out.transpose(1, 2)).transpose(1, 2))  # (B, T, 1)
        rep = torch.tanh(self.fc(torch.cat([x, torch.tanh(out) * gate], dim=-1)))  # (B, T, h)
        return self.dropout_in(rep.max(dim=1).values)  # (B, h)


# ----------------------------------------------------------------------------- model

class TFRNet(nn.Module):
    """TFR-Net; `forward(batch)` returns 'pred' (B,) from the incomplete view, plus 'recon',
    'target' and 'recon_mask' dicts keyed by modality, at full length."""

    training_only_prefixes: tuple = ("generator_",)
    """Parameters unused at inference (emtlib.complexity.count_parameters): the reconstruction
    generators, which paper Table 8 does not count."""

    def __init__(self, p: TFRNetHParams, text_encoder: nn.Module):
        super().__init__()
        self.p = p
        self.text_encoder = text_encoder
        d, d_text = p.d_model, text_encoder.config.hidden_size
        self.dims = {"text": d_text, "audio": p.audio_dim, "vision": p.vision_dim}
        self.lengths = {"text": p.text_len, "audio": p.audio_len, "vision": p.vision_len}
        faithful = p.faithful_quirks

        def conv(n_in, k):
            return nn.Conv1d(n_in, d, k, padding=(k - 1) // 2, bias=False)

        self.proj_l, self.proj_a, self.proj_v = (conv(d_text, p.conv_kernel_l),
                                                 conv(p.audio_dim, p.conv_kernel_a),
                                                 conv(p.vision_dim, p.conv_kernel_v))

        def encoder(width, heads, depth, attn_dropout, pe):
            return TransformerEncoder(width, heads, depth, attn_dropout=attn_dropout,
                                      relu_dropout=p.relu_dropout, res_dropout=p.res_dropout,
                                      embed_dropout=p.embed_dropout, attn_mask=p.attn_mask,
                                      position_embedding=pe)

        key_dropout = {"l": p.attn_dropout, "a": p.attn_dropout_a, "v": p.attn_dropout_v}
        self.trans_l_with_a = encoder(d, p.heads, p.nlevels, key_dropout["a"], True)
        self.trans_l_with_v = encoder(d, p.heads, p.nlevels, key_dropout["v"], True)
        self.trans_a_with_l = encoder(d, p.heads, p.nlevels, key_dropout["l"], True)
        self.trans_a_with_v = encoder(d, p.heads, p.nlevels, key_dropout["v"], True)
        self.trans_v_with_l = encoder(d, p.heads, p.nlevels, key_dropout["l"], True)
        self.trans_v_with_a = encoder(d, p.heads, p.nlevels, key_dropout["a"], True)
        deep = max(p.nlevels, 3)
        self.trans_l_mem = encoder(d, p.heads, deep, p.attn_dropout, True)
        self.trans_a_mem = encoder(d, p.heads, deep, p.attn_dropout, True)
        self.trans_v_mem = encoder(d, p.heads, deep, p.attn_dropout, True)
        if faithful:  # embedding dim = the padded length T (quirk 1)
            for name, T in (("l", p.text_len), ("a", p.audio_len), ("v", p.vision_len)):
                if T % p.final_heads:
                    raise ValueError(
                        f"final_heads={p.final_heads} does not divide the padded length {T} of "
                        f"'{name}' (the MMSA SIMS config fails the same way); use final_heads=1 "
                        "or faithful_quirks=False")
            self.trans_l_final = encoder(p.text_len, p.final_heads, deep, p.attn_dropout, False)
            self.trans_a_final = encoder(p.audio_len, p.final_heads, deep, p.attn_dropout, False)
            self.trans_v_final = encoder(p.vision_len, p.final_heads, deep, p.attn_dropout, False)
        else:  # fixed: over time, per sample, width 3d, with padding masks
            self.trans_l_final = encoder(3 * d, p.heads, deep, p.attn_dropout, False)
            self.trans_a_final = encoder(3 * d, p.heads, deep, p.attn_dropout, False)
            self.trans_v_final = encoder(3 * d, p.heads, deep, p.attn_dropout, False)
        self.generator_t = nn.Linear(3 * d, d_text)
        self.generator_a = nn.Linear(3 * d, p.audio_dim)
        self.generator_v = nn.Linear(3 * d, p.vision_dim)
        self.fusion_t = CGate(3 * d, p.fusion_t_hid, p.fusion_gru_layers, p.fusion_drop)
        self.fusion_a = CGate(3 * d, p.fusion_a_hid, p.fusion_gru_layers, p.fusion_drop)
        self.fusion_v = CGate(3 * d, p.fusion_v_hid, p.fusion_gru_layers, p.fusion_drop)
        n_fused = p.fusion_t_hid + p.fusion_a_hid + p.fusion_v_hid
        self.classifier = nn.Sequential(nn.BatchNorm1d(n_fused), nn.Linear(n_fused, p.cls_hidden),
                                        nn.LeakyReLU(), nn.Dropout(p.cls_dropout),
                                        nn.Linear(p.cls_hidden, 1))
        if not p.finetune_bert:
            for q in self.text_encoder.parameters():
                q.requires_grad_(False)

    def _final(self, enc: TransformerEncoder, h: torch.Tensor, valid: torch.Tensor) -> torch.Tensor:
        """h (T, B, 3d), valid (B, T) -> (B, T, 3d)."""
        if self.p.faithful_quirks:
            x = h.permute(1, 2, 0)  # (B, 3d, T): read as (seq = B, batch = 3d, embed = T)
            return enc(x).permute(0, 2, 1)  # (B, T, 3d)
        return enc(h, key_padding_mask=~valid).transpose(0, 1)  # (T, B, 3d) -> (B, T, 3d)

    def forward(self, batch: dict) -> dict:
        p = self.p
        finetune = p.finetune_bert
        text_m = pad_text(batch["text_m"], p.text_len)  # (B, 3, L)
        text = pad_text(batch["text"], p.text_len)  # (B, 3, L)
        t_m = encode_text(self.text_encoder, text_m, finetune)  # (B, L, 768)
        t_full = encode_text(self.text_encoder, text, finetune)  # (B, L, 768) target, not detached
        valid = {"text": text[:, 1] > 0}  # (B, L)
        kept = {"text": pad_time(batch["text_kept"], p.text_len, "text_kept").bool()}
        x_m = {"text": t_m}
        target = {"text": t_full}
        for m in ("audio", "vision"):
            T = self.lengths[m]
            x_m[m] = pad_time(batch[f"{m}_m"], T, f"{m}_m")  # (B, T, D)
            target[m] = pad_time(batch[m], T, m)  # (B, T, D)
            kept[m] = pad_time(batch[f"{m}_kept"], T, f"{m}_kept").bool()  # (B, T)
            steps = torch.arange(T, device=x_m[m].device)
            valid[m] = steps.unsqueeze(0) < batch[f"{m}_lengths"].to(steps.device).unsqueeze(1)

        # Alignment (CM_ATTN)
        x_l = F.dropout(x_m["text"].transpose(1, 2), p=p.text_dropout, training=self.training)
        x_l = self.proj_l(x_l).permute(2, 0, 1)  # (B, 768, L) -> (L, B, d)
        x_a = self.proj_a(x_m["audio"].transpose(1, 2)).permute(2, 0, 1)  # (T_a, B, d)
        x_v = self.proj_v(x_m["vision"].transpose(1, 2)).permute(2, 0, 1)  # (T_v, B, d)
        h_l = torch.cat([self.trans_l_mem(x_l), self.trans_l_with_a(x_l, x_a, x_a),
                         self.trans_l_with_v(x_l, x_v, x_v)], dim=2)  # (L, B, 3d)
        h_a = torch.cat([self.trans_a_mem(x_a), self.trans_a_with_l(x_a, x_l, x_l),
                         self.trans_a_with_v(x_a, x_v, x_v)], dim=2)  # (T_a, B, 3d)
        h_v = torch.cat([self.trans_v_mem(x_v), self.trans_v_with_l(x_v, x_l, x_l),
                         self.trans_v_with_a(x_v, x_a, x_a)], dim=2)  # (T_v, B, 3d)
        g_l = self._final(self.trans_l_final, h_l, valid["text"])  # (B, L, 3d)
        g_a = self._final(self.trans_a_final, h_a, valid["audio"])  # (B, T_a, 3d)
        g_v = self._final(self.trans_v_final, h_v, valid["vision"])  # (B, T_v, 3d)

        # Generator
        recon = {"text": self.generator_t(g_l), "audio": self.generator_a(g_a),
                 "vision": self.generator_v(g_v)}  # (B, T_m, D_m)

        # Fusion (c_gate) on the pre-final sequences h_m
        u = [gate(h.transpose(0, 1), first_zero_lengths(valid[m]))  # (B, hid_m)
             for gate, h, m in ((self.fusion_t, h_l, "text"), (self.fusion_a, h_a, "audio"),
                                (self.fusion_v, h_v, "vision"))]
        pred = self.classifier(torch.cat(u, dim=1)).view(-1)  # (B,)
        recon_mask = {m: valid[m] & ~kept[m] for m in MODALITIES}  # (B, T_m)
        return {"pred": pred, "recon": recon, "target": target, "recon_mask": recon_mask}

    def loss(self, outputs: dict, batch: dict, epoch: int = 1):
        """Training loss of (1-based) `epoch`: L1(pred) [+ weighted generation loss from
        `gen_loss_from_epoch` on]. Terms: 'pred_l1' (the validation Loss), 'gen', 'gen_<m>', 'total'."""
        p = self.p
        pred_l1 = l1_loss(outputs["pred"], batch["labels"])
        parts = {m: reconstruction_loss(outputs["recon"][m], outputs["target"][m],
                                        outputs["recon_mask"][m], p.weight_sim_loss)
                 for m in MODALITIES}
        gen = sum(w * parts[m] for w, m in zip(p.weight_gen_loss, MODALITIES))
        total = pred_l1 + gen if epoch >= p.gen_loss_from_epoch else pred_l1
        terms = {"pred_l1": pred_l1.item(), "gen": gen.item(), "total": total.item()}
        terms.update({f"gen_{m}": parts[m].item() for m in MODALITIES})
        return total, terms


# ----------------------------------------------------------------------------- optimisation

BERT_NO_DECAY = ("bias", "LayerNorm.bias", "LayerNorm.weight")


def optimizer_groups(model: TFRNet, preset: TFRNetHParams, faithful_quirks: bool | None = None
                     ) -> list[dict]:
    """[BERT decay, BERT no-decay (bias / LayerNorm), everything else], as the original trainer
    (when BERT is frozen: one group over the trainable parameters at lr_other / wd_other)."""
    if not preset.finetune_bert:
        return [{"params": [q for q in model.parameters() if q.requires_grad],
                 "lr": preset.lr_other, "weight_decay": preset.wd_other}]
    bert = list(model.text_encoder.named_parameters())
    decay = [q for n, q in bert if not any(nd in n for nd in BERT_NO_DECAY)]
    no_decay = [q for n, q in bert if any(nd in n for nd in BERT_NO_DECAY)]
    other = [q for n, q in model.named_parameters() if not n.startswith("text_encoder.")]
    return [
        {"params": decay, "lr": preset.lr_bert, "weight_decay": preset.wd_bert},
        {"params": no_decay, "lr": preset.lr_bert, "weight_decay": 0.0},
        {"params": other, "lr": preset.lr_other, "weight_decay": preset.wd_other},
    ]


def make_optimizer(model: TFRNet, preset: TFRNetHParams, faithful_quirks: bool | None = None):
    """(Adam, ReduceLROnPlateau(mode='min', factor=0.1, patience)) stepped on the valid pred L1."""
    opt = torch.optim.Adam(optimizer_groups(model, preset, faithful_quirks))
    sched = torch.optim.lr_scheduler.ReduceLROnPlateau(opt, mode="min", factor=0.1,
                                                       patience=preset.plateau_patience)
    return opt, sched
