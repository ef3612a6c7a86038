"""Where a run's samples come from: the user's MMSA pickle, or the synthetic stand-in (written
once per generator version and cached under `<data dir>/synthetic/`)."""
from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING

from emtlib.files import data_dir, resolve

from .mmsa import SYNTHETIC_SIDECAR_SUFFIX, MMSAData, load_mmsa, resolve_path
from .synthetic import GENERATOR_VERSION, write_synthetic

if TYPE_CHECKING:  # the config layer sits above data
    from emtlib.config import ExperimentConfig


def synthetic_path(dataset: str, scale: float, seed: int, root: Path | None = None) -> Path:
    """Where the stand-in for (dataset, scale, seed) is cached."""
    return Path(root or data_dir() / "synthetic") / f"{dataset}-scale{scale:g}-seed{seed}.pkl"


def mmsa_file(cfg: "ExperimentConfig") -> Path:
    """The user's pickle for a run on real data: `data.root` (a pickle, or a root holding
    <DS>/Processed/<file>), joined with `data.file_name` when given."""
    dc = cfg.data
    if dc.root is None:
        raise ValueError("data.source='mmsa' needs data.root: the pickle or the data root "
                         "holding <DS>/Processed/<file> (see data/README.md)")
    root = resolve(dc.root)
    return resolve_path(root / dc.file_name if dc.file_name else root, cfg.dataset)


def load_data(cfg: "ExperimentConfig") -> MMSAData:
    """The run's data (`cfg.dataset`, `cfg.data`): the user's MMSA pickle, or the synthetic stand-in."""
    dc = cfg.data
    if dc.source == "mmsa":
        return load_mmsa(mmsa_file(cfg), cfg.dataset)
    path = synthetic_path(cfg.dataset, dc.synthetic_scale, dc.synthetic_seed,
                          resolve(dc.root) if dc.root else None)
    sidecar = path.with_name(path.name + SYNTHETIC_SIDECAR_SUFFIX)
    stale = not sidecar.is_file() or \
        json.loads(sidecar.read_text()).get("generator_version") != GENERATOR_VERSION
    if not path.is_file() or stale:  # written once per generator version
        write_synthetic(cfg.dataset, path, scale=dc.synthetic_scale, seed=dc.synthetic_seed)
    return load_mmsa(path, cfg.dataset)
