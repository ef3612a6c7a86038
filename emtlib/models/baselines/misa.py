"""MISA: Modality-Invariant and -Specific Representations (Hazarika et al., ACM MM 2020), as run by MMSA.

Sources read (docs/baselines.md#misa): MMSA `src/MMSA/models/singleTask/MISA.py` (model) and
`src/MMSA/trains/singleTask/MISA.py` (losses, optimizer); TFR-Net repo `trains/baselines/MISA.py`
(the same trainer with the `*_m` inputs switched in) and `config/config_regression.py`
(missing-setting values). Written from those facts; no code was copied.

Model, per sample (incomplete view: `text_m`, `audio_m`, `vision_m`; see
docs/baselines.md#protocol-in-the-incomplete-setting):
    u_t = masked mean of BERT(text_m) over the attention mask (CLS and SEP included)      (B, H_bert)
    u_a = [h1_fwd | h2_fwd | h1_bwd | h2_bwd]: BiLSTM1 -> LayerNorm -> BiLSTM2 finals   (B, 4 D_a)
    u_v = likewise over video                                                            (B, 4 D_v)
    o_m = LayerNorm(ReLU(Linear(u_m)))          projection to the common space            (B, h)
    p_m = sigmoid(W_m o_m)    private, one per modality;  s_m = sigmoid(W_s o_m)  shared, one W_s
    r_m = Linear_m(p_m + s_m)                   reconstruction of o_m
    z   = TransformerEncoder(1 layer, 2 heads)([p_t, p_v, p_a, s_t, s_v, s_a])               (B, 6, h)
    pred = Linear(ReLU(Dropout(Linear(flatten z))))                                          (B,)
Loss: MSE(pred, y) + diff_weight * Diff + sim_weight * CMD + recon_weight * Recon, where
    Diff  = sum of diff_loss over (p_t,s_t), (p_v,s_v), (p_a,s_a), (p_a,p_t), (p_a,p_v), (p_t,p_v)
    CMD   = mean of cmd over (s_t,s_v), (s_t,s_a), (s_a,s_v), 5 moments
    Recon = mean over m of mean((r_m - o_m)^2)            (o_m is NOT detached)
Optimizer: one Adam(lr) over every parameter, BERT included, weight decay NOT passed;
clip_grad_value_(grad_clip) after every backward; update_epochs = 2
(emtlib.procedures.MISAProcedure).

Quirks of the released code that are bugs, and what `faithful_quirks` does:
1. Audio and video LSTMs are packed with the TEXT token count (sum of the attention mask, CLS/SEP
   included) instead of the audio/vision lengths. faithful_quirks=True reproduces it; False packs
   with `audio_lengths` / `vision_lengths`.
   With batch cropping (our collate crops audio/vision to the longest AUDIO/VISION length in the
   batch) a text count can exceed the cropped length, and packing would fail. In the released code
   the tensors were padded to the full T_a / T_v (375/500/400 and 500/500/55, all >= the text
   length L), so frames past a clip's end were zero padding. We therefore zero-PAD the cropped
   tensor up to the largest text count: this is exactly what the original LSTM read (no clamping,
   no change of results).
2. Dead modules: MMSA builds a LayerNorm(2 x 768) for a text LSTM that the BERT path never uses, and
   a `sp_discriminator` Linear(h, 4) whose outputs no loss reads (`sp_weight` unused). They add
   3,588 parameters (at 768-wide BERT) that never train. faithful_quirks=True builds them (so
   parameter counts match MMSA); False leaves them out. They never take part in forward.
Not bugs, reproduced as is: the norm in diff_loss is detached; CMD has no range normalisation; the
adversarial discriminator is not built (`use_cmd_sim = true`); the utterance vector's [h1_f, h2_f,
h1_b, h2_b] ordering comes from concatenating h_n of both layers and flattening direction-major.
"""
from __future__ import annotations

import torch
import torch.nn as nn
import torch.nn.functional as F
from torch.nn.utils.rnn import pack_padded_sequence, pad_packed_sequence

