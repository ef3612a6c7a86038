"""One run from a spec -> a result record on disk (cached); grids of runs; aggregation.

A `RunSpec` names a run the way a reader thinks of it (method, dataset, data source, missing
rate, seed, profile, config overrides). `run(spec)` builds the full config, and returns the
record stored for that exact config if there is one; otherwise it trains (`emtlib.train.fit`)
and writes the record atomically, so an interrupted run never leaves a half-written record and
`run_grid` resumes where it stopped. Records live in

    <results_dir>/<dataset>/<method>/rate<rate>/seed<seed>/<key>.json

where `key` is a hash of the full config (and of the data file's size and modification time for
user data): a changed config never reuses an old record, and the same config asked for by two
notebooks (under different variant labels) is trained once.

Aggregation follows the released `run_once.py`: per-rate means over seeds with the population
standard deviation (`np.std`, ddof 0), and AUILC over the protocol's rate grid
(docs/training.md#aggregation, docs/metrics.md#auilc).
"""
from __future__ import annotations

import hashlib
import json
import math
import numbers
import os
import time
import warnings
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import pandas as pd
from .claims import claim
from .config import METHODS, PROFILES, ExperimentConfig, apply_overrides
from .config.experiment import MAX_SEED
from .data.schema import DATASETS
from .files import RESULTS_DIR, resolve
from .metrics import METRIC_KEYS, auilc, auilc_official

CACHE_ONLY_ENV = "EMTLIB_CACHE_ONLY"
"""Set to 1 (the test configuration does, for the notebooks nbval replays): runs are read from
their records, never trained; a missing record is an error naming it."""
REFRESH_COMMAND = "PROFILE={profile} bash scripts/refresh_notebooks.sh"
"""The command that trains a profile's missing records and re-executes the stored notebooks."""


CLAIM_POLL_S = 2.0
"""How often a worker waiting on a run another worker holds looks again (seconds)."""


class MissingRecordError(FileNotFoundError):
    """A run has no record and this process may not train (cache-only)."""


def cache_only() -> bool:
    """Whether runs may only be read back (EMTLIB_CACHE_ONLY=1)."""
    value = os.environ.get(CACHE_ONLY_ENV, "").strip().lower()
    if value not in ("", "0", "1", "true", "false"):
        raise ValueError(f"{CACHE_ONLY_ENV}={value!r}: expected 1 or 0")
    return value in ("1", "true")


# Fields that change how a run is shown, not what it computes: left out of the cache key.
_KEY_EXCLUDED = {("train", "quiet"), ("train", "num_workers")}
_KEY_OMITTED_AT_DEFAULT = {("model", "text_packing"): False, ("model", "lstm_kernel"): "packed",
                           ("model", "dropout_kernel"): "native", ("train", "adam_kernel"): "foreach"}
"""Fields added after records were made: left out of the key while at their default (what those
records computed), so the records keep their keys."""


