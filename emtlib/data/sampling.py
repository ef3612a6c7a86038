"""Length bucketing: batches of samples of similar lengths, so a batch pads little
(docs/training.md#length-bucketing).

Every sequence of a batch is cropped to the batch's longest (`collate_mmsa`), so a batch costs what
its longest text, audio and vision cost. `LengthBucketSampler` orders the split by a length key,
cuts it into `n_buckets` buckets of consecutive keys, and each epoch shuffles the samples within
each bucket, cuts the bucket-ordered sequence into batches of `batch_size` and shuffles the order
of the batches. A batch thus holds samples of similar lengths, its members change from epoch to
epoch, and its position in the epoch is random. It changes which samples share a batch, so it is
off in the paper profile (the released loader shuffles uniformly).
"""
from __future__ import annotations

from collections.abc import Iterator

import numpy as np
import torch
from torch.utils.data import Sampler


def length_key(lengths: np.ndarray) -> np.ndarray:
    """(N, M) sequence lengths -> (N,) key: the sum over modalities of length / the longest length
    of that modality, so each modality weighs the same whatever its padded size."""
    lengths = np.asarray(lengths, dtype=np.float64)
    if lengths.ndim != 2 or len(lengths) == 0:
        raise ValueError(f"expected (N, M) lengths with N >= 1, found shape {lengths.shape}")
    return (lengths / np.maximum(lengths.max(axis=0), 1.0)).sum(axis=1)


class LengthBucketSampler(Sampler[list[int]]):
    """Batches of similar lengths (see the module docstring); a batch sampler for DataLoader.

    lengths: (N, M) per-sample lengths (text tokens, audio frames, vision frames).
    shuffle: False gives the bucket order itself (evaluation: deterministic, still little padding).
    drop_last: drop a trailing partial batch (as DataLoader's drop_last).
    """

    def __init__(self, lengths: np.ndarray, batch_size: int, shuffle: bool = True, seed: int = 0,
                 drop_last: bool = False, batches_per_bucket: int = 4):
        if batch_size < 1 or batches_per_bucket < 1:
            raise ValueError(f"need batch_size >= 1 and batches_per_bucket >= 1, found "
                             f"{batch_size}, {batches_per_bucket}")
        key = length_key(lengths)
        order = np.argsort(key, kind="stable")  # shortest first
        n_buckets = max(1, len(order) // (batch_size * batches_per_bucket))
        self.buckets = [b.tolist() for b in np.array_split(order, n_buckets)]
        self.batch_size, self.shuffle, self.drop_last = batch_size, shuffle, drop_last
        self.generator = torch.Generator().manual_seed(int(seed))
        self.n = len(order)

    def __len__(self) -> int:
        return self.n // self.batch_size if self.drop_last else -(-self.n // self.batch_size)

    def __iter__(self) -> Iterator[list[int]]:
        if self.shuffle:
            flat = [b[i] for b in self.buckets
                    for i in torch.randperm(len(b), generator=self.generator).tolist()]
        else:
            flat = [i for b in self.buckets for i in b]
        batches = [flat[i:i + self.batch_size] for i in range(0, self.n, self.batch_size)]
        if self.drop_last and len(batches[-1]) < self.batch_size:
            batches.pop()
        if self.shuffle:
            batches = [batches[i] for i in torch.randperm(len(batches), generator=self.generator).tolist()]
        yield from batches
