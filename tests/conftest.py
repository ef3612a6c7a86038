"""Shared test helpers: tiny hand-built MMSA splits with the real shapes of a dataset; one torch
thread for the whole unit-test session."""
from __future__ import annotations

import os

import numpy as np
import pytest
import torch


@pytest.fixture(autouse=True, scope="session")
def _one_torch_thread():
    """One intra-op thread: the tests' models are small, and on a shared 2-core machine several
    threads contend (up to ~100x slower per op). Restored at the end of the session."""
    n = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(n)


@pytest.fixture(autouse=True, scope="module")
def _may_train():
    """Unit tests train: lift the cache-only mode the root conftest sets for the notebooks (module
    scope, so module fixtures that train see it lifted too); restored for what follows."""
    before = os.environ.pop("EMTLIB_CACHE_ONLY", None)
    yield
    if before is not None:
        os.environ["EMTLIB_CACHE_ONLY"] = before


@pytest.fixture
def own_rng():
    """For tests that seed torch's global RNG for their models: fork_rng restores it afterwards."""
    with torch.random.fork_rng():
        yield


from emtlib.data.schema import CLS_ID, SEP_ID, get_spec


def tiny_split(dataset: str = "mosi", n: int = 4, seed: int = 0,
               text_tokens=None, audio_lengths=None, vision_lengths=None) -> dict:
    """An n-sample split in the MMSA layout of `dataset`, filled with small random values.

    `text_tokens[i]` counts word pieces plus [CLS] and [SEP] of sample i.
    """
    spec = get_spec(dataset)
    rng = np.random.default_rng(seed)
    L = spec.text_len
    text_tokens = list(text_tokens if text_tokens is not None else rng.integers(3, L + 1, n))
    tb = np.zeros((n, 3, L), np.float32)
    for i, t in enumerate(text_tokens):
        tb[i, 0, 0] = CLS_ID
        tb[i, 0, 1:t - 1] = rng.integers(1000, 2000, t - 2)
        tb[i, 0, t - 1] = SEP_ID
        tb[i, 1, :t] = 1
    a_len = np.asarray(audio_lengths if audio_lengths is not None
                       else rng.integers(1, spec.audio_len + 1, n))
    v_len = np.asarray(vision_lengths if vision_lengths is not None
                       else rng.integers(1, spec.vision_len + 1, n))
    audio = rng.normal(size=(n, spec.audio_len, spec.audio_dim)).astype(np.float32)
    vision = rng.normal(size=(n, spec.vision_len, spec.vision_dim)).astype(np.float32)
    audio[np.arange(spec.audio_len)[None, :] >= a_len[:, None]] = 0
    vision[np.arange(spec.vision_len)[None, :] >= v_len[:, None]] = 0
    lo, hi = spec.label_range
    split = {
        "id": np.array([f"vid{i // 2}$_${i % 2}" for i in range(n)]),
        "raw_text": np.array([f"sentence {i}" for i in range(n)]),
        "text": rng.normal(size=(n, L, 768)).astype(np.float32),
        "text_bert": tb,
        "audio": audio, "vision": vision,
        "audio_lengths": a_len.astype(np.int64), "vision_lengths": v_len.astype(np.int64),
        "regression_labels": rng.uniform(lo, hi, n).astype(np.float32),
        "classification_labels": np.zeros(n, np.float32),
        "annotations": np.array(["Neutral"] * n),
    }
    if spec.unimodal_labels:
        for m in "TAV":
            split[f"regression_labels_{m}"] = rng.uniform(lo, hi, n).astype(np.float32)
    return split


def tiny_data(dataset: str = "mosi", n: int = 4) -> dict:
    return {s: tiny_split(dataset, n, seed=k) for k, s in enumerate(("train", "valid", "test"))}


@pytest.fixture
def tiny():
    return tiny_data


@pytest.fixture
def saved(monkeypatch):
    """Record emtlib.plots' save_figure calls instead of rendering files (test_plots_style renders)."""
    from emtlib.plots import style

    calls = []
    monkeypatch.setattr(style, "save_figure", lambda fig, name, results_dir: calls.append(
        (name, results_dir)))
    return calls
