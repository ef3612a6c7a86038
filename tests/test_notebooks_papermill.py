"""The notebooks as a user runs them with papermill (nbval re-executes them in the smoke profile).

With the paper profile and no data, every notebook stops at its first cell with the loader's
message; with `-p synthetic True -p profile smoke` one runs end to end without the test
configuration's environment variable.
"""
from __future__ import annotations

from pathlib import Path

import papermill
import pytest

from emtlib.notebook import PROFILE_ENV

NOTEBOOKS = sorted((Path(__file__).resolve().parent.parent / "notebooks").glob("*.ipynb"))


def test_there_are_eleven_notebooks():
    assert [p.stem[:2] for p in NOTEBOOKS] == [f"{i:02d}" for i in range(11)]


@pytest.mark.parametrize("nb", NOTEBOOKS, ids=lambda p: p.stem)
def test_paper_profile_without_data_fails_with_the_loader_message(nb, tmp_path, monkeypatch):
    monkeypatch.delenv(PROFILE_ENV, raising=False)
    with pytest.raises(papermill.PapermillExecutionError) as e:
        papermill.execute_notebook(str(nb), str(tmp_path / nb.name), cwd=str(nb.parent),
                                   parameters={"dataset": "mosi", "data_root": str(tmp_path),
                                               "results_dir": str(tmp_path / "results")},
                                   progress_bar=False, kernel_name="python3")
    assert e.value.ename == "FileNotFoundError"
    assert "MOSI/Processed/unaligned_50.pkl" in e.value.evalue and "emtlib synth" in e.value.evalue


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
