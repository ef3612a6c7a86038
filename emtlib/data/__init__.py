"""Data: MMSA pickles, the missing-view protocol, the synthetic stand-in, a run's data source.

The torch datasets and loaders are in `emtlib.data.dataset` (this package imports no torch).
"""
from .missing import MISSING_SEEDS, make_missing
from .mmsa import (MMSAData, MMSAFormatError, default_path, file_sha1, load_mmsa, normalize_sims,
                   write_normalized_sims)
from .schema import DATASETS, SPLITS, get_spec
from .sources import load_data, synthetic_path
from .synthetic import make_synthetic, write_synthetic

__all__ = [
    "DATASETS", "SPLITS", "MISSING_SEEDS", "MMSAData", "MMSAFormatError", "default_path",
    "file_sha1", "get_spec", "load_data", "load_mmsa", "make_missing", "make_synthetic",
    "normalize_sims", "synthetic_path", "write_normalized_sims", "write_synthetic",
]