from emtlib.config.baselines import MISAHParams

INFERENCE_EXCLUDE = ("recon_", "unused_")


# ------------------------------------------------------------------------------------------ losses
def diff_loss(x1: torch.Tensor, x2: torch.Tensor) -> torch.Tensor:
    """Soft orthogonality between two batches of vectors: mean((X1n^T X2n)^2).

    Each input (B, D) is centred per feature over the batch, then every row is divided by its own
    L2 norm + 1e-6, the norm being DETACHED (treated as a constant in backward).
    """
    b = x1.size(0)
    x1 = x1.reshape(b, -1)  # (B, D1)
    x2 = x2.reshape(b, -1)  # (B, D2)
    x1 = x1 - x1.mean(dim=0, keepdim=True)
    x2 = x2 - x2.mean(dim=0, keepdim=True)
    x1 = x1 / (x1.norm(p=2, dim=1, keepdim=True).detach() + 1e-6)
    x2 = x2 / (x2.norm(p=2, dim=1, keepdim=True).detach() + 1e-6)
    return (x1.t() @ x2).pow(2).mean()  # (D1, D2) -> scalar


def cmd(x1: torch.Tensor, x2: torch.Tensor, n_moments: int = 5) -> torch.Tensor:
    """Central moment discrepancy without range normalisation.

    ||mean(x1) - mean(x2)||_2 + sum_{k=2..n_moments} ||E[(x1 - mean x1)^k] - E[(x2 - mean x2)^k]||_2,
    expectations over the batch (dim 0) of (B, D) inputs.
    """
    m1, m2 = x1.mean(0), x2.mean(0)  # (D,)
    c1, c2 = x1 - m1, x2 - m2  # (B, D)
    total = _norm_of_sum((m1 - m2).pow(2).sum())
    for k in range(2, n_moments + 1):
        total = total + _norm_of_sum((c1.pow(k).mean(0) - c2.pow(k).mean(0)).pow(2).sum())
    return total


def _norm_of_sum(s: torch.Tensor) -> torch.Tensor:
    """sqrt(s) for s >= 0, as the original, except that its gradient at s = 0 is 0 instead of
    inf * 0 = NaN. s is exactly 0 when both inputs have no spread over the batch (every modality
    missing, rate 1.0: identical rows), where the original's NaN gradient ruins the weights."""
    positive = s > 0
    return torch.where(positive, s.clamp_min(torch.finfo(s.dtype).tiny).sqrt(), s * 0)


