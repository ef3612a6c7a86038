"""Configuration: what a run computes, as dataclasses that serialise losslessly to JSON.

    experiment     ExperimentConfig and EMT's sections (ModelConfig, LossConfig, TrainConfig, DataConfig)
    baselines      the seven baselines' hyperparameter dataclasses and released values (torch-free)
    presets        paper_config (the released configuration per dataset), demo_config (every method learns on a CPU), smoke_config (tiny CPU budget)
    overrides      apply_overrides: `section.field=value` assignments
    serialization  typed to/from dict and command-line text
"""
from .baselines import BASELINES, hparams_class, learning_overrides, paper_hparams, smoke_hparams
from .experiment import (EMT_METHODS, METHODS, DataConfig, ExperimentConfig, LossConfig, ModelConfig,
                         TrainConfig)
from .overrides import apply_overrides
from .presets import PROFILES, demo_config, paper_config, smoke_config

__all__ = ["BASELINES", "EMT_METHODS", "METHODS", "DataConfig", "ExperimentConfig", "LossConfig",
           "ModelConfig", "TrainConfig", "apply_overrides", "hparams_class", "learning_overrides",
           "paper_config", "paper_hparams", "smoke_config", "smoke_hparams", "demo_config", "PROFILES"]
