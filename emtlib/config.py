"""Dataclass configs for EMT-DLFR and the baselines: the released presets (paper Table 3 + facts
section 5, facts section 7) and a smoke preset.

    cfg = paper_config("mosi")                       # the released MOSI configuration
    cfg = apply_overrides(cfg, ["model.fusion=ooll", "loss.lambda_recon=0.5"])
    d = cfg.to_dict(); assert ExperimentConfig.from_dict(d) == cfg   # lossless JSON round trip
    b = paper_config("mosi", method="mult")          # a baseline: hyperparameters in b.baseline
    b = apply_overrides(b, ["baseline.learning_rate=1e-4", "baseline.faithful_quirks=false"])

Which sections apply (the others are None, or, for `train`, left at their defaults and not
written by `to_dict`):

    method            model  loss  train                                    baseline
    emt_dlfr, emt     yes    yes   all fields                               None
    the 7 baselines   None   None  run-level only: max_epochs, device,      the method's hyperparameter
                                   amp, num_workers, quiet                  dataclass (registry.HPARAMS)

A baseline's `baseline` section is its preset dataclass (emtlib/models/baselines/presets_a.py,
presets_b.py: batch size, learning rates, early stopping, accumulation, quirks, widths) plus
`text_encoder`; its optimisation therefore lives there, not in `train` (setting e.g.
`train.batch_size` for a baseline is an error naming the baseline field to use instead).

Every field has a one-line docstring below it. Enum-like fields are checked in `__post_init__`
and raise a ValueError naming the valid choices.
"""
from __future__ import annotations

import dataclasses
import json
import types
import typing
from dataclasses import dataclass, field
from typing import Any

# emtlib.data.schema is imported inside functions: the data package may import this module.

FUSIONS = ("oagl", "ooll", "oall")
UPDATES = ("parallel", "serial")
POOLINGS = ("attention", "average", "mlp")
ATTN_ACTS = ("tanh", "relu", "sigmoid")
ATTRACTIONS = ("simsiam", "cosine")
RECON_LOSSES = ("smooth_l1",)
EMT_METHODS = ("emt_dlfr", "emt")
BASELINES = ("tfn", "lmf", "mult", "misa", "self_mm", "mmim", "tfr_net")  # = registry.BASELINES
METHODS = EMT_METHODS + BASELINES
BASELINE_TRAIN_FIELDS = ("max_epochs", "device", "amp", "num_workers", "quiet")
"""The TrainConfig fields a baseline run reads; the rest is EMT's optimisation (see module doc)."""
# Where a baseline keeps what an EMT TrainConfig field means (error messages only).
_BASELINE_EQUIVALENT = {"batch_size": "baseline.batch_size", "early_stop": "baseline.early_stop",
                        "update_epochs": "baseline.update_epochs (where the method accumulates)"}
KEY_EVALS = ("loss", "loss_pred_m")
DATA_SOURCES = ("synthetic", "mmsa")


def _choice(obj: Any, name: str, choices: tuple) -> None:
    value = getattr(obj, name)
    if value not in choices:
        raise ValueError(f"{type(obj).__name__}.{name} = {value!r} is not valid: "
                         f"expected one of {list(choices)}")


def _positive(obj: Any, *names: str) -> None:
    for name in names:
        value = getattr(obj, name)
        if not isinstance(value, int) or isinstance(value, bool) or value < 1:
            raise ValueError(f"{type(obj).__name__}.{name} = {value!r}: expected a positive int")


def _probability(obj: Any, *names: str) -> None:
    for name in names:
        value = getattr(obj, name)
        if not 0.0 <= float(value) <= 1.0:
            raise ValueError(f"{type(obj).__name__}.{name} = {value!r}: expected a value in [0, 1]")


class _Serializable:
    """to_dict / from_dict for every config dataclass (JSON-safe, lossless)."""

    def to_dict(self) -> dict:
        """Plain nested dict (JSON-safe; tuples become lists)."""
        return json.loads(json.dumps(dataclasses.asdict(self)))

    @classmethod
    def from_dict(cls, d: dict):
        """Inverse of `to_dict`; unknown keys raise a ValueError naming the valid ones."""
        return _from_dict(cls, d)


