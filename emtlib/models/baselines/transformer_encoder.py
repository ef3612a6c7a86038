"""The MulT-style Transformer encoder shared by MulT and TFR-Net, plus two small helpers of the baselines.

Source (read for facts, rewritten here): `models/subNets/transformers_encoder/transformer.py`,
`multihead_attention.py` and `position_embedding.py` of the official EMT-DLFR repository (identical
in MMSA `src/MMSA/models/subNets/transformers_encoder/`), which descend from fairseq via
yaohungt/Multimodal-Transformer. Notes: docs/baselines.md#transformer-encoder.

Layout is SEQUENCE-FIRST, as in the original: every tensor is (T, B, D). That matters for
TFR-Net, whose final encoder is fed a (B, 3d, T) tensor, so that "time" is the batch axis.

One encoder = embedding stage -> `layers` x pre-LN block -> final LayerNorm:

    x  = sqrt(D) * x_in  [+ PE(x_in)]  -> embed dropout
    xk = sqrt(D) * xk_in [+ PE(xk_in)] -> embed dropout      (cross-modal only; key and value get
    xv = sqrt(D) * xv_in [+ PE(xv_in)] -> embed dropout       INDEPENDENT dropout masks, as coded)
    block:  x = x + res_drop(MHA(LN0(x), LN0(xk), LN0(xv), mask))    one LN0 serves q, k and v
            x = x + res_drop(fc2(relu_drop(relu(fc1(LN1(x))))))      FFN width 4D
    out = LN(x)

Details reproduced as coded (all kept whatever `faithful_quirks` says; the model modules decide
which of their own quirks to switch):
- `attn_mask=True` adds the "future" mask triu(-inf, 1 + |T_k - T_q|) to EVERY attention, the
  self-attention (plain causal mask) and the cross-modal ones alike. There is no padding mask:
  padded positions are attended to like any other (an optional `key_padding_mask` exists only for
  the fixed TFR-Net final encoder).
- Sinusoidal PE (fairseq flavour, `position_embedding=True` only): position t+1 for time step t,
  except that a step whose FIRST input channel is exactly 0 is treated as padding and gets
  position 0, i.e. a zero vector. Frequencies are exp(-i * ln(10000) / (D/2 - 1)), the sines fill
  the first D/2 channels and the cosines the next D/2 (not interleaved); odd D gets a zero column.
- Linear layers use Xavier-uniform weights and zero biases; the packed q/k/v projection
  `in_proj_weight` (3D, D) is Xavier-initialised as ONE matrix. LayerNorms are PyTorch defaults.
- Attention scores are scaled on q by head_dim^-0.5; softmax in float32; dropout on the weights.

Helpers at the end (`pad_time`, `encode_text`) are used by all four baselines of this group.
"""
from __future__ import annotations

import math

import torch
import torch.nn as nn
import torch.nn.functional as F


# ----------------------------------------------------------------------------- masks and positions

def future_mask(t_q: int, t_k: int, device=None) -> torch.Tensor:
    """(T_q, T_k) additive mask: -inf where key j > query i + |T_k - T_q|, else 0
    (docs/baselines.md#transformer-encoder)."""
    full = torch.full((t_q, t_k), float("-inf"), device=device)
    return torch.triu(full, diagonal=1 + abs(t_k - t_q))


def sinusoidal_table(n_pos: int, dim: int) -> torch.Tensor:
    """(n_pos, dim) fairseq sinusoid table; row 0 (the padding position) is all zeros."""
    half = dim // 2
    freq = torch.exp(torch.arange(half, dtype=torch.float) * -(math.log(10000.0) / (half - 1)))
    angles = torch.arange(n_pos, dtype=torch.float).unsqueeze(1) * freq.unsqueeze(0)  # (n_pos, half)
    table = torch.cat([torch.sin(angles), torch.cos(angles)], dim=1)  # (n_pos, 2*half)
    if dim % 2 == 1:
        table = torch.cat([table, torch.zeros(n_pos, 1)], dim=1)  # (n_pos, dim)
    table[0] = 0.0
    return table


def sinusoidal_positions(x: torch.Tensor) -> torch.Tensor:
    """PE for a sequence-first input x (T, B, D): (T, B, D), zero where x[t, b, 0] == 0."""
    T, B, D = x.shape
    is_token = x[:, :, 0] != 0  # (T, B)
    positions = torch.arange(1, T + 1, device=x.device).unsqueeze(1).expand(T, B)  # (T, B)
    positions = torch.where(is_token, positions, torch.zeros_like(positions))
    table = sinusoidal_table(T + 1, D).to(device=x.device, dtype=x.dtype)  # (T+1, D)
    return table[positions]  # (T, B, D)


