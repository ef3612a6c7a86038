"""TFN, the Tensor Fusion Network (Zadeh et al., EMNLP 2017), as run by MMSA and the TFR-Net repo.

Sources (read for facts, rewritten): MMSA `models/singleTask/TFN.py`,
`models/subNets/FeatureNets.py`, `trains/singleTask/TFN.py`; TFR-Net repo `models/baselines/TFN.py`,
`trains/baselines/TFN.py` (missing setting: BERT run frozen on `text_m`). Notes:
docs/baselines.md#tfn, docs/data.md#time-averaging-for-tfn-and-lmf.

    audio_m (B, Ta, Da) --time average over the FULL padded length T_a--> (B, Da) --SubNet--> z_a (B, h_a)
    vision_m                                   same                              --SubNet--> z_v (B, h_v)
    text_m (B, 3, L) --frozen BERT--> (B, L, 768) --LSTM, final h--> Linear --> z_t (B, t_out)
    fusion = flatten([1, z_a] (x) [1, z_v] (x) [1, z_t])                          (B, (h_a+1)(h_v+1)(t_out+1))
    pred   = 6 * sigmoid(MLP(Dropout(fusion))) - 3                                (B,)

SubNet = BatchNorm1d -> Dropout -> 3 x (Linear + ReLU). TextSubNet = 1-layer LSTM over all L steps
(no packing) -> final hidden state -> Dropout(0) -> Linear.

Time averaging (docs/data.md#time-averaging-for-tfn-and-lmf): MMSA's `__normalize` averages audio
and vision over the whole padded axis, zeros included, i.e. sum / T_max, then sets NaN to 0. Batches
here are cropped to the longest sequence of the batch; the padding is zeros, so the sum over the
batch's time axis divided by preset.audio_len (resp. vision_len) equals the original value. T_max
comes from the preset, not the batch.

Quirks of the original code:
1. `Adam(list(model.parameters())[2:])` (MMSA and TFR-Net-repo trainers). NOT a bug in effect,
   although it looks like one (an earlier reading took it as "the audio BatchNorm never trains",
   which is wrong): `Module.parameters()` yields a module's OWN parameters before those of its
   children, so the first two are `output_range` and `output_shift`, the constant
   (requires_grad=False) Parameters of the output scaling, and `[2:]` drops exactly them. Everything
   else, the audio BatchNorm included, is trained. Both modes give the same set of trained
   parameters; `optimizer_groups` still applies the literal slice when faithful (the constants are
   Parameters here too, so the slice means the same thing).
2. The frozen BERT (`BertTextEncoder(use_finetune=False)`) only wraps its call in `no_grad`; the
   module follows `model.train()`, so BERT's dropout is ACTIVE during training.
   faithful_quirks=True reproduces it; fixed: the frozen encoder is always in eval mode.
Kept in both modes (documented, not switched):
- The output range is fixed to (-3, 3) through 6*sigmoid-3, even for SIMS whose labels lie in
  [-1, 1].
- The text dropout is a no-op (TextSubNet zeroes it for a 1-layer LSTM).
- The text LSTM reads all L positions, [PAD] included (no packing); its final state is at
  position L-1.
"""
from __future__ import annotations

import torch
import torch.nn as nn
import torch.nn.functional as F

from emtlib.config.baselines import TFNHParams, with_quirks
from .transformer_encoder import encode_text, freeze, l1_loss, pad_text


def time_average(x: torch.Tensor, full_length: int) -> torch.Tensor:
    """(B, T, D) zero-padded, T <= full_length -> (B, D) = sum over time / full_length, NaN -> 0."""
    if x.shape[1] > full_length:
        raise ValueError(f"sequence has {x.shape[1]} steps but the full padded length is {full_length}")
    mean = x.sum(dim=1) / full_length  # (B, D)
    return torch.nan_to_num(mean, nan=0.0, posinf=float("inf"), neginf=float("-inf"))


class SubNet(nn.Module):
    """BatchNorm1d -> Dropout -> three Linear+ReLU layers (in -> h -> h -> h)."""

    def __init__(self, n_in: int, hidden: int, dropout: float):
        super().__init__()
        self.norm = nn.BatchNorm1d(n_in)
        self.drop = nn.Dropout(dropout)
        self.linear_1 = nn.Linear(n_in, hidden)
        self.linear_2 = nn.Linear(hidden, hidden)
        self.linear_3 = nn.Linear(hidden, hidden)

    def forward(self, x: torch.Tensor) -> torch.Tensor:  # (B, n_in) -> (B, h)
        x = self.drop(self.norm(x))
        x = F.relu(self.linear_1(x))
        x = F.relu(self.linear_2(x))
        return F.relu(self.linear_3(x))


class TextSubNet(nn.Module):
    """1-layer LSTM over the whole sequence -> final hidden state -> Dropout(0) -> Linear."""

    def __init__(self, n_in: int, hidden: int, n_out: int):
        super().__init__()
        self.rnn = nn.LSTM(n_in, hidden, num_layers=1, batch_first=True)
        self.dropout = nn.Dropout(0.0)  # the configured text dropout is zeroed for 1 layer (as coded)
        self.linear_1 = nn.Linear(hidden, n_out)

    def forward(self, x: torch.Tensor) -> torch.Tensor:  # (B, L, n_in) -> (B, n_out)
        _, (h_n, _) = self.rnn(x)  # h_n (1, B, hidden)
        return self.linear_1(self.dropout(h_n.squeeze(0)))


