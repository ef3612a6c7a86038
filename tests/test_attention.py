"""emtlib.attention: the trained-model cache and one sample's Fig. 12 attention maps."""
from __future__ import annotations

import math

import numpy as np
import pytest
import torch

import emtlib.train
from emtlib.config import apply_overrides
from emtlib.attention import (PAPER_SAMPLE_ID, checkpoint_path, figure12_data, find_sample,
                              pool_positions, sample_attention, split_for, trained_model)
from emtlib.data.dataset import collate_mmsa
from emtlib.data.synthetic import vocabulary
from emtlib.experiments import RunSpec, record_path, run
from emtlib.metrics import METRIC_KEYS

SPEC = RunSpec(profile="smoke", missing_rate=0.5,
               overrides=("train.max_epochs=1", "data.max_samples_per_split=6"))  # CPU budget


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    """One smoke model at rate 0.5, trained once into a temporary results directory."""
    results = tmp_path_factory.mktemp("results")
    calls = []
    real_fit = emtlib.train.fit

    def counting_fit(cfg, *a, **k):
        calls.append(cfg)
        return real_fit(cfg, *a, **k)

    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(emtlib.train, "fit", counting_fit)
        model, record = trained_model(SPEC, results)
    assert len(calls) == 1 and calls[0].train.quiet
    return model, record, results


@pytest.fixture(scope="module")
def test_split():
    return split_for(SPEC, "test")


@pytest.fixture(scope="module")
def att(trained, test_split):
    return sample_attention(trained[0], test_split)


def _no_training(monkeypatch):
    def fit(cfg, *a, **k):
        raise AssertionError("training was asked for although a checkpoint exists")

    monkeypatch.setattr(emtlib.train, "fit", fit)


def test_cache_written_beside_record_and_shared_with_run(trained, monkeypatch):
    model, record, results = trained
    cfg = apply_overrides(SPEC.config(), ["train.quiet=true"])
    path = record_path(cfg, results)
    assert path.is_file() and path.with_suffix(".pt") == checkpoint_path(SPEC, results)
    assert checkpoint_path(SPEC, results).is_file()
    assert not list(path.parent.glob("*.part"))  # atomic writes left no temporary file
    assert record["key"] == path.stem and "metrics" in record and not model.training
    _no_training(monkeypatch)
    assert run(SPEC, results)["metrics"] == record["metrics"]  # experiments.run reads the same record


def test_second_call_loads_checkpoint(trained, test_split, att, monkeypatch):
    model, record, results = trained
    _no_training(monkeypatch)
    rng_before = torch.random.get_rng_state()
    loaded, rec2 = trained_model(SPEC, results)
    assert torch.equal(rng_before, torch.random.get_rng_state())  # rebuilding leaves the RNG alone
    assert loaded is not model and rec2 == record
    sd, sd2 = model.state_dict(), loaded.state_dict()
    assert sd.keys() == sd2.keys() and all(torch.equal(sd[k].cpu(), sd2[k].cpu()) for k in sd)
    again = sample_attention(loaded, test_split)
    for view in ("complete", "incomplete"):
        for m in ("text", "audio", "video"):
            np.testing.assert_allclose(again[view][m], att[view][m], atol=1e-6)
    assert again["pred_incomplete"] == pytest.approx(att["pred_incomplete"], abs=1e-5)


def test_rows_sum_to_one_before_pooling_and_match_forward(trained, test_split, att):
    model = trained[0]
    i = att["index"]
    assert att["id"] == test_split.ids[0] and i == 0  # no paper sample in the stand-in: the first
    batch = collate_mmsa([test_split[i]])
    with torch.no_grad():
        out = model(batch, return_attention=True)
    raw = {"complete": out["attention_complete"], "incomplete": out["attention"]}
    for view in ("complete", "incomplete"):
        for m in ("text", "audio", "video"):
            a = att["unpooled"][view][m]
            assert a.shape == (3, att["lengths"][m])
            np.testing.assert_allclose(a.sum(1), 1.0, atol=1e-5)  # padding/[SEP] get no weight
            ref = raw[view][m][-1][0].mean(0)[:, :a.shape[1]].numpy()  # last layer, heads averaged
            np.testing.assert_allclose(a, ref, atol=1e-6)
    assert att["pred_complete"] == pytest.approx(float(out["pred"][0]), abs=1e-5)
    assert att["pred_incomplete"] == pytest.approx(float(out["pred_m"][0]), abs=1e-5)
    assert att["label"] == pytest.approx(float(test_split.labels["labels"][i]))