@dataclass(frozen=True)
class RunSpec:
    """One run, as a notebook or a grid names it."""

    method: str = "emt_dlfr"
    """'emt_dlfr', 'emt', or a baseline name."""
    dataset: str = "mosi"
    """'mosi', 'mosei' or 'sims'."""
    missing_rate: float = 0.0
    """Missing rate p of the incomplete view (the complete setting uses 0)."""
    seed: int = 111
    """Training seed."""
    profile: str = "smoke"
    """'paper' (the released configuration), 'demo' (every method learns on a CPU) or 'smoke'
    (a tiny CPU budget that runs every code path)."""
    synthetic: bool = True
    """Use the synthetic stand-in shaped like `dataset` instead of the user's file."""
    data_root: str | None = None
    """The MMSA pickle or data root when `synthetic` is False."""
    overrides: tuple[str, ...] = ()
    """`section.field=value` assignments applied last (e.g. 'model.fusion=ooll')."""
    variant: str = ""
    """A short label for the run within its figure or table (e.g. 'ooll'); part of the file name."""

    def __post_init__(self):
        def bad(name: str, expected: str):
            raise ValueError(f"RunSpec.{name} = {getattr(self, name)!r}: expected {expected}")

        if self.method not in METHODS:
            bad("method", f"one of {list(METHODS)}")
        if self.dataset not in DATASETS:
            bad("dataset", f"one of {sorted(DATASETS)}")
        rate = self.missing_rate
        if isinstance(rate, bool) or not isinstance(rate, numbers.Real) or not 0 <= rate <= 1:
            bad("missing_rate", "a number in [0, 1]")
        if self.method == "emt" and rate != 0:
            bad("missing_rate", "0.0: method 'emt' is the complete setting; for EMT under missing "
                "data use method 'emt_dlfr' (with overrides loss.lambda_recon=0 and "
                "loss.lambda_attr=0 for vanilla EMT, the DLFR ablation of notebook 07)")
        if isinstance(self.seed, bool) or not isinstance(self.seed, numbers.Integral) \
                or not 0 <= self.seed <= MAX_SEED:
            bad("seed", f"an int in [0, {MAX_SEED}] (what numpy's and torch's generators accept)")
        if self.profile not in PROFILES:
            bad("profile", f"one of {list(PROFILES)}")
        if not isinstance(self.synthetic, bool):
            bad("synthetic", "True or False")
        if self.data_root is not None and not isinstance(self.data_root, (str, os.PathLike)):
            bad("data_root", "a path or None")
        if isinstance(self.overrides, str) or not all(isinstance(o, str) for o in self.overrides):
            bad("overrides", "a tuple of 'section.field=value' strings")
        object.__setattr__(self, "overrides", tuple(self.overrides))
        object.__setattr__(self, "missing_rate", float(rate))  # numpy scalars: plain numbers
        object.__setattr__(self, "seed", int(self.seed))
        if not isinstance(self.variant, str):
            bad("variant", "a string")

    def config(self) -> ExperimentConfig:
        """The full config: profile preset -> data source -> overrides."""
        if self.profile not in PROFILES:
            raise ValueError(f"profile {self.profile!r}: expected one of {list(PROFILES)}")
        cfg = PROFILES[self.profile](self.dataset, method=self.method, missing_rate=self.missing_rate,
                     seed=self.seed)
        if not self.synthetic:
            if self.data_root is None:
                raise ValueError("a run on real data needs data_root (the MMSA pickle or the data "
                                 "root; see data/README.md), or synthetic=True")
            data = ["data.source=mmsa", f"data.root={self.data_root}"]
        elif self.profile == "paper":
            data = ["data.source=synthetic", "data.synthetic_scale=1.0"]
        else:
            data = []  # the demo / smoke preset's own stand-in
        return apply_overrides(cfg, data + list(self.overrides))


def config_key(cfg: ExperimentConfig) -> str:
    """12 hex digits identifying what a run computes: its config and its data file."""
    d = cfg.to_dict()
    for section, name in _KEY_EXCLUDED:
        d.get(section, {}).pop(name, None)
    for (section, name), default in _KEY_OMITTED_AT_DEFAULT.items():
        if d.get(section) and d[section].get(name) == default:
            del d[section][name]
    if cfg.data.source == "mmsa":
        d["_data_file"] = _file_fingerprint(cfg)
    else:  # another generator version gives another stand-in: its records are not reused
        from .data.synthetic import GENERATOR_VERSION

        d["_synthetic_generator"] = GENERATOR_VERSION
    if cfg.model is not None:
        from .models.emt_dlfr import identity_projections

        same = identity_projections(cfg.model)
        if same:  # these models had a Linear there before projections followed the release
            d["_identity_projections"] = list(same)
    text = json.dumps(d, sort_keys=True, separators=(",", ":"))
    return hashlib.sha1(text.encode()).hexdigest()[:12]


def _file_fingerprint(cfg: ExperimentConfig) -> list:
    from .data.sources import mmsa_file

    p = mmsa_file(cfg)  # a missing file raises the loader's message here
    st = p.stat()
    return [str(p.resolve()), st.st_size, st.st_mtime_ns]


def record_path(cfg: ExperimentConfig, results_dir: str | os.PathLike) -> Path:
    """`<results_dir>/<dataset>/<method>/rate<r>/seed<s>/<key>.json`."""
    return (resolve(results_dir) / cfg.dataset / cfg.method / f"rate{cfg.missing_rate:.2f}"
            / f"seed{cfg.seed}" / f"{config_key(cfg)}.json")


