"""Hyperparameters of the MISA, Self-MM and MMIM baselines, and how each one is trained.

    p = preset("misa", "mosi")                      # MMSA's released values (the default source)
    p = preset("misa", "mosi", source="tfr_net")    # the TFR-Net repo's missing-setting values
    r = recipe("mmim", "mosei")                     # what the generic trainer must do for MMIM

Sources (facts = `shared/spec/implementation-facts.md`):
- MMSA `src/MMSA/config/config_regression.json` (`misa`, `self_mm`, `mmim`); facts 7.1, 7.5-7.7.
- TFR-Net repo `config/config_regression.py` (`__MISA`, missing setting): MOSI bs 64, lr 1e-4, hidden 128,
  dropout 0.2, diff 0.3, sim 0.8, recon 0.8, clip 1.0, wd 0.002 (facts 7.5); MOSEI and SIMS read from the
  same file (bs 32 / 64, dropout 0.2 / 0.2, diff 0.1 / 0.5, sim 1.0 / 0.5, recon 0.8, clip 0.8 / 0.8).
  Only MISA has TFR-Net values; Self-MM and MMIM are MMSA-only.

Feature sizes (`audio_dim`, `video_dim`) and `train_samples` come from `emtlib.data.schema`.
Every preset carries `faithful_quirks` (default True): reproduce the released code's bugs, each of
which is listed in the docstring of the model's module. `dataclasses.replace` makes variants.
"""
from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Any

from emtlib.data.schema import get_spec

METHODS = ("misa", "self_mm", "mmim")
SOURCES = ("mmsa", "tfr_net")


# --------------------------------------------------------------------------------------------- MISA
@dataclass
class MISAPreset:
    """MISA (facts 7.5)."""

    dataset: str = "mosi"
    """Dataset these values are for: 'mosi', 'mosei' or 'sims'."""
    source: str = "mmsa"
    """Where the values come from: 'mmsa' (MMSA config) or 'tfr_net' (TFR-Net repo, missing setting)."""
    audio_dim: int = 5
    """D_a: audio feature size (= hidden size of the audio LSTMs)."""
    video_dim: int = 20
    """D_v: video feature size (= hidden size of the video LSTMs)."""
    hidden_size: int = 128
    """Width of the shared/private space and of the fusion transformer."""
    dropout: float = 0.2
    """Dropout inside the fusion head (between its two Linears)."""
    transformer_heads: int = 2
    """Heads of the 1-layer nn.TransformerEncoder over the 6 vectors (FFN 2048, dropout 0.1, post-norm)."""
    diff_weight: float = 0.1
    """Weight of the difference (orthogonality) loss."""
    sim_weight: float = 0.3
    """Weight of the CMD similarity loss."""
    recon_weight: float = 1.0
    """Weight of the reconstruction loss."""
    cmd_moments: int = 5
    """Number of moments matched by CMD."""
    batch_size: int = 16
    """Batch size."""
    lr: float = 1e-4
    """Learning rate of the single Adam over ALL parameters (BERT included)."""
    weight_decay: float = 0.0
    """Configured weight decay; the released trainers never pass it to Adam (kept for the record only)."""
    grad_clip: float = 0.8
    """clip_grad_value_ threshold, applied after every backward (on the accumulated gradient)."""
    update_epochs: int = 2
    """Batches per optimizer step (gradients summed; a trailing partial group is discarded)."""
    early_stop: int = 8
    """Epochs without validation improvement before stopping."""
    faithful_quirks: bool = True
    """Reproduce the released code's bugs (see emtlib/models/baselines/misa.py)."""


_MISA_MMSA = {
    "mosi": dict(batch_size=16, lr=1e-4, hidden_size=128, dropout=0.2, diff_weight=0.1, sim_weight=0.3,
                 recon_weight=1.0, grad_clip=0.8, weight_decay=0.0),
    "mosei": dict(batch_size=64, lr=1e-4, hidden_size=128, dropout=0.5, diff_weight=0.3, sim_weight=0.8,
                  recon_weight=1.0, grad_clip=0.8, weight_decay=5e-5),
    "sims": dict(batch_size=64, lr=1e-4, hidden_size=128, dropout=0.0, diff_weight=0.3, sim_weight=1.0,
                 recon_weight=0.8, grad_clip=1.0, weight_decay=5e-5),
}
_MISA_TFR_NET = {
    "mosi": dict(batch_size=64, lr=1e-4, hidden_size=128, dropout=0.2, diff_weight=0.3, sim_weight=0.8,
                 recon_weight=0.8, grad_clip=1.0, weight_decay=0.002),
    "mosei": dict(batch_size=32, lr=1e-4, hidden_size=128, dropout=0.2, diff_weight=0.1, sim_weight=1.0,
                  recon_weight=0.8, grad_clip=0.8, weight_decay=0.0),
    "sims": dict(batch_size=64, lr=1e-4, hidden_size=128, dropout=0.2, diff_weight=0.5, sim_weight=0.5,
                 recon_weight=0.8, grad_clip=0.8, weight_decay=0.0),
}


