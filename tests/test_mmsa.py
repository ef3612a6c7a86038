"""load_mmsa: validation, release checks, cleaning, errors; SIMS normalisation."""
from __future__ import annotations

import pickle
import warnings

import numpy as np
import pytest

from emtlib.data import mmsa
from emtlib.data.mmsa import (MMSAFormatError, default_path, file_sha1, load_mmsa, normalize_sims,
                              read_pickle, read_pickle_sha1, write_normalized_sims)
from emtlib.data.schema import get_spec
from tests.conftest import tiny_data, tiny_split


def write(tmp_path, data, name="unaligned_50.pkl"):
    p = tmp_path / name
    with open(p, "wb") as f:
        pickle.dump(data, f, protocol=4)
    return p


def test_round_trip_and_hash_warning(tmp_path):
    data = tiny_data("mosi")
    p = write(tmp_path, data)
    with pytest.warns(UserWarning, match=r"SHA-1 [0-9a-f]{40} differs .*5da0b844.*split sizes"):
        d = load_mmsa(p, "mosi")
    assert d.sha1 == file_sha1(p) and not d.synthetic
    assert d.sizes() == {"train": 4, "valid": 4, "test": 4}
    np.testing.assert_array_equal(d["test"]["vision"], data["test"]["vision"])
    assert d["train"]["audio_lengths"].dtype == np.int64
    with pytest.raises(MMSAFormatError, match="differs from the released"):
        load_mmsa(p, "mosi", strict=True)


def test_data_root_layout(tmp_path):
    p = default_path(tmp_path, "mosi")
    assert p == tmp_path / "MOSI" / "Processed" / "unaligned_50.pkl"
    assert default_path(tmp_path, "sims").name == "unaligned_39_normalized.pkl"
    p.parent.mkdir(parents=True)
    write(p.parent, tiny_data("mosi"))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        assert load_mmsa(tmp_path, "mosi").path == p


def test_missing_file_message(tmp_path):
    with pytest.raises(FileNotFoundError) as e:
        load_mmsa(tmp_path / "nowhere", "mosei")
    msg = str(e.value)
    for part in ("MOSEI/Processed/unaligned_50.pkl", "db3e2cff", "data/README.md", "emtlib synth"):
        assert part in msg


def test_audio_minus_inf_cleaned_other_nonfinite_refused(tmp_path):
    data = tiny_data("mosi")
    data["train"]["audio"][1, 0, 2] = -np.inf
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        d = load_mmsa(write(tmp_path, data), "mosi")
    assert d["train"]["audio"][1, 0, 2] == 0 and np.isfinite(d["train"]["audio"]).all()
    data["valid"]["vision"][2, 3, 4] = np.nan
    with pytest.raises(MMSAFormatError, match=r"'vision' holds 1 non-finite.*\(2, 3, 4\)"), \
            warnings.catch_warnings():
        warnings.simplefilter("ignore")
        load_mmsa(write(tmp_path, data), "mosi")


def test_cleaning_in_slices_covers_every_row(monkeypatch):
    """clean_split works over row slices (bounded temporaries): with slices of one or two
    rows, every -inf is still replaced in place and a NaN in the last slice still found."""
    chunks = mmsa._row_chunks
    monkeypatch.setattr(mmsa, "_row_chunks", lambda arr: chunks(arr, nbytes=2 * arr[:1].nbytes))
    assert [(s.start, s.stop) for s in chunks(np.zeros((5, 3), np.float32), nbytes=24)] == \
        [(0, 2), (2, 4), (4, 6)]
    split = tiny_split("mosi", n=5, seed=2)
    audio = split["audio"]
    audio[[0, 2, 4], 0, [1, 3, 0]] = -np.inf
    assert mmsa.clean_split(split, get_spec("mosi"))["audio"] is audio
    assert (audio[[0, 2, 4], 0, [1, 3, 0]] == 0).all() and np.isfinite(audio).all()
    split["text"][4, 7, 9] = np.nan
    with pytest.raises(MMSAFormatError, match=r"'text' holds 1 non-finite.*\(4, 7, 9\)"):
        mmsa.clean_split(split, get_spec("mosi"))


def test_one_pass_read_gives_the_object_and_the_file_hash(tmp_path):
    data = tiny_data("sims")
    p = write(tmp_path, data, "unaligned_39.pkl")
    with open(p, "ab") as f:
        f.write(b"trailing bytes")  # after the pickle's end: hashed, never unpickled
    obj, sha1 = read_pickle_sha1(p)
    assert sha1 == file_sha1(p)
    np.testing.assert_array_equal(obj["valid"]["audio"], read_pickle(p)["valid"]["audio"])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        assert load_mmsa(p, "sims").sha1 == sha1


def test_audio_plus_inf_refused(tmp_path):
    data = tiny_data("mosi")
    data["test"]["audio"][0, 0, 0] = np.inf
    with pytest.raises(MMSAFormatError, match="'audio' holds 1 non-finite"), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        load_mmsa(write(tmp_path, data), "mosi")


