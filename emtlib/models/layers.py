"""Building blocks of EMT as released (docs/model.md).

Attention has two kernels computing the same function (docs/model.md#attention-kernels):
'fused', `F.scaled_dot_product_attention` (flash / memory-efficient kernels on GPU, the fused CPU
kernel when no attention dropout is active), and 'explicit', matmuls as released. The explicit
path also runs whenever the post-softmax, pre-dropout probabilities are asked for (Figure 12) and
inside `attention_kernel(model, "explicit")`, which MAC counting uses so that
`torch.utils.flop_counter.FlopCounterMode` sees the matmuls.
"""
from __future__ import annotations

import copy
import math
from contextlib import contextmanager

import torch
import torch.nn as nn
import torch.nn.functional as F
from torch.nn.utils.rnn import pack_padded_sequence, pad_packed_sequence

from ..config.experiment import DROPOUT_KERNELS, LSTM_KERNELS


def _clones(module: nn.Module, n: int, share: bool) -> nn.ModuleList:
    """n references to the SAME module when `share`, else n deep copies (identical init;
    docs/model.md#hierarchical-sharing)."""
    if share:
        return nn.ModuleList([module for _ in range(n)])
    return nn.ModuleList([copy.deepcopy(module) for _ in range(n)])


def length_to_mask(lengths: torch.Tensor, max_len: int) -> torch.Tensor:
    """(B,) lengths -> (B, max_len) bool, True at valid positions t < length."""
    return torch.arange(max_len, device=lengths.device)[None, :] < lengths[:, None]


