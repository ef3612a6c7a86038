"""Grids of runs on one of four engines, with every run claimed exactly once.

    run_grid(specs, results_dir, executor="local")                      # this process
    run_grid(specs, results_dir, executor="processes", workers=2)       # N local worker processes
    run_grid(specs, results_dir, executor="ray", address="auto")        # Ray tasks
    run_grid(specs, results_dir, executor="slurm", workers=16)          # a Slurm array (submitit)

Whatever the engine, a run is trained by `emtlib.experiments.run`: read its record if it is done, else
claim it (`emtlib.claims`: a lock the OS releases when the worker dies), read again, train, write
the record atomically, release. Any mix of engines and processes can therefore work on one results
directory at once: each run is trained once, a run claimed by a live worker is skipped (and waited
for at the end), a run left by a dead worker is taken over, and every engine writes the same
record (`emtlib.experiments.run`). Ray and submitit are optional (`emtlib[ray]`, `emtlib[slurm]`)
and imported only by their engine.
"""
from __future__ import annotations

import contextlib
import multiprocessing
import os
import signal
import sys
import threading
import time
import traceback
from dataclasses import dataclass, fields
from pathlib import Path

from .claims import holder
from .experiments import (MissingRecordError, RunSpec, _locate, _with_spec, cache_only,
                          missing_message, read_record, run, run_counted)
from .files import RESULTS_DIR, resolve, writable_dir
from .progress import tqdm

EXECUTORS = ("local", "processes", "ray", "slurm")
POLL_S = 2.0
"""How often a waiting worker or the progress bar looks at the results directory (seconds)."""


@dataclass(frozen=True)
class ExecutorOptions:
    """How an engine places runs (fields that do not apply to an engine are ignored by it)."""

    workers: int = 0
    """processes: worker processes (0: one per visible GPU, else 2); slurm: array parallelism
    (0: no limit)."""
    cpus_per_run: float = 0
    """CPU threads (processes), Ray CPUs or Slurm cpus-per-task of one run (0: processes split
    this machine's CPUs between workers; Ray and Slurm take 1)."""
    gpus_per_run: float = 0
    """GPUs of one run: Ray accepts fractions (0.5: two runs share a GPU); Slurm whole GPUs."""
    address: str | None = None
    """ray: a cluster address ('auto', 'ray://host:10001'); None starts a local Ray instance."""
    max_retries: int = 2
    """ray / slurm: times a run whose worker died (Slurm: or raised) is started again."""
    slurm_partition: str | None = None
    """slurm: the partition to submit to (None: the cluster's default)."""
    timeout_min: int = 24 * 60
    """slurm: wall-time limit of one run, minutes."""
    cluster: str | None = None
    """slurm: submitit's cluster (None: Slurm when `sbatch` exists; 'local' runs the array as
    local processes, 'debug' in this process)."""

    def __post_init__(self):
        for name in ("workers", "cpus_per_run", "gpus_per_run", "max_retries", "timeout_min"):
            if getattr(self, name) < 0:
                raise ValueError(f"executor option {name}={getattr(self, name)}: must be >= 0")


def options(**kwargs) -> ExecutorOptions:
    """`ExecutorOptions` from keyword arguments, naming an unknown one."""
    known = {f.name for f in fields(ExecutorOptions)}
    unknown = sorted(set(kwargs) - known)
    if unknown:
        raise TypeError(f"unknown executor option(s) {unknown}: expected some of {sorted(known)}")
    return ExecutorOptions(**kwargs)


# ---- one worker's loop ----------------------------------------------------------------------

def work_through(specs, results_dir, on_done=lambda i, r: None, keep_going: bool = False) -> int:
    """Train or read back every spec in order, skipping those other workers hold and coming back
    to them at the end; returns how many runs this process trained. keep_going: a run that
    raises is reported (traceback on stderr) and left without a record, and the others go on."""
    trained = 0
    pending = list(range(len(specs)))
    failed = set()
    while pending:
        waiting = []
        for i in pending:
            try:
                record, here = run_counted(specs[i], results_dir, wait=False)
            except Exception:
                if not keep_going:
                    raise
                failed.add(i)
                print(f"run failed: {_label(specs[i])}\n{traceback.format_exc()}", file=sys.stderr,
                      flush=True)
                continue
            if record is None:
                waiting.append(i)
            else:
                trained += here
                on_done(i, record)
        pending = waiting
        if pending:
            time.sleep(POLL_S)
    return trained


# ---- engines ---------------------------------------------------------------------------------

