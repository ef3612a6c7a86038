"""Tests of emtlib.plots.style and the package's API: deterministic files, the names notebooks call."""
from __future__ import annotations

import json
import re
from pathlib import Path

import matplotlib

matplotlib.use("Agg")

import pytest
from matplotlib.figure import Figure

from emtlib import plots

NOTEBOOKS = Path(__file__).resolve().parents[1] / "notebooks"


def test_save_figure_is_deterministic(tmp_path):
    fig = Figure(figsize=(2, 2))
    fig.subplots().plot([0, 1], [1, 0])
    paths = plots.save_figure(fig, "tiny", tmp_path)
    assert paths == [tmp_path / "figures" / "tiny.png", tmp_path / "figures" / "tiny.pdf"]
    first = [p.read_bytes() for p in paths]
    assert b"CreationDate" not in first[1]
    plots.save_figure(fig, "tiny", tmp_path)
    assert [p.read_bytes() for p in paths] == first
    with pytest.raises(ValueError, match="plain file name"):
        plots.save_figure(fig, "sub/tiny", tmp_path)
    with pytest.raises(ValueError, match="expected a matplotlib Figure"):
        plots.save_figure("fig", "tiny", tmp_path)


def test_the_package_exports_what_the_notebooks_call():
    called = set()
    for nb in NOTEBOOKS.glob("*.ipynb"):
        for cell in json.loads(nb.read_text())["cells"]:
            called |= set(re.findall(r"\bplots\.(\w+)", "".join(cell["source"])))
    assert called and called <= set(plots.__all__), sorted(called - set(plots.__all__))
    assert all(hasattr(plots, name) for name in plots.__all__)
