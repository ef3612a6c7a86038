"""Length bucketing (emtlib.data.sampling): every sample once per epoch, less padding, reshuffled."""
from __future__ import annotations

import numpy as np
import pytest
import torch

from emtlib.data.dataset import MMSADataset, make_loader
from emtlib.data.sampling import LengthBucketSampler, length_key
from tests.conftest import tiny_split


def random_lengths(n=400, seed=0):
    """Lengths driven by a shared utterance duration, as in real clips (text, audio, vision)."""
    rng = np.random.default_rng(seed)
    dur = rng.lognormal(0.0, 0.6, n)
    noisy = lambda scale, hi: np.clip((dur * scale * rng.uniform(0.8, 1.2, n)).astype(int), 1, hi)
    return np.stack([noisy(12, 50), noisy(40, 375), noisy(45, 500)], 1)


def padded_cost(batches, lengths):
    """Positions computed after cropping each batch to its longest sequence, per modality."""
    return sum(len(b) * lengths[b].max(axis=0) for b in batches).sum()


def test_length_key_by_hand():
    key = length_key(np.array([[10, 100], [5, 50], [10, 0]]))
    np.testing.assert_allclose(key, [2.0, 1.0, 1.0])


def test_each_epoch_is_a_permutation_in_full_batches():
    lengths = random_lengths(n=203)
    s = LengthBucketSampler(lengths, batch_size=16, seed=1)
    for _ in range(3):
        batches = list(s)
        assert len(batches) == len(s) == 13
        assert sorted(i for b in batches for i in b) == list(range(203))
        assert sum(len(b) < 16 for b in batches) == 1  # only the trailing batch is partial


def test_drop_last_and_determinism():
    lengths = random_lengths(n=33)
    a = LengthBucketSampler(lengths, batch_size=16, seed=5, drop_last=True)
    b = LengthBucketSampler(lengths, batch_size=16, seed=5, drop_last=True)
    ea, eb = [list(a) for _ in range(2)], [list(b) for _ in range(2)]
    assert ea == eb and len(ea[0]) == len(a) == 2 and all(len(x) == 16 for x in ea[0])
    assert ea[0] != ea[1]  # a new draw each epoch


def test_bucketing_cuts_padding_and_batches_change_between_epochs():
    lengths = random_lengths(n=800)
    s = LengthBucketSampler(lengths, batch_size=32, seed=0)
    gen = torch.Generator().manual_seed(0)
    uniform = [torch.randperm(800, generator=gen)[i:i + 32].numpy() for i in range(0, 800, 32)]
    e1, e2 = list(s), list(s)
    assert padded_cost(e1, lengths) < 0.75 * padded_cost(uniform, lengths)
    assert {frozenset(b) for b in e1} != {frozenset(b) for b in e2}


def test_loader_with_buckets_covers_the_split():
    split = tiny_split("mosi", n=9, seed=2)
    ds = MMSADataset(split, missing_rate=0.3)
    idx = torch.cat([b["index"] for b in make_loader(ds, 4, True, seed=3, bucket_by_length=True)])
    assert sorted(idx.tolist()) == list(range(9))
    np.testing.assert_array_equal(ds.lengths()[:, 1], np.asarray(split["audio_lengths"]))


def test_bad_arguments_are_refused():
    with pytest.raises(ValueError, match="batch_size"):
        LengthBucketSampler(random_lengths(10), batch_size=0)
    with pytest.raises(ValueError, match="shape"):
        length_key(np.zeros(5))
