"""The incomplete view, bit-identical to the released code's `generate_m` (docs/missing-views.md).

For each modality the released loader seeds numpy's global generator with `seed` and draws
`u = np.random.uniform(size=(N, T))` over the whole split in C order; a position is KEPT iff
`u > rate` and it is valid. Text keeps [CLS] and [SEP] whatever u says; a masked word piece
becomes [UNK] (id 100), a masked frame a zero vector; lengths never change. The masks are
drawn once per split and reused for every epoch and every training seed.

Here the draw uses a private `numpy.random.RandomState(seed)`, which produces the same
stream as seeding the global generator, so no global random state is touched.
"""
from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from .schema import UNK_ID

MISSING_SEEDS = (111, 1111, 11111)
"""Seeds of the text, audio and vision masks (official `missing_seed`)."""

MODALITIES = ("text", "audio", "vision")


def as_rates(rate: float | Sequence[float]) -> tuple[float, float, float]:
    """One missing rate for all modalities, or a (text, audio, vision) triple; each in [0, 1]."""
    if isinstance(rate, (int, float, np.floating, np.integer)) and not isinstance(rate, bool):
        rates = (float(rate),) * 3
    else:
        try:
            rates = tuple(float(r) for r in rate)  # type: ignore[union-attr]
        except (TypeError, ValueError):
            raise ValueError(f"missing rate must be a number or a (text, audio, vision) triple, "
                             f"found {rate!r}") from None
        if len(rates) != 3:
            raise ValueError(f"a per-modality missing rate needs 3 values (text, audio, vision), "
                             f"found {len(rates)}: {rate!r}")
    for r in rates:
        if not 0.0 <= r <= 1.0:  # also rejects NaN
            raise ValueError(f"missing rate must lie in [0, 1], found {r!r}")
    return rates  # type: ignore[return-value]


def kept_mask(valid: np.ndarray, rate: float, seed: int) -> np.ndarray:
    """(N, T) bool: True where `u > rate` and the position is valid (u from RandomState(seed))."""
    u = np.random.RandomState(seed).uniform(size=valid.shape)  # (N, T), C order
    return (u > rate) & valid


def length_mask(lengths: np.ndarray, T: int) -> np.ndarray:
    """(N, T) bool: True for t < length."""
    return np.arange(T)[None, :] < np.asarray(lengths)[:, None]


def text_valid(text_bert) -> np.ndarray:
    """(N, L) bool: the text positions the protocol may mask, those of the attention mask."""
    return np.asarray(text_bert)[:, 1] == 1


def missing_masks(split: dict, rate: float | Sequence[float],
                  seeds: Sequence[int] = MISSING_SEEDS) -> dict[str, np.ndarray]:
    """The kept masks of one split, without the masked arrays (docs/missing-views.md).

    Returns `text_kept`, `audio_kept`, `vision_kept`: (N, T) bool, True where the position is
    present and valid, the masks `make_missing` applies. Applying them elsewhere (per batch, as
    `emtlib.data.dataset` does) gives the same incomplete view without a masked copy of the split.
    """
    r_text, r_audio, r_vision = as_rates(rate)
    if len(seeds) != 3:
        raise ValueError(f"seeds must be (text, audio, vision), found {seeds!r}")
    for k in ("text_bert", "audio", "vision", "audio_lengths", "vision_lengths"):
        if k not in split:
            raise KeyError(f"split has no '{k}': make_missing needs an MMSA split "
                           f"(text_bert, audio, vision and their lengths)")
    # Text: valid = attention mask; CLS (0) and SEP (n_tok - 1) always kept
    # (docs/missing-views.md#text).
    att = np.asarray(split["text_bert"])[:, 1]  # (N, L)
    kept = kept_mask(text_valid(split["text_bert"]), r_text, seeds[0])
    rows = np.arange(len(att))
    # The released code indexes SEP as argmin(mask) - 1, i.e. -1 (the last position) when
    # the text fills all L positions; that is SEP in both cases.
    sep = np.argmin(att, axis=1) - 1
    kept[rows, 0] = True
    kept[rows, sep] = True
    out = {"text_kept": kept}
    # Audio / vision: valid = t < length.
    for name, r, seed in (("audio", r_audio, seeds[1]), ("vision", r_vision, seeds[2])):
        T = np.shape(split[name])[1]
        out[f"{name}_kept"] = kept_mask(length_mask(split[f"{name}_lengths"], T), r, seed)
    return out


def make_missing(split: dict, rate: float | Sequence[float],
                 seeds: Sequence[int] = MISSING_SEEDS) -> dict:
    """The incomplete view of one split (docs/missing-views.md).

    Returns a new dict with the split's keys, where `text_bert` (ids row), `audio` and `vision` are
    masked, plus `text_kept`, `audio_kept`, `vision_kept`: (N, T) bool, True where the position is
    present and valid. The pre-extracted `text` features cannot be masked token by token the way the
    protocol masks ids, so they are left out of the incomplete view (consumers that need text
    features re-encode `text_bert`; docs/baselines.md#protocol-in-the-incomplete-setting). The input
    split is not modified. This copies the split's audio and vision; `missing_masks` gives the
    masks alone.
    """
    masks = missing_masks(split, rate, seeds)
    out = {k: v for k, v in split.items() if k != "text"}

    # Text: the released formula, kept * id + [UNK] * (valid - kept): padding becomes 0 whatever
    # it held.
    text_bert = np.asarray(split["text_bert"])
    kept = masks["text_kept"]
    k, v = kept.astype(text_bert.dtype), text_valid(text_bert).astype(text_bert.dtype)
    masked_ids = k * text_bert[:, 0] + UNK_ID * (v - k)
    new_tb = text_bert.copy()
    new_tb[:, 0] = masked_ids
    out["text_bert"] = new_tb
    out["text_kept"] = kept

    # Audio / vision: masked frames become zero vectors.
    for name in ("audio", "vision"):
        x = np.asarray(split[name])  # (N, T, D)
        kept = masks[f"{name}_kept"]
        out[name] = x * kept[:, :, None].astype(x.dtype)
        out[f"{name}_kept"] = kept
    return out