@dataclass
class ModelConfig(_Serializable):
    """Architecture of EMT-DLFR (facts section 3) and of its paper-only ablation variants."""

    text_encoder: str = "bert-base-uncased"
    """Text encoder: a local directory, a Hugging Face name found in the local cache, or 'minilm'."""
    text_len: int = 50
    """L: token positions per text row, counting [CLS] and [SEP] (the local text sequence has L-1)."""
    audio_dim: int = 5
    """D_a: audio feature size."""
    audio_len: int = 375
    """T_a: padded audio length of the dataset (used for MACs at full length)."""
    vision_dim: int = 20
    """D_v: vision feature size."""
    vision_len: int = 500
    """T_v: padded vision length of the dataset (used for MACs at full length)."""
    a_lstm_hidden: int = 32
    """Hidden size of the audio LSTM."""
    a_lstm_layers: int = 1
    """Layers of the audio LSTM."""
    a_lstm_dropout: float = 0.0
    """Dropout of the audio subnet (between LSTM layers and on h_n before linear_1)."""
    audio_out: int = 16
    """Audio utterance/sequence width after linear_1 (Identity when equal to the LSTM hidden size)."""
    v_lstm_hidden: int = 64
    """Hidden size of the video LSTM."""
    v_lstm_layers: int = 1
    """Layers of the video LSTM."""
    v_lstm_dropout: float = 0.0
    """Dropout of the video subnet (between LSTM layers and on h_n before linear_1)."""
    video_out: int = 32
    """Video utterance/sequence width after linear_1 (Identity when equal to the LSTM hidden size)."""
    d_model: int = 128
    """d: width of EMT (paper Table 3 'hidden unit size')."""
    fusion_layers: int = 3
    """L: number of stacked fusion layers."""
    heads: int = 4
    """Attention heads; dim_head = d_model / heads."""
    ff_expansion: int = 4
    """GEGLU FFN width after gating, as a multiple of d (the first matrix is d x 2*ff_expansion*d)."""
    emb_dropout: float = 0.0
    """Dropout after adding the positional embedding to the local sequences."""
    attn_dropout: float = 0.0
    """Dropout on the attention probabilities."""
    ff_dropout: float = 0.0
    """Dropout after the FFN output projection."""
    learnable_pos_emb: bool = False
    """Learnable positional embedding instead of the sinusoidal one."""
    max_seq_len: int = 1024
    """Length of the positional embedding table."""
    fusion: str = "oagl"
    """Fusion strategy (paper 3.3.3): 'oagl' (EMT, eq. 8), 'ooll' (eq. 6) or 'oall' (eq. 7)."""
    update: str = "parallel"
    """'parallel' (as released) or 'serial' (paper 5.2.1: the context is promoted by the promoted local sequence)."""
    pooling: str = "attention"
    """How promoted copies are combined (paper 5.2.3): 'attention' (eq. 9), 'average' or 'mlp'."""
    attn_act_fn: str = "tanh"
    """Activation inside attention pooling (eq. 9 uses tanh)."""
    mpu_share: bool = True
    """Share the two directions of each MPU (paper 3.3.4, level 1)."""
    modality_share: bool = True
    """Share MPUs across modalities (level 2)."""
    layer_share: bool = True
    """Share MPUs and pools across layers (level 3)."""
    post_fusion_dim: int = 256
    """Hidden width P of the prediction head."""
    post_fusion_dropout: float = 0.3
    """Dropout at the input of the prediction head."""
    gmc_pred_dim: int = 128
    """SimSiam predictor hidden width for g (the global multimodal context tokens)."""
    text_pred_dim: int = 256
    """SimSiam predictor hidden width for h_l."""
    audio_pred_dim: int = 8
    """SimSiam predictor hidden width for h_a."""
    video_pred_dim: int = 16
    """SimSiam predictor hidden width for h_v."""

    def __post_init__(self):
        _choice(self, "fusion", FUSIONS)
        _choice(self, "update", UPDATES)
        _choice(self, "pooling", POOLINGS)
        _choice(self, "attn_act_fn", ATTN_ACTS)
        _positive(self, "text_len", "audio_dim", "audio_len", "vision_dim", "vision_len",
                  "a_lstm_hidden", "a_lstm_layers", "audio_out", "v_lstm_hidden", "v_lstm_layers",
                  "video_out", "d_model", "fusion_layers", "heads", "ff_expansion", "max_seq_len",
                  "post_fusion_dim", "gmc_pred_dim", "text_pred_dim", "audio_pred_dim",
                  "video_pred_dim")
        _probability(self, "a_lstm_dropout", "v_lstm_dropout", "emb_dropout", "attn_dropout",
                     "ff_dropout", "post_fusion_dropout")
        if self.d_model % self.heads:
            raise ValueError(f"ModelConfig.d_model = {self.d_model} is not divisible by "
                             f"heads = {self.heads}: choose heads that divide d_model")
        if self.text_len < 3:
            raise ValueError(f"ModelConfig.text_len = {self.text_len}: need room for [CLS], one "
                             "token and [SEP] (>= 3)")


