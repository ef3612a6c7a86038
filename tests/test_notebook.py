"""The notebooks' session: the profile mechanism, the banner, the data tables and figures."""
from __future__ import annotations

import numpy as np
import pytest

from emtlib.data.mmsa import MMSAData, class_table, shapes_table
from emtlib.notebook import PROFILE_ENV, setup
from emtlib import plots
from tests.conftest import tiny_data


def test_env_forces_smoke_on_synthetic(monkeypatch, capsys):
    monkeypatch.setenv(PROFILE_ENV, "smoke")
    s = setup("sims", data_root="/nowhere", synthetic=False, profile="paper")
    assert s.smoke and s.synthetic and s.forced_by_env
    out = capsys.readouterr().out
    assert "forced by EMTLIB_NOTEBOOK_PROFILE=smoke" in out and "synthetic stand-in shaped like SIMS" in out
    assert s.rates() == (0.0, 0.5) and s.seeds() == (111,)
    specs = s.grid({"a": ("model.pooling=average",), "b": ()})
    assert [(x.variant, x.missing_rate) for x in specs] == [("a", 0.0), ("a", 0.5), ("b", 0.0), ("b", 0.5)]
    assert specs[0].config().model.pooling == "average"
    specs = s.grid(method=("tfn", "emt_dlfr"), rates=(0.0,))  # several methods, methods outermost
    assert [(x.method, x.missing_rate) for x in specs] == [("tfn", 0.0), ("emt_dlfr", 0.0)]
    assert specs[0].config().baseline.text_encoder == "minilm"


def test_paper_profile_without_data_fails_with_the_loader_message(monkeypatch, tmp_path):
    monkeypatch.delenv(PROFILE_ENV, raising=False)
    with pytest.raises(FileNotFoundError, match="MOSI/Processed/unaligned_50.pkl"):
        setup("mosi", data_root=str(tmp_path), profile="paper")
    monkeypatch.setenv(PROFILE_ENV, "fast")
    with pytest.raises(ValueError, match="only value it takes is 'smoke'"):
        setup("mosi")


def test_paper_profile_protocol(monkeypatch, capsys):
    monkeypatch.delenv(PROFILE_ENV, raising=False)
    s = setup("mosei", synthetic=True, profile="paper")
    assert s.rates() == tuple(round(0.1 * i, 1) for i in range(11))
    assert s.seeds() == (111, 1111, 11111) and len(s.seeds("complete")) == 5
    assert "text encoder: bert-base-uncased" in capsys.readouterr().out


def test_class_and_shape_tables_and_data_figures(tmp_path):
    d = tiny_data("mosi", n=6)
    d["train"]["regression_labels"][:] = [-1, 0, 0, 2, 3, -0.5]
    data = MMSAData("mosi", None, None, False, d)
    t = class_table(data)
    assert t.loc["train"].tolist() == [2, 2, 2, 6]
    assert shapes_table(data).loc["audio", "shape"] == "(6, 375, 5)"
    fig = plots.label_histograms(data, results_dir=tmp_path, name="h")
    assert len(fig.axes) == 3 and (tmp_path / "figures" / "h.png").is_file()
    assert sum(p.get_height() for p in fig.axes[0].patches) == 6
    fig = plots.missing_view(d["train"], index=1, rates=(0.0, 1.0))
    assert len(fig.axes) == 6
    # rate 1.0 removes every word piece of the sample but [CLS] and [SEP]
    n_tok = int(d["train"]["text_bert"][1, 1].sum())
    img = fig.axes[3].images[0].get_array()
    assert img.shape == (1, n_tok) and img[0, 0] == 0 and img[0, -1] == 0 and np.all(img[0, 1:-1] == 1)
    with pytest.raises(ValueError, match="index 9"):
        plots.missing_view(d["train"], index=9)