# ----------------------------------------------------------------------------- attention

def _xavier_linear(n_in: int, n_out: int) -> nn.Linear:
    lin = nn.Linear(n_in, n_out)
    nn.init.xavier_uniform_(lin.weight)
    nn.init.zeros_(lin.bias)
    return lin


class MultiheadAttention(nn.Module):
    """fairseq-style multi-head attention with one packed (3D, D) input projection."""

    def __init__(self, dim: int, heads: int, attn_dropout: float = 0.0):
        super().__init__()
        if dim % heads:
            raise ValueError(f"embed dim {dim} is not divisible by heads={heads}")
        self.dim, self.heads, self.head_dim = dim, heads, dim // heads
        self.attn_dropout = attn_dropout
        self.in_proj_weight = nn.Parameter(torch.empty(3 * dim, dim))
        self.in_proj_bias = nn.Parameter(torch.zeros(3 * dim))
        self.out_proj = _xavier_linear(dim, dim)
        nn.init.xavier_uniform_(self.in_proj_weight)

    def forward(self, q, k, v, attn_mask=None, key_padding_mask=None):
        """q (T_q, B, D), k and v (T_k, B, D); attn_mask (T_q, T_k) additive; key_padding_mask
        (B, T_k) bool, True = ignore. Returns (T_q, B, D) and head-averaged weights (B, T_q, T_k)."""
        T_q, B, D = q.shape
        T_k = k.shape[0]
        H, hd = self.heads, self.head_dim
        w, b = self.in_proj_weight, self.in_proj_bias
        q = F.linear(q, w[:D], b[:D]) * hd ** -0.5  # (T_q, B, D)
        k = F.linear(k, w[D:2 * D], b[D:2 * D])  # (T_k, B, D)
        v = F.linear(v, w[2 * D:], b[2 * D:])  # (T_k, B, D)
        q = q.reshape(T_q, B * H, hd).transpose(0, 1)  # (B*H, T_q, hd)
        k = k.reshape(T_k, B * H, hd).transpose(0, 1)  # (B*H, T_k, hd)
        v = v.reshape(T_k, B * H, hd).transpose(0, 1)  # (B*H, T_k, hd)
        scores = torch.bmm(q, k.transpose(1, 2))  # (B*H, T_q, T_k)
        if attn_mask is not None:
            scores = scores + attn_mask.to(scores.dtype).unsqueeze(0)
        if key_padding_mask is not None:
            scores = scores.view(B, H, T_q, T_k).masked_fill(
                key_padding_mask[:, None, None, :], float("-inf")).view(B * H, T_q, T_k)
        weights = F.softmax(scores.float(), dim=-1).type_as(scores)  # (B*H, T_q, T_k)
        weights = F.dropout(weights, p=self.attn_dropout, training=self.training)
        out = torch.bmm(weights, v)  # (B*H, T_q, hd)
        out = out.transpose(0, 1).reshape(T_q, B, D)  # (T_q, B, D)
        return self.out_proj(out), weights.view(B, H, T_q, T_k).mean(1)


class TransformerEncoderLayer(nn.Module):
    """Pre-LN block: attention then ReLU FFN (width 4D), each with residual dropout."""

    def __init__(self, dim: int, heads: int, attn_dropout=0.0, relu_dropout=0.0, res_dropout=0.0,
                 attn_mask: bool = False):
        super().__init__()
        self.self_attn = MultiheadAttention(dim, heads, attn_dropout)
        self.fc1 = _xavier_linear(dim, 4 * dim)
        self.fc2 = _xavier_linear(4 * dim, dim)
        self.layer_norms = nn.ModuleList([nn.LayerNorm(dim), nn.LayerNorm(dim)])
        self.relu_dropout, self.res_dropout, self.attn_mask = relu_dropout, res_dropout, attn_mask

    def forward(self, x, x_k=None, x_v=None, key_padding_mask=None):
        """x (T_q, B, D); x_k, x_v (T_k, B, D) or None for self-attention -> (T_q, B, D)."""
        residual = x
        x = self.layer_norms[0](x)
        if x_k is None:
            x_k = x_v = x
        else:  # the same LayerNorm normalises query, key and value (as coded)
            x_k, x_v = self.layer_norms[0](x_k), self.layer_norms[0](x_v)
        mask = future_mask(x.shape[0], x_k.shape[0], x.device) if self.attn_mask else None
        x, _ = self.self_attn(x, x_k, x_v, attn_mask=mask, key_padding_mask=key_padding_mask)
        x = residual + F.dropout(x, p=self.res_dropout, training=self.training)
        residual = x
        x = F.relu(self.fc1(self.layer_norms[1](x)))  # (T_q, B, 4D)
        x = F.dropout(x, p=self.relu_dropout, training=self.training)
        x = F.dropout(self.fc2(x), p=self.res_dropout, training=self.training)  # (T_q, B, D)
        return residual + x