def tensor_fusion(z_a: torch.Tensor, z_v: torch.Tensor, z_t: torch.Tensor) -> torch.Tensor:
    """flatten([1, z_a] (x) [1, z_v] (x) [1, z_t]): (B, a), (B, v), (B, t) -> (B, (a+1)(v+1)(t+1)).

    Flattening order is (audio, video, text) with text varying fastest, as in the original bmm code.
    """
    one = z_a.new_ones(z_a.shape[0], 1)
    a, v, t = (torch.cat([one, z], dim=1) for z in (z_a, z_v, z_t))  # (B, a+1), (B, v+1), (B, t+1)
    av = torch.bmm(a.unsqueeze(2), v.unsqueeze(1))  # (B, a+1, v+1)
    av = av.reshape(a.shape[0], -1, 1)  # (B, (a+1)(v+1), 1)
    return torch.bmm(av, t.unsqueeze(1)).reshape(a.shape[0], -1)  # (B, (a+1)(v+1)(t+1))


class TFN(nn.Module):
    """Tensor Fusion Network on the incomplete view; `forward(batch)['pred']` is (B,)."""

    training_only_prefixes: tuple = ()
    """Parameter-name prefixes unused at inference (emtlib.complexity.count_parameters): none."""

    def __init__(self, p: TFNHParams, text_encoder: nn.Module):
        super().__init__()
        self.p = p
        d_text = text_encoder.config.hidden_size
        self.audio_subnet = SubNet(p.audio_dim, p.audio_hidden, p.audio_dropout)
        self.video_subnet = SubNet(p.vision_dim, p.video_hidden, p.video_dropout)
        self.text_subnet = TextSubNet(d_text, p.text_hidden, p.text_out)
        self.post_fusion_dropout = nn.Dropout(p.post_fusion_dropout)
        n_fusion = (p.text_out + 1) * (p.video_hidden + 1) * (p.audio_hidden + 1)
        self.post_fusion_layer_1 = nn.Linear(n_fusion, p.post_fusion_dim)
        self.post_fusion_layer_2 = nn.Linear(p.post_fusion_dim, p.post_fusion_dim)
        self.post_fusion_layer_3 = nn.Linear(p.post_fusion_dim, 1)
        # Fixed range (-3, 3): constant Parameters, as in the original (they come FIRST in
        # parameters(), being the module's own, and are what the trainer's [2:] drops).
        self.output_range = nn.Parameter(torch.tensor([6.0]), requires_grad=False)
        self.output_shift = nn.Parameter(torch.tensor([-3.0]), requires_grad=False)
        self.text_encoder = text_encoder
        freeze(self.text_encoder)

    def train(self, mode: bool = True):
        super().train(mode)
        if not self.p.faithful_quirks:  # fixed: the frozen encoder never runs dropout
            self.text_encoder.eval()
        return self

    def forward(self, batch: dict) -> dict:
        p = self.p
        text = encode_text(self.text_encoder, pad_text(batch["text_m"], p.text_len), finetune=False)
        z_a = self.audio_subnet(time_average(batch["audio_m"], p.audio_len))  # (B, h_a)
        z_v = self.video_subnet(time_average(batch["vision_m"], p.vision_len))  # (B, h_v)
        z_t = self.text_subnet(text)  # (B, t_out)
        fusion = tensor_fusion(z_a, z_v, z_t)  # (B, (h_a+1)(h_v+1)(t_out+1))
        y = F.relu(self.post_fusion_layer_1(self.post_fusion_dropout(fusion)))
        y = F.relu(self.post_fusion_layer_2(y))
        y = torch.sigmoid(self.post_fusion_layer_3(y)) * self.output_range + self.output_shift  # (B, 1)
        return {"pred": y.view(-1), "fusion": fusion}

    def loss(self, outputs: dict, batch: dict, epoch: int = 1):
        """L1 on the incomplete-view prediction; the same at validation."""
        total = l1_loss(outputs["pred"], batch["labels"])
        return total, {"pred_l1": total.item(), "total": total.item()}


def optimizer_groups(model: TFN, preset: TFNHParams, faithful_quirks: bool | None = None) -> list[dict]:
    """One Adam group at `lr`, without weight decay, over the trainable parameters
    (faithful: of `list(model.parameters())[2:]`, which only drops the two output constants)."""
    params = list(model.parameters())
    if with_quirks(preset, faithful_quirks):
        params = params[2:]  # output_range, output_shift (see quirk 1)
    return [{"params": [p for p in params if p.requires_grad], "lr": preset.lr}]


def make_optimizer(model: TFN, preset: TFNHParams, faithful_quirks: bool | None = None):
    """(Adam, None): TFN has no scheduler."""
    return torch.optim.Adam(optimizer_groups(model, preset, faithful_quirks)), None
