"""Self-MM: self-supervised multi-task multimodal sentiment analysis (Yu et al., AAAI 2021), as run by MMSA.

Sources read (docs/baselines.md#self-mm): MMSA `src/MMSA/models/multiTask/SELF_MM.py` (model) and
`src/MMSA/trains/multiTask/SELF_MM.py` (label generation, loss, optimizer). Written from those
facts; no code was copied.

Model (incomplete view `text_m`, `audio_m`, `vision_m`; see
docs/baselines.md#protocol-in-the-incomplete-setting):
    t = BERT(text_m)[CLS]                                                     (B, H_bert)
    a = Linear(h_n of LSTM(audio_m) packed by audio_lengths)                   (B, audio_out)
    v = Linear(h_n of LSTM(vision_m) packed by vision_lengths)                 (B, video_out)
    four heads, each Dropout -> Linear -> ReLU [= the task's FEATURE] -> Linear -> ReLU -> Linear(1):
        M over [t | a | v],  T over t,  A over a,  V over v
Loss (training): sum over s in {M, T, A, V} of mean(w_s * |yhat_s - y_s|), w_M = 1 and
w_s = tanh(|y_s - y_M|), with y_s the GENERATED label of task s (SelfMMLabelBank).
Validation: L1 on M.

Unimodal label generation (SelfMMLabelBank, per training batch, after backward):
    if epoch >= 2: update_labels(indices, features, epoch)
    update_features(indices, features); update_centres()
    d_sp = ||f_s - c_s^+||, d_sn = ||f_s - c_s^-||,  delta_s = (d_sn - d_sp) / (d_sp + 1e-8)  (same for f)
    alpha = delta_s / (delta_f + 1e-8)
    new = clamp(0.5 * alpha * y_M + 0.5 * (y_M + delta_s - delta_f), -H, H)
    y_s <- (n - 1) / (n + 1) * y_s + 2 / (n + 1) * new          (n = epoch number, from 1)
Centres: mean of the stored features of all train samples whose current label of that task is > 0
(excludeZero) or < 0. The multimodal label is never changed.
Optimizer: Adam with five groups (BERT decay / BERT no-decay / audio subnet / video subnet / rest),
summed-gradient accumulation over update_epochs = 4, no clipping, no scheduler.

Quirks of the released code, and what `faithful_quirks` does:
1. The centres average over ALL rows of the feature memory, rows never written included (zeros).
   This only matters before every train sample has been seen once; since updates start at epoch 2
   and the train loader has no drop_last, it never changes results. Reproduced, not switchable.
2. A task with no positive (or no negative) stored label gets a NaN centre (mean of an empty set),
   and NaN labels from then on. faithful_quirks=True reproduces it; False keeps the previous centre.
3. `final_states[0].squeeze()` in the subnet breaks on a batch of one; we take h_n[-1] (same
   values).
4. Labels are updated on every batch, also on the trailing batches whose gradients are discarded by
   the accumulation; that is the trainer's business (emtlib.procedures.SelfMMProcedure) and is
   reproduced there.
"""
from __future__ import annotations

import torch
import torch.nn as nn
import torch.nn.functional as F
from torch.nn.utils.rnn import pack_padded_sequence

from emtlib.config.baselines import SelfMMHParams

TASKS = ("M", "T", "A", "V")
INFERENCE_EXCLUDE = ("post_text.", "post_audio.", "post_video.")


