"""Tests of emtlib.plots.attention (paper Fig 12): pooled panels, tokens, highlight, errors."""
from __future__ import annotations

import matplotlib

matplotlib.use("Agg")

import numpy as np
import pytest

from emtlib import plots


def _attn(T, seed):
    return np.random.default_rng(seed).dirichlet(np.ones(T), size=3)  # (3, T)


def test_attention_maps_one_and_two_conditions(tmp_path, saved):
    tokens = ["and", "the", "movie", "was", "bland", "forget", "##table"]
    maps = {"text": _attn(7, 0), "audio": _attn(42, 1), "vision": _attn(50, 2)}
    fig = plots.attention_maps(maps, tokens, results_dir=tmp_path, name="fig12")
    assert saved == [("fig12", tmp_path)]
    panels = [ax for ax in fig.axes if ax.images]
    assert len(panels) == 3
    assert [ax.get_title() for ax in panels] == ["Video", "Audio", "Text"]
    shapes = [ax.images[0].get_array().shape for ax in panels]
    assert shapes == [(3, 25), (3, 21), (3, 7)]  # stride-2 average pooling of 50 and 42 frames
    np.testing.assert_allclose(panels[1].images[0].get_array(),
                               maps["audio"].reshape(3, 21, 2).mean(-1))
    np.testing.assert_allclose(panels[2].images[0].get_array(), maps["text"])
    assert [t.get_text() for t in panels[2].get_xticklabels()] == tokens
    assert [t.get_text() for t in panels[0].get_yticklabels()] == list(plots.GLOBAL_TOKEN_LABELS)
    col = int(np.argmax(maps["text"].mean(0)))
    hl = [p for p in panels[2].patches if p.get_gid() == "highlight"]
    assert len(hl) == 1 and hl[0].get_x() == col - 0.5

    masked = ["[UNK]" if i % 2 else t for i, t in enumerate(tokens)]
    second = {"l": _attn(7, 3), "a": _attn(42, 4), "v": _attn(50, 5)}
    fig = plots.attention_maps(maps, tokens, second=second, second_tokens=masked, pool={})
    panels = [ax for ax in fig.axes if ax.images]
    assert len(panels) == 6
    assert panels[3].images[0].get_array().shape == (3, 50)  # pool={} keeps the frames
    assert [t.get_text() for t in panels[5].get_xticklabels()] == masked
    # one color scale per modality, shared by both conditions
    assert panels[0].images[0].get_clim() == panels[3].images[0].get_clim()


def test_attention_maps_errors():
    good = {"text": _attn(3, 0), "audio": _attn(4, 1), "vision": _attn(4, 2)}
    with pytest.raises(ValueError, match=r"expected shape \(3, T_m\).*found \(2, 4\)"):
        plots.attention_maps({**good, "audio": np.ones((2, 4))})
    with pytest.raises(ValueError, match="unknown modality 'depth'"):
        plots.attention_maps({**good, "depth": _attn(4, 3)})
    with pytest.raises(ValueError, match=r"tokens: expected one per text column \(3\), found 2"):
        plots.attention_maps(good, ["a", "b"])
    with pytest.raises(ValueError, match="non-empty dict"):
        plots.attention_maps({})


def test_avg_pool_time_ceil_mode():
    a = np.arange(10, dtype=float).reshape(2, 5)
    np.testing.assert_allclose(plots.avg_pool_time(a, 2), [[0.5, 2.5, 4.0], [5.5, 7.5, 9.0]])
    np.testing.assert_allclose(plots.avg_pool_time(a, 1), a)