def sinusoid_table(n_pos: int, d: int) -> torch.Tensor:
    """(n_pos, d) interleaved sinusoids: pe[p, 2i] = sin(p w_i), pe[p, 2i+1] = cos(p w_i)
    (docs/model.md#positional-embedding)."""
    pos = torch.arange(n_pos, dtype=torch.float32)[:, None]  # (n_pos, 1)
    inv = torch.exp(torch.arange(0, d, 2, dtype=torch.float32) * (-math.log(10000.0) / d))  # (ceil(d/2),)
    pe = torch.zeros(n_pos, d)
    pe[:, 0::2] = torch.sin(pos * inv)
    pe[:, 1::2] = torch.cos(pos * inv[: d // 2])
    return pe


class PositionalEmbedding(nn.Module):
    """Adds a (sinusoidal or learnable) position code to a local sequence, then emb dropout."""

    def __init__(self, d: int, max_seq_len: int = 1024, learnable: bool = False, dropout: float = 0.0):
        super().__init__()
        self.max_seq_len = max_seq_len
        if learnable:
            self.pe = nn.Parameter(torch.randn(1, max_seq_len, d))
        else:
            self.register_buffer("pe", sinusoid_table(max_seq_len, d)[None], persistent=False)
        self.dropout = Dropout(dropout)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        T = x.shape[1]
        if T > self.max_seq_len:
            raise ValueError(f"sequence of length {T} exceeds model.max_seq_len={self.max_seq_len}: "
                             "raise model.max_seq_len")
        return self.dropout(x + self.pe[:, :T].to(x.dtype))  # (B, T, d)


def additive_mask(allowed: torch.Tensor, dtype: torch.dtype) -> torch.Tensor:
    """A bool mask (True = attend) as an additive one: 0 where allowed, else the dtype's most
    negative finite value (a row with nothing allowed then averages uniformly, not NaN)."""
    return torch.zeros(allowed.shape, dtype=dtype, device=allowed.device).masked_fill(
        ~allowed, -torch.finfo(dtype).max)


class Attention(nn.Module):
    """Multi-head attention, bias-free q/kv, biased output, key-padding mask only
    (docs/model.md#attention). `fused` picks scaled_dot_product_attention over explicit matmuls."""

    def __init__(self, d: int, heads: int, dropout: float = 0.0, fused: bool = True):
        super().__init__()
        self.heads, self.dim_head = heads, d // heads
        self.scale = self.dim_head ** -0.5
        self.to_q = nn.Linear(d, d, bias=False)
        self.to_kv = nn.Linear(d, 2 * d, bias=False)
        self.to_out = nn.Linear(d, d)
        self.dropout = Dropout(dropout)
        self.fused = fused

    def forward(self, x, context=None, key_mask=None, capture: list | None = None):
        # x (B, Tq, d); context (B, Tk, d); key_mask (B, Tk) bool, True = attend
        context = x if context is None else context
        B, Tq, _ = x.shape
        Tk = context.shape[1]
        h, dh = self.heads, self.dim_head
        q = self.to_q(x).view(B, Tq, h, dh).transpose(1, 2)  # (B, h, Tq, dh)
        k, v = self.to_kv(context).chunk(2, dim=-1)
        k = k.view(B, Tk, h, dh).transpose(1, 2)  # (B, h, Tk, dh)
        v = v.view(B, Tk, h, dh).transpose(1, 2)  # (B, h, Tk, dh)
        if self.fused and capture is None:
            out = self._fused(q, k, v, key_mask)  # (B, h, Tq, dh)
        else:
            out = self._explicit(q, k, v, key_mask, capture)  # (B, h, Tq, dh)
        out = out.transpose(1, 2).reshape(B, Tq, h * dh)  # (B, Tq, d)
        return self.to_out(out)

    def _fused(self, q, k, v, key_mask):
        mask = None
        if key_mask is not None:
            # additive and finite, like the explicit path's fill: a row with no valid key attends
            # uniformly instead of giving NaN
            mask = additive_mask(key_mask, q.dtype)[:, None, None, :]  # (B, 1, 1, Tk)
        p = self.dropout.p if self.training else 0.0
        if p > 0 and q.device.type == "cpu":
            return attention_with_dropout_cpu(q, k, v, mask, self.scale, p)
        return F.scaled_dot_product_attention(q, k, v, attn_mask=mask, dropout_p=p, scale=self.scale)

    def _explicit(self, q, k, v, key_mask, capture):
        dots = (q @ k.transpose(-1, -2)) * self.scale  # (B, h, Tq, Tk)
        if key_mask is not None:
            dots = dots.masked_fill(~key_mask[:, None, None, :], -torch.finfo(dots.dtype).max)
        attn = dots.softmax(dim=-1)
        if capture is not None:
            # post-softmax, pre-dropout (docs/model.md#attention-maps)
            capture.append(attn.detach())
        return self.dropout(attn) @ v  # (B, h, Tq, dh)


def attention_with_dropout_cpu(q, k, v, mask, scale: float, p: float) -> torch.Tensor:
    """Attention with dropout on the probabilities, for CPU training (docs/model.md#attention-kernels).

    The fused CPU kernel of scaled_dot_product_attention has no dropout; with dropout it falls back
    to its math path, which draws the dropout mask with `bernoulli_` and keeps three (B, h, Tq, Tk)
    tensors for backward. Here the mask comes from `keep_mask` (four 16-bit draws per 64-bit
    random word) and `_DroppedAttention` keeps two: the probabilities and the mask.
    """
    keep, keep_prob = keep_mask((*q.shape[:-1], k.shape[-2]), p, q.device)  # (B, h, Tq, Tk)
    return _DroppedAttention.apply(q, k, v, mask, keep, scale, 1.0 / keep_prob if keep_prob > 0 else 0.0)


def keep_mask(shape, p: float, device=None) -> tuple[torch.Tensor, float]:
    """A dropout keep mask of `shape` and its keep probability: each entry kept independently
    with probability 1 - t / 65536, t = round(p * 65536) (within 2**-17 of 1 - p).

    Each 64-bit random word (`random_` over the full int64 range) gives four 16-bit draws, so the
    generator runs once per four entries instead of once per entry as for `torch.rand`.
    """
    n = math.prod(shape)
    t = round(p * 65536)
    words = torch.empty(-(-n // 4), dtype=torch.int64, device=device).random_(-2 ** 63, None)
    draws = words.view(torch.int16)[:n]  # (n,) u - 32768 for u uniform in [0, 65536)
    return (draws >= t - 32768).view(shape), 1.0 - t / 65536


def _scaled_keep(keep: torch.Tensor, scale: float, dtype: torch.dtype) -> torch.Tensor:
    """The mask as `dtype` holding 0 and `scale`. Through uint8: a bool tensor converts, and
    multiplies other dtypes, several times slower on a CPU (element by element)."""
    return keep.view(torch.uint8).to(dtype).mul_(scale)


class Dropout(nn.Dropout):
    """nn.Dropout with a choice of kernel (docs/model.md#dropout-kernels). 'native': PyTorch's
    (a `bernoulli_` mask, kept for backward in the input's dtype), as released. 'keep_mask': in
    training on a CPU the mask comes from `keep_mask` and is kept as bool; elsewhere 'native'.
    The same distribution up to the keep probability's 2**-16 grid; other random draws."""

    def __init__(self, p: float = 0.0, kernel: str = "native"):
        super().__init__(p)
        if kernel not in DROPOUT_KERNELS:
            raise ValueError(f"dropout kernel {kernel!r}: expected one of {DROPOUT_KERNELS}")
        self.kernel = kernel

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.kernel == "keep_mask" and self.training and self.p > 0 and x.device.type == "cpu":
            keep, keep_prob = keep_mask(x.shape, self.p, x.device)
            return _KeptScaled.apply(x, keep, 1.0 / keep_prob if keep_prob > 0 else 0.0)
        return super().forward(x)

    def extra_repr(self) -> str:
        return f"p={self.p}, kernel={self.kernel!r}"


class _KeptScaled(torch.autograd.Function):
    """x * keep * scale, keeping only the bool mask for backward."""

    @staticmethod
    def forward(ctx, x, keep, scale: float):
        ctx.save_for_backward(keep)
        ctx.scale = scale
        return _scaled_keep(keep, scale, x.dtype).mul_(x)

    @staticmethod
    def backward(ctx, grad_out):
        (keep,) = ctx.saved_tensors
        return _scaled_keep(keep, ctx.scale, grad_out.dtype).mul_(grad_out), None, None


def use_dropout_kernel(model: nn.Module, kernel: str) -> nn.Module:
    """Every dropout of `model` with `kernel`: emtlib's `Dropout` modules take it, and plain
    nn.Dropout children (a Hugging Face text encoder's), which are 'native' already, are replaced
    by a `Dropout` of their p for any other kernel."""
    if kernel not in DROPOUT_KERNELS:
        raise ValueError(f"dropout kernel {kernel!r}: expected one of {DROPOUT_KERNELS}")
    for parent in list(model.modules()):
        for name, child in parent.named_children():
            if isinstance(child, Dropout):
                child.kernel = kernel
            elif type(child) is nn.Dropout and kernel != "native":
                setattr(parent, name, Dropout(child.p, kernel))
    return model


class _DroppedAttention(torch.autograd.Function):
    """dropout(softmax(q k^T * scale + mask)) @ v, with the dropout given as a keep mask and its
    scale. For backward it keeps q, k, v, the probabilities and the mask; the dropped probabilities
    are recomputed there (autograd would keep them too), and every (B, h, Tq, Tk) intermediate is
    updated in place, so at most two of them exist at a time besides the probabilities."""

    @staticmethod
    def forward(ctx, q, k, v, mask, keep, scale: float, keep_scale: float):
        # q (B, h, Tq, dh); k, v (B, h, Tk, dh); mask (B, 1, 1, Tk) additive or None; keep (B, h, Tq, Tk) bool
        dots = (q @ k.transpose(-1, -2)).mul_(scale)  # (B, h, Tq, Tk)
        if mask is not None:
            dots.add_(mask)
        attn = dots.softmax(dim=-1)  # (B, h, Tq, Tk)
        del dots
        ctx.save_for_backward(q, k, v, attn, keep)
        ctx.scale, ctx.keep_scale = scale, keep_scale
        return _scaled_keep(keep, keep_scale, attn.dtype).mul_(attn) @ v  # (B, h, Tq, dh)

    @staticmethod
    def backward(ctx, grad_out):
        q, k, v, attn, keep = ctx.saved_tensors
        g = grad_out.to(v.dtype)  # (B, h, Tq, dh)
        m = _scaled_keep(keep, ctx.keep_scale, attn.dtype)  # (B, h, Tq, Tk)
        grad_attn = (g @ v.transpose(-1, -2)).mul_(m)  # (B, h, Tq, Tk)
        grad_v = (g.transpose(-1, -2) @ m.mul_(attn)).transpose(-1, -2)  # (B, h, Tk, dh)
        del m
        grad_dots = torch._softmax_backward_data(grad_attn, attn, -1, attn.dtype).mul_(ctx.scale)
        del grad_attn
        grad_q = grad_dots @ k  # (B, h, Tq, dh)
        grad_k = (q.transpose(-1, -2) @ grad_dots).transpose(-1, -2)  # (B, h, Tk, dh)
        return grad_q, grad_k, grad_v, None, None, None, None


@contextmanager
def attention_kernel(model: nn.Module, kernel: str):
    """Run every Attention of `model` with `kernel` ('fused' or 'explicit') inside the block."""
    if kernel not in ("fused", "explicit"):
        raise ValueError(f"attention kernel {kernel!r}: expected 'fused' or 'explicit'")
    layers = [m for m in model.modules() if isinstance(m, Attention)]
    before = [m.fused for m in layers]
    for m in layers:
        m.fused = kernel == "fused"
    try:
        yield model
    finally:
        for m, f in zip(layers, before):
            m.fused = f


class FeedForward(nn.Module):
    """GEGLU FFN: Linear(d, 2*mult*d) -> a * gelu(b) -> Linear(mult*d, d) -> Dropout
    (docs/model.md#feed-forward)."""

    def __init__(self, d: int, mult: int = 4, dropout: float = 0.0):
        super().__init__()
        self.w_in = nn.Linear(d, d * mult * 2)
        self.w_out = nn.Linear(d * mult, d)
        self.dropout = Dropout(dropout)

    def forward(self, x):
        h = self.w_in(x)  # (B, T, 2*mult*d) = [a | b]
        return self.dropout(_GEGLUOut.apply(h, self.w_out.weight, self.w_out.bias))  # (B, T, d)


class _GEGLUOut(torch.autograd.Function):
    """w_out(a * gelu(b)) for [a | b] = h, keeping only h for backward: a * gelu(b) is recomputed
    there, where autograd would keep gelu(b) and the product as well. Gradients are autograd's op
    for op (the Linear on a 3-d input is `addmm` on its rows; under autocast its weight and bias
    are cast to the input's dtype and their gradients cast back)."""

    @staticmethod
    def forward(ctx, h, weight, bias):
        a, b = h.chunk(2, dim=-1)  # (B, T, m) each
        out = F.linear(a * F.gelu(b), weight, bias)  # (B, T, d); autocast applies here
        ctx.save_for_backward(h, weight, bias)
        ctx.dtype = out.dtype
        return out

    @staticmethod
    def backward(ctx, grad_out):
        h, weight, bias = ctx.saved_tensors
        a, b = h.chunk(2, dim=-1)
        gelu_b = F.gelu(b)
        p = (a * gelu_b).to(ctx.dtype)  # (B, T, m) as w_out saw it
        g = grad_out.to(ctx.dtype).reshape(-1, grad_out.shape[-1])  # (N, d)
        w = weight.to(ctx.dtype)  # (d, m)
        grad_p = g.mm(w).view(p.shape).to(h.dtype)  # (B, T, m)
        grad_w = g.t().mm(p.reshape(-1, p.shape[-1])).to(weight.dtype)  # (d, m)
        grad_bias = g.sum(0).to(bias.dtype)  # (d,)
        grad_a = grad_p * gelu_b
        grad_b = torch.ops.aten.gelu_backward(grad_p * a, b)
        return torch.cat([grad_a, grad_b], dim=-1), grad_w, grad_bias  # (B, T, 2m), (d, m), (d,)


class CrossSelfTransformer(nn.Module):
    """One direction of an MPU, MPU_{n->m}(H_m, H_n) (paper eq. 5; pre-norm, docs/model.md#mpu).

    x <- CA(LN_q(x), LN_c(c)) + x;  x <- SA(LN(x)) + x;  x <- FFN(LN(x)) + x.
    One instance has 330,112 parameters at d=128.
    """

    def __init__(self, d: int, heads: int, ff_expansion: int = 4, attn_dropout: float = 0.0,
                 ff_dropout: float = 0.0, fused_attention: bool = True):
        super().__init__()
        self.norm_q = nn.LayerNorm(d)
        self.norm_c = nn.LayerNorm(d)  # the context's own LayerNorm
        self.cross_attn = Attention(d, heads, attn_dropout, fused_attention)
        self.norm_sa = nn.LayerNorm(d)
        self.self_attn = Attention(d, heads, attn_dropout, fused_attention)
        self.norm_ff = nn.LayerNorm(d)
        self.ff = FeedForward(d, ff_expansion, ff_dropout)

    def forward(self, x, context, x_mask=None, context_mask=None, capture: list | None = None):
        # x (B, Tq, d) target; context (B, Tk, d) source; masks bool (B, T), True = valid
        x = self.cross_attn(self.norm_q(x), self.norm_c(context), context_mask, capture) + x
        xn = self.norm_sa(x)
        x = self.self_attn(xn, xn, x_mask) + x
        return self.ff(self.norm_ff(x)) + x  # (B, Tq, d)


class AttentionPool(nn.Module):
    """Attention pooling over K candidates (eq. 9): softmax_k(v^T act(W x_k + b)) weighted sum.

    Input (B, K, n), output (B, n). For OAGL each candidate is a promoted context flattened to
    n = 3d (one weight per modality, shared by its 3 tokens; docs/model.md#pooling).
    """

    def __init__(self, n: int, act: str = "tanh"):
        super().__init__()
        self.W = nn.Linear(n, n)
        self.v = nn.Linear(n, 1)
        self.act = {"tanh": torch.tanh, "relu": torch.relu, "sigmoid": torch.sigmoid}[act]

    def forward(self, x):
        # x (B, K, n)
        w = self.v(self.act(self.W(x))).softmax(dim=1)  # (B, K, 1)
        return (w * x).sum(dim=1)  # (B, n)


class AveragePool(nn.Module):
    """Average of the K candidates (paper 5.2.3); no parameters."""

    def forward(self, x):
        return x.mean(dim=1)  # (B, K, n) -> (B, n)


class MLPPool(nn.Module):
    """'MLP-based pooling' (paper 5.2.3): one fully connected layer maps the K concatenated candidates to one."""

    def __init__(self, n: int, k: int):
        super().__init__()
        self.k = k
        self.fc = nn.Linear(k * n, n)

    def forward(self, x):
        B, K, n = x.shape
        if K != self.k:
            raise ValueError(f"MLPPool built for {self.k} candidates, got {K}")
        return self.fc(x.reshape(B, K * n))  # (B, K*n) -> (B, n)


def make_pool(kind: str, n: int, k: int, act: str = "tanh") -> nn.Module:
    """Pooling layer over k candidates of width n: 'attention', 'average' or 'mlp'."""
    if kind == "attention":
        return AttentionPool(n, act)
    if kind == "average":
        return AveragePool()
    if kind == "mlp":
        return MLPPool(n, k)
    raise ValueError(f"unknown pooling {kind!r}: expected 'attention', 'average' or 'mlp'")


class AuViSubNet(nn.Module):
    """Audio/vision encoder (docs/model.md#audio-and-vision-subnets): LSTM over the valid frames;
    h_n -> dropout -> linear_1; sequence -> linear_1.

    `linear_1` is an Identity when hidden == out (MOSEI, SIMS). The sequence has the longest
    length in the batch, zero (before linear_1) past each sample's length; its padded rows are
    masked downstream. `kernel` (docs/model.md#lstm-kernels): 'packed' runs the LSTM on a packed
    sequence, as released; 'fused' runs it once over the padded batch (one oneDNN / cuDNN call)
    and reads each sample's outputs and final state at its own length. The LSTM is causal, so
    both compute the same function.
    """

    def __init__(self, in_size: int, hidden: int, out: int, num_layers: int = 1,
                 dropout: float = 0.0, kernel: str = "packed"):
        super().__init__()
        if kernel not in LSTM_KERNELS:
            raise ValueError(f"LSTM kernel {kernel!r}: expected one of {LSTM_KERNELS}")
        self.rnn = nn.LSTM(in_size, hidden, num_layers=num_layers, batch_first=True,
                           dropout=dropout if num_layers > 1 else 0.0)
        self.dropout = Dropout(dropout)
        self.linear_1 = nn.Linear(hidden, out) if hidden != out else nn.Identity()
        self.kernel = kernel

    def forward(self, x, lengths):
        # x (B, T, D) with T = max(lengths); lengths (B,) >= 1
        if self.kernel == "fused":
            out, _ = self.rnn(x)  # (B, T, hidden); step t sees frames <= t only
            last = out[torch.arange(x.shape[0], device=x.device), lengths.long() - 1]  # (B, hidden) = h_n[-1]
            seq = out.masked_fill(~length_to_mask(lengths, x.shape[1])[..., None], 0.0)  # (B, T, hidden)
        else:
            packed = pack_padded_sequence(x, lengths.detach().cpu().long(), batch_first=True,
                                          enforce_sorted=False)
            out, (h_n, _) = self.rnn(packed)
            last = h_n[-1]  # (B, hidden): the top layer's state at each sample's length
            seq, _ = pad_packed_sequence(out, batch_first=True)  # (B, max(lengths), hidden)
        return self.linear_1(self.dropout(last)), self.linear_1(seq)  # (B, out), (B, T, out)
