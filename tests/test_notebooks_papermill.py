"""The notebooks as a user runs them with papermill (nbval re-executes them in the smoke profile).

With the paper profile and no data, every notebook stops at its setup cell with the loader's
message (through papermill for one notebook, by executing the two cells for all eleven); with `-p synthetic True -p profile smoke` one runs end to end without the test
configuration's environment variable.
"""
from __future__ import annotations

from pathlib import Path

import nbformat
import papermill
import pytest

from emtlib.notebook import PROFILE_ENV

NOTEBOOKS = sorted((Path(__file__).resolve().parent.parent / "notebooks").glob("*.ipynb"))


def test_there_are_eleven_notebooks():
    assert [p.stem[:2] for p in NOTEBOOKS] == [f"{i:02d}" for i in range(11)]


def test_paper_profile_without_data_fails_with_the_loader_message(tmp_path, monkeypatch):
    """Through papermill, as the README runs it (one notebook: a kernel start costs ~9 s)."""
    monkeypatch.delenv(PROFILE_ENV, raising=False)
    nb = next(p for p in NOTEBOOKS if p.stem.startswith("04"))
    with pytest.raises(papermill.PapermillExecutionError) as e:
        papermill.execute_notebook(str(nb), str(tmp_path / nb.name), cwd=str(nb.parent),
                                   parameters={"dataset": "mosi", "data_root": str(tmp_path),
                                               "results_dir": str(tmp_path / "results")},
                                   progress_bar=False, kernel_name="python3")
    assert e.value.ename == "FileNotFoundError"
    assert "MOSI/Processed/unaligned_50.pkl" in e.value.evalue and "emtlib synth" in e.value.evalue


@pytest.mark.parametrize("nb", NOTEBOOKS, ids=lambda p: p.stem)
def test_every_notebook_stops_at_its_setup_cell_without_data(nb, tmp_path, monkeypatch):
    """Each notebook's parameters cell, papermill's injected values, then its setup cell: the
    paper profile on an empty data root fails there, before any run."""
    monkeypatch.delenv(PROFILE_ENV, raising=False)
    cells = [c for c in nbformat.read(str(nb), as_version=4).cells if c.cell_type == "code"]
    assert "parameters" in cells[0].metadata.get("tags", [])
    assert "setup(" in cells[1].source
    ns: dict = {}
    exec(cells[0].source, ns)
    ns.update(dataset="mosi", data_root=str(tmp_path), results_dir=str(tmp_path / "results"))
    assert ns["profile"] == "paper" and ns["synthetic"] is False  # the cell's defaults
    with pytest.raises(FileNotFoundError, match="MOSI/Processed/unaligned_50.pkl"):
        exec(cells[1].source, ns)


def test_smoke_parameters_run_a_notebook_end_to_end(tmp_path, monkeypatch):
    monkeypatch.delenv(PROFILE_ENV, raising=False)
    nb = next(p for p in NOTEBOOKS if p.stem.startswith("00"))
    out = papermill.execute_notebook(str(nb), str(tmp_path / nb.name), cwd=str(nb.parent),
                                     parameters={"synthetic": True, "profile": "smoke",
                                                 "results_dir": str(tmp_path / "results")},
                                     progress_bar=False, kernel_name="python3")
    # papermill inserts its injected-parameters cell after ours: the banner is the first stream
    banner = next("".join(o["text"]) for c in out.cells for o in c.get("outputs", [])
                  if o.get("output_type") == "stream" and "profile:" in "".join(o["text"]))
    assert "profile:      smoke" in banner and "forced" not in banner
    assert (tmp_path / "results" / "figures" / "00_labels_mosi.png").is_file()