# ------------------------------------------------------------------------------------------ Self-MM
@dataclass
class SelfMMPreset:
    """Self-MM (facts 7.6)."""

    dataset: str = "mosi"
    """Dataset these values are for: 'mosi', 'mosei' or 'sims'."""
    source: str = "mmsa"
    """Where the values come from (only 'mmsa' exists)."""
    audio_dim: int = 5
    """D_a: audio feature size."""
    video_dim: int = 20
    """D_v: video feature size."""
    train_samples: int = 1284
    """Size of the train split (rows of the label bank and feature memory)."""
    a_lstm_hidden: int = 16
    """Audio LSTM hidden size."""
    v_lstm_hidden: int = 32
    """Video LSTM hidden size."""
    audio_out: int = 16
    """Audio vector size after the subnet's Linear (always present in Self-MM)."""
    video_out: int = 32
    """Video vector size after the subnet's Linear."""
    lstm_dropout: float = 0.0
    """Dropout on the LSTM's final hidden state (0 for all datasets)."""
    post_fusion_dim: int = 128
    """Width of the multimodal head (its first layer's output is the fusion feature)."""
    post_text_dim: int = 32
    """Width of the text head."""
    post_audio_dim: int = 16
    """Width of the audio head."""
    post_video_dim: int = 32
    """Width of the video head."""
    post_fusion_dropout: float = 0.0
    """Dropout at the input of the multimodal head."""
    post_text_dropout: float = 0.1
    """Dropout at the input of the text head."""
    post_audio_dropout: float = 0.1
    """Dropout at the input of the audio head."""
    post_video_dropout: float = 0.0
    """Dropout at the input of the video head."""
    H: float = 3.0
    """Generated unimodal labels are clamped to [-H, H] (3 for MOSI/MOSEI, 1 for SIMS)."""
    exclude_zero: bool = True
    """Positive centre uses labels > 0 (True) or >= 0 (False)."""
    batch_size: int = 16
    """Batch size."""
    lr_bert: float = 5e-5
    """Learning rate of the BERT groups."""
    lr_audio: float = 5e-3
    """Learning rate of the audio subnet."""
    lr_video: float = 5e-3
    """Learning rate of the video subnet."""
    lr_other: float = 1e-3
    """Learning rate of everything else (the four heads)."""
    wd_bert: float = 1e-3
    """Weight decay (Adam's coupled L2) of BERT weights; BERT biases/LayerNorms get 0."""
    wd_audio: float = 1e-3
    """Weight decay of the audio subnet."""
    wd_video: float = 1e-3
    """Weight decay of the video subnet."""
    wd_other: float = 1e-3
    """Weight decay of everything else."""
    update_epochs: int = 4
    """Batches per optimizer step (gradients summed; a trailing partial group is discarded)."""
    early_stop: int = 8
    """Epochs without validation improvement before stopping."""
    faithful_quirks: bool = True
    """Reproduce the released code's behaviour where it is a bug (see self_mm.py)."""


_SELF_MM_MMSA = {
    "mosi": dict(batch_size=16, lr_bert=5e-5, lr_audio=5e-3, lr_video=5e-3, lr_other=1e-3,
                 wd_bert=1e-3, wd_audio=1e-3, wd_video=1e-3, wd_other=1e-3, a_lstm_hidden=16, v_lstm_hidden=32,
                 post_fusion_dim=128, post_text_dim=32, post_audio_dim=16, post_video_dim=32,
                 post_fusion_dropout=0.0, post_text_dropout=0.1, post_audio_dropout=0.1,
                 post_video_dropout=0.0, H=3.0),
    "mosei": dict(batch_size=32, lr_bert=5e-5, lr_audio=5e-3, lr_video=1e-4, lr_other=1e-3,
                  wd_bert=1e-3, wd_audio=0.0, wd_video=0.0, wd_other=1e-2, a_lstm_hidden=16, v_lstm_hidden=32,
                  post_fusion_dim=128, post_text_dim=32, post_audio_dim=16, post_video_dim=32,
                  post_fusion_dropout=0.1, post_text_dropout=0.0, post_audio_dropout=0.0,
                  post_video_dropout=0.0, H=3.0),
    "sims": dict(batch_size=32, lr_bert=5e-5, lr_audio=5e-3, lr_video=5e-3, lr_other=1e-3,
                 wd_bert=1e-3, wd_audio=1e-2, wd_video=1e-2, wd_other=1e-3, a_lstm_hidden=16, v_lstm_hidden=64,
                 post_fusion_dim=128, post_text_dim=64, post_audio_dim=16, post_video_dim=32,
                 post_fusion_dropout=0.0, post_text_dropout=0.1, post_audio_dropout=0.1,
                 post_video_dropout=0.0, H=1.0),
}


