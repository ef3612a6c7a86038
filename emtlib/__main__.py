"""Command line: `emtlib --help` (or `python -m emtlib --help`)."""
from __future__ import annotations

import argparse
import os
import pickle
import sys
import time
from pathlib import Path

from . import __version__
from .config import METHODS
from .data.schema import DATASETS


def _synth(args) -> int:
    from .data.mmsa import load_mmsa, summarize
    from .data.synthetic import write_synthetic

    t0 = time.perf_counter()
    path = write_synthetic(args.dataset, args.out, scale=args.scale, seed=args.seed)
    seconds = time.perf_counter() - t0
    print(summarize(load_mmsa(path, args.dataset)))
    print(f"wrote {path} ({path.stat().st_size / 2**20:.1f} MiB) in {seconds:.1f} s")
    return 0


def _inspect(args) -> int:
    from .data.mmsa import load_mmsa, summarize

    print(summarize(load_mmsa(args.data, args.dataset, strict=args.strict)))
    return 0


def _normalize_sims(args) -> int:
    from .data.mmsa import write_normalized_sims

    print(f"wrote {write_normalized_sims(args.data)}")
    return 0


def run_spec(args):
    """The train / evaluate-checkpoint flags as a RunSpec (a path on the command line is the shell's: taken
    from the current directory)."""
    from .experiments import RunSpec

    return RunSpec(method=args.method, dataset=args.dataset, missing_rate=args.missing_rate,
                   seed=args.seed, profile=args.profile, synthetic=args.data is None,
                   data_root=None if args.data is None else str(args.data.resolve()),
                   overrides=tuple(args.set))


class UsageError(ValueError):
    """A mistake in what was asked for: one message, exit status 2."""


USER_ERRORS = (ValueError, OSError, ImportError, pickle.UnpicklingError)
"""What a user's input can cause (a bad file, parameter, path, missing encoder or extra): shown as
one message with exit status 2. Anything else is a bug in emtlib and keeps its traceback."""
DEBUG_ENV = "EMTLIB_DEBUG"
"""Set to 1 to see the traceback of user errors too (as --debug does)."""


def check_output(path: Path, force: bool) -> None:
    """Refuse, before any work, an output path that names a folder, an existing file (unless
    `force`), or a place that cannot be written."""
    if path.is_dir():
        raise UsageError(f"--out {path} is a folder: name the record file to write, "
                         f"e.g. {path / 'run.json'}")
    if path.exists() and not force:
        raise UsageError(f"--out {path} exists: choose another name, or pass --force to replace it")
    parent = path.resolve().parent
    while not parent.exists():
        parent = parent.parent
    if not os.access(parent, os.W_OK):
        raise UsageError(f"--out {path}: {parent} cannot be written: choose a writable place")


def _train(args) -> int:
    from .train import fit, write_record

    check_output(args.out, args.force)
    cfg = run_spec(args).config()
    record = fit(cfg).record
    write_record(record, args.out)
    m = record["metrics"]
    print(" ".join(f"{k}={v:.4f}" for k, v in m.items()))
    print(f"best epoch {record['best_epoch']} of {record['epochs']}, {record['wall_time_s']:.1f} s "
          f"on {record['device']}; record written to {args.out}")
    return 0


def _evaluate_checkpoint(args) -> int:
    import torch

    from .files import atomic_write
    from .models.released import checkpoint_format, load_checkpoint, read_state_dict
    from .train import evaluate_model

    cfg = run_spec(args).config()
    state = read_state_dict(args.checkpoint)
    fmt = checkpoint_format(state) if args.format == "auto" else args.format
    model = load_checkpoint(state, cfg, fmt)
    print(f"loaded the {fmt} checkpoint {args.checkpoint} ({len(state)} names) into the "
          f"{cfg.profile} {cfg.method} model of {cfg.dataset}")
    if args.save_emtlib is not None:
        atomic_write(args.save_emtlib, lambda f: torch.save(model.state_dict(), f))
        print(f"wrote the emtlib state dict to {args.save_emtlib}")
    m = evaluate_model(model, cfg, args.split)
    print(f"{args.split} split, missing rate {cfg.missing_rate:g}: "
          + " ".join(f"{k}={v:.4f}" for k, v in m.items()))
    return 0