@dataclass
class LossConfig(_Serializable):
    """Weights and forms of the loss terms (paper eq. 16, facts 3.16)."""

    lambda_recon: float = 1.0
    """lambda_1: weight of low-level reconstruction (0 removes the term and the recon heads' work)."""
    lambda_attr: float = 1.0
    """lambda_2: weight of high-level attraction incl. the complete-view L1 (0 removes the complete pass)."""
    attraction: str = "simsiam"
    """'simsiam' (eqs. 13-14) or 'cosine' (paper 5.2.6: plain negative cosine, no projector/predictor)."""
    recon_loss: str = "smooth_l1"
    """Reconstruction criterion (eq. 12): SmoothL1, beta 1, sum / (masked elements + 1e-6)."""

    def __post_init__(self):
        _choice(self, "attraction", ATTRACTIONS)
        _choice(self, "recon_loss", RECON_LOSSES)
        for name in ("lambda_recon", "lambda_attr"):
            if float(getattr(self, name)) < 0:
                raise ValueError(f"LossConfig.{name} = {getattr(self, name)!r}: expected >= 0")


@dataclass
class TrainConfig(_Serializable):
    """Optimisation and training-loop settings (facts section 4)."""

    batch_size: int = 32
    """Samples per batch."""
    lr_bert: float = 5e-5
    """Learning rate of the text encoder."""
    wd_bert: float = 1e-3
    """Adam (coupled L2) weight decay of text-encoder weights; biases and LayerNorms get 0."""
    lr_audio: float = 1e-3
    """Learning rate of the audio subnet."""
    wd_audio: float = 1e-2
    """Weight decay of the audio subnet."""
    lr_video: float = 1e-4
    """Learning rate of the video subnet."""
    wd_video: float = 1e-3
    """Weight decay of the video subnet."""
    lr_other: float = 1e-3
    """Learning rate of everything else (projections, EMT, heads); paper Table 3 'learning rate'."""
    wd_other: float = 1e-3
    """Weight decay of everything else."""
    update_epochs: int = 4
    """Gradient accumulation: batches whose (summed) gradients make one optimizer step."""
    early_stop: int = 8
    """Patience in epochs on the validation key."""
    max_epochs: int | None = None
    """Epoch cap; None = no cap, as released."""
    key_eval: str = "loss"
    """Model-selection key, minimised: 'loss' (total validation loss, as released) or 'loss_pred_m'."""
    device: str = "auto"
    """'auto' (CUDA when present, else CPU), 'cpu', 'cuda' or 'cuda:N'."""
    amp: bool = True
    """bf16 autocast on CUDA (ignored on CPU)."""
    num_workers: int = 0
    """DataLoader worker processes."""
    quiet: bool = False
    """Silence progress bars and per-epoch logs."""

    def __post_init__(self):
        _choice(self, "key_eval", KEY_EVALS)
        _positive(self, "batch_size", "update_epochs", "early_stop")
        if self.max_epochs is not None:
            _positive(self, "max_epochs")
        if not (self.device in ("auto", "cpu", "cuda") or str(self.device).startswith("cuda:")):
            raise ValueError(f"TrainConfig.device = {self.device!r}: expected 'auto', 'cpu', "
                             "'cuda' or 'cuda:N'")
        if self.batch_size < 2:
            raise ValueError("TrainConfig.batch_size must be >= 2: the SimSiam BatchNorms cannot "
                             "train on a batch of one sample")


