"""Data: MMSA pickles, the missing-view protocol, the synthetic stand-in, torch datasets."""
from .dataset import MMSADataset, collate_mmsa, make_loader
from .missing import MISSING_SEEDS, make_missing
from .mmsa import (MMSAData, MMSAFormatError, default_path, file_sha1, load_mmsa, normalize_sims,
                   write_normalized_sims)
from .schema import DATASETS, SPLITS, get_spec
from .synthetic import make_synthetic, write_synthetic

__all__ = [
    "DATASETS", "SPLITS", "MISSING_SEEDS", "MMSAData", "MMSADataset", "MMSAFormatError",
    "collate_mmsa", "default_path", "file_sha1", "get_spec", "load_mmsa", "make_loader",
    "make_missing", "make_synthetic", "normalize_sims", "write_normalized_sims", "write_synthetic",
]
