"""The run configuration: EMT's sections (model, loss, train, data) and `ExperimentConfig`.

    cfg = paper_config("mosi")                       # the released MOSI configuration
    cfg = apply_overrides(cfg, ["model.fusion=ooll", "loss.lambda_recon=0.5"])
    d = cfg.to_dict(); assert ExperimentConfig.from_dict(d) == cfg   # lossless JSON round trip
    b = paper_config("mosi", method="mult")          # a baseline: hyperparameters in b.baseline
    b = apply_overrides(b, ["baseline.lr=1e-4", "baseline.faithful_quirks=false"])

Which sections apply (the others are None, or, for `train`, left at their defaults and not
written by `to_dict`):

    method            model  loss  train                                    baseline
    emt_dlfr, emt     yes    yes   all fields                               None
    the 7 baselines   None   None  run-level only: max_epochs, device,      the method's hyperparameter
                                   precision, bucket_by_length,             dataclass (config.baselines)
                                   num_workers, quiet

A baseline's optimisation lives in its `baseline` section, not in `train` (setting e.g.
`train.batch_size` for a baseline is an error naming the baseline field to use instead).

Every field has a one-line docstring below it. Enum-like fields are checked in `__post_init__`
and raise a ValueError naming the valid choices.
"""
from __future__ import annotations

import dataclasses
import json
import numbers
from dataclasses import dataclass, field
from typing import Any

from emtlib.data.schema import DATASETS

from .baselines import BASELINES, hparams_class, paper_hparams
from .serialization import Serializable, from_dict

FUSIONS = ("oagl", "ooll", "oall")
UPDATES = ("parallel", "serial")
POOLINGS = ("attention", "average", "mlp")
ATTN_ACTS = ("tanh", "relu", "sigmoid")
ATTRACTIONS = ("simsiam", "cosine")
RECON_LOSSES = ("smooth_l1",)
EMT_METHODS = ("emt_dlfr", "emt")
METHODS = EMT_METHODS + BASELINES
PRECISIONS = ("auto", "fp32", "bf16")
ATTENTION_KERNELS = ("fused", "explicit")
LSTM_KERNELS = ("packed", "fused")
ADAM_KERNELS = ("foreach", "fused")
DROPOUT_KERNELS = ("native", "keep_mask")
BASELINE_TRAIN_FIELDS = ("max_epochs", "device", "precision", "bucket_by_length", "num_workers",
                         "quiet")
"""The TrainConfig fields a baseline run reads; the rest is EMT's optimisation (see module doc)."""
# Where a baseline keeps what an EMT TrainConfig field means (error messages only).
_BASELINE_EQUIVALENT = {"batch_size": "baseline.batch_size", "early_stop": "baseline.early_stop",
                        "update_epochs": "baseline.update_epochs (where the method accumulates)"}
KEY_EVALS = ("loss", "loss_pred_m")
DATA_SOURCES = ("synthetic", "mmsa")


MAX_SEED = 2**32 - 1
"""The largest seed numpy's generator accepts (torch's accepts more)."""


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
        if isinstance(value, bool) or not isinstance(value, numbers.Real) \
                or not 0.0 <= float(value) <= 1.0:
            raise ValueError(f"{type(obj).__name__}.{name} = {value!r}: expected a value in [0, 1]")