@dataclass
class DataConfig(_Serializable):
    """Where samples come from and how much of them to use."""

    source: str = "synthetic"
    """'synthetic' (the embedded generator) or 'mmsa' (a user-supplied MMSA processed pickle)."""
    root: str | None = None
    """Data root holding <FOLDER>/Processed/<file>, or a pickle path; None = the project's data/ dir."""
    file_name: str | None = None
    """Pickle file name; None = the dataset's default (SIMS: the z-normalised file)."""
    missing_seeds: tuple[int, int, int] = (111, 1111, 11111)
    """Seeds of the text / audio / vision missing masks (facts section 2)."""
    max_samples_per_split: int | None = None
    """Keep only the first N samples of every split (smoke runs); None = all."""
    synthetic_seed: int = 0
    """Seed of the synthetic generator."""
    synthetic_scale: float = 1.0
    """Synthetic split sizes = round(real split size x scale), at least 8 each."""

    def __post_init__(self):
        _choice(self, "source", DATA_SOURCES)
        if self.max_samples_per_split is not None:
            _positive(self, "max_samples_per_split")
        if not float(self.synthetic_scale) > 0:
            raise ValueError(f"DataConfig.synthetic_scale = {self.synthetic_scale!r}: expected > 0")


@dataclass
class ExperimentConfig(_Serializable):
    """One run: method, dataset, seed, missing rate and the four sub-configs."""

    method: str = "emt_dlfr"
    """'emt_dlfr' (incomplete setting, DLFR losses), 'emt' (complete setting: one complete view, L1
    only), or a baseline: 'tfn', 'lmf', 'mult', 'misa', 'self_mm', 'mmim', 'tfr_net'."""
    dataset: str = "mosi"
    """'mosi', 'mosei' or 'sims'."""
    seed: int = 111
    """Training seed (the released defaults are 111, 1111, 11111)."""
    missing_rate: float = 0.0
    """Rate p of the incomplete view, the same for the three modalities."""
    profile: str = "paper"
    """Which preset produced this config: 'paper', 'smoke' or 'custom'."""
    model: ModelConfig | None = None
    """EMT's architecture (None -> ModelConfig() for EMT); None for a baseline."""
    loss: LossConfig | None = None
    """EMT's loss weights and forms (None -> LossConfig() for EMT); None for a baseline."""
    train: TrainConfig = field(default_factory=TrainConfig)
    """Optimisation (EMT); for a baseline only the run-level fields BASELINE_TRAIN_FIELDS."""
    data: DataConfig = field(default_factory=DataConfig)
    """Data source."""
    baseline: Any = None
    """A baseline's hyperparameters: its registry.HPARAMS dataclass (a dict is converted; None ->
    the released preset of `dataset`); None for EMT."""

    def __post_init__(self):
        _choice(self, "method", METHODS)
        from emtlib.data.schema import DATASETS

        _choice(self, "dataset", tuple(DATASETS))
        _probability(self, "missing_rate")
        if self.method in BASELINES:
            self._check_baseline()
            return
        if self.baseline is not None:
            raise ValueError(f"method {self.method!r} takes no 'baseline' section (it holds a "
                             f"baseline's hyperparameters; baselines: {list(BASELINES)})")
        self.model = ModelConfig() if self.model is None else self.model
        self.loss = LossConfig() if self.loss is None else self.loss
        if self.method == "emt" and (self.loss.lambda_recon or self.loss.lambda_attr):
            raise ValueError(
                "method 'emt' is the complete setting, trained with L_task only (paper 3.6); "
                f"found loss.lambda_recon={self.loss.lambda_recon}, loss.lambda_attr="
                f"{self.loss.lambda_attr}: set both to 0, or use method 'emt_dlfr' with both at 0 "
                "for the EMT ablation in the incomplete setting")

    def _check_baseline(self) -> None:
        from emtlib.models.baselines.registry import hparams_class, paper_hparams

        m = self.method
        for name in ("model", "loss"):
            if getattr(self, name) is not None:
                raise ValueError(
                    f"method {m!r} is a baseline: the '{name}' section is EMT's and does not apply "
                    f"(set it to None); the baseline's hyperparameters live in 'baseline' "
                    f"(paper_config(dataset, method={m!r}) builds a complete config)")
        cls = hparams_class(m)
        if self.baseline is None:
            self.baseline = paper_hparams(m, self.dataset)
        elif isinstance(self.baseline, dict):
            self.baseline = _from_dict(cls, self.baseline, "baseline")
        elif type(self.baseline) is not cls:
            raise ValueError(f"ExperimentConfig.baseline for method {m!r} must be a {cls.__name__} "
                             f"(or its dict), found {type(self.baseline).__name__}")
        if self.baseline.dataset != self.dataset:
            raise ValueError(f"baseline.dataset = {self.baseline.dataset!r} but dataset = "
                             f"{self.dataset!r}: the baseline's preset (lengths, feature sizes) is "
                             "per dataset; use paper_config(dataset, method=...)")
        defaults = TrainConfig()
        for f in dataclasses.fields(TrainConfig):
            if f.name not in BASELINE_TRAIN_FIELDS and \
                    getattr(self.train, f.name) != getattr(defaults, f.name):
                instead = _BASELINE_EQUIVALENT.get(f.name, "the learning-rate / weight-decay "
                                                   "fields of 'baseline'")
                raise ValueError(
                    f"train.{f.name} does not apply to baseline {m!r} (its optimisation is in "
                    f"'baseline'; use {instead}); a baseline reads only train."
                    f"{{{', '.join(BASELINE_TRAIN_FIELDS)}}}")

    @property
    def is_baseline(self) -> bool:
        """Whether `method` is one of the seven baselines."""
        return self.method in BASELINES

    # ---- serialisation -------------------------------------------------------------------
    def to_dict(self) -> dict:
        """Plain nested dict (JSON-safe); a baseline's `train` holds only the fields it reads."""
        d = json.loads(json.dumps(dataclasses.asdict(self)))
        if self.is_baseline:
            d["train"] = {k: d["train"][k] for k in BASELINE_TRAIN_FIELDS}
        return d

    def to_json(self, **kw) -> str:
        return json.dumps(self.to_dict(), **kw)

    @classmethod
    def from_json(cls, text: str) -> "ExperimentConfig":
        return cls.from_dict(json.loads(text))

    def override(self, *assignments: str) -> "ExperimentConfig":
        """`cfg.override("model.d_model=64", "seed=3")`: a new config (see `apply_overrides`)."""
        return apply_overrides(self, list(assignments))


