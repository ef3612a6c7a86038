"""The seven baselines as `ExperimentConfig` methods: hyperparameter classes, presets and builders.

    BASELINES                                   # ('tfn', 'lmf', 'mult', 'misa', 'self_mm', 'mmim', 'tfr_net')
    h = paper_hparams("mult", "mosi")           # MulTHParams: the preset + the text encoder's name
    model = build_baseline("mult", h, text_encoder)

A baseline's hyperparameters are its preset dataclass from presets_a / presets_b (the values
the baseline module reads) extended by ONE field, `text_encoder` (what `ModelConfig.text_encoder`
is for EMT: a local directory, a cached HF name, 'minilm', or a random-weight 'bert-base-uncased'
/ 'bert-base-chinese'). `ExperimentConfig.baseline` holds one instance; it serialises with the
config and `--set baseline.<field>=<value>` reaches every field.
"""
from __future__ import annotations

import dataclasses
from dataclasses import dataclass

import torch.nn as nn

from emtlib.config import _Serializable

from . import presets_a, presets_b
from .presets_a import LMFPreset, MulTPreset, TFNPreset, TFRNetPreset
from .presets_b import MISAPreset, MMIMPreset, SelfMMPreset

BASELINES = ("tfn", "lmf", "mult", "misa", "self_mm", "mmim", "tfr_net")


@dataclass
class _TextEncoder:
    """The one field a baseline's hyperparameters add to its preset (listed last)."""

    text_encoder: str = "bert-base-uncased"
    """Text encoder: a local directory, a cached Hugging Face name, or 'minilm'."""


@dataclass
class TFNHParams(_TextEncoder, TFNPreset, _Serializable):
    """TFN (presets_a.TFNPreset) plus the text encoder."""


@dataclass
class LMFHParams(_TextEncoder, LMFPreset, _Serializable):
    """LMF (presets_a.LMFPreset) plus the text encoder."""


@dataclass
class MulTHParams(_TextEncoder, MulTPreset, _Serializable):
    """MulT (presets_a.MulTPreset) plus the text encoder."""


@dataclass
class TFRNetHParams(_TextEncoder, TFRNetPreset, _Serializable):
    """TFR-Net (presets_a.TFRNetPreset) plus the text encoder."""


@dataclass
class MISAHParams(_TextEncoder, MISAPreset, _Serializable):
    """MISA (presets_b.MISAPreset) plus the text encoder."""


@dataclass
class SelfMMHParams(_TextEncoder, SelfMMPreset, _Serializable):
    """Self-MM (presets_b.SelfMMPreset) plus the text encoder."""


@dataclass
class MMIMHParams(_TextEncoder, MMIMPreset, _Serializable):
    """MMIM (presets_b.MMIMPreset) plus the text encoder."""


HPARAMS = {"tfn": TFNHParams, "lmf": LMFHParams, "mult": MulTHParams, "tfr_net": TFRNetHParams,
           "misa": MISAHParams, "self_mm": SelfMMHParams, "mmim": MMIMHParams}
SOURCES = {"tfn": ("mmsa", "tfrnet"), "lmf": ("mmsa",), "mult": ("authors", "mmsa"),
           "tfr_net": ("authors", "mmsa"), "misa": ("mmsa", "tfr_net"), "self_mm": ("mmsa",),
           "mmim": ("mmsa",)}
"""Value sources per baseline, the default first (see presets_a / presets_b)."""

# What the smoke profile changes (text encoder 'minilm' always): small widths, small batches.
SMOKE = {
    "tfn": dict(batch_size=8, text_hidden=32, audio_hidden=8, video_hidden=16, text_out=8,
                post_fusion_dim=16),
    "lmf": dict(batch_size=8, text_hidden=32, audio_hidden=8, video_hidden=16),
    # MulT on the cropped batch (no padding back to 375 / 500 frames): 2.6x faster on CPU
    "mult": dict(batch_size=8, d_model=16, heads=2, nlevels=1, update_epochs=1,
                 pad_to_full_length=False),
    "tfr_net": dict(batch_size=8, d_model=12, heads=2, nlevels=1, fusion_gru_layers=1,
                    fusion_t_hid=12, fusion_a_hid=8, fusion_v_hid=12, cls_hidden=32, update_epochs=1),
    "misa": dict(batch_size=8, hidden_size=32, update_epochs=1),
    "self_mm": dict(batch_size=8, post_fusion_dim=32, post_text_dim=16, post_audio_dim=8,
                    post_video_dim=16, update_epochs=1),
    "mmim": dict(batch_size=8, d_prjh=32),
}


