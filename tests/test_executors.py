"""Grids on every engine (emtlib.executors), claims (emtlib.claims) and `emtlib sweep`: each run
trained exactly once whatever mix of workers shares a results directory, the same records from
every engine, a dead worker's run taken over."""
from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from emtlib.claims import claim, holder
from emtlib.executors import ExecutorOptions, options, run_grid
from emtlib.experiments import RunSpec, record_path

ROOT = Path(__file__).resolve().parents[1]
TIMING = {"wall_time_s", "train_epoch_s"}


def smoke_specs(n: int) -> list[RunSpec]:
    return [RunSpec(method="emt_dlfr", profile="smoke", seed=s, missing_rate=0.5)
            for s in range(1, n + 1)]


def comparable(record: dict) -> dict:
    """A record without what differs between any two trainings of one config: its timings."""
    return {k: v for k, v in record.items() if k not in TIMING}


def python(code: str, *args, **kw) -> subprocess.Popen:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    env.pop("EMTLIB_CACHE_ONLY", None)
    return subprocess.Popen([sys.executable, "-c", code, *args], env=env, cwd=ROOT,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, **kw)


HOLD = """
import sys, time
from pathlib import Path
from emtlib.claims import claim
with claim(Path(sys.argv[1])) as held:
    print("held" if held else "busy", flush=True)
    time.sleep(600)
"""


def test_a_claim_is_exclusive_and_ends_with_its_process(tmp_path):
    record = tmp_path / "run.json"
    with claim(record) as a:
        assert a and holder(record)["pid"] == os.getpid()
        with claim(record) as b:  # another open file description: refused, even in-process
            assert not b
    assert holder(record) is None
    p = python(HOLD, str(record))
    assert p.stdout.readline().strip() == "held"
    with claim(record) as c:
        assert not c and holder(record)["pid"] == p.pid
    p.send_signal(signal.SIGKILL)  # a dead worker's claim ends with it: taken over at once
    p.wait()
    with claim(record) as d:
        assert d


def test_a_run_held_by_a_dead_worker_is_taken_over(tmp_path):
    specs = smoke_specs(2)
    path = record_path(specs[0].config(), tmp_path)
    p = python(HOLD, str(path))
    assert p.stdout.readline().strip() == "held"
    threading.Timer(2.0, p.kill).start()  # the worker dies with the claim held
    stats = {}
    records = run_grid(specs, tmp_path, progress=False, stats=stats)
    p.wait()
    assert stats["trained_here"] == 2 and all(r["metrics"] for r in records)
    assert path.is_file()


def test_executor_options_are_checked():
    with pytest.raises(TypeError, match="unknown executor option"):
        options(gpus=1)
    with pytest.raises(ValueError, match="workers=-1"):
        ExecutorOptions(workers=-1)
    with pytest.raises(ValueError, match="executor 'dask'"):
        run_grid(smoke_specs(1), "x", executor="dask")


@pytest.fixture(scope="module")
def local_records(tmp_path_factory):
    """The local executor's records of 4 smoke runs (one torch thread, as every engine below)."""
    return run_grid(smoke_specs(4), tmp_path_factory.mktemp("local"), progress=False)


@contextlib.contextmanager
def killing_the_worker_of(spec: RunSpec, results_dir: Path):
    """SIGKILL the process training `spec` as soon as its claim names it (once); yields the list
    of killed pids."""
    claim_file = record_path(spec.config(), results_dir).with_suffix(".json.claim")
    killed: list[int] = []
    done = threading.Event()

    def watch():
        while not done.is_set() and not killed:
            h = holder(claim_file.with_suffix("")) if claim_file.exists() else None
            if h and h.get("pid"):
                os.kill(h["pid"], signal.SIGKILL)
                killed.append(h["pid"])
            time.sleep(0.05)

    t = threading.Thread(target=watch)
    t.start()
    try:
        yield killed
    finally:
        done.set()
        t.join()


def test_processes_executor_writes_the_local_records(tmp_path, local_records):
    records = run_grid(smoke_specs(4), tmp_path, progress=False, executor="processes", workers=2,
                       cpus_per_run=1)
    assert [comparable(r) for r in records] == [comparable(r) for r in local_records]


SWEEP = """
import sys
from emtlib.executors import run_grid
from emtlib.experiments import RunSpec
specs = [RunSpec(method="emt_dlfr", profile="smoke", seed=s, missing_rate=0.5) for s in (1, 2, 3, 4)]
run_grid(specs, sys.argv[1], progress=False, executor="processes", workers=2, cpus_per_run=1)
"""


def test_sigterm_to_a_processes_sweep_stops_its_workers(tmp_path):
    path = record_path(smoke_specs(1)[0].config(), tmp_path)
    p = python(SWEEP, str(tmp_path))
    deadline = time.monotonic() + 180
    while (h := holder(path)) is None:  # a worker has started the first run
        assert p.poll() is None and time.monotonic() < deadline, p.communicate()[0]
        time.sleep(0.02)
    worker = h["pid"]
    try:
        p.send_signal(signal.SIGTERM)
        out = p.communicate(timeout=120)[0]
        assert p.returncode == 128 + signal.SIGTERM, out  # SystemExit(143), after the cleanup
        with pytest.raises(ProcessLookupError):  # the worker was stopped (and reaped) with it
            os.kill(worker, 0)
        assert holder(path) is None  # its claim ended with it
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.kill(worker, signal.SIGKILL)