class AuViSubNet(nn.Module):
    """LSTM packed by the real lengths -> final hidden state -> Dropout -> Linear (always present)."""

    def __init__(self, in_size: int, hidden_size: int, out_size: int, dropout: float = 0.0):
        super().__init__()
        self.rnn = nn.LSTM(in_size, hidden_size, num_layers=1, batch_first=True)
        self.dropout = nn.Dropout(dropout)
        self.linear_1 = nn.Linear(hidden_size, out_size)

    def forward(self, x: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
        """(B, T, D), (B,) -> (B, out)."""
        packed = pack_padded_sequence(x, lengths.detach().to("cpu", torch.int64), batch_first=True,
                                      enforce_sorted=False)
        _, (h_n, _) = self.rnn(packed)  # (1, B, hidden)
        return self.linear_1(self.dropout(h_n[-1]))  # (B, out)


class _Head(nn.Module):
    """Dropout -> Linear -> ReLU (feature) -> Linear -> ReLU -> Linear(->1)."""

    def __init__(self, d_in: int, width: int, dropout: float):
        super().__init__()
        self.dropout = nn.Dropout(dropout)
        self.layer_1 = nn.Linear(d_in, width)
        self.layer_2 = nn.Linear(width, width)
        self.layer_3 = nn.Linear(width, 1)

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        feature = F.relu(self.layer_1(self.dropout(x)))  # (B, width)
        out = self.layer_3(F.relu(self.layer_2(feature))).squeeze(-1)  # (B,)
        return feature, out


class SelfMM(nn.Module):
    """Self-MM on the incomplete view. `text_encoder`: a HF BertModel-like module (fine-tuned)."""

    training_only_prefixes: tuple = INFERENCE_EXCLUDE
    """Parameters unused at inference (count_parameters): the three unimodal heads."""

    def __init__(self, preset: SelfMMHParams, text_encoder: nn.Module):
        super().__init__()
        self.preset = p = preset
        self.text_model = text_encoder
        t_dim = int(text_encoder.config.hidden_size)
        self.audio_model = AuViSubNet(p.audio_dim, p.a_lstm_hidden, p.audio_out, p.lstm_dropout)
        self.video_model = AuViSubNet(p.vision_dim, p.v_lstm_hidden, p.video_out, p.lstm_dropout)
        self.post_fusion = _Head(t_dim + p.audio_out + p.video_out, p.post_fusion_dim, p.post_fusion_dropout)
        self.post_text = _Head(t_dim, p.post_text_dim, p.post_text_dropout)
        self.post_audio = _Head(p.audio_out, p.post_audio_dim, p.post_audio_dropout)
        self.post_video = _Head(p.video_out, p.post_video_dim, p.post_video_dropout)

    def forward(self, batch: dict) -> dict:
        text = batch["text_m"]  # (B, 3, L)
        t = self.text_model(input_ids=text[:, 0].long(), attention_mask=text[:, 1].long(),
                            token_type_ids=text[:, 2].long()).last_hidden_state[:, 0]  # (B, H_bert)
        a = self.audio_model(batch["audio_m"], batch["audio_lengths"])  # (B, audio_out)
        v = self.video_model(batch["vision_m"], batch["vision_lengths"])  # (B, video_out)
        f_m, y_m = self.post_fusion(torch.cat([t, a, v], dim=-1))  # (B, t+a+v) -> (B, dim), (B,)
        f_t, y_t = self.post_text(t)
        f_a, y_a = self.post_audio(a)
        f_v, y_v = self.post_video(v)
        return {"pred": y_m, "M": y_m, "T": y_t, "A": y_a, "V": y_v,
                "features": {"M": f_m, "T": f_t, "A": f_a, "V": f_v}}

    def loss(self, outputs: dict, labels: dict) -> dict:
        """sum_s mean(w_s |yhat_s - y_s|) with the generated labels `labels` = {'M','T','A','V'}: (B,)."""
        return self_mm_loss(outputs, labels)

    def valid_loss(self, outputs: dict, batch: dict) -> torch.Tensor:
        """The validation key: plain L1 of the multimodal prediction against the ground truth."""
        return (outputs["pred"] - batch["labels"].to(outputs["pred"].dtype)).abs().mean()

    def num_parameters(self, inference: bool = True) -> int:
        """Parameters; `inference` leaves out the three unimodal heads (training-only)."""
        return sum(t.numel() for n, t in self.named_parameters()
                   if not (inference and n.startswith(INFERENCE_EXCLUDE)))


def self_mm_loss(outputs: dict, labels: dict) -> dict:
    """Weighted multi-task L1: M with weight 1, s in T/A/V with tanh(|y_s - y_M|) (labels: (B,) each)."""
    terms = {}
    y_m = labels["M"].reshape(-1)
    for s in TASKS:
        pred = outputs[s].reshape(-1)
        y = labels[s].reshape(-1).to(pred.dtype)
        w = torch.ones_like(pred) if s == "M" else torch.tanh((y - y_m.to(pred.dtype)).abs())
        terms[s] = (w * (pred - y).abs()).mean()
    terms["total"] = terms["M"] + terms["T"] + terms["A"] + terms["V"]
    return terms


class SelfMMLabelBank:
    """Generated labels, feature memory and class centres of the whole train split
    (docs/baselines.md#self-mm).

    bank = SelfMMLabelBank(train_labels, dims={'M': 128, 'T': 32, 'A': 16, 'V': 32}, H=3.0)
    Labels start at the ground truth for every task. `indices` are positions in the train split
    (the batch's "index"). Everything is stored without gradient on `device`.
    """

    def __init__(self, train_labels: torch.Tensor, dims: dict, H: float, exclude_zero: bool = True,
                 faithful_quirks: bool = True, device: torch.device | str | None = None):
        y = torch.as_tensor(train_labels, dtype=torch.float32).reshape(-1)
        device = torch.device(device) if device is not None else y.device
        n = y.numel()
        self.H = float(H)
        self.exclude_zero = exclude_zero
        self.faithful_quirks = faithful_quirks
        self.label_map = {s: y.clone().to(device) for s in TASKS}  # (N,) each
        self.feature_map = {s: torch.zeros(n, int(dims[s]), device=device) for s in TASKS}  # (N, dim)
        self.centres = {s: {"pos": torch.zeros(int(dims[s]), device=device),
                            "neg": torch.zeros(int(dims[s]), device=device)} for s in TASKS}

    @classmethod
    def for_model(cls, model: SelfMM, train_labels: torch.Tensor, device=None) -> "SelfMMLabelBank":
        """A bank sized for `model`'s heads, with its preset's H / exclude_zero / faithful_quirks."""
        p = model.preset
        dims = {"M": p.post_fusion_dim, "T": p.post_text_dim, "A": p.post_audio_dim, "V": p.post_video_dim}
        return cls(train_labels, dims, p.H, p.exclude_zero, p.faithful_quirks, device)

    def _idx(self, indices: torch.Tensor) -> torch.Tensor:
        return torch.as_tensor(indices).reshape(-1).to(self.label_map["M"].device, torch.long)

    def labels(self, indices: torch.Tensor) -> dict:
        """{'M','T','A','V'}: the current labels of these samples, (B,) each."""
        idx = self._idx(indices)
        return {s: self.label_map[s][idx] for s in TASKS}

    @torch.no_grad()
    def update_features(self, indices: torch.Tensor, features: dict) -> None:
        """Store the batch's features (detached), {'M','T','A','V'}: (B, dim)."""
        idx = self._idx(indices)
        for s in TASKS:
            self.feature_map[s][idx] = features[s].detach().to(self.feature_map[s])

    @torch.no_grad()
    def update_centres(self) -> None:
        """Positive / negative centres of every task from the whole memory and the current labels."""
        for s in TASKS:
            y = self.label_map[s]
            pos = y > 0 if self.exclude_zero else y >= 0
            neg = y < 0
            for key, sel in (("pos", pos), ("neg", neg)):
                if sel.any() or self.faithful_quirks:  # quirk 2: empty set -> NaN centre
                    self.centres[s][key] = self.feature_map[s][sel].mean(dim=0)

    @torch.no_grad()
    def update_labels(self, indices: torch.Tensor, features: dict, epoch: int) -> None:
        """Move the unimodal labels of these samples (no-op before epoch 2, as in the released trainer)."""
        if epoch < 2:
            return
        idx = self._idx(indices)
        eps = 1e-8

        def delta(s: str) -> torch.Tensor:
            f = features[s].detach().to(self.feature_map[s])  # (B, dim)
            d_p = torch.norm(f - self.centres[s]["pos"], dim=-1)  # (B,)
            d_n = torch.norm(f - self.centres[s]["neg"], dim=-1)
            return (d_n - d_p) / (d_p + eps)

        y_m = self.label_map["M"][idx]
        delta_f = delta("M")
        n = float(epoch)
        for s in ("T", "A", "V"):
            delta_s = delta(s)
            alpha = delta_s / (delta_f + eps)
            new = 0.5 * alpha * y_m + 0.5 * (y_m + delta_s - delta_f)
            new = new.clamp(-self.H, self.H)
            self.label_map[s][idx] = (n - 1) / (n + 1) * self.label_map[s][idx] + 2 / (n + 1) * new


def make_optimizer(model: SelfMM, preset: SelfMMHParams | None = None) -> torch.optim.Adam:
    """Adam with the five groups of the released trainer (weight decay = Adam's coupled L2)."""
    p = preset or model.preset
    no_decay = ("bias", "LayerNorm.bias", "LayerNorm.weight")
    bert = list(model.text_model.named_parameters())
    groups = [
        {"params": [t for n, t in bert if not any(k in n for k in no_decay)],
         "weight_decay": p.wd_bert, "lr": p.lr_bert},
        {"params": [t for n, t in bert if any(k in n for k in no_decay)], "weight_decay": 0.0, "lr": p.lr_bert},
        {"params": list(model.audio_model.parameters()), "weight_decay": p.wd_audio, "lr": p.lr_audio},
        {"params": list(model.video_model.parameters()), "weight_decay": p.wd_video, "lr": p.lr_video},
        {"params": [t for n, t in model.named_parameters()
                    if not n.startswith(("text_model.", "audio_model.", "video_model."))],
         "weight_decay": p.wd_other, "lr": p.lr_other},
    ]
    return torch.optim.Adam(groups)
