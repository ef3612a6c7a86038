"""Torch views of one split, batched by `collate_mmsa`: the complete view, its masks and lengths
are stored, and the incomplete view is made per batch from the masks (docs/missing-views.md).

A batch is the contract every model in emtlib consumes:

    text, text_m          (B, 3, L_b) long complete / incomplete ids, attention mask, segment ids
    text_kept             (B, L_b) bool    position present and valid
    audio, audio_m        (B, Ta, Da)      complete / incomplete, cropped to the longest in the batch
    audio_lengths         (B,) long
    audio_kept            (B, Ta) bool
    vision, vision_m, vision_lengths, vision_kept    the same for vision
    labels                (B,) float       regression labels
    labels_T/A/V          (B,) float       SIMS unimodal labels, when the file has them
    index                 (B,) long        position in the split
    id                    list[str]

Every sequence is cropped to the longest one in the batch (L_b <= L text positions, the batch's
longest audio and vision). For audio and vision this is what the released model does after
`pad_packed_sequence`; for text it is a saving the released code does not make: BERT's outputs
at real tokens do not depend on trailing [PAD] positions (they are masked keys), and every
padded position is masked downstream, so results are unchanged while BERT's cost falls with the
real text lengths (MOSI averages far fewer than 50 word pieces). Models that need the full
padded length (MulT, TFR-Net) pad back themselves.
"""
from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch
from torch.utils.data import DataLoader, Dataset

from .missing import MISSING_SEEDS, missing_masks, text_valid
from .sampling import LengthBucketSampler
from .schema import UNK_ID

UNIMODAL = {"regression_labels_T": "labels_T", "regression_labels_A": "labels_A",
            "regression_labels_V": "labels_V"}


class MMSADataset(Dataset):
    """One split with its complete view and its incomplete view at `missing_rate`.

    The masks are drawn once here, as the released loader does
    (docs/missing-views.md#when-masks-are-drawn). The dataset holds the complete arrays once
    (audio and vision share the split's memory when they are float32 already) and the kept masks;
    `collate_mmsa` applies the masks to each batch, giving exactly the arrays `make_missing`
    would give, without a masked copy of the split.
    """

    def __init__(self, split: dict, missing_rate: float | Sequence[float] = 0.0,
                 seeds: Sequence[int] = MISSING_SEEDS):
        masks = missing_masks(split, missing_rate, seeds)
        self.missing_rate = missing_rate
        self.text = torch.as_tensor(np.asarray(split["text_bert"]).round()).long()  # (N, 3, L)
        self.text_valid = torch.as_tensor(text_valid(split["text_bert"]))  # (N, L)
        self.text_kept = torch.as_tensor(masks["text_kept"])  # (N, L)
        self.tensors: dict[str, torch.Tensor] = {}
        for name in ("audio", "vision"):
            # as_tensor shares the array's memory; asarray copies only if it is not float32.
            self.tensors[name] = torch.as_tensor(np.asarray(split[name], dtype=np.float32))
            self.tensors[f"{name}_kept"] = torch.as_tensor(masks[f"{name}_kept"])
            self.tensors[f"{name}_lengths"] = torch.as_tensor(
                np.asarray(split[f"{name}_lengths"]).astype(np.int64))
        self.labels = {"labels": torch.as_tensor(np.asarray(split["regression_labels"], np.float32))}
        for src, dst in UNIMODAL.items():
            if src in split:
                self.labels[dst] = torch.as_tensor(np.asarray(split[src], np.float32))
        self.ids = [str(i) for i in split["id"]]

    def __len__(self) -> int:
        return len(self.ids)

    def lengths(self) -> np.ndarray:
        """(N, 3) per sample: text tokens (CLS and SEP included), audio frames, vision frames."""
        return np.stack([self.text[:, 1].sum(1).numpy(), self.tensors["audio_lengths"].numpy(),
                         self.tensors["vision_lengths"].numpy()], axis=1)

    def __getitem__(self, i: int) -> dict:
        """Sample i's complete view and masks (views of the split's arrays, no copy); its
        incomplete view is made by `collate_mmsa`."""
        item = {"text": self.text[i], "text_valid": self.text_valid[i],
                "text_kept": self.text_kept[i], "index": i, "id": self.ids[i]}
        item.update({k: v[i] for k, v in self.tensors.items()})
        item.update({k: v[i] for k, v in self.labels.items()})
        return item


def mask_text(text: torch.Tensor, valid: torch.Tensor, kept: torch.Tensor) -> torch.Tensor:
    """The incomplete ids (B, 3, L): row 0 becomes kept * id + [UNK] * (valid - kept), the
    formula of `make_missing` (in integers, so the same ids); mask and segment rows unchanged."""
    k, v = kept.to(text.dtype), valid.to(text.dtype)
    out = text.clone()
    out[:, 0] = k * text[:, 0] + UNK_ID * (v - k)
    return out