@dataclass
class ModelConfig(Serializable):
    """Architecture of EMT-DLFR (docs/model.md) and of its paper-only ablation variants."""

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
    attention: str = "fused"
    """Attention kernel: 'fused' (scaled_dot_product_attention) or 'explicit' (matmuls, as
    released); the same function (docs/model.md#attention-kernels). Attention capture and MAC
    counting always run the explicit path."""
    lstm_kernel: str = "packed"
    """Audio / vision LSTM kernel: 'packed' (a packed sequence, as released; step by step on a
    CPU) or 'fused' (the padded batch in one oneDNN / cuDNN call, read at each sample's length);
    the same function (docs/model.md#lstm-kernels)."""
    dropout_kernel: str = "native"
    """Dropout masks: 'native' (PyTorch's, as released) or 'keep_mask' (on a CPU in training,
    emtlib's 16-bit draws kept as bool, in the text encoder too: faster and smaller, other random
    draws; docs/model.md#dropout-kernels)."""
    text_checkpointing: bool = False
    """Activation checkpointing of the text encoder: less memory, one more text forward pass."""
    text_packing: bool = False
    """Run the fine-tuned text encoder on the batch's valid tokens packed into as few rows as
    hold them (models.text_encoder.packed_text_forward): the same function at a fraction of the
    work when text lengths vary; dropout draws its masks over the packed layout."""
    freeze_text: bool = False
    """Freeze the text encoder (no fine-tuning, no dropout) and encode each distinct token row once
    per run (models.text_encoder.TextFeatureCache); the paper fine-tunes it."""
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
        _choice(self, "attention", ATTENTION_KERNELS)
        _choice(self, "lstm_kernel", LSTM_KERNELS)
        _choice(self, "dropout_kernel", DROPOUT_KERNELS)
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
class LossConfig(Serializable):
    """Weights and forms of the loss terms (paper eq. 16, docs/training.md#total-loss)."""

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
class TrainConfig(Serializable):
    """Optimisation and training-loop settings (docs/training.md)."""

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
    precision: str = "auto"
    """'auto' (bf16 autocast where the device computes bf16 natively: CUDA with bf16 support, CPUs
    with avx512_bf16/amx_bf16; fp32 elsewhere), 'fp32' or 'bf16' (docs/training.md#precision)."""
    adam_kernel: str = "foreach"
    """EMT's Adam: 'foreach' (the per-tensor loop's arithmetic, bit for bit, batched) or 'fused'
    (one pass over each tensor: 8x faster over bert-base's parameters on a CPU, last-bit
    differences) (docs/training.md#optimizer)."""
    bucket_by_length: bool = False
    """Batches of samples of similar lengths, batch order shuffled each epoch; off = the released
    batching (docs/training.md#length-bucketing)."""
    num_workers: int = 0
    """DataLoader worker processes."""
    quiet: bool = False
    """Silence progress bars and per-epoch logs."""

    def __post_init__(self):
        _choice(self, "key_eval", KEY_EVALS)
        _choice(self, "precision", PRECISIONS)
        _choice(self, "adam_kernel", ADAM_KERNELS)
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
class DataConfig(Serializable):
    """Where samples come from and how much of them to use."""

    source: str = "synthetic"
    """'synthetic' (the embedded generator) or 'mmsa' (a user-supplied MMSA processed pickle)."""
    root: str | None = None
    """Data root holding <FOLDER>/Processed/<file>, or a pickle path; None = the project's data/ dir."""
    file_name: str | None = None
    """Pickle file name; None = the dataset's default (SIMS: the z-normalised file)."""
    missing_seeds: tuple[int, int, int] = (111, 1111, 11111)
    """Seeds of the text / audio / vision missing masks (docs/missing-views.md#seeds)."""
    max_samples_per_split: int | None = None
    """Keep only the first N samples of every split (smoke runs); None = all."""
    synthetic_seed: int = 0
    """Seed of the synthetic generator."""
    synthetic_scale: float = 1.0
    """Synthetic split sizes = round(real split size x scale), at least 8 each."""
    frame_pool: int = 1
    """Average every `frame_pool` consecutive audio and vision frames into one before the missing
    masks are drawn (a CPU budget's knob, the demo profile's; 1 = the frames as stored, the paper)."""

    def __post_init__(self):
        _choice(self, "source", DATA_SOURCES)
        _positive(self, "frame_pool")
        if self.max_samples_per_split is not None:
            _positive(self, "max_samples_per_split")
        if not float(self.synthetic_scale) > 0:
            raise ValueError(f"DataConfig.synthetic_scale = {self.synthetic_scale!r}: expected > 0")


@dataclass
class ExperimentConfig(Serializable):
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
    """Which preset produced this config: 'paper', 'demo', 'smoke' or 'custom'."""
    model: ModelConfig | None = None
    """EMT's architecture (None -> ModelConfig() for EMT); None for a baseline."""
    loss: LossConfig | None = None
    """EMT's loss weights and forms (None -> LossConfig() for EMT); None for a baseline."""
    train: TrainConfig = field(default_factory=TrainConfig)
    """Optimisation (EMT); for a baseline only the run-level fields BASELINE_TRAIN_FIELDS."""
    data: DataConfig = field(default_factory=DataConfig)
    """Data source."""
    baseline: Any = None
    """A baseline's hyperparameters: its config.baselines.HPARAMS dataclass (a dict is converted; None ->
    the released preset of `dataset`); None for EMT."""

    def __post_init__(self):
        _choice(self, "method", METHODS)
        _choice(self, "dataset", tuple(DATASETS))
        _probability(self, "missing_rate")
        if isinstance(self.seed, bool) or not isinstance(self.seed, numbers.Integral) \
                or not 0 <= self.seed <= MAX_SEED:
            raise ValueError(f"ExperimentConfig.seed = {self.seed!r}: expected an int in "
                             f"[0, {MAX_SEED}] (what numpy's and torch's generators accept)")
        if self.method == "emt" and self.missing_rate != 0:
            raise ValueError(
                f"method 'emt' is the complete setting (rate 0.0), found missing_rate="
                f"{self.missing_rate}: for EMT under missing data use method 'emt_dlfr' (with "
                "loss.lambda_recon=0 and loss.lambda_attr=0 for vanilla EMT, the DLFR ablation)")
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
            self.baseline = from_dict(cls, self.baseline, "baseline")
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