def read_record(path: Path, key: str) -> dict | None:
    """The finished record at `path`, or None: absent, or not a valid record of this config
    (`record_problem`), in which case a warning says why and the run is done again."""
    if not path.is_file():
        return None
    try:
        record = json.loads(path.read_text())
    except (json.JSONDecodeError, UnicodeDecodeError) as e:
        warnings.warn(f"{path} is not a complete record ({e}); the run is done again",
                      stacklevel=3)
        return None
    problem = record_problem(record, key)
    if problem is not None:
        warnings.warn(f"{path} {problem}; the run is done again", stacklevel=3)
        return None
    return record


def record_problem(record, key: str) -> str | None:
    """Why `record` is not a finished record of the config keyed `key`, or None when it is: a
    mapping with its config, the same key, and every metric of the dataset's set a finite number
    (or null where the record's `nonfinite` list declares it, e.g. the correlation of a constant
    prediction)."""
    if not isinstance(record, dict):
        return f"holds a JSON {type(record).__name__}, not a record"
    absent = [k for k in ("config", "metrics", "key") if k not in record]
    if absent:
        return f"lacks {', '.join(absent)}"
    if record["key"] != key:
        return f"is keyed {record['key']!r}, not {key!r} (a config it was not trained with)"
    config, metrics = record["config"], record["metrics"]
    expected = METRIC_KEYS.get(config.get("dataset")) if isinstance(config, dict) else None
    if expected is None or not isinstance(metrics, dict) or set(metrics) != set(expected):
        found = sorted(metrics) if isinstance(metrics, dict) else type(metrics).__name__
        return f"has metrics {found}, expected {list(expected or ())}"
    declared = set(record.get("nonfinite") or ())
    bad = [m for m, v in metrics.items()
           if not (isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v))
           and not (v is None and f"metrics.{m}" in declared)]
    if bad:
        return f"has no finite value for {', '.join(bad)}"
    return None


def run(spec: RunSpec, results_dir: str | os.PathLike = RESULTS_DIR, quiet: bool = True,
        wait: bool = True) -> dict | None:
    """The record of `spec`: read from `results_dir` when done before, else trained under a claim
    (emtlib.claims) and written, so that concurrent workers train each run once.

    A run another live worker holds is waited for (`wait`), or skipped: None is returned.
    The returned record carries this `spec` (its variant label), whichever spec wrote it.
    Cache-only (EMTLIB_CACHE_ONLY=1): a missing record raises MissingRecordError instead.
    """
    return run_counted(spec, results_dir, quiet, wait)[0]


def run_counted(spec: RunSpec, results_dir: str | os.PathLike = RESULTS_DIR, quiet: bool = True,
                wait: bool = True) -> tuple[dict | None, bool]:
    """`run`, and whether this call trained the run (False: read back, or skipped)."""
    cfg, key, path = _locate(spec, results_dir, quiet)
    while True:
        record = read_record(path, key)
        if record is not None:
            return _with_spec(record, spec), False
        if cache_only():
            raise MissingRecordError(missing_message([(spec, path)]))
        with claim(path) as held:
            if held:
                record = read_record(path, key)  # finished while this worker looked elsewhere
                if record is not None:
                    return _with_spec(record, spec), False
                for stale in path.parent.glob(f".{path.name}.*.part"):  # left by a killed writer
                    stale.unlink(missing_ok=True)  # (no live one: this process holds the claim)
                from .train import fit, write_record

                record = fit(cfg).record
                record["key"] = key
                write_record(record, path)  # temporary file, then rename
                return _with_spec(record, spec), True
        if not wait:
            return None, False
        time.sleep(CLAIM_POLL_S)


def _locate(spec: RunSpec, results_dir, quiet: bool = True):
    cfg = spec.config()
    if quiet:
        cfg = apply_overrides(cfg, ["train.quiet=true"])
    return cfg, config_key(cfg), record_path(cfg, results_dir)