def run_grid(specs, results_dir: str | os.PathLike = RESULTS_DIR, progress: bool = True,
             executor: str = "local", stats: dict | None = None, **kwargs) -> list[dict]:
    """Every spec's record, in order: finished ones read back (counted at once by the progress
    bar), the others trained by `executor` ('local', 'processes', 'ray', 'slurm'; options:
    `ExecutorOptions`), or by none ('none': the records there are are returned, and the
    missing runs named with the worker training each); an interrupted grid resumes where it
    stopped.

    Progress (unless `progress` is False or the process is cache-only): runs done / total, the
    current run, elapsed time and an ETA. Cache-only: every missing record is named in one
    MissingRecordError before anything runs. `stats`, when given, receives 'trained_here': the
    runs this process trained (local executor).
    """
    if executor not in (*EXECUTORS, "none"):
        raise ValueError(f"executor {executor!r}: expected one of {[*EXECUTORS, 'none']}")
    opts = options(**kwargs)
    specs = list(specs)
    results_dir = str(resolve(results_dir) if cache_only() else writable_dir(results_dir))
    located = [_locate(s, results_dir) for s in specs]
    records = [read_record(path, key) for _, key, path in located]
    missing = [i for i, r in enumerate(records) if r is None]
    if missing and cache_only():
        raise MissingRecordError(missing_message([(specs[i], located[i][2]) for i in missing]))
    records = [r if r is None else _with_spec(r, s) for r, s in zip(records, specs)]
    if stats is not None and executor == "local":
        stats["trained_here"] = 0
    if executor == "none":
        print(progress_report(specs, [located[i][2] for i in missing], missing, len(specs)))
        return [r for r in records if r is not None]
    bar = tqdm(total=len(specs), initial=len(specs) - len(missing), desc="runs", unit="run",
               disable=not progress or cache_only() or not missing)
    todo = [specs[i] for i in missing]
    with bar:
        if todo:
            engine = {"local": _local, "processes": _processes, "ray": _ray, "slurm": _slurm}
            done = engine[executor](todo, results_dir, opts, bar, stats if stats is not None else {})
            for i, record in zip(missing, done):
                records[i] = record
    return records


def progress_report(specs, paths, missing: list[int], total: int) -> str:
    """'k of n runs done', then each missing run with the worker training it, if any."""
    lines = [f"{total - len(missing)} of {total} runs done; {len(missing)} missing"]
    for i, path in list(zip(missing, paths))[:20]:
        h = holder(path)
        where = (f"training on {h.get('host', '?')} pid {h.get('pid', '?')} since "
                 f"{h.get('started', '?')}") if h is not None else "not started"
        lines.append(f"  {_label(specs[i])}: {where}")
    if len(missing) > 20:
        lines.append(f"  ... and {len(missing) - 20} more")
    return "\n".join(lines)


def _local(specs, results_dir, opts, bar, stats) -> list[dict]:
    out: list[dict | None] = [None] * len(specs)

    def done(i, record):
        out[i] = record
        bar.update(1)
        if i + 1 < len(specs):
            bar.set_postfix_str(_label(specs[i + 1]), refresh=True)

    bar.set_postfix_str(_label(specs[0]), refresh=True)
    stats["trained_here"] = work_through(specs, results_dir, done)
    return out


def _label(spec: RunSpec) -> str:
    return (f"{spec.method}{f'[{spec.variant}]' if spec.variant else ''} "
            f"rate {spec.missing_rate:g} seed {spec.seed}")


def _read_all(specs, results_dir) -> list[dict | None]:
    out = []
    for s in specs:
        _, key, path = _locate(s, results_dir)
        r = read_record(path, key)
        out.append(None if r is None else _with_spec(r, s))
    return out


def _wait_on_disk(specs, results_dir, bar, alive) -> list[dict | None]:
    """Poll the records of `specs` until all exist or `alive()` turns False; returns them.
    Cheap per poll (one stat a pending run): the configs are built once."""
    located = [_locate(s, results_dir)[1:] for s in specs]  # (key, path)
    out: list[dict | None] = [None] * len(specs)
    while True:
        for i, (key, path) in enumerate(located):
            if out[i] is None and path.is_file():
                r = read_record(path, key)
                if r is not None:
                    out[i] = _with_spec(r, specs[i])
                    bar.update(1)
        if all(r is not None for r in out) or not alive():
            return out
        pending = [i for i, r in enumerate(out) if r is None][:8]  # the next few in grid order
        busy = [i for i in pending if holder(located[i][1])]
        if busy:
            bar.set_postfix_str(f"training: {'; '.join(_label(specs[i]) for i in busy)}",
                                refresh=True)
        time.sleep(POLL_S)


def _gpu_ids() -> list[str]:
    visible = os.environ.get("CUDA_VISIBLE_DEVICES")
    if visible is not None:
        return [g for g in visible.split(",") if g.strip()]
    try:
        import torch

        return [str(i) for i in range(torch.cuda.device_count())]
    except ImportError:  # pragma: no cover - torch is a dependency
        return []


