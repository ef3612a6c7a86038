"""`emtlib sweep`: a named grid (a notebook's, or the paper's protocol for a dataset) or a file of
specs, trained on one of the executors (emtlib.executors), with a dry run that counts the work.

Named grids are built by the same functions the notebooks call (`emtlib.notebook.NOTEBOOK_GRIDS`),
so a sweep trains exactly the records a notebook then reads; 'paper' is the union of every
notebook's grid for the dataset, a run shared by several notebooks counted once.
"""
from __future__ import annotations

import json
from collections import defaultdict
from dataclasses import fields
from pathlib import Path

from .claims import holder
from .experiments import RunSpec, _locate, read_record
from .notebook import NOTEBOOK_GRIDS, Session

PAPER_GRID = "paper"
"""The name of the whole protocol of a dataset: every notebook's grid."""


def grid_names() -> list[str]:
    """What `--grid` accepts: each notebook's name, its number ('04'), and 'paper'."""
    return [*NOTEBOOK_GRIDS, *(n.split("_")[0] for n in NOTEBOOK_GRIDS), PAPER_GRID]


def named_grid(name: str, session: Session) -> list[RunSpec]:
    """The specs of grid `name` for `session`'s dataset, profile and data, each run once."""
    by_number = {n.split("_")[0]: n for n in NOTEBOOK_GRIDS}
    if name == PAPER_GRID:
        notebooks = list(NOTEBOOK_GRIDS)
    elif name in NOTEBOOK_GRIDS or name in by_number:
        notebooks = [by_number.get(name, name)]
    else:
        raise ValueError(f"grid {name!r}: expected one of {grid_names()}")
    return unique([s for n in notebooks for s in session.notebook_grid(n)], session.results_dir)


def unique(specs, results_dir) -> list[RunSpec]:
    """`specs` without repeats: two specs with the same record (the same config) are one run."""
    seen, out = set(), []
    for s in specs:
        path = _locate(s, results_dir)[2]
        if path not in seen:
            seen.add(path)
            out.append(s)
    return out


def specs_from_file(path: str | Path) -> list[RunSpec]:
    """RunSpecs from a JSON or YAML file holding a list of mappings of RunSpec fields."""
    path = Path(path)
    text = path.read_text()
    if path.suffix.lower() in (".yaml", ".yml"):
        import yaml

        items = yaml.safe_load(text)
    else:
        items = json.loads(text)
    if not isinstance(items, list) or not all(isinstance(i, dict) for i in items):
        raise ValueError(f"{path}: expected a list of mappings of RunSpec fields, found "
                         f"{type(items).__name__}")
    known = {f.name for f in fields(RunSpec)}
    specs = []
    for n, item in enumerate(items):
        unknown = sorted(set(item) - known)
        if unknown:
            raise ValueError(f"{path}: entry {n} has unknown field(s) {unknown}; RunSpec fields "
                             f"are {sorted(known)}")
        if "overrides" in item:
            item = {**item, "overrides": tuple(item["overrides"])}
        specs.append(RunSpec(**item))
    return specs


def dry_run(specs, results_dir) -> str:
    """How many runs the grid holds, how many are done and claimed, and the compute the rest
    needs, estimated from the recorded wall times of finished runs of the same method and profile."""
    done, claimed, todo = [], [], []
    for s in specs:
        _, key, path = _locate(s, results_dir)
        record = read_record(path, key)
        if record is not None:
            done.append(record)
        elif holder(path) is not None:
            claimed.append(s)
        else:
            todo.append(s)
    seconds = defaultdict(list)
    for r in done:
        seconds[(r["config"]["method"], r["config"]["profile"])].append(r["wall_time_s"])
    per_method = defaultdict(int)
    for s in claimed + todo:
        per_method[s.method] += 1
    lines = [f"runs: {len(specs)}  done: {len(done)}  claimed (training now): {len(claimed)}  "
             f"to train: {len(todo)}"]
    total, unknown = 0.0, []
    for method, n in sorted(per_method.items()):
        times = seconds.get((method, specs[0].profile))
        if times:
            mean = sum(times) / len(times)
            total += n * mean
            lines.append(f"  {method:<9} {n:>4} runs x {mean / 60:.1f} min (mean of {len(times)} "
                         f"recorded)")
        else:
            unknown.append(method)
            lines.append(f"  {method:<9} {n:>4} runs (no recorded run time yet)")
    if total:
        lines.append(f"estimated compute for the runs with a recorded time: {total / 3600:.1f} "
                     f"run-hours" + (f"; unknown for {', '.join(unknown)}" if unknown else ""))
    return "\n".join(lines)