# ---- typed conversion ------------------------------------------------------------------------

def _hints(cls) -> dict[str, Any]:
    return typing.get_type_hints(cls)


def _is_union(tp) -> bool:
    return typing.get_origin(tp) in (typing.Union, types.UnionType)


def _coerce(value: Any, tp: Any, where: str) -> Any:
    """Convert a JSON value (or Python value) to the field type `tp`."""
    if tp is Any:  # ExperimentConfig.baseline: typed by its method in __post_init__
        return value
    if _is_union(tp):
        args = typing.get_args(tp)
        if value is None and type(None) in args:
            return None
        errors = []
        for a in args:
            if a is type(None):
                continue
            try:
                return _coerce(value, a, where)
            except (TypeError, ValueError) as e:
                errors.append(str(e))
        raise ValueError(f"{where}: cannot read {value!r} as {tp}: {'; '.join(errors)}")
    origin = typing.get_origin(tp)
    if origin is tuple:
        if not isinstance(value, (list, tuple)):
            raise ValueError(f"{where}: expected a sequence for {tp}, found {value!r}")
        args = typing.get_args(tp)
        if len(args) == 2 and args[1] is Ellipsis:
            return tuple(_coerce(v, args[0], where) for v in value)
        if len(args) != len(value):
            raise ValueError(f"{where}: expected {len(args)} items for {tp}, found {len(value)}")
        return tuple(_coerce(v, a, where) for v, a in zip(value, args))
    if dataclasses.is_dataclass(tp):
        if isinstance(value, tp):
            return value
        if not isinstance(value, dict):
            raise ValueError(f"{where}: expected a dict for {tp.__name__}, found {value!r}")
        return _from_dict(tp, value, where)
    if tp is bool:
        if isinstance(value, bool):
            return value
        raise ValueError(f"{where}: expected a bool, found {value!r}")
    if tp is int:
        if isinstance(value, bool) or not isinstance(value, int):
            if isinstance(value, float) and value.is_integer():
                return int(value)
            raise ValueError(f"{where}: expected an int, found {value!r}")
        return value
    if tp is float:
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise ValueError(f"{where}: expected a float, found {value!r}")
        return float(value)
    if tp is str:
        if not isinstance(value, str):
            raise ValueError(f"{where}: expected a str, found {value!r}")
        return value
    raise TypeError(f"{where}: unsupported field type {tp}")