def mask_frames(x: torch.Tensor, kept: torch.Tensor) -> torch.Tensor:
    """The incomplete frames (B, T, D): x * kept, as `make_missing` computes them (a masked
    frame is a zero vector, with the sign of zero a product gives)."""
    return x * kept.to(x.dtype).unsqueeze(-1)


def collate_mmsa(samples: list[dict]) -> dict:
    """Stack samples, each sequence (and its masks) cropped to the longest one in the batch; apply
    the kept masks to make the incomplete view (`text_m`, `audio_m`, `vision_m`)."""
    if not samples:
        raise ValueError("cannot collate an empty batch")

    def stack(key, length=None):
        return torch.stack([s[key] if length is None else s[key][..., :length] for s in samples])

    L = int(torch.stack([s["text"][1] for s in samples]).sum(1).max())  # longest n_tok
    text, kept = stack("text", L), stack("text_kept", L)  # (B, 3, L_batch), (B, L_batch)
    batch = {"text": text, "text_m": mask_text(text, stack("text_valid", L), kept),
             "text_kept": kept,
             "index": torch.tensor([s["index"] for s in samples], dtype=torch.long),
             "id": [s["id"] for s in samples]}
    for name in ("audio", "vision"):
        lengths = stack(f"{name}_lengths")
        T = int(lengths.max())
        x = torch.stack([s[name][:T] for s in samples])  # (B, T_batch, D)
        kept = stack(f"{name}_kept", T)  # (B, T_batch)
        batch.update({name: x, f"{name}_m": mask_frames(x, kept), f"{name}_lengths": lengths,
                      f"{name}_kept": kept})
    done = set(batch) | {"text_valid"}
    batch.update({k: stack(k) for k, v in samples[0].items()  # labels
                  if k not in done and isinstance(v, torch.Tensor)})
    return batch


def make_loader(dataset: MMSADataset, batch_size: int, shuffle: bool, seed: int = 0,
                num_workers: int = 0, drop_last: bool = False,
                bucket_by_length: bool = False) -> DataLoader:
    """A DataLoader whose shuffling comes from its own generator (no global seed); with
    `bucket_by_length`, batches of similar lengths (emtlib.data.sampling)."""
    if batch_size < 1:
        raise ValueError(f"batch_size must be >= 1, found {batch_size}")
    if bucket_by_length:
        sampler = LengthBucketSampler(dataset.lengths(), batch_size, shuffle=shuffle, seed=seed,
                                      drop_last=drop_last)
        return DataLoader(dataset, batch_sampler=sampler, num_workers=num_workers,
                          collate_fn=collate_mmsa)
    gen = torch.Generator().manual_seed(int(seed))
    return DataLoader(dataset, batch_size=batch_size, shuffle=shuffle, generator=gen,
                      num_workers=num_workers, collate_fn=collate_mmsa, drop_last=drop_last)


def pool_frames(split: dict, k: int) -> dict:
    """The split with every `k` consecutive audio and vision frames averaged into one.

    (N, T, D) -> (N, ceil(T / k), D): window j holds frames jk .. jk+k-1, averaged over those
    that are valid (t < length); lengths become ceil(length / k); windows past the end are zero.
    Other keys are shared, not copied. k = 1 returns the split itself.
    """
    if k == 1:
        return split
    out = dict(split)
    for name in ("audio", "vision"):
        x = np.asarray(split[name], dtype=np.float32)  # (N, T, D)
        lengths = np.asarray(split[f"{name}_lengths"]).astype(np.int64)
        N, T, D = x.shape
        Tp = -(-T // k)
        valid = (np.arange(Tp * k)[None, :] < lengths[:, None]).astype(np.float32)  # (N, Tp*k)
        padded = np.zeros((N, Tp * k, D), np.float32)
        padded[:, :T] = x
        sums = (padded * valid[:, :, None]).reshape(N, Tp, k, D).sum(2)  # (N, Tp, D)
        counts = valid.reshape(N, Tp, k).sum(2)[:, :, None]  # (N, Tp, 1)
        out[name] = sums / np.maximum(counts, 1.0)
        out[f"{name}_lengths"] = -(-lengths // k)
    return out


def make_datasets(data, cfg) -> dict[str, MMSADataset]:
    """One MMSADataset per split of `data` (an MMSAData) at the run's missing rate (masks drawn
    once, docs/missing-views.md); `cfg` is the run's ExperimentConfig. With `data.frame_pool` > 1
    the frames are pooled first (`pool_frames`), so the masks fall on pooled frames."""
    rate = cfg.missing_rate  # 0.0 for method "emt" (the complete setting), enforced by its config
    n = cfg.data.max_samples_per_split
    out = {}
    for s, split in data.splits.items():
        if n is not None:
            split = {k: v[:n] for k, v in split.items()}
        split = pool_frames(split, cfg.data.frame_pool)
        out[s] = MMSADataset(split, rate, cfg.data.missing_seeds)
    return out