# --------------------------------------------------------------------------------------------- MMIM
@dataclass
class MMIMPreset:
    """MMIM (facts 7.7); MMSA uses the same values for all three datasets."""

    dataset: str = "mosi"
    """Dataset these values are for: 'mosi', 'mosei' or 'sims'."""
    source: str = "mmsa"
    """Where the values come from (only 'mmsa' exists)."""
    audio_dim: int = 5
    """D_a: audio feature size."""
    video_dim: int = 20
    """D_v: video feature size."""
    d_ah: int = 16
    """Audio LSTM hidden size (per direction)."""
    d_vh: int = 16
    """Video LSTM hidden size (per direction)."""
    d_aout: int = 16
    """Audio vector size."""
    d_vout: int = 16
    """Video vector size."""
    bidirectional: bool = True
    """Bidirectional audio/video LSTMs."""
    d_prjh: int = 128
    """Width of the fusion vector f."""
    dropout_prj: float = 0.1
    """Dropout at the input of the fusion network."""
    alpha: float = 0.1
    """Weight of the CPC (nce) term in stage 2."""
    beta: float = 0.1
    """Weight of the -lld and -H terms in stage 2."""
    mem_size: int = 1
    """Batches of projected positive/negative samples kept for the entropy estimate."""
    batch_size: int = 32
    """Batch size."""
    lr_main: float = 1e-3
    """Learning rate of the non-BERT, non-MMILB parameters."""
    wd_main: float = 1e-4
    """Weight decay of the main group."""
    lr_bert: float = 5e-5
    """Learning rate of BERT."""
    wd_bert: float = 1e-4
    """Weight decay of BERT (all BERT parameters, biases included)."""
    lr_mmilb: float = 1e-3
    """Learning rate of the MMILB optimizer."""
    wd_mmilb: float = 1e-4
    """Weight decay of the MMILB optimizer."""
    grad_clip: float = 1.0
    """clip_grad_norm_ over ALL parameters, in both stages."""
    when: int = 20
    """ReduceLROnPlateau patience (on the main optimizer)."""
    lr_decay: float = 0.5
    """ReduceLROnPlateau factor."""
    early_stop: int = 8
    """Epochs without validation improvement before stopping."""
    faithful_quirks: bool = True
    """Reproduce the released code's bugs (see mmim.py)."""


_MMIM_MMSA = {ds: dict() for ds in ("mosi", "mosei", "sims")}


# ------------------------------------------------------------------------------------------ lookup
_TABLES: dict[tuple[str, str], tuple[type, dict]] = {
    ("misa", "mmsa"): (MISAPreset, _MISA_MMSA),
    ("misa", "tfr_net"): (MISAPreset, _MISA_TFR_NET),
    ("self_mm", "mmsa"): (SelfMMPreset, _SELF_MM_MMSA),
    ("mmim", "mmsa"): (MMIMPreset, _MMIM_MMSA),
}


def preset(method: str, dataset: str, source: str = "mmsa", **overrides: Any):
    """The released hyperparameters of `method` on `dataset` from `source`, with optional overrides.

    method: 'misa' | 'self_mm' | 'mmim'; dataset: 'mosi' | 'mosei' | 'sims'; source: 'mmsa' | 'tfr_net'
    ('tfr_net' exists for MISA only).
    """
    method = method.lower()
    if method not in METHODS:
        raise ValueError(f"method {method!r} is not one of {list(METHODS)}")
    if (method, source) not in _TABLES:
        have = [s for (m, s) in _TABLES if m == method]
        raise ValueError(f"no {source!r} values for {method!r}: available sources {have}")
    cls, table = _TABLES[(method, source)]
    if dataset not in table:
        raise ValueError(f"dataset {dataset!r} is not one of {sorted(table)}")
    spec = get_spec(dataset)
    values = dict(dataset=dataset, source=source, audio_dim=spec.audio_dim, video_dim=spec.vision_dim)
    if cls is SelfMMPreset:
        values["train_samples"] = spec.split_sizes[0]
    values.update(table[dataset])
    p = cls(**values)
    return replace(p, **overrides) if overrides else p