def test_pooled_shapes_tokens_and_kept(test_split, att):
    i = att["index"]
    n_words = int(test_split.text[i, 1].sum()) - 2
    L = att["lengths"]
    assert L["text"] == n_words
    assert L["audio"] == int(test_split.tensors["audio_lengths"][i])
    assert L["video"] == int(test_split.tensors["vision_lengths"][i])
    for view in ("complete", "incomplete"):
        assert att[view]["text"].shape == (3, n_words)  # text is not pooled
        for m in ("audio", "video"):
            assert att[view][m].shape == (3, math.ceil(L[m] / 2))
            np.testing.assert_allclose(att[view][m], pool_positions(att["unpooled"][view][m], 2))
    assert len(att["tokens"]) == n_words == len(att["tokens_incomplete"])
    ids = test_split.text[i, 0, 1:1 + n_words].tolist()
    assert "[CLS]" not in att["tokens"] and "[SEP]" not in att["tokens"]
    words = {i: w for w, i in vocabulary().items()}  # the stand-in's words, bert-base-uncased ids
    assert att["tokens"] == [words[t] for t in ids]
    # kept matches the dataset's masks; masked text shows as [UNK] in the incomplete view
    kt = test_split.text_kept[i, 1:1 + n_words].numpy()
    np.testing.assert_array_equal(att["kept"]["text"], kt)
    np.testing.assert_array_equal(att["kept"]["audio"],
                                  test_split.tensors["audio_kept"][i, :L["audio"]].numpy())
    np.testing.assert_array_equal(att["kept"]["video"],
                                  test_split.tensors["vision_kept"][i, :L["video"]].numpy())
    assert not att["kept"]["audio"].all() and att["kept"]["audio"].any()  # rate 0.5 masks some
    assert [t == "[UNK]" for t in att["tokens_incomplete"]] == (~kt).tolist()
    assert [a for a, k in zip(att["tokens_incomplete"], kt) if k] == \
        [a for a, k in zip(att["tokens"], kt) if k]
    assert att["kept_pooled"]["audio"].shape == (math.ceil(L["audio"] / 2),)


def test_pool_positions_last_partial_window():
    a = np.array([[1.0, 3.0, 5.0, 7.0, 9.0]])
    np.testing.assert_allclose(pool_positions(a, 2), [[2.0, 6.0, 9.0]])
    np.testing.assert_allclose(pool_positions(a, 1), a)


def test_sample_selection(trained, test_split):
    sid = test_split.ids[3]
    att = sample_attention(trained[0], test_split, sid)
    assert att["id"] == sid and att["index"] == 3
    with pytest.raises(ValueError, match="available ids") as e:
        sample_attention(trained[0], test_split, "noSuchVideo$_$99")
    assert repr(test_split.ids[0]) in str(e.value)
    # the paper prints 'video_clip' for MMSA's 'video$_$clip'; the paper's sample is the default
    head, clip = sid.split("$_$")
    assert find_sample(test_split, f"{head}_{clip}") == 3
    old = test_split.ids[5]
    test_split.ids[5] = PAPER_SAMPLE_ID
    try:
        assert find_sample(test_split, None) == 5
    finally:
        test_split.ids[5] = old


def test_figure12_one_model_default(trained, att, monkeypatch):
    _, record, results = trained
    _no_training(monkeypatch)
    fig = figure12_data(None, SPEC, results_dir=results)
    assert fig["mode"] == "one_model" and fig["id"] == att["id"]
    assert fig["records"]["complete"]["key"] == fig["records"]["incomplete"]["key"] == record["key"]
    np.testing.assert_allclose(fig["complete"]["audio"], att["complete"]["audio"], atol=1e-6)
    np.testing.assert_allclose(fig["incomplete"]["text"], att["incomplete"]["text"], atol=1e-6)
    assert any("heads averaged" in a for a in fig["assumptions"])


def test_complete_setting_model_runs_both_views(test_split):
    """Method 'emt' skips the masked view in its forward; sample_attention still gives both."""
    from emtlib.models import build_model

    cfg = RunSpec(method="emt", profile="smoke").config()
    torch.manual_seed(0)
    model = build_model(cfg, pretrained_text=False)
    att = sample_attention(model, test_split, test_split.ids[1], pool_stride=3, head=0)
    for view in ("complete", "incomplete"):
        np.testing.assert_allclose(att["unpooled"][view]["video"].sum(1), 1.0, atol=1e-5)
        assert att[view]["video"].shape == (3, math.ceil(att["lengths"]["video"] / 3))
    assert att["head"] == 0


def test_two_models_and_record_without_checkpoint(tmp_path, test_split, monkeypatch, caplog):
    """Fig. 12's two-model reading; a record written by experiments.run alone means one retraining."""
    from emtlib.models import build_model
    from emtlib.train import FitResult

    calls = []

    def fake_fit(cfg, *a, **k):  # an untrained model: only the cache's mechanics are tested here
        calls.append(cfg.method)
        torch.manual_seed(len(calls))
        metrics = {**dict.fromkeys(METRIC_KEYS[cfg.dataset], 0.5), "mae": float(len(calls))}
        return FitResult(record={"config": cfg.to_dict(), "metrics": metrics},
                         model=build_model(cfg, pretrained_text=False))

    monkeypatch.setattr(emtlib.train, "fit", fake_fit)
    complete = RunSpec(method="emt", profile="smoke", overrides=SPEC.overrides)
    run(complete, tmp_path)  # record only, no checkpoint
    assert calls == ["emt"] and not checkpoint_path(complete, tmp_path).exists()
    with caplog.at_level("INFO", logger="emtlib.attention"):
        fig = figure12_data(complete, SPEC, sample_id=test_split.ids[2], results_dir=tmp_path)
    assert "no checkpoint beside it" in caplog.text
    assert calls == ["emt", "emt_dlfr", "emt"] and checkpoint_path(complete, tmp_path).is_file()
    assert fig["mode"] == "two_models" and fig["id"] == test_split.ids[2]
    assert fig["records"]["complete"]["config"]["method"] == "emt"
    assert fig["records"]["complete"]["metrics"]["mae"] == 3.0  # the rewritten record
    assert run(complete, tmp_path)["metrics"]["mae"] == 3.0
    for view in ("complete", "incomplete"):
        np.testing.assert_allclose(fig["unpooled"][view]["text"].sum(1), 1.0, atol=1e-5)