def _from_dict(cls, d: dict, where: str = "") -> Any:
    hints = _hints(cls)
    names = [f.name for f in dataclasses.fields(cls)]
    unknown = sorted(set(d) - set(names))
    if unknown:
        raise ValueError(f"unknown key(s) {unknown} in {where or cls.__name__}: valid keys are {names}")
    kwargs = {k: _coerce(v, hints[k], f"{where}.{k}" if where else k) for k, v in d.items()}
    return cls(**kwargs)


def _parse_text(text: str, tp: Any, where: str) -> Any:
    """Read a command-line string as the field type `tp`."""
    s = text.strip()
    if _is_union(tp):
        args = typing.get_args(tp)
        if s.lower() in ("none", "null") and type(None) in args:
            return None
        errors = []
        for a in args:
            if a is type(None):
                continue
            try:
                return _parse_text(s, a, where)
            except ValueError as e:
                errors.append(str(e))
        raise ValueError(f"{where}: cannot read {text!r} as {tp}")
    if typing.get_origin(tp) is tuple:
        inner = s
        if inner[:1] in "([" and inner[-1:] in ")]":
            inner = inner[1:-1]
        items = [p for p in (x.strip() for x in inner.split(",")) if p != ""]
        args = typing.get_args(tp)
        if len(args) == 2 and args[1] is Ellipsis:
            return tuple(_parse_text(p, args[0], where) for p in items)
        if len(items) != len(args):
            raise ValueError(f"{where}: expected {len(args)} comma-separated values, found {text!r}")
        return tuple(_parse_text(p, a, where) for p, a in zip(items, args))
    if tp is bool:
        low = s.lower()
        if low in ("true", "1", "yes", "on"):
            return True
        if low in ("false", "0", "no", "off"):
            return False
        raise ValueError(f"{where}: expected a bool (true/false), found {text!r}")
    if tp is int:
        try:
            return int(s)
        except ValueError:
            try:
                f = float(s)
            except ValueError:
                f = None
            if f is not None and f.is_integer():
                return int(f)
            raise ValueError(f"{where}: expected an int, found {text!r}") from None
    if tp is float:
        try:
            return float(s)
        except ValueError:
            raise ValueError(f"{where}: expected a float, found {text!r}") from None
    if tp is str:
        if len(s) >= 2 and s[0] == s[-1] and s[0] in "'\"":
            return s[1:-1]
        return s
    raise ValueError(f"{where}: cannot override a field of type {tp}")


SECTIONS = ("model", "loss", "train", "data", "baseline")


def _section_type(section: str, d: dict) -> type:
    """The dataclass of a config section; 'baseline' depends on the method."""
    if section == "baseline":
        from emtlib.models.baselines.registry import hparams_class

        return hparams_class(d["method"])
    tp = _hints(ExperimentConfig)[section]
    if _is_union(tp):
        tp = next(a for a in typing.get_args(tp) if a is not type(None))
    return tp


