"""Time and peak memory of the data path: load a stand-in, build the datasets, batch one epoch.

For each dataset, the synthetic stand-in at `--scale` is written once (if absent) under `--root`
(default: this checkout's data/synthetic, the path `load_data` uses), then each stage runs in a
fresh Python process, so every peak is that stage's alone:

    gen       write_synthetic (only when the file is absent, or with --regenerate)
    load      load_mmsa
    datasets  load_mmsa + make_datasets at missing rate `--rate` (every split)
    epoch     the above + every batch of make_loader (batch `--batch`; train shuffled, valid and
              test in order), no model: the data's own cost of one epoch

Peak memory is the process's ru_maxrss (resident set, MB = 2^20 bytes). Every stage imports the
same modules (numpy, torch, emtlib.data.dataset) before it starts; `base` is the peak after those
imports, and `ratio` is peak / pickle size, once gross and once with the base taken off.

    python benchmarks/data_memory.py                          # mosi, sims, mosei at scale 1
    python benchmarks/data_memory.py --datasets mosi --scale 0.25
    python benchmarks/data_memory.py --json out.json

MOSEI at scale 1 is a ~8.5 GB pickle: its stages each need about that much memory and its
generation takes about a minute.
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

MB = float(1 << 20)


def _peak_mb() -> float:
    import resource

    kb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss  # KiB on Linux
    return kb * 1024 / MB


def _stage(args) -> dict:
    """Run one stage in this process; return its wall time and peak."""
    import numpy as np  # noqa: F401
    import torch

    from emtlib.data.dataset import make_datasets, make_loader
    from emtlib.data.missing import MISSING_SEEDS
    from emtlib.data.mmsa import load_mmsa
    from emtlib.data.synthetic import write_synthetic

    torch.set_num_threads(1)
    base = _peak_mb()
    path = Path(args.path)
    t0 = time.perf_counter()
    out: dict = {}
    if args.stage == "gen":
        write_synthetic(args.dataset, path, scale=args.scale, seed=args.seed)
    else:
        data = load_mmsa(path, args.dataset)
        out["load_s"] = time.perf_counter() - t0
        if args.stage in ("datasets", "epoch"):
            from types import SimpleNamespace

            cfg = SimpleNamespace(missing_rate=args.rate, data=SimpleNamespace(
                max_samples_per_split=None, missing_seeds=MISSING_SEEDS))
            t1 = time.perf_counter()
            dsets = make_datasets(data, cfg)
            out["datasets_s"] = time.perf_counter() - t1
            if args.stage == "epoch":
                t2 = time.perf_counter()
                n = 0
                for s, ds in dsets.items():
                    for b in make_loader(ds, args.batch, shuffle=(s == "train"), seed=0):
                        n += len(b["id"])
                out["epoch_s"] = time.perf_counter() - t2
                out["samples"] = n
    out.update(stage=args.stage, wall_s=time.perf_counter() - t0, base_mb=base, peak_mb=_peak_mb())
    return out


def _run_stage(stage: str, dataset: str, path: Path, args) -> dict:
    cmd = [sys.executable, __file__, "--_stage", stage, "--_path", str(path), "--datasets", dataset,
           "--scale", str(args.scale), "--seed", str(args.seed), "--rate", str(args.rate),
           "--batch", str(args.batch)]
    env = dict(os.environ, PYTHONPATH=str(ROOT) + os.pathsep + os.environ.get("PYTHONPATH", ""))
    res = subprocess.run(cmd, capture_output=True, text=True, env=env)
    if res.returncode != 0:
        raise RuntimeError(f"stage {stage} of {dataset} failed:\n{res.stderr[-3000:]}")
    return json.loads(res.stdout.strip().splitlines()[-1])


def measure(dataset: str, args) -> dict:
    from emtlib.data.sources import synthetic_path

    root = Path(args.root) if args.root else None
    path = synthetic_path(dataset, args.scale, args.seed, root)
    row: dict = {"dataset": dataset, "path": str(path)}
    if args.regenerate or not path.is_file():
        g = _run_stage("gen", dataset, path, args)
        row["gen_s"], row["gen_peak_mb"] = g["wall_s"], g["peak_mb"]
    row["pickle_mb"] = path.stat().st_size / MB
    for stage in args.stages:
        r = _run_stage(stage, dataset, path, args)
        row[f"{stage}_peak_mb"] = r["peak_mb"]
        row["base_mb"] = r["base_mb"]
        for k in ("load_s", "datasets_s", "epoch_s"):
            if k in r:
                row.setdefault(k, r[k])
        print(f"  {dataset} {stage}: {r['wall_s']:.1f} s, peak {r['peak_mb']:.0f} MB", flush=True)
    return row


def table(rows: list[dict]) -> str:
    head = (f"{'dataset':<8} {'pickle MB':>9} {'gen s':>6} {'gen peak':>8} {'load s':>6} "
            f"{'load pk':>8} {'dsets s':>7} {'dsets pk':>8} {'epoch s':>7} {'epoch pk':>8} "
            f"{'base':>5} {'ratio':>5} {'net':>5}")
    lines = [head, "-" * len(head)]

    def f(r, k, fmt):
        return format(r[k], fmt) if k in r else "-"

    for r in rows:
        peak = max(r.get(f"{s}_peak_mb", 0.0) for s in ("load", "datasets", "epoch"))
        lines.append(
            f"{r['dataset']:<8} {r['pickle_mb']:>9.0f} {f(r, 'gen_s', '6.1f'):>6} "
            f"{f(r, 'gen_peak_mb', '8.0f'):>8} {f(r, 'load_s', '6.1f'):>6} "
            f"{f(r, 'load_peak_mb', '8.0f'):>8} {f(r, 'datasets_s', '7.1f'):>7} "
            f"{f(r, 'datasets_peak_mb', '8.0f'):>8} {f(r, 'epoch_s', '7.1f'):>7} "
            f"{f(r, 'epoch_peak_mb', '8.0f'):>8} {r['base_mb']:>5.0f} "
            f"{peak / r['pickle_mb']:>5.2f} {(peak - r['base_mb']) / r['pickle_mb']:>5.2f}")
    lines.append("peaks in MB (ru_maxrss); base: peak after imports; ratio: largest peak / pickle "
                 "size; net: (largest peak - base) / pickle size")
    return "\n".join(lines)


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--datasets", nargs="+", default=["mosi", "sims", "mosei"])
    p.add_argument("--scale", type=float, default=1.0)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--rate", type=float, default=0.5, help="missing rate of the datasets")
    p.add_argument("--batch", type=int, default=32)
    p.add_argument("--root", default=None, help="folder of the stand-ins (default data/synthetic)")
    p.add_argument("--stages", nargs="+", default=["load", "datasets", "epoch"],
                   choices=["load", "datasets", "epoch"])
    p.add_argument("--regenerate", action="store_true", help="write the stand-ins again (timed)")
    p.add_argument("--json", default=None, help="also write the rows to this file")
    p.add_argument("--_stage", default=None, help=argparse.SUPPRESS)
    p.add_argument("--_path", default=None, help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    if args._stage:
        args.stage, args.path, args.dataset = args._stage, args._path, args.datasets[0]
        print(json.dumps(_stage(args)))
        return 0
    rows = [measure(ds, args) for ds in args.datasets]
    print(table(rows))
    if args.json:
        Path(args.json).write_text(json.dumps(rows, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