def _sweep(args) -> int:
    from .executors import run_grid
    from .notebook import setup
    from .sweep import dry_run, named_grid, specs_from_file, unique

    session = setup(args.dataset, str(args.data.resolve()) if args.data else "data",
                    args.data is None, args.profile, args.device, None, str(args.results_dir),
                    args.executor)
    if args.grid:
        specs = named_grid(args.grid, session)
    else:
        specs = unique(specs_from_file(args.specs), session.results_dir)
    print(dry_run(specs, session.results_dir))
    if args.dry_run:
        return 0
    opts = dict(workers=args.workers, cpus_per_run=args.cpus_per_run,
                gpus_per_run=args.gpus_per_run, address=args.address,
                max_retries=args.max_retries, slurm_partition=args.partition,
                timeout_min=args.timeout_min, cluster=args.cluster)
    stats: dict = {}
    t0 = time.perf_counter()
    records = run_grid(specs, session.results_dir, executor=args.executor, stats=stats, **opts)
    trained = stats.get("trained_here")
    print(f"{len(records)} of {len(specs)} runs have records in {session.results_dir} "
          f"({time.perf_counter() - t0:.0f} s)"
          + (f"; this process trained {trained}" if trained is not None else ""))
    return 0


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="emtlib",
        description="emtlib: EMT-DLFR (Sun et al., IEEE TAC 2023) data, training and tools.")
    p.add_argument("--version", action="version", version=f"emtlib {__version__}")
    p.add_argument("--debug", action="store_true",
                   help=f"show the traceback of user errors too (or set {DEBUG_ENV}=1)")
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--debug", action="store_true", default=argparse.SUPPRESS,
                        help=f"show the traceback of user errors too (or set {DEBUG_ENV}=1)")
    sub = p.add_subparsers(dest="command", required=True, metavar="COMMAND")
    add_parser = sub.add_parser
    sub.add_parser = lambda *a, **k: add_parser(*a, parents=[common], **k)

    s = sub.add_parser("synth", help="write the synthetic stand-in of a dataset (MMSA pickle format)")
    s.add_argument("--dataset", required=True, choices=sorted(DATASETS))
    s.add_argument("--out", required=True, type=Path, help="pickle to write")
    s.add_argument("--scale", type=float, default=1.0, help="split sizes = real sizes x scale")
    s.add_argument("--seed", type=int, default=0, help="same seed, same bytes")
    s.set_defaults(func=_synth)

    s = sub.add_parser("inspect", help="validate an MMSA pickle and print its summary")
    s.add_argument("--dataset", required=True, choices=sorted(DATASETS))
    s.add_argument("--data", required=True, type=Path, help="pickle file or data root")
    s.add_argument("--strict", action="store_true", help="a hash or size mismatch is an error")
    s.set_defaults(func=_inspect)

    s = sub.add_parser("train", help="train EMT-DLFR (incomplete setting), EMT (complete) or a "
                                      "baseline, and score the test split")
    s.add_argument("--method", default="emt_dlfr", choices=list(METHODS),
                   help="emt_dlfr: incomplete setting with DLFR; emt: complete setting, L1 only; "
                        "tfn, lmf, mult, misa, self_mm, mmim, tfr_net: the baselines (paper Tables "
                        "6-7), trained on the incomplete view with their own procedures")
    s.add_argument("--dataset", required=True, choices=sorted(DATASETS))
    src = s.add_mutually_exclusive_group(required=True)
    src.add_argument("--data", type=Path, help="MMSA pickle or data root (see data/README.md)")
    src.add_argument("--synthetic", action="store_true", help="use the synthetic stand-in")
    s.add_argument("--missing-rate", type=float, default=0.0, help="missing rate p in [0, 1]")
    s.add_argument("--seed", type=int, default=111, help="training seed")
    s.add_argument("--profile", default="paper", choices=["paper", "demo", "smoke"],
                   help="paper: the released configuration; demo: a CPU budget at which every method learns; smoke: a tiny CPU budget")
    s.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                   help="override a config field, e.g. model.fusion=ooll, or for a baseline "
                        "baseline.lr=1e-4 (repeatable)")
    s.add_argument("--out", required=True, type=Path, help="result record (JSON) to write")
    s.add_argument("--force", action="store_true", help="replace --out when it exists")
    s.set_defaults(func=_train)

    s = sub.add_parser(
        "evaluate-checkpoint",
        help="load a checkpoint (the authors' released trainer or emtlib) and score a split",
        description="Load a state dict saved by the authors' released EMT-DLFR trainer (names "
                    "'Model.*', or 'module.Model.*' after DataParallel) or by emtlib, into the model "
                    "of the given configuration, and print its metrics on a split.",
        epilog="Released names are mapped onto emtlib's one by one (emtlib/models/released.py): "
               "BERT under text_model.model, the MPUs' pre-norm blocks (layers.0.0/1/2 .fn/.norm) onto "
               "cross_attn/self_attn/ff and their norms, attn_pools onto pools, <key>_projector/"
               "_predictor.net onto projector/predictor[key], post_fusion_layer_1/2/3 onto "
               "post_fusion. The saved sinusoidal position table and BERT's position ids are "
               "verified, not loaded. Every tensor must match: missing, unexpected or "
               "differently shaped names are reported together, and mean the checkpoint was "
               "trained with another configuration (pass it with --profile / --set). Example: "
               "python -m emtlib evaluate-checkpoint --checkpoint emt-dlfr-sims-regression.pth "
               "--dataset sims --data ~/MMSA --missing-rate 0.5")
    s.add_argument("--checkpoint", required=True, type=Path, help=".pth / .pt state dict to load")
    s.add_argument("--format", default="auto", choices=["auto", "released", "emtlib"],
                   help="whose names the checkpoint uses (auto: recognised from the names)")
    s.add_argument("--method", default="emt_dlfr", choices=list(METHODS),
                   help="the method the checkpoint was trained as (released: emt_dlfr)")
    s.add_argument("--dataset", required=True, choices=sorted(DATASETS))
    src = s.add_mutually_exclusive_group(required=True)
    src.add_argument("--data", type=Path, help="MMSA pickle or data root (see data/README.md)")
    src.add_argument("--synthetic", action="store_true", help="use the synthetic stand-in")
    s.add_argument("--missing-rate", type=float, default=0.0, help="missing rate p of the split")
    s.add_argument("--seed", type=int, default=111,
                   help="the config's seed (evaluation itself draws nothing random)")
    s.add_argument("--profile", default="paper", choices=["paper", "demo", "smoke"],
                   help="the configuration the checkpoint was trained with (released: paper)")
    s.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                   help="override a config field the checkpoint was trained with (repeatable)")
    s.add_argument("--split", default="test", choices=["train", "valid", "test"])
    s.add_argument("--save-emtlib", type=Path, metavar="PATH",
                   help="also write the loaded weights as an emtlib state dict")
    s.set_defaults(func=_evaluate_checkpoint)

    s = sub.add_parser("sweep", help="train a named grid (a notebook's, or 'paper': the whole "
                       "protocol of a dataset) or a file of specs, on local processes, Ray or Slurm")
    what = s.add_mutually_exclusive_group(required=True)
    what.add_argument("--grid", help="a notebook's grid ('04' or '04_ablation_fusion'), or 'paper'")
    what.add_argument("--specs", type=Path, help="JSON or YAML list of RunSpec fields")
    s.add_argument("--dataset", default="mosi", choices=sorted(DATASETS))
    src = s.add_mutually_exclusive_group(required=True)
    src.add_argument("--data", type=Path, help="MMSA pickle or data root (see data/README.md)")
    src.add_argument("--synthetic", action="store_true", help="use the synthetic stand-in")
    s.add_argument("--profile", default="paper", choices=["paper", "demo", "smoke"])
    s.add_argument("--device", default="auto", help="auto | cpu | cuda")
    s.add_argument("--results-dir", type=Path, default=Path("results"),
                   help="where records go (relative: from the project root in a checkout)")
    s.add_argument("--executor", default="local", choices=["local", "processes", "ray", "slurm"])
    s.add_argument("--workers", type=int, default=0,
                   help="processes: worker count (0: one per GPU, else 2); slurm: array parallelism")
    s.add_argument("--address", help="ray: cluster address (default: RAY_ADDRESS, else a local "
                   "instance)")
    s.add_argument("--cpus-per-run", type=float, default=0, help="CPU threads / Ray CPUs / Slurm "
                   "cpus-per-task of one run")
    s.add_argument("--gpus-per-run", type=float, default=0,
                   help="GPUs of one run (Ray: fractions share a GPU)")
    s.add_argument("--max-retries", type=int, default=2,
                   help="ray / slurm: restarts of a run whose worker died")
    s.add_argument("--partition", help="slurm: partition")
    s.add_argument("--timeout-min", type=int, default=24 * 60, help="slurm: wall time of one run")
    s.add_argument("--cluster", help="slurm: submitit cluster ('local' runs the array here)")
    s.add_argument("--dry-run", action="store_true",
                   help="print how many runs the grid holds, are done, claimed and to train, and "
                   "the estimated compute; train nothing")
    s.set_defaults(func=_sweep)

    s = sub.add_parser("normalize-sims", help="write unaligned_39_normalized.pkl beside unaligned_39.pkl")
    s.add_argument("--data", required=True, type=Path, help="unaligned_39.pkl or the data root")
    s.set_defaults(func=_normalize_sims)
    return p


def main(argv: list[str] | None = None) -> int:
    """Run a command; a user error prints one line (`emtlib <command>: error: ...`) on stderr and
    returns 2, its traceback shown only with --debug or EMTLIB_DEBUG=1."""
    args = build_parser().parse_args(argv)
    try:
        return args.func(args)
    except USER_ERRORS as e:
        if args.debug or os.environ.get(DEBUG_ENV, "").strip() not in ("", "0"):
            raise
        print(f"emtlib {args.command}: error: {e}\n(--debug shows the traceback)", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
