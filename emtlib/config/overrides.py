"""`section.field=value` assignments on an ExperimentConfig (the CLI's `--set`, RunSpec.overrides)."""
from __future__ import annotations

import dataclasses
import json
import typing

from .baselines import hparams_class
from .experiment import ExperimentConfig
from .serialization import field_types, is_union, parse_text

SECTIONS = ("model", "loss", "train", "data", "baseline")


def _section_type(section: str, d: dict) -> type:
    """The dataclass of a config section; 'baseline' depends on the method."""
    if section == "baseline":
        return hparams_class(d["method"])
    tp = field_types(ExperimentConfig)[section]
    if is_union(tp):
        tp = next(a for a in typing.get_args(tp) if a is not type(None))
    return tp


def apply_overrides(cfg: ExperimentConfig, overrides: list[str] | tuple[str, ...]) -> ExperimentConfig:
    """Return a copy of `cfg` with `section.field=value` assignments applied (values typed by field).

    `apply_overrides(cfg, ["model.fusion=ooll", "loss.lambda_recon=0.5", "seed=3",
    "train.max_epochs=none", "data.missing_seeds=(1,2,3)"])`; for a baseline
    `["baseline.lr=1e-4", "baseline.faithful_quirks=false"]` (fields of the method's
    hyperparameter dataclass). Unknown keys raise a ValueError listing the valid ones; the result
    is validated as a whole.
    """
    d = dataclasses.asdict(cfg)
    top_hints = field_types(ExperimentConfig)
    for item in overrides:
        if "=" not in item:
            raise ValueError(f"override {item!r}: expected the form key=value, e.g. model.d_model=64")
        key, text = item.split("=", 1)
        key = key.strip()
        parts = key.split(".")
        if len(parts) == 1:
            name = parts[0]
            valid = [f.name for f in dataclasses.fields(ExperimentConfig) if f.name not in SECTIONS]
            if name not in valid:
                raise ValueError(f"unknown override key {key!r}: valid top-level keys are {valid}, "
                                 f"or section.field with a section in {list(SECTIONS)}")
            d[name] = parse_text(text, top_hints[name], key)
        elif len(parts) == 2:
            section, name = parts
            if section not in SECTIONS:
                raise ValueError(f"unknown section {section!r} in {key!r}: valid sections are "
                                 f"{list(SECTIONS)}")
            if d[section] is None:
                raise ValueError(f"override {key!r}: the '{section}' section does not apply to "
                                 f"method {d['method']!r} (see emtlib.config's module docstring)")
            sub = _section_type(section, d)
            hints = field_types(sub)
            if name not in hints:
                raise ValueError(f"unknown override key {key!r}: valid keys of {section} are "
                                 f"{[f.name for f in dataclasses.fields(sub)]}")
            d[section][name] = parse_text(text, hints[name], key)
        else:
            raise ValueError(f"override key {key!r}: expected 'field' or 'section.field'")
    return ExperimentConfig.from_dict(json.loads(json.dumps(d)))

