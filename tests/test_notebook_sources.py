"""Each notebook agrees with its source: notebooks/NAME.ipynb is paired with notebooks/NAME.py
(jupytext py:percent, the file a person edits and a review reads), cell for cell: the cell type,
the source and the `parameters` tag."""
from __future__ import annotations

from pathlib import Path

import jupytext
import nbformat
import pytest

NOTEBOOKS = Path(__file__).resolve().parent.parent / "notebooks"
NAMES = sorted({p.stem for p in NOTEBOOKS.glob("*.ipynb")} | {p.stem for p in NOTEBOOKS.glob("*.py")})
FORMATS = "ipynb,py:percent"
FROM_PY = "python -m jupytext --update --to ipynb notebooks/{}.py"
FROM_IPYNB = "python -m jupytext --to py:percent notebooks/{}.ipynb"


def cells(nb) -> list[tuple[str, str, bool]]:
    """(cell type, source, has the `parameters` tag) of each cell: what a pair must agree on."""
    return [(c.cell_type, c.source, "parameters" in c.metadata.get("tags", [])) for c in nb.cells
            if "injected-parameters" not in c.metadata.get("tags", [])]  # papermill's, not ours


def first_difference(py: list, ipynb: list) -> str | None:
    """Where the cells of a .py and its .ipynb first differ (cells counted from 1), or None."""
    for i, (a, b) in enumerate(zip(py, ipynb), start=1):
        if a != b:
            what = [f for f, x, y in zip(("cell type", "source", "parameters tag"), a, b) if x != y]
            first_line = a[1].splitlines()[0] if a[1] else ""
            verb = "differs" if len(what) == 1 else "differ"
            return f"cell {i} ({a[0]}, {first_line[:60]!r} in the .py): {' and '.join(what)} {verb}"
    if len(py) != len(ipynb):
        n = min(len(py), len(ipynb)) + 1
        return f"cell {n}: the .py has {len(py)} cells, the .ipynb {len(ipynb)}"
    return None


@pytest.mark.parametrize("name", NAMES)
def test_notebook_agrees_with_its_source(name):
    py, ipynb = NOTEBOOKS / f"{name}.py", NOTEBOOKS / f"{name}.ipynb"
    assert py.is_file(), \
        f"notebooks/{name}.ipynb has no source notebooks/{name}.py; write it with `{FROM_IPYNB.format(name)}`"
    assert ipynb.is_file(), \
        f"notebooks/{name}.py has no notebook; write it with `{FROM_PY.format(name)}`"
    source, notebook = jupytext.read(py), nbformat.read(ipynb, as_version=4)
    for nb, path in ((source, py), (notebook, ipynb)):
        formats = nb.metadata.get("jupytext", {}).get("formats")
        assert formats == FORMATS, f"{path.name}: jupytext formats {formats!r}, expected {FORMATS!r}"
    diff = first_difference(cells(source), cells(notebook))
    assert diff is None, (f"notebooks/{name}: {diff}. After editing the .py run "
                          f"`{FROM_PY.format(name)}`; after editing the .ipynb, `{FROM_IPYNB.format(name)}`")


def test_a_difference_names_the_first_differing_cell():
    ours = [("markdown", "# 99 · Title", False), ("code", "dataset = 'mosi'", True),
            ("code", "from emtlib import plots\nfig = plots.f()", False), ("code", "fig", False)]
    edited = [*ours[:2], ("code", "from emtlib import plots\nfig = plots.g()", False), ours[3]]
    assert first_difference(edited, ours) == \
        "cell 3 (code, 'from emtlib import plots' in the .py): source differs"
    untagged = [ours[0], ("markdown", "dataset = 'mosi'", False), *ours[2:]]
    assert first_difference(untagged, ours) == \
        "cell 2 (markdown, \"dataset = 'mosi'\" in the .py): cell type and parameters tag differ"
    assert first_difference(ours[:3], ours) == "cell 4: the .py has 3 cells, the .ipynb 4"
    assert first_difference(ours, ours) is None
