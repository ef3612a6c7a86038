"""The notebooks as a user runs them with papermill (nbval replays the stored demo notebooks from
their records; here they train).

With the paper profile and no data, every notebook stops at its setup cell with the loader's
message (through papermill for one notebook, by executing the two cells for all eleven). With
`-p synthetic True -p profile smoke` and an empty results directory, every notebook trains its
grid end to end: it completes, writes its figures, and every record it wrote has finite metrics.
"""
from __future__ import annotations

import json
import math
import os
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import nbformat
import papermill
import pytest

NOTEBOOKS = sorted((Path(__file__).resolve().parent.parent / "notebooks").glob("*.ipynb"))


def test_there_are_eleven_notebooks():
    assert [p.stem[:2] for p in NOTEBOOKS] == [f"{i:02d}" for i in range(11)]


def test_paper_profile_without_data_fails_with_the_loader_message(tmp_path, monkeypatch):
    """Through papermill, as the README runs it (one notebook: a kernel start costs ~9 s)."""
    nb = next(p for p in NOTEBOOKS if p.stem.startswith("04"))
    with pytest.raises(papermill.PapermillExecutionError) as e:
        papermill.execute_notebook(str(nb), str(tmp_path / nb.name), cwd=str(nb.parent),
                                   parameters={"dataset": "mosi", "data_root": str(tmp_path),
                                               "results_dir": str(tmp_path / "results")},
                                   progress_bar=False, kernel_name="emtlib")
    assert e.value.ename == "FileNotFoundError"
    assert "MOSI/Processed/unaligned_50.pkl" in e.value.evalue and "emtlib synth" in e.value.evalue


@pytest.mark.parametrize("nb", NOTEBOOKS, ids=lambda p: p.stem)
def test_every_notebook_stops_at_its_setup_cell_without_data(nb, tmp_path, monkeypatch):
    """Each notebook's parameters cell, papermill's injected values, then its setup cell: the
    paper profile on an empty data root fails there, before any run."""
    cells = [c for c in nbformat.read(str(nb), as_version=4).cells if c.cell_type == "code"
             and "injected-parameters" not in c.metadata.get("tags", [])]  # the stored run's
    assert "parameters" in cells[0].metadata.get("tags", [])
    assert "setup(" in cells[1].source
    ns: dict = {}
    exec(cells[0].source, ns)
    ns.update(dataset="mosi", data_root=str(tmp_path), results_dir=str(tmp_path / "results"))
    assert ns["profile"] == "paper" and ns["synthetic"] is False  # the cell's defaults
    with pytest.raises(FileNotFoundError, match="MOSI/Processed/unaligned_50.pkl"):
        exec(cells[1].source, ns)


@pytest.fixture(scope="module")
def smoke_executions(tmp_path_factory):
    """Every notebook executed with papermill at the smoke profile into one results directory,
    empty before the first, as a user's would be: 02 first (it trains every method at the smoke
    rates, which 01, 07 and the ablations share), then the other ten two at a time, a thread
    each (runs they share are claimed once). Returns (results dir, {stem: (returncode, output
    notebook, log)})."""
    root = tmp_path_factory.mktemp("smoke")
    results = root / "results"
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    env.pop("EMTLIB_CACHE_ONLY", None)  # these executions train
    done = {}

    def execute(nb: Path) -> None:
        out = root / nb.name
        proc = subprocess.run(
            [sys.executable, "-m", "papermill", "--cwd", str(nb.parent), "--no-progress-bar",
             "-k", "emtlib", str(nb), str(out), "-p", "synthetic", "True", "-p", "profile", "smoke",
             "-p", "results_dir", str(results)],
            env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        done[nb.stem] = (proc.returncode, out, proc.stdout)

    first = [nb for nb in NOTEBOOKS if nb.stem.startswith("02")]
    execute(first[0])
    with ThreadPoolExecutor(2) as pool:
        list(pool.map(execute, [nb for nb in NOTEBOOKS if nb not in first]))
    return results, done


@pytest.mark.parametrize("nb", NOTEBOOKS, ids=lambda p: p.stem)
def test_every_notebook_trains_end_to_end_into_an_empty_results_dir(nb, smoke_executions):
    """The training path of each notebook at the smoke profile (no output comparison)."""
    results, done = smoke_executions
    returncode, out_path, log = done[nb.stem]
    assert returncode == 0, log[-3000:]
    out = nbformat.read(str(out_path), as_version=4)
    # papermill inserts its injected-parameters cell after ours: the banner is the first stream
    banner = next("".join(o["text"]) for c in out.cells for o in c.get("outputs", [])
                  if o.get("output_type") == "stream" and "profile:" in "".join(o["text"]))
    assert "profile:      smoke" in banner and "missing ones trained" in banner
    assert list((results / "figures").glob(f"{nb.stem[:2]}_*.png")), "no figure written"


def test_every_record_the_smoke_notebooks_wrote_has_finite_metrics(smoke_executions):
    results, _ = smoke_executions
    paths = sorted(results.rglob("*.json"))
    assert len(paths) > 20  # 02 alone writes 8 methods x 2 rates
    for path in paths:
        record = json.loads(path.read_text())
        assert record["metrics"] and all(math.isfinite(v) for v in record["metrics"].values()), path