def apply_overrides(cfg: ExperimentConfig, overrides: list[str] | tuple[str, ...]) -> ExperimentConfig:
    """Return a copy of `cfg` with `section.field=value` assignments applied (values typed by field).

    `apply_overrides(cfg, ["model.fusion=ooll", "loss.lambda_recon=0.5", "seed=3",
    "train.max_epochs=none", "data.missing_seeds=(1,2,3)"])`; for a baseline
    `["baseline.learning_rate=1e-4", "baseline.faithful_quirks=false"]` (fields of the method's
    hyperparameter dataclass). Unknown keys raise a ValueError listing the valid ones; the result
    is validated as a whole.
    """
    d = dataclasses.asdict(cfg)
    top_hints = _hints(ExperimentConfig)
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
            d[name] = _parse_text(text, top_hints[name], key)
        elif len(parts) == 2:
            section, name = parts
            if section not in SECTIONS:
                raise ValueError(f"unknown section {section!r} in {key!r}: valid sections are "
                                 f"{list(SECTIONS)}")
            if d[section] is None:
                raise ValueError(f"override {key!r}: the '{section}' section does not apply to "
                                 f"method {d['method']!r} (see emtlib.config's module docstring)")
            sub = _section_type(section, d)
            hints = _hints(sub)
            if name not in hints:
                raise ValueError(f"unknown override key {key!r}: valid keys of {section} are "
                                 f"{[f.name for f in dataclasses.fields(sub)]}")
            d[section][name] = _parse_text(text, hints[name], key)
        else:
            raise ValueError(f"override key {key!r}: expected 'field' or 'section.field'")
    return ExperimentConfig.from_dict(json.loads(json.dumps(d)))


# ---- presets ----------------------------------------------------------------------------------

def _dataset_model_fields(dataset: str) -> dict:
    from emtlib.data.schema import get_spec

    spec = get_spec(dataset)
    return dict(text_encoder=spec.text_encoder, text_len=spec.text_len,
                audio_dim=spec.audio_dim, audio_len=spec.audio_len,
                vision_dim=spec.vision_dim, vision_len=spec.vision_len)


def paper_config(dataset: str, method: str = "emt_dlfr", missing_rate: float | None = None,
                 seed: int = 111, baseline_source: str | None = None) -> ExperimentConfig:
    """The released configuration (official `config_regression.py` `__EMT_DLFR`, facts section 5).

    Where the release and paper Table 3 differ, the release wins and the comment names the
    paper's value. `method='emt'` is the complete setting: lambda_1 = lambda_2 = 0, rate 0.0,
    selection on the validation L1 (the only loss left; facts section 4, an interpretation).

    A baseline method gets its released preset (facts section 7; `baseline_source` picks another
    source, see registry.SOURCES), `faithful_quirks` on, fp32 (amp off, as the originals ran), no
    epoch cap (its own early stopping), and model = loss = None.
    """
    if method not in METHODS:
        raise ValueError(f"method {method!r}: expected one of {list(METHODS)}")
    from emtlib.data.schema import get_spec

    ds = get_spec(dataset).name
    if method in BASELINES:
        from emtlib.models.baselines.registry import paper_hparams

        return ExperimentConfig(method=method, dataset=ds, seed=seed,
                                missing_rate=0.0 if missing_rate is None else missing_rate,
                                profile="paper", model=None, loss=None, train=TrainConfig(amp=False),
                                data=DataConfig(source="synthetic"),
                                baseline=paper_hparams(method, ds, baseline_source))
    if baseline_source is not None:
        raise ValueError("baseline_source applies to baseline methods only")
    m = _dataset_model_fields(ds)
    if ds == "mosi":
        model = ModelConfig(**m, a_lstm_hidden=32, audio_out=16, v_lstm_hidden=64, video_out=32,
                            d_model=128, fusion_layers=3, heads=4, attn_dropout=0.3, ff_dropout=0.1,
                            post_fusion_dim=256, post_fusion_dropout=0.3)
        train = TrainConfig(batch_size=32, lr_bert=5e-5, wd_bert=1e-3, lr_audio=1e-3, wd_audio=1e-2,
                            lr_video=1e-4,  # paper Table 3 lists a single learning rate 1e-3
                            wd_video=1e-3, lr_other=1e-3, wd_other=1e-3)
        loss = LossConfig(lambda_recon=1.0, lambda_attr=1.0)
    elif ds == "mosei":
        model = ModelConfig(**m, a_lstm_hidden=16, audio_out=16, v_lstm_hidden=32, video_out=32,
                            d_model=128, fusion_layers=2, heads=4, attn_dropout=0.0, ff_dropout=0.0,
                            post_fusion_dim=128, post_fusion_dropout=0.0)
        train = TrainConfig(batch_size=16, lr_bert=2e-5, wd_bert=1e-3, lr_audio=1e-4, wd_audio=1e-3,
                            lr_video=1e-4, wd_video=1e-3, lr_other=1e-4, wd_other=1e-3)
        loss = LossConfig(lambda_recon=1.0, lambda_attr=1.0)
    else:  # sims
        model = ModelConfig(**m, a_lstm_hidden=16, audio_out=16, v_lstm_hidden=32, video_out=32,
                            d_model=32, fusion_layers=4, heads=4, attn_dropout=0.0, ff_dropout=0.0,
                            post_fusion_dim=256, post_fusion_dropout=0.0)
        train = TrainConfig(batch_size=32, lr_bert=2e-5, wd_bert=1e-3, lr_audio=1e-3, wd_audio=0.0,
                            lr_video=1e-3, wd_video=0.0, lr_other=1e-3, wd_other=0.0)
        loss = LossConfig(lambda_recon=0.5, lambda_attr=0.5)
    if method == "emt":  # complete setting: L_task only; the total validation loss is then the L1
        loss = LossConfig(lambda_recon=0.0, lambda_attr=0.0)
    rate = 0.0 if missing_rate is None else missing_rate
    return ExperimentConfig(method=method, dataset=ds, seed=seed, missing_rate=rate,
                            profile="paper", model=model, loss=loss, train=train,
                            data=DataConfig(source="synthetic"))