def _with_spec(record: dict, spec: RunSpec) -> dict:
    return {**record, "spec": json.loads(json.dumps(asdict(spec)))}  # JSON-normal, as read back


def missing_message(missing: list) -> str:
    """The cache-only error for [(spec, path)] runs without a record."""
    shown = "\n".join(f"  {s.method} {s.dataset} rate {s.missing_rate:g} seed {s.seed} "
                       f"profile {s.profile}{f' variant {s.variant}' if s.variant else ''}: {p}"
                       for s, p in missing[:10])
    more = f"\n  ... and {len(missing) - 10} more" if len(missing) > 10 else ""
    return (f"{len(missing)} run(s) have no record and this process is cache-only "
            f"({CACHE_ONLY_ENV}=1, set by the test configuration):\n{shown}{more}\n"
            f"Train them with `{REFRESH_COMMAND.format(profile=missing[0][0].profile)}` (the stored "
            f"notebooks' records), or run without {CACHE_ONLY_ENV}.")


# ---- aggregation ---------------------------------------------------------------------------

def records_frame(records) -> pd.DataFrame:
    """Tidy frame, one row per (run, metric): dataset, method, variant, rate, seed, metric, value."""
    rows = []
    for r in records:
        c, s = r["config"], r.get("spec", {})
        for metric, value in r["metrics"].items():
            rows.append({"dataset": c["dataset"], "method": c["method"],
                         "variant": s.get("variant", ""), "rate": float(c["missing_rate"]),
                         "seed": int(c["seed"]), "metric": metric,
                         "value": math.nan if value is None else float(value)})
    return pd.DataFrame(rows, columns=["dataset", "method", "variant", "rate", "seed", "metric",
                                       "value"])


def aggregate(frame: pd.DataFrame) -> pd.DataFrame:
    """Seed mean, population std (ddof 0, as released) and count per dataset/method/variant/rate/metric."""
    keys = ["dataset", "method", "variant", "rate", "metric"]
    g = frame.groupby(keys, sort=True)["value"]
    out = g.agg(mean="mean", std=lambda v: float(np.std(v, ddof=0)), n="count").reset_index()
    return out


def auilc_frame(agg: pd.DataFrame, official: bool = True) -> pd.DataFrame:
    """AUILC per dataset/method/variant/metric over the rates present (paper eq. 17).

    `official=True` reproduces the released number (seed means x100 rounded to 2 decimals,
    trapezoid, rounded to 1 decimal; MAE and Corr as the paper prints them, i.e. divided by 100
    again); otherwise the plain trapezoid of the seed means.
    """
    rows = []
    for (ds, method, variant, metric), g in agg.groupby(["dataset", "method", "variant", "metric"]):
        g = g.sort_values("rate")
        rates, values = g["rate"].to_numpy(), g["mean"].to_numpy()
        if len(rates) < 2:
            continue
        if official:
            value = auilc_official(rates, values)
            if metric in ("mae", "corr"):
                # the paper prints MAE/Corr AUILC divided by 100 (docs/metrics.md#auilc)
                value /= 100
        else:
            value = auilc(rates, values)
        rows.append({"dataset": ds, "method": method, "variant": variant, "metric": metric,
                     "auilc": value, "rates": len(rates)})
    return pd.DataFrame(rows, columns=["dataset", "method", "variant", "metric", "auilc", "rates"])


def metric_table(agg: pd.DataFrame, rate: float | None = None, digits: int = 4) -> pd.DataFrame:
    """Seed means as rows x metrics, rounded for display: rows (method, variant) at missing rate
    `rate`, or (method, variant, rate) for every rate when `rate` is None."""
    index = ["method", "variant"]
    if rate is None:
        a, index = agg, index + ["rate"]
    else:
        a = agg[np.isclose(agg["rate"], rate)]
        if a.empty:
            raise ValueError(f"no rows at missing rate {rate}; found rates "
                             f"{sorted(agg['rate'].unique().tolist())}")
    if a.duplicated(index + ["metric"]).any():
        raise ValueError(f"several rows per {index} and metric (several datasets?); select first")
    t = a.pivot_table(index=index, columns="metric", values="mean", aggfunc="first", sort=False)
    return t.round(digits)