# ------------------------------------------------------------------------------------------ recipes
@dataclass(frozen=True)
class TrainingRecipe:
    """How the generic trainer runs one baseline (facts 7.1, 7.5-7.7), as data."""

    method: str
    """'misa', 'self_mm' or 'mmim'."""
    batch_size: int
    """Batch size of every split."""
    update_epochs: int
    """Batches whose (mean) losses are back-propagated and SUMMED before one optimizer step; 1 = none.
    The trailing partial group of an epoch is discarded (its zero_grad happens next epoch)."""
    grad_clip: tuple | None
    """('value', c): clip_grad_value_ after every backward; ('norm', c): clip_grad_norm_ over all
    parameters before every step; None: no clipping."""
    scheduler: dict | None
    """None, or {'kind': 'plateau', 'factor', 'patience', 'on': 'valid_loss'} for the main optimizer."""
    early_stop: int
    """Epochs since the best one after which training stops (no epoch cap)."""
    key_eval: str
    """Selection key, minimised with the 1e-6 rule: the validation task loss of the incomplete view."""
    valid_loss: str
    """'mse' (MISA) or 'l1' (Self-MM, MMIM): the task loss on `pred` the validation key reads."""
    two_stage: bool = False
    """MMIM: each epoch runs stage 1 (MMILB) then stage 2 (main), see mmim.stage1_step/stage2_step."""
    stage1_max_batches: dict = field(default_factory=dict)
    """MMIM stage 1 batch limit per dataset as a rule: {'mosei': ('first', 2)} or ('fraction', 0.5)."""
    label_generation: bool = False
    """Self-MM: drive a SelfMMLabelBank (init, per-batch update) alongside training."""
    notes: str = ""
    """Anything else the trainer must know."""


def recipe(method: str, dataset: str, source: str = "mmsa", faithful_quirks: bool = True) -> TrainingRecipe:
    """The training protocol of `method` (what the released trainer does) for `dataset`."""
    p = preset(method, dataset, source)
    if p.__class__ is MISAPreset:
        return TrainingRecipe(
            method="misa", batch_size=p.batch_size, update_epochs=p.update_epochs,
            grad_clip=("value", p.grad_clip), scheduler=None, early_stop=p.early_stop,
            key_eval="loss", valid_loss="mse",
            notes="single Adam(lr) over all parameters, no weight decay (misa.make_optimizer); "
                  "train loss = MISA.loss total; validation loss = MSE of pred only")
    if p.__class__ is SelfMMPreset:
        return TrainingRecipe(
            method="self_mm", batch_size=p.batch_size, update_epochs=p.update_epochs, grad_clip=None,
            scheduler=None, early_stop=p.early_stop, key_eval="loss", valid_loss="l1",
            label_generation=True,
            notes="five Adam groups (self_mm.make_optimizer). Per train batch: loss with the bank's labels, "
                  "backward, then bank.update_labels (epoch >= 2), bank.update_features, bank.update_centres; "
                  "label updates happen on every batch, also on the discarded trailing ones")
    # MMIM: the faithful stage-1 limit on MOSEI is 2 batches (len() of the loader DICT is 3, and the rule
    # breaks at i_batch / 3 >= 0.5); the intended rule is half of the train batches.
    limit = {"mosei": ("first", 2) if faithful_quirks else ("fraction", 0.5)}
    return TrainingRecipe(
        method="mmim", batch_size=p.batch_size, update_epochs=1, grad_clip=("norm", p.grad_clip),
        scheduler={"kind": "plateau", "factor": p.lr_decay, "patience": p.when, "on": "valid_loss"},
        early_stop=p.early_stop, key_eval="loss", valid_loss="l1", two_stage=True,
        stage1_max_batches=limit,
        notes="mmim.make_optimizers -> (opt_mmilb, opt_main, scheduler); per epoch: stage 1 over the train "
              "loader with stage1_step, then a fresh MMIMMemory and stage 2 with stage2_step(batch_index=i); "
              "update_epochs in the config is ignored")