class TransformerEncoder(nn.Module):
    """`layers` pre-LN blocks with input scaling, optional PE, embed dropout and a final LayerNorm.

    Self-attention: `enc(x)`; cross-modal: `enc(x_q, x_k, x_v)`; all sequence-first (T, B, D).
    """

    def __init__(self, dim: int, heads: int, layers: int, attn_dropout=0.0, relu_dropout=0.0,
                 res_dropout=0.0, embed_dropout=0.0, attn_mask: bool = False,
                 position_embedding: bool = False):
        super().__init__()
        self.dim, self.embed_dropout = dim, embed_dropout
        self.embed_scale = math.sqrt(dim)
        self.position_embedding = position_embedding
        self.layers = nn.ModuleList([
            TransformerEncoderLayer(dim, heads, attn_dropout, relu_dropout, res_dropout, attn_mask)
            for _ in range(layers)])
        self.layer_norm = nn.LayerNorm(dim)

    def _embed(self, x_in: torch.Tensor) -> torch.Tensor:
        x = self.embed_scale * x_in
        if self.position_embedding:
            x = x + sinusoidal_positions(x_in)
        return F.dropout(x, p=self.embed_dropout, training=self.training)

    def forward(self, x_in, x_in_k=None, x_in_v=None, key_padding_mask=None):
        x = self._embed(x_in)
        x_k = x_v = None
        if x_in_k is not None and x_in_v is not None:
            x_k, x_v = self._embed(x_in_k), self._embed(x_in_v)  # two dropout draws, as coded
        for layer in self.layers:
            x = layer(x, x_k, x_v, key_padding_mask=key_padding_mask)
        return self.layer_norm(x)


# ----------------------------------------------------------------------------- helpers of the baselines

def pad_time(x: torch.Tensor, length: int, name: str = "sequence") -> torch.Tensor:
    """Zero-pad a batch-first (B, T, ...) tensor on the time axis to `length`.

    The collate function crops audio/vision to the longest sequence of the batch; the original
    code always saw the dataset's full padded length T_max, which MulT's "last time step", its
    cross-modal masks (they depend on T_k - T_q) and TFR-Net's final encoder (embedding dim = T)
    depend on. Padding back restores exactly the original input.
    """
    T = x.shape[1]
    if T > length:
        raise ValueError(f"{name} has {T} time steps but the preset's full length is {length}: "
                         "set the preset's *_len fields to the dataset's padded lengths")
    if T == length:
        return x
    pad = x.new_zeros((x.shape[0], length - T) + tuple(x.shape[2:]))
    return torch.cat([x, pad], dim=1)


def encode_text(encoder: nn.Module, text: torch.Tensor, finetune: bool) -> torch.Tensor:
    """BERT's last hidden layer (B, L, H) for a (B, 3, L) text tensor (ids, mask, segment ids).

    Frozen (finetune=False): no graph is built (`torch.no_grad`), as in the original
    `BertTextEncoder(use_finetune=False)`. Whether the frozen encoder's dropout is active is decided
    by the owning model's `train()` (see each model's docstring).
    """
    ids, mask, seg = text[:, 0].long(), text[:, 1].long(), text[:, 2].long()
    if finetune:
        return encoder(input_ids=ids, attention_mask=mask, token_type_ids=seg).last_hidden_state
    with torch.no_grad():
        return encoder(input_ids=ids, attention_mask=mask, token_type_ids=seg).last_hidden_state


def pad_text(text: torch.Tensor, length: int) -> torch.Tensor:
    """Pad (B, 3, L) token rows with [PAD] (id 0, mask 0, segment 0) to `length` positions."""
    L = text.shape[-1]
    if L > length:
        raise ValueError(f"text has {L} positions but the preset's text_len is {length}")
    if L == length:
        return text
    return torch.cat([text, text.new_zeros(text.shape[0], 3, length - L)], dim=-1)


def freeze(module: nn.Module) -> None:
    """requires_grad False on every parameter of `module`."""
    for p in module.parameters():
        p.requires_grad_(False)


def l1_loss(pred: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
    """nn.L1Loss (mean) between (B,) predictions and (B,) labels."""
    return F.l1_loss(pred.view(-1), labels.view(-1).to(pred.dtype))
