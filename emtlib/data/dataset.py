"""Torch views of one split: both views, masks and lengths per sample, batched by `collate_mmsa`.

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

from .missing import MISSING_SEEDS, make_missing
from .sampling import LengthBucketSampler

UNIMODAL = {"regression_labels_T": "labels_T", "regression_labels_A": "labels_A",
            "regression_labels_V": "labels_V"}


class MMSADataset(Dataset):
    """One split with its complete view and its incomplete view at `missing_rate`.

    The masks are drawn once here, as the released loader does
    (docs/missing-views.md#when-masks-are-drawn).
    """

    def __init__(self, split: dict, missing_rate: float | Sequence[float] = 0.0,
                 seeds: Sequence[int] = MISSING_SEEDS):
        m = make_missing(split, missing_rate, seeds)
        self.missing_rate = missing_rate
        self.text = torch.as_tensor(np.asarray(split["text_bert"]).round()).long()  # (N, 3, L)
        self.text_m = torch.as_tensor(m["text_bert"].round()).long()  # (N, 3, L)
        self.text_kept = torch.as_tensor(m["text_kept"])  # (N, L)
        self.tensors: dict[str, torch.Tensor] = {}
        for name in ("audio", "vision"):
            self.tensors[name] = torch.as_tensor(np.asarray(split[name], dtype=np.float32))
            self.tensors[f"{name}_m"] = torch.as_tensor(m[name].astype(np.float32, copy=False))
            self.tensors[f"{name}_kept"] = torch.as_tensor(m[f"{name}_kept"])
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
        item = {"text": self.text[i], "text_m": self.text_m[i], "text_kept": self.text_kept[i],
                "index": i, "id": self.ids[i]}
        item.update({k: v[i] for k, v in self.tensors.items()})
        item.update({k: v[i] for k, v in self.labels.items()})
        return item


def collate_mmsa(samples: list[dict]) -> dict:
    """Stack samples; crop every sequence (and its masks) to the longest one in the batch."""
    if not samples:
        raise ValueError("cannot collate an empty batch")
    batch = {k: torch.stack([s[k] for s in samples]) for k in samples[0]
             if isinstance(samples[0][k], torch.Tensor)}
    batch["index"] = torch.tensor([s["index"] for s in samples], dtype=torch.long)
    batch["id"] = [s["id"] for s in samples]
    L = int(batch["text"][:, 1].sum(1).max())
    for k in ("text", "text_m"):
        batch[k] = batch[k][:, :, :L]  # (B, 3, L_batch)
    batch["text_kept"] = batch["text_kept"][:, :L]
    for name in ("audio", "vision"):
        T = int(batch[f"{name}_lengths"].max())
        for k in (name, f"{name}_m", f"{name}_kept"):
            batch[k] = batch[k][:, :T]  # (B, T_batch, ...)
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


def make_datasets(data, cfg) -> dict[str, MMSADataset]:
    """One MMSADataset per split of `data` (an MMSAData) at the run's missing rate (masks drawn
    once, docs/missing-views.md); `cfg` is the run's ExperimentConfig."""
    rate = cfg.missing_rate  # 0.0 for method "emt" (the complete setting), enforced by its config
    n = cfg.data.max_samples_per_split
    out = {}
    for s, split in data.splits.items():
        if n is not None:
            split = {k: v[:n] for k, v in split.items()}
        out[s] = MMSADataset(split, rate, cfg.data.missing_seeds)
    return out
