"""The missing-view protocol (docs/missing-views.md), checked against an independent loop
version."""
from __future__ import annotations

import numpy as np
import pytest

from emtlib.data.missing import MISSING_SEEDS, make_missing, missing_masks
from emtlib.data.schema import CLS_ID, SEP_ID, UNK_ID
from tests.conftest import tiny_split


def released_protocol(split, rate, seeds=MISSING_SEEDS):
    """The released `generate_m`, re-expressed element by element with the GLOBAL seed,
    exactly as the authors' loader draws it (global state saved and restored here)."""
    state = np.random.get_state()
    try:
        tb = split["text_bert"]
        n, L = tb.shape[0], tb.shape[2]
        np.random.seed(seeds[0])
        u = np.random.uniform(size=(n, L))
        ids = np.zeros((n, L), np.float32)
        text_kept = np.zeros((n, L), bool)
        for i in range(n):
            mask = tb[i, 1]
            input_len = int(np.argmin(mask))
            for t in range(L):
                text_kept[i, t] = (u[i, t] > rate) and mask[t] == 1
            text_kept[i, 0] = True
            text_kept[i, input_len - 1] = True
            for t in range(L):
                if text_kept[i, t]:
                    ids[i, t] = tb[i, 0, t]
                elif mask[t] == 1:
                    ids[i, t] = 100
        out = {"ids": ids, "text_kept": text_kept}
        for name, seed in (("audio", seeds[1]), ("vision", seeds[2])):
            x = split[name]
            n, T, _ = x.shape
            np.random.seed(seed)
            u = np.random.uniform(size=(n, T))
            kept = np.zeros((n, T), bool)
            xm = np.empty_like(x)
            for i in range(n):
                for t in range(T):
                    kept[i, t] = u[i, t] > rate and t < split[f"{name}_lengths"][i]
                    # the released code multiplies by the 0/1 mask: a masked negative
                    # value becomes -0.0, which a bit-level comparison sees
                    xm[i, t] = x[i, t] * int(kept[i, t])
            out[name], out[f"{name}_kept"] = xm, kept
        return out
    finally:
        np.random.set_state(state)


@pytest.mark.parametrize("rate", [0.0, 0.3, 0.7, 1.0])
def test_masks_match_independent_reference(rate):
    split = tiny_split("mosi", n=6, seed=1, text_tokens=[3, 10, 50, 25, 4, 50],
                       audio_lengths=[1, 375, 40, 7, 100, 2], vision_lengths=[500, 3, 60, 1, 9, 80])
    ref = released_protocol(split, rate)
    m = make_missing(split, rate)
    np.testing.assert_array_equal(m["text_bert"][:, 0], ref["ids"])
    np.testing.assert_array_equal(m["text_kept"], ref["text_kept"])
    for name in ("audio", "vision"):
        np.testing.assert_array_equal(m[f"{name}_kept"], ref[f"{name}_kept"])
        assert m[name].tobytes() == ref[name].tobytes()  # bit-identical, zeros included
    masks = missing_masks(split, rate)  # the masks alone, as the datasets apply them per batch
    assert set(masks) == {"text_kept", "audio_kept", "vision_kept"}
    for k, v in masks.items():
        np.testing.assert_array_equal(v, ref[k])


def test_cls_sep_kept_and_unk_substitution():
    split = tiny_split("mosi", n=3, text_tokens=[5, 50, 12])
    m = make_missing(split, 1.0)
    ids = m["text_bert"][:, 0]
    for i, n_tok in enumerate([5, 50, 12]):
        assert ids[i, 0] == CLS_ID and ids[i, n_tok - 1] == SEP_ID
        assert (ids[i, 1:n_tok - 1] == UNK_ID).all()  # rate 1.0 masks every word piece
        assert (ids[i, n_tok:] == 0).all()  # padding stays [PAD]
        assert m["text_kept"][i].sum() == 2
    # attention mask and segment ids are the originals
    np.testing.assert_array_equal(m["text_bert"][:, 1:], split["text_bert"][:, 1:])


def test_rate_zero_keeps_every_valid_position_and_rate_one_masks_all_frames():
    split = tiny_split("mosei", n=5, seed=3)
    keep = make_missing(split, 0.0)
    valid_t = split["text_bert"][:, 1] == 1
    np.testing.assert_array_equal(keep["text_kept"], valid_t)
    np.testing.assert_array_equal(keep["text_bert"], split["text_bert"])
    drop = make_missing(split, 1.0)
    for name in ("audio", "vision"):
        valid = np.arange(split[name].shape[1])[None] < split[f"{name}_lengths"][:, None]
        np.testing.assert_array_equal(keep[f"{name}_kept"], valid)
        np.testing.assert_array_equal(keep[name], split[name])
        assert not drop[f"{name}_kept"].any()
        assert not drop[name].any()
        np.testing.assert_array_equal(drop[f"{name}_lengths"], split[f"{name}_lengths"])


def test_padding_never_marked_present():
    split = tiny_split("sims", n=8, seed=2)
    m = make_missing(split, 0.4)
    assert not (m["text_kept"] & (split["text_bert"][:, 1] == 0)).any()
    for name in ("audio", "vision"):
        pad = np.arange(split[name].shape[1])[None] >= split[f"{name}_lengths"][:, None]
        assert not (m[f"{name}_kept"] & pad).any()


def test_rows_repeat_across_splits_of_equal_width():
    """Seeds are reset per split, so row i of the valid split's draw equals train's row i."""
    a = tiny_split("mosi", n=5, seed=1, audio_lengths=[375] * 5)
    b = tiny_split("mosi", n=3, seed=2, audio_lengths=[375] * 3)
    np.testing.assert_array_equal(make_missing(a, 0.5)["audio_kept"][:3],
                                  make_missing(b, 0.5)["audio_kept"])


def test_per_modality_rates_and_global_state_untouched():
    split = tiny_split("mosi", n=4, seed=5)
    np.random.seed(12345)
    before = np.random.get_state()[1].copy()
    m = make_missing(split, (0.0, 1.0, 0.0))
    after = np.random.get_state()[1]
    np.testing.assert_array_equal(before, after)
    assert m["text_kept"].sum() == (split["text_bert"][:, 1] == 1).sum()
    assert not m["audio_kept"].any()
    assert m["vision_kept"].sum() == split["vision_lengths"].sum()
    assert "text" not in m  # pre-extracted features cannot be masked per token
    assert "text" in split  # the input is untouched


def test_masked_fraction_close_to_rate():
    split = tiny_split("mosi", n=200, seed=7, audio_lengths=[300] * 200)
    m = make_missing(split, 0.3)
    assert abs(1 - m["audio_kept"].mean() / (300 / 375) - 0.3) < 0.01


@pytest.mark.parametrize("rate", [-0.1, 1.5, float("nan"), (0.1, 0.2), "x"])
def test_bad_rates(rate):
    with pytest.raises(ValueError, match="missing rate"):
        make_missing(tiny_split(), rate)


def test_split_without_keys():
    with pytest.raises(KeyError, match="audio_lengths"):
        make_missing({"text_bert": np.zeros((1, 3, 50)), "audio": np.zeros((1, 375, 5)),
                      "vision": np.zeros((1, 500, 20)), "vision_lengths": np.ones(1)}, 0.1)