@pytest.mark.parametrize("mutate, message", [
    (lambda s: s.pop("audio"), r"missing key\(s\) \['audio'\]"),
    (lambda s: s.update(audio=s["audio"][:, :300]), r"'audio' should have shape \(4, 375, 5\)"),
    (lambda s: s.update(vision=s["vision"][..., :10]), r"'vision' should have shape"),
    (lambda s: s.update(text_bert=s["text_bert"][:, :, :39]), r"'text_bert' should have shape"),
    (lambda s: s["audio_lengths"].__setitem__(0, 0), r"'audio_lengths' must lie in \[1, 375\].*\[0\]"),
    (lambda s: s["vision_lengths"].__setitem__(2, 501), r"'vision_lengths' must lie in \[1, 500\]"),
    (lambda s: s["regression_labels"].__setitem__(1, 3.5), r"must lie in \[-3.0, 3.0\]"),
    (lambda s: s["text_bert"][0, 1].__setitem__(slice(None), 0), r"at least \[CLS\] and \[SEP\]"),
    (lambda s: s.update(audio=np.array(["a"] * 4)), r"'audio' should be numeric"),
])
def test_bad_splits(tmp_path, mutate, message):
    data = tiny_data("mosi")
    mutate(data["valid"])
    with pytest.raises(MMSAFormatError, match=message):
        load_mmsa(write(tmp_path, data), "mosi")


def test_bad_top_level(tmp_path):
    with pytest.raises(MMSAFormatError, match=r"missing split\(s\) \['test'\]"):
        load_mmsa(write(tmp_path, {"train": {}, "valid": {}}), "mosi")
    with pytest.raises(MMSAFormatError, match="found a list"):
        load_mmsa(write(tmp_path, [1, 2]), "mosi")


def test_truncated_and_non_pickle(tmp_path):
    good = write(tmp_path, tiny_data("mosi"))
    cut = tmp_path / "cut.pkl"
    cut.write_bytes(good.read_bytes()[:1000])
    with pytest.raises(MMSAFormatError, match="not a readable pickle.*truncated"):
        load_mmsa(cut, "mosi")
    txt = tmp_path / "notes.pkl"
    txt.write_text("hello, this is not a pickle")
    with pytest.raises(MMSAFormatError, match="not a readable pickle"):
        load_mmsa(txt, "mosi")


def test_unknown_dataset(tmp_path):
    with pytest.raises(ValueError, match=r"unknown dataset 'iemocap'.*\['mosei', 'mosi', 'sims'\]"):
        load_mmsa(tmp_path, "iemocap")


def test_sims_needs_unimodal_labels(tmp_path):
    data = tiny_data("sims")
    del data["train"]["regression_labels_A"]
    with pytest.raises(MMSAFormatError, match="regression_labels_A"):
        load_mmsa(write(tmp_path, data, "unaligned_39.pkl"), "sims")


def test_normalize_sims_by_hand():
    data = tiny_data("sims", n=3)
    tr = data["train"]
    tr["audio_lengths"][:] = [2, 1, 3]
    tr["audio"][:] = 0
    tr["audio"][0, :2, 0] = [1.0, 3.0]
    tr["audio"][1, :1, 0] = [5.0]
    tr["audio"][2, :3, 0] = [7.0, 9.0, 11.0]
    # valid train frames of feature 0: 1 3 5 7 9 11 -> mean 6, population std sqrt(35/3)
    mean, std = 6.0, np.sqrt(35 / 3)
    out = normalize_sims(data)
    np.testing.assert_allclose(out["train"]["audio"][2, :3, 0],
                               (np.array([7, 9, 11]) - mean) / (std + 1e-6), rtol=1e-6)
    assert (out["train"]["audio"][0, 2:] == 0).all()  # padding stays 0
    te = data["test"]
    v = te["vision"][0, : te["vision_lengths"][0]]
    tv = np.concatenate([tr["vision"][i, : tr["vision_lengths"][i]] for i in range(3)]).astype(np.float64)
    np.testing.assert_allclose(out["test"]["vision"][0, : te["vision_lengths"][0]],
                               (v - tv.mean(0)) / (tv.std(0) + 1e-6), rtol=1e-4, atol=1e-5)
    np.testing.assert_array_equal(out["test"]["text_bert"], te["text_bert"])
    assert data["train"]["audio"][0, 1, 0] == 3.0  # input not modified


def test_write_normalized_sims(tmp_path):
    folder = tmp_path / "SIMS" / "Processed"
    folder.mkdir(parents=True)
    write(folder, tiny_data("sims"), "unaligned_39.pkl")
    dst = write_normalized_sims(tmp_path)
    assert dst == folder / "unaligned_39_normalized.pkl"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        d = load_mmsa(tmp_path, "sims")  # the normalized file is the SIMS default
    assert d.path == dst
    tr = d["train"]
    valid = np.arange(tr["audio"].shape[1])[None] < tr["audio_lengths"][:, None]
    frames = tr["audio"][valid]
    np.testing.assert_allclose(frames.mean(0), 0, atol=1e-5)
    np.testing.assert_allclose(frames.std(0), 1, atol=1e-4)