def smoke_config(dataset: str = "mosi", method: str = "emt_dlfr", missing_rate: float = 0.3,
                 seed: int = 111, **model_overrides: Any) -> ExperimentConfig:
    """A tiny CPU preset: MiniLM text encoder, d=32, 1 fusion layer, 2 epochs, ~32 synthetic samples a split.

    Same loss structure and optimiser groups as the paper preset, so every code path runs; a
    smoke training run takes seconds on two CPU cores. `model_overrides` replace ModelConfig fields.

    A baseline gets the same data and epoch budget, MiniLM, and its preset shrunk as
    registry.SMOKE says (small widths, batch 8, no accumulation); `model_overrides` then replace
    fields of its `baseline` section. Its procedure (optimisers, clipping, schedulers, label
    generation, stages, quirks) is the paper one.
    """
    from emtlib.data.schema import get_spec

    scale = round(32 / get_spec(dataset).split_sizes[0], 6)  # about 32 synthetic training samples
    data = DataConfig(source="synthetic", max_samples_per_split=32, synthetic_scale=scale)
    if method in BASELINES:
        from emtlib.models.baselines.registry import smoke_hparams

        base = paper_config(dataset, method, missing_rate=missing_rate, seed=seed)
        train = dataclasses.replace(base.train, max_epochs=2, device="cpu", num_workers=0, quiet=True)
        return dataclasses.replace(base, profile="smoke", train=train, data=data,
                                   baseline=smoke_hparams(method, base.dataset, **model_overrides))
    base = paper_config(dataset, method, missing_rate=missing_rate if method == "emt_dlfr" else 0.0,
                        seed=seed)
    model = dataclasses.replace(base.model, text_encoder="minilm", d_model=32, fusion_layers=1,
                                heads=4, a_lstm_hidden=16, audio_out=16, v_lstm_hidden=16,
                                video_out=16, post_fusion_dim=32, gmc_pred_dim=32,
                                text_pred_dim=32, audio_pred_dim=8, video_pred_dim=8,
                                **model_overrides)
    train = dataclasses.replace(base.train, batch_size=8, update_epochs=1, max_epochs=2,
                                early_stop=2, lr_bert=5e-5, lr_other=1e-3, device="cpu",
                                num_workers=0, quiet=True)
    return dataclasses.replace(base, profile="smoke", model=model, train=train, data=data)