def recon_mse(pred: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """Mean squared error over all elements (MMSA's `MSE`); the target keeps its gradient."""
    return (target - pred).pow(2).sum() / pred.numel()


# ------------------------------------------------------------------------------------------ model
def _pad_time(x: torch.Tensor, length: int) -> torch.Tensor:
    """Zero-pad (B, T, D) at the end of the time axis up to `length` (no-op when T >= length)."""
    if x.size(1) >= length:
        return x
    return F.pad(x, (0, 0, 0, length - x.size(1)))  # (B, length, D)


class MISA(nn.Module):
    """MISA on the incomplete view. `text_encoder`: a HF BertModel-like module (fine-tuned)."""

    training_only_prefixes: tuple = INFERENCE_EXCLUDE
    """Parameters unused at inference (count_parameters): reconstruction heads, dead modules."""

    def __init__(self, preset: MISAHParams, text_encoder: nn.Module):
        super().__init__()
        self.preset = p = preset
        self.bertmodel = text_encoder
        t_dim = int(text_encoder.config.hidden_size)
        h = p.hidden_size

        # Two stacked BiLSTMs per modality, hidden size = input size, LayerNorm in between.
        self.arnn1 = nn.LSTM(p.audio_dim, p.audio_dim, bidirectional=True, batch_first=True)
        self.arnn2 = nn.LSTM(2 * p.audio_dim, p.audio_dim, bidirectional=True, batch_first=True)
        self.alayer_norm = nn.LayerNorm(2 * p.audio_dim)
        self.vrnn1 = nn.LSTM(p.vision_dim, p.vision_dim, bidirectional=True, batch_first=True)
        self.vrnn2 = nn.LSTM(2 * p.vision_dim, p.vision_dim, bidirectional=True, batch_first=True)
        self.vlayer_norm = nn.LayerNorm(2 * p.vision_dim)

        def project(d_in: int) -> nn.Sequential:
            return nn.Sequential(nn.Linear(d_in, h), nn.ReLU(), nn.LayerNorm(h))

        self.project_t = project(t_dim)
        self.project_a = project(4 * p.audio_dim)
        self.project_v = project(4 * p.vision_dim)
        self.private_t = nn.Sequential(nn.Linear(h, h), nn.Sigmoid())
        self.private_a = nn.Sequential(nn.Linear(h, h), nn.Sigmoid())
        self.private_v = nn.Sequential(nn.Linear(h, h), nn.Sigmoid())
        self.shared = nn.Sequential(nn.Linear(h, h), nn.Sigmoid())
        self.recon_t = nn.Linear(h, h)
        self.recon_a = nn.Linear(h, h)
        self.recon_v = nn.Linear(h, h)

        layer = nn.TransformerEncoderLayer(d_model=h, nhead=p.transformer_heads, batch_first=True)
        self.transformer_encoder = nn.TransformerEncoder(layer, num_layers=1, enable_nested_tensor=False)
        self.fusion = nn.Sequential(nn.Linear(6 * h, 3 * h), nn.Dropout(p.dropout), nn.ReLU(),
                                    nn.Linear(3 * h, 1))
        if p.faithful_quirks:  # quirk 2: built, never used
            self.unused_tlayer_norm = nn.LayerNorm(2 * t_dim)
            self.unused_sp_discriminator = nn.Linear(h, 4)

    @staticmethod
    def _utterance(x: torch.Tensor, lengths: torch.Tensor, rnn1: nn.LSTM, rnn2: nn.LSTM,
                   norm: nn.LayerNorm) -> torch.Tensor:
        """(B, T, D) frames, (B,) lengths -> (B, 4D) = [h1_fwd | h2_fwd | h1_bwd | h2_bwd]."""
        lengths = lengths.detach().to("cpu", torch.int64)
        packed = pack_padded_sequence(x, lengths, batch_first=True, enforce_sorted=False)
        out1, (h1, _) = rnn1(packed)  # h1: (2, B, D)
        out1, _ = pad_packed_sequence(out1, batch_first=True)  # (B, max len, 2D)
        packed2 = pack_padded_sequence(norm(out1), lengths, batch_first=True, enforce_sorted=False)
        _, (h2, _) = rnn2(packed2)  # (2, B, D)
        h = torch.cat([h1, h2], dim=2)  # (2 directions, B, 2D)
        return h.permute(1, 0, 2).reshape(x.size(0), -1)  # (B, 4D)

    def forward(self, batch: dict) -> dict:
        text = batch["text_m"]  # (B, 3, L)
        ids, mask, seg = text[:, 0].long(), text[:, 1].long(), text[:, 2].long()
        hidden = self.bertmodel(input_ids=ids, attention_mask=mask,
                                token_type_ids=seg).last_hidden_state  # (B, L, H_bert)
        m = mask.to(hidden.dtype).unsqueeze(-1)  # (B, L, 1)
        u_t = (hidden * m).sum(1) / m.sum(1)  # (B, H_bert)

        audio, vision = batch["audio_m"], batch["vision_m"]  # (B, Ta, Da), (B, Tv, Dv)
        if self.preset.faithful_quirks:  # quirk 1: text token counts as audio/video lengths
            text_len = mask.sum(1)  # (B,)
            a_len = v_len = text_len
            audio = _pad_time(audio, int(text_len.max()))  # zeros = the original padding
            vision = _pad_time(vision, int(text_len.max()))
        else:
            a_len, v_len = batch["audio_lengths"], batch["vision_lengths"]
        u_a = self._utterance(audio, a_len, self.arnn1, self.arnn2, self.alayer_norm)  # (B, 4 Da)
        u_v = self._utterance(vision, v_len, self.vrnn1, self.vrnn2, self.vlayer_norm)  # (B, 4 Dv)

        o_t, o_a, o_v = self.project_t(u_t), self.project_a(u_a), self.project_v(u_v)  # (B, h) each
        p_t, p_a, p_v = self.private_t(o_t), self.private_a(o_a), self.private_v(o_v)
        s_t, s_a, s_v = self.shared(o_t), self.shared(o_a), self.shared(o_v)
        r_t, r_a, r_v = self.recon_t(p_t + s_t), self.recon_a(p_a + s_a), self.recon_v(p_v + s_v)

        z = torch.stack([p_t, p_v, p_a, s_t, s_v, s_a], dim=1)  # (B, 6, h), MMSA's order
        z = self.transformer_encoder(z)  # (B, 6, h)
        pred = self.fusion(z.reshape(z.size(0), -1)).squeeze(-1)  # (B, 6h) -> (B,)
        return {"pred": pred,
                "orig": {"t": o_t, "a": o_a, "v": o_v},
                "private": {"t": p_t, "a": p_a, "v": p_v},
                "shared": {"t": s_t, "a": s_a, "v": s_v},
                "recon": {"t": r_t, "a": r_a, "v": r_v}}

    def loss(self, outputs: dict, batch: dict) -> dict:
        """Training loss and its terms (`total` is what backward runs on)."""
        p = self.preset
        pv, sh, rc, og = outputs["private"], outputs["shared"], outputs["recon"], outputs["orig"]
        task = F.mse_loss(outputs["pred"], batch["labels"].to(outputs["pred"].dtype))
        diff = (diff_loss(pv["t"], sh["t"]) + diff_loss(pv["v"], sh["v"]) + diff_loss(pv["a"], sh["a"])
                + diff_loss(pv["a"], pv["t"]) + diff_loss(pv["a"], pv["v"]) + diff_loss(pv["t"], pv["v"]))
        sim = (cmd(sh["t"], sh["v"], p.cmd_moments) + cmd(sh["t"], sh["a"], p.cmd_moments)
               + cmd(sh["a"], sh["v"], p.cmd_moments)) / 3.0
        recon = (recon_mse(rc["t"], og["t"]) + recon_mse(rc["v"], og["v"]) + recon_mse(rc["a"], og["a"])) / 3.0
        total = task + p.diff_weight * diff + p.sim_weight * sim + p.recon_weight * recon
        return {"total": total, "task": task, "diff": diff, "cmd": sim, "recon": recon}

    def valid_loss(self, outputs: dict, batch: dict) -> torch.Tensor:
        """The validation key: MSE of the prediction only."""
        return F.mse_loss(outputs["pred"], batch["labels"].to(outputs["pred"].dtype))

    def num_parameters(self, inference: bool = True) -> int:
        """Parameters; `inference` leaves out the reconstruction heads and the dead modules."""
        return sum(t.numel() for n, t in self.named_parameters()
                   if not (inference and n.startswith(INFERENCE_EXCLUDE)))


def make_optimizer(model: MISA, preset: MISAHParams | None = None) -> torch.optim.Adam:
    """One Adam(lr) over all trainable parameters; the configured weight decay is NOT passed (as released)."""
    p = preset or model.preset
    return torch.optim.Adam([t for t in model.parameters() if t.requires_grad], lr=p.lr)


def clip_gradients(model: MISA, preset: MISAHParams | None = None) -> None:
    """clip_grad_value_ as the released trainer does after every backward."""
    p = preset or model.preset
    if p.grad_clip != -1.0:
        torch.nn.utils.clip_grad_value_([t for t in model.parameters() if t.requires_grad], p.grad_clip)