def test_ray_runs_a_grid_to_the_local_records_and_retries_a_killed_worker(tmp_path, local_records):
    ray = pytest.importorskip("ray")
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False, configure_logging=False,
             runtime_env={"env_vars": {"PYTHONPATH": str(ROOT)}})
    try:
        records = run_grid(smoke_specs(4), tmp_path / "a", progress=False, executor="ray",
                           cpus_per_run=1)
        assert [comparable(r) for r in records] == [comparable(r) for r in local_records]
        specs = smoke_specs(2)
        with killing_the_worker_of(specs[0], tmp_path / "b") as killed:
            records = run_grid(specs, tmp_path / "b", progress=False, executor="ray",
                               cpus_per_run=1, max_retries=2)
        assert killed, "no worker was seen training"
        assert [comparable(r) for r in records] == [comparable(r) for r in local_records[:2]]
    finally:
        ray.shutdown()


def test_submitit_local_executor_writes_the_local_records_and_resubmits_a_killed_task(
        tmp_path, local_records):
    pytest.importorskip("submitit")
    specs = smoke_specs(2)
    with killing_the_worker_of(specs[0], tmp_path) as killed:
        records = run_grid(specs, tmp_path, progress=False, executor="slurm", cluster="local",
                           cpus_per_run=1, max_retries=1)
    assert killed, "no array element was seen training"
    assert [comparable(r) for r in records] == [comparable(r) for r in local_records[:2]]
    jobs = [d for d in (tmp_path / ".submitit").iterdir() if d.name != "%j"]
    assert len(jobs) == 3  # a folder per task: the 2 elements and the killed one's resubmission


def test_two_sweeps_on_one_directory_train_each_run_once(tmp_path):
    specs = [{"method": "emt_dlfr", "profile": "smoke", "seed": s} for s in (1, 2, 3, 4)]
    (tmp_path / "specs.json").write_text(json.dumps(specs))
    cmd = ("import sys; from emtlib.__main__ import main; import torch; torch.set_num_threads(1); "
           "sys.exit(main(sys.argv[1:]))")
    args = ["sweep", "--specs", str(tmp_path / "specs.json"), "--synthetic", "--profile", "smoke",
            "--results-dir", str(tmp_path / "results")]
    procs = [python(cmd, *args) for _ in range(2)]
    outs = [p.communicate(timeout=300)[0] for p in procs]
    assert all(p.returncode == 0 for p in procs), outs
    trained = [int(o.rsplit("this process trained ", 1)[1].split()[0]) for o in outs]
    assert sum(trained) == 4, outs
    assert len(list((tmp_path / "results").rglob("*.json"))) == 4
    dry = python(cmd, *args, "--dry-run").communicate(timeout=120)[0]
    assert "runs: 4  done: 4  claimed (training now): 0  to train: 0" in dry


def test_emtlib_and_the_local_executor_work_without_ray_or_submitit(tmp_path):
    code = """
import sys
sys.modules["ray"] = None; sys.modules["submitit"] = None   # as if not installed
import emtlib, emtlib.executors, emtlib.notebook, emtlib.sweep
from emtlib.executors import run_grid
from emtlib.experiments import RunSpec
r = run_grid([RunSpec(profile="smoke", seed=5)], sys.argv[1], progress=False)
print("mae", r[0]["metrics"]["mae"])
try:
    run_grid([RunSpec(profile="smoke", seed=6)], sys.argv[1], progress=False, executor="ray")
except ImportError as e:
    print(e)
"""
    out = python(code, str(tmp_path)).communicate(timeout=300)[0]
    assert "mae " in out and "executor 'ray' needs Ray: pip install 'emtlib[ray]'" in out, out


def test_named_grids_are_the_notebooks_and_paper_counts_shared_runs_once(tmp_path):
    from emtlib.notebook import NOTEBOOK_GRIDS, Session
    from emtlib.sweep import named_grid, specs_from_file

    S = Session("mosi", "demo", True, None, "cpu", None, str(tmp_path))
    fusion = named_grid("04", S)
    assert len(fusion) == 5 * 6 * 3 and fusion == S.notebook_grid("04_ablation_fusion")
    assert sorted({s.missing_rate for s in fusion}) == [0.0, 0.2, 0.4, 0.6, 0.8, 1.0]
    everything = named_grid("paper", S)
    total = sum(len(NOTEBOOK_GRIDS[n](S)) for n in NOTEBOOK_GRIDS)
    # the default EMT-DLFR is in 02 and in every ablation; 01's baselines are 02's at rate 0
    assert len(everything) == 525 < total
    (tmp_path / "s.yaml").write_text("- {method: tfn, seed: 3, missing_rate: 0.2}\n")
    assert specs_from_file(tmp_path / "s.yaml") == [RunSpec(method="tfn", seed=3, missing_rate=0.2)]
    (tmp_path / "bad.json").write_text('[{"method": "tfn", "sead": 3}]')
    with pytest.raises(ValueError, match=r"entry 0 has unknown field\(s\) \['sead'\]"):
        specs_from_file(tmp_path / "bad.json")


def test_executor_none_names_what_is_missing_and_who_trains_it(tmp_path, capsys):
    specs = smoke_specs(2)
    path = record_path(specs[1].config(), tmp_path)
    with claim(path):
        records = run_grid(specs, tmp_path, executor="none")
    assert records == []
    out = capsys.readouterr().out
    assert out.startswith("0 of 2 runs done; 2 missing")
    assert "emt_dlfr rate 0.5 seed 1: not started" in out
    assert f"emt_dlfr rate 0.5 seed 2: training on " in out and f"pid {os.getpid()}" in out