def _processes(specs, results_dir, opts, bar, stats) -> list[dict]:
    gpus = _gpu_ids()
    n = opts.workers or (len(gpus) or 2)
    cpus = len(os.sched_getaffinity(0))
    threads = int(opts.cpus_per_run) or max(1, cpus // n)
    ctx = multiprocessing.get_context("spawn")  # a fresh interpreter: no forked torch state
    procs = []
    for w in range(n):
        env = {"CUDA_VISIBLE_DEVICES": gpus[w % len(gpus)]} if gpus else {}
        p = ctx.Process(target=_process_worker, args=(specs, results_dir, threads, env),
                        name=f"emtlib-worker-{w}", daemon=False)
        p.start()
        procs.append(p)
    try:
        with _sigterm_raises():  # `kill` of the sweep stops its workers too, as Ctrl-C does
            _wait_on_disk(specs, results_dir, bar, lambda: any(p.is_alive() for p in procs))
    except BaseException:  # interrupted: stop the workers (their claims end with them)
        for p in procs:
            p.terminate()
        raise
    finally:
        for p in procs:
            p.join()
    out = _read_all(specs, results_dir)
    failed = [f"{p.name} exit code {p.exitcode}" for p in procs if p.exitcode]
    _raise_missing(specs, results_dir, out, "; ".join(failed))
    return out


@contextlib.contextmanager
def _sigterm_raises():
    """Within it, SIGTERM raises SystemExit(143) in the main thread instead of ending the process
    at once (Python's default), so that the handlers around it run. Elsewhere: nothing."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def stop(signum, frame):
        raise SystemExit(128 + signum)

    previous = signal.signal(signal.SIGTERM, stop)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


def _process_worker(specs, results_dir, threads: int, env: dict) -> None:
    os.environ.update(env)
    import torch

    torch.set_num_threads(threads)
    work_through(specs, results_dir, keep_going=True)  # the parent names the runs left undone


def _raise_missing(specs, results_dir, out, why: str) -> None:
    missing = [s for s, r in zip(specs, out) if r is None]
    if missing:
        names = "\n".join(f"  {_label(s)}" for s in missing[:10])
        raise RuntimeError(f"{len(missing)} run(s) were not trained{f' ({why})' if why else ''}:\n"
                           f"{names}\nTheir claims are free again: run the grid once more to "
                           f"train them (finished records are kept).")


def _ray(specs, results_dir, opts, bar, stats) -> list[dict]:
    try:
        import ray
    except ImportError as e:
        raise ImportError("executor 'ray' needs Ray: pip install 'emtlib[ray]'") from e
    if not ray.is_initialized():
        ray.init(address=opts.address, include_dashboard=False, log_to_driver=False,
                 configure_logging=False)
    cpus = opts.cpus_per_run or 1
    task = ray.remote(_ray_task).options(num_cpus=cpus, num_gpus=opts.gpus_per_run,
                                         max_retries=opts.max_retries, retry_exceptions=False)
    refs = {task.remote(s, results_dir, max(1, int(cpus))): i for i, s in enumerate(specs)}
    out: list[dict | None] = [None] * len(specs)
    errors = []
    while refs:
        ready, _ = ray.wait(list(refs), num_returns=1)
        i = refs.pop(ready[0])
        try:
            out[i] = ray.get(ready[0])
            bar.update(1)
        except Exception as e:  # a run that failed after its retries: reported below
            errors.append(f"{_label(specs[i])}: {type(e).__name__}: {str(e).splitlines()[0]}")
    _raise_missing(specs, results_dir, out, "; ".join(errors[:3]))
    return out


def _ray_task(spec: RunSpec, results_dir: str, threads: int) -> dict:
    import torch

    torch.set_num_threads(threads)
    return run(spec, results_dir)


def _slurm(specs, results_dir, opts, bar, stats) -> list[dict]:
    try:
        import submitit
    except ImportError as e:
        raise ImportError("executor 'slurm' needs submitit: pip install 'emtlib[slurm]'") from e
    folder = Path(results_dir) / ".submitit" / "%j"
    ex = submitit.AutoExecutor(folder=folder, cluster=opts.cluster)
    params = dict(timeout_min=opts.timeout_min, cpus_per_task=max(1, int(opts.cpus_per_run or 1)),
                  slurm_array_parallelism=opts.workers or len(specs))
    if opts.gpus_per_run:
        params["gpus_per_node"] = int(opts.gpus_per_run)
    if opts.slurm_partition:
        params["slurm_partition"] = opts.slurm_partition
    ex.update_parameters(**params)
    threads = max(1, int(opts.cpus_per_run or 1))
    out: list[dict | None] = [None] * len(specs)
    todo, errors = list(range(len(specs))), []
    for _ in range(1 + opts.max_retries):
        # one array job of what is not done; an element that raised or died (killed, preempted,
        # out of memory) is submitted again in the next array, up to max_retries times
        jobs = ex.map_array(_slurm_task, [specs[i] for i in todo], [results_dir] * len(todo),
                            [threads] * len(todo))
        index = {job.job_id: i for job, i in zip(jobs, todo)}
        errors = []
        for job in submitit.helpers.as_completed(jobs, poll_frequency=POLL_S):
            i = index[job.job_id]
            try:
                out[i] = job.result()
                bar.update(1)
            except Exception as e:
                errors.append(f"{_label(specs[i])}: {type(e).__name__}: {str(e).splitlines()[0]}")
        todo = [i for i in todo if out[i] is None]
        if not todo:
            break
    _raise_missing(specs, results_dir, out, "; ".join(errors[:3]))
    return out


def _slurm_task(spec: RunSpec, results_dir: str, threads: int) -> dict:
    """One array element: the run (a failed element is submitted again by `_slurm`)."""
    import torch

    torch.set_num_threads(threads)
    return run(spec, results_dir)