def hparams_class(method: str) -> type:
    """The hyperparameter dataclass of baseline `method`."""
    if method not in HPARAMS:
        raise ValueError(f"{method!r} is not a baseline: expected one of {list(BASELINES)}")
    return HPARAMS[method]


def paper_hparams(method: str, dataset: str, source: str | None = None):
    """The released hyperparameters of `method` on `dataset` (source: see SOURCES; None = default),
    with the dataset's standard text encoder."""
    from emtlib.data.schema import get_spec

    cls = hparams_class(method)
    source = SOURCES[method][0] if source is None else source
    if method in presets_a.METHODS:
        p = presets_a.preset(method, dataset, source)
    else:
        p = presets_b.preset(method, get_spec(dataset).name, source)
    return cls(**{f.name: getattr(p, f.name) for f in dataclasses.fields(p)},
               text_encoder=get_spec(dataset).text_encoder)


def smoke_hparams(method: str, dataset: str, **changes):
    """`paper_hparams` shrunk for CPU smoke runs (MiniLM text encoder, SMOKE widths), plus `changes`."""
    h = paper_hparams(method, dataset)
    return dataclasses.replace(h, text_encoder="minilm", **{**SMOKE[method], **changes})


def build_baseline(method: str, h, text_encoder: nn.Module) -> nn.Module:
    """The baseline model of `method` for hyperparameters `h` around an already-built text encoder."""
    from . import lmf, misa, mmim, mult, self_mm, tfn, tfr_net

    cls = {"tfn": tfn.TFN, "lmf": lmf.LMF, "mult": mult.MulT, "tfr_net": tfr_net.TFRNet,
           "misa": misa.MISA, "self_mm": self_mm.SelfMM, "mmim": mmim.MMIM}[method]
    if not isinstance(h, hparams_class(method)):
        raise TypeError(f"{method}: expected {hparams_class(method).__name__}, got {type(h).__name__}")
    return cls(h, text_encoder)


# CPU budgets with which each baseline learns on the synthetic MOSI stand-in (smoke profile +
# these overrides): tests/test_baseline_training.py and benchmarks/baselines_smoke.py use them.
# 160 / 29 / 86 samples (scale 0.125), 2 epochs unless the method's entry says otherwise, batch 8.
LEARNING_COMMON = ["data.synthetic_scale=0.125", "data.max_samples_per_split=none",
                   "train.max_epochs=2"]
LEARNING_BUDGETS = {
    "tfn": ["baseline.learning_rate=5e-3", "train.max_epochs=3"],
    "lmf": ["baseline.learning_rate=2e-3", "baseline.factor_lr=2e-3", "train.max_epochs=5"],
    "mult": [],
    # frozen BERT and padded lengths 256 / 200 (the stand-in's clips are at most 249 / 196
    # frames at scales 0.125 and 0.25) instead of 375 / 500: TFR-Net's full-length encoders
    # dominate on CPU
    "tfr_net": ["baseline.update_epochs=1", "baseline.finetune_bert=false", "baseline.batch_size=16",
                "baseline.audio_len=256", "baseline.vision_len=200"],
    "misa": ["baseline.update_epochs=1"],
    "self_mm": ["baseline.update_epochs=1"],
    "mmim": ["baseline.batch_size=16"],
}


TASK_LOSS_TERM = {"tfn": "pred_l1", "lmf": "pred_l1", "mult": "pred_l1", "tfr_net": "pred_l1",
                  "misa": "task", "self_mm": "M", "mmim": "task"}
"""The task term of each method's training-loss history: the totals of TFR-Net, Self-MM and MMIM
gain terms between epochs (generation loss from epoch 2, moved labels, the entropy term), so
"does training reduce the loss" compares this term."""


def learning_overrides(method: str) -> list[str]:
    """`apply_overrides` items of `method`'s CPU learning budget (on top of smoke_config)."""
    hparams_class(method)
    return LEARNING_COMMON + LEARNING_BUDGETS[method]
