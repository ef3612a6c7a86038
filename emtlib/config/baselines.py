"""The seven baselines' hyperparameters: one dataclass per method, the released values, and the
small CPU budgets (torch-free; the models in emtlib/models/baselines read these).

    h = paper_hparams("mult", "mosi")                   # the authors' MulT values on MOSI
    h = paper_hparams("tfn", "mosi", source="tfr_net")  # the TFR-Net repository's TFN values
    h = smoke_hparams("misa", "mosi")                   # small widths, MiniLM: a CPU smoke run

`ExperimentConfig.baseline` holds one instance; it serialises with the config and
`--set baseline.<field>=<value>` reaches every field. Value sources per method (default first):

    tfn      'mmsa' (all datasets), 'tfr_net' (MOSI only)
    lmf      'mmsa'
    mult     'authors' (the EMT-DLFR repository's MulT), 'mmsa'
    tfr_net  'authors', 'mmsa'
    misa     'mmsa', 'tfr_net' (the TFR-Net repository's missing-setting values)
    self_mm  'mmsa'
    mmim     'mmsa'

TFN, LMF, MulT and TFR-Net carry the dataset's full padded lengths: TFN/LMF divide their time
averages by them, MulT and TFR-Net pad cropped batches back to them. Vocabulary shared with EMT's
configs: `vision_*` for the vision modality's features, `lr*` / `wd*` for learning rates and weight
decays, `plateau_*` for ReduceLROnPlateau. How each method trains is in docs/baselines.md.
"""
from __future__ import annotations

import dataclasses
from dataclasses import dataclass

from emtlib.config.serialization import Serializable
from emtlib.data.schema import get_spec

BASELINES = ("tfn", "lmf", "mult", "misa", "self_mm", "mmim", "tfr_net")


@dataclass
class _Common(Serializable):
    """The fields every baseline's hyperparameters start with."""

    dataset: str = "mosi"
    """Dataset these values are for: 'mosi', 'mosei' or 'sims' (checked against the run's dataset)."""
    text_encoder: str = "bert-base-uncased"
    """Text encoder: a local directory, a cached Hugging Face name, or 'minilm'."""
    faithful_quirks: bool = True
    """Reproduce the released code's bugs (the model module's docstring lists what False changes)."""
    freeze_text: bool = False
    """Keep the text encoder frozen in eval mode and encode each distinct token row once per run
    (the demo profile's CPU budget; the originals fine-tune or freeze as their presets say)."""


@dataclass
class _Shapes(_Common):
    """The dataset's feature sizes and full padded lengths, read by TFN, LMF, MulT and TFR-Net."""

    text_len: int = 50
    """L: full length of the text rows (CLS and SEP included)."""
    audio_dim: int = 5
    """D_a: audio feature size."""
    audio_len: int = 375
    """T_a: the dataset's full padded audio length."""
    vision_dim: int = 20
    """D_v: vision feature size."""
    vision_len: int = 500
    """T_v: the dataset's full padded vision length."""


@dataclass
class TFNHParams(_Shapes):
    """TFN (docs/baselines.md#tfn). Order conventions of the original: hidden dims (t, a, v)."""

    text_hidden: int = 128
    """Hidden size of the text LSTM."""
    audio_hidden: int = 32
    """Width of the audio SubNet."""
    video_hidden: int = 128
    """Width of the video SubNet."""
    text_out: int = 32
    """Output width of the text subnet (after its Linear)."""
    post_fusion_dim: int = 64
    """Hidden width of the post-fusion MLP."""
    audio_dropout: float = 0.3
    """Dropout in the audio SubNet (after its BatchNorm)."""
    video_dropout: float = 0.3
    """Dropout in the video SubNet (after its BatchNorm)."""
    text_dropout: float = 0.3
    """Text subnet dropout: no effect, TextSubNet sets it to 0 for a 1-layer LSTM (kept as coded)."""
    post_fusion_dropout: float = 0.5
    """Dropout on the flattened fusion tensor."""
    batch_size: int = 32
    """Mini-batch size."""
    lr: float = 1e-3
    """Adam learning rate (no weight decay)."""
    early_stop: int = 8
    """Early-stopping patience in epochs."""


@dataclass
class LMFHParams(_Shapes):
    """LMF (docs/baselines.md#lmf). text_out = text_hidden // 2 as coded."""

    text_hidden: int = 128
    """Hidden size of the text LSTM (its output width is text_hidden // 2)."""
    audio_hidden: int = 16
    """Width of the audio SubNet."""
    video_hidden: int = 128
    """Width of the video SubNet."""
    audio_dropout: float = 0.3
    """Dropout in the audio SubNet."""
    video_dropout: float = 0.3
    """Dropout in the video SubNet."""
    text_dropout: float = 0.3
    """Text subnet dropout: no effect for a 1-layer LSTM (kept as coded)."""
    post_fusion_dropout: float = 0.3
    """Built but never applied in the original forward (kept as coded: unused)."""
    rank: int = 3
    """Rank of the low-rank fusion tensor."""
    batch_size: int = 64
    """Mini-batch size."""
    lr: float = 1e-3
    """Adam learning rate of the non-factor parameters."""
    lr_factors: float = 1e-3
    """Adam learning rate of the modality factors."""
    wd: float = 5e-3
    """Adam (coupled L2) weight decay, shared by both groups."""
    early_stop: int = 8
    """Early-stopping patience in epochs."""


@dataclass
class MulTHParams(_Shapes):
    """MulT (docs/baselines.md#mult).

    Attention dropout of a cross-modal encoder is chosen by its KEY modality.
    """

    d_model: int = 40
    """d: width of the cross-modal encoders (memory encoders use 2d)."""
    heads: int = 10
    """Attention heads of every encoder."""
    nlevels: int = 4
    """Depth of the cross-modal encoders; memory encoders use max(nlevels, 3)."""
    conv_kernel_l: int = 1
    """Kernel of the text Conv1d projection (padding 0: the sequence shrinks by k-1)."""
    conv_kernel_a: int = 5
    """Kernel of the audio Conv1d projection."""
    conv_kernel_v: int = 1
    """Kernel of the vision Conv1d projection."""
    attn_dropout: float = 0.1
    """Attention dropout with text keys, and in the memory encoders."""
    attn_dropout_a: float = 0.1
    """Attention dropout with audio keys."""
    attn_dropout_v: float = 0.2
    """Attention dropout with vision keys."""
    relu_dropout: float = 0.2
    """Dropout after the FFN's ReLU."""
    embed_dropout: float = 0.1
    """Dropout on the scaled encoder inputs."""
    res_dropout: float = 0.2
    """Dropout on each residual branch."""
    text_dropout: float = 0.2
    """Dropout on the BERT features before the Conv1d."""
    output_dropout: float = 0.1
    """Dropout inside the output residual block."""
    attn_mask: bool = True
    """Apply the 'future' mask triu(-inf, 1+|T_k-T_q|) in every attention."""
    finetune_bert: bool = False
    """Fine-tune the text encoder (False: frozen BERT on text_m, as the official missing-setting run)."""
    pad_to_full_length: bool = True
    """Pad cropped audio/vision batches back to audio_len/vision_len, as the original always saw them."""
    batch_size: int = 4
    """Mini-batch size."""
    lr: float = 1e-3
    """Adam learning rate."""
    grad_clip: float = 0.8
    """clip_grad_value_ threshold."""
    plateau_patience: int = 20
    """ReduceLROnPlateau patience (factor 0.1) on the validation L1."""
    early_stop: int = 8
    """Early-stopping patience in epochs."""
    update_epochs: int = 8
    """Batches per accumulation group."""
    double_step: bool = True
    """The authors' trainer steps after every batch and again at each group boundary (MMSA's MulT
    trainer does not); applied only with faithful_quirks."""


@dataclass
class TFRNetHParams(_Shapes):
    """TFR-Net (docs/baselines.md#tfr-net).

    Attention dropout of a cross-modal encoder is chosen by its KEY modality.
    """

    d_model: int = 30
    """d: width of the intra-/cross-modal encoders; h_m has 3d channels."""
    heads: int = 6
    """Heads of the intra-/cross-modal encoders."""
    final_heads: int = 1
    """Heads of the 'final' encoders, whose embedding dim is T (official 1; MMSA 25)."""
    nlevels: int = 3
    """Depth of the cross-modal encoders; intra-modal and final encoders use max(nlevels, 3)."""
    conv_kernel_l: int = 1
    """Kernel of the text Conv1d ('same' padding (k-1)//2)."""
    conv_kernel_a: int = 5
    """Kernel of the audio Conv1d."""
    conv_kernel_v: int = 3
    """Kernel of the vision Conv1d."""
    attn_dropout: float = 0.2
    """Attention dropout with text keys, in the intra-modal and in the final encoders."""
    attn_dropout_a: float = 0.1
    """Attention dropout with audio keys."""
    attn_dropout_v: float = 0.0
    """Attention dropout with vision keys."""
    relu_dropout: float = 0.2
    """Dropout after the FFN's ReLU (all encoders)."""
    embed_dropout: float = 0.2
    """Dropout on the scaled encoder inputs (all encoders)."""
    res_dropout: float = 0.2
    """Dropout on each residual branch (all encoders)."""
    text_dropout: float = 0.2
    """Dropout on the BERT features before the Conv1d."""
    fusion_t_hid: int = 36
    """C_GATE hidden size for text."""
    fusion_a_hid: int = 20
    """C_GATE hidden size for audio."""
    fusion_v_hid: int = 48
    """C_GATE hidden size for vision."""
    fusion_gru_layers: int = 3
    """Layers of each bidirectional C_GATE GRU."""
    fusion_drop: float = 0.2
    """Dropout on each C_GATE utterance vector."""
    cls_hidden: int = 128
    """Hidden width of the classifier."""
    cls_dropout: float = 0.0
    """Dropout inside the classifier."""
    weight_gen_loss: tuple[float, float, float] = (5.0, 2.0, 20.0)
    """Weights (text, audio, vision) of the reconstruction ('generation') losses."""
    weight_sim_loss: float = 0.0
    """Weight of the CMD term added to each reconstruction loss (0 = off, the official config)."""
    attn_mask: bool = True
    """Apply the 'future' mask triu(-inf, 1+|T_k-T_q|) in every attention."""
    finetune_bert: bool = True
    """Fine-tune the text encoder (TFR-Net does)."""
    batch_size: int = 16
    """Mini-batch size."""
    lr_bert: float = 1e-5
    """Adam learning rate of BERT."""
    lr_other: float = 2e-3
    """Adam learning rate of everything else."""
    wd_bert: float = 1e-4
    """Weight decay of BERT's non-bias, non-LayerNorm weights."""
    wd_other: float = 1e-3
    """Weight decay of everything else."""
    grad_clip: float = 0.8
    """clip_grad_value_ threshold."""
    plateau_patience: int = 5
    """ReduceLROnPlateau patience (factor 0.1) on the validation L1."""
    early_stop: int = 6
    """Early-stopping patience in epochs."""
    update_epochs: int = 4
    """Batches per accumulation group."""
    double_step: bool = True
    """The authors' trainer steps after every batch and again at each group boundary (both TFR-Net
    trainers do); applied only with faithful_quirks."""
    gen_loss_from_epoch: int = 2
    """First (1-based) epoch whose training loss includes the generation loss."""


# Released values per (source, dataset); keys are field names of the classes above.
_TFN = {
    ("mmsa", "mosi"): dict(text_hidden=128, audio_hidden=32, video_hidden=128, text_out=32,
                           post_fusion_dim=64, audio_dropout=0.3, video_dropout=0.3, text_dropout=0.3,
                           post_fusion_dropout=0.5, batch_size=32, lr=1e-3),
    ("mmsa", "mosei"): dict(text_hidden=128, audio_hidden=16, video_hidden=128, text_out=128,
                            post_fusion_dim=16, audio_dropout=0.4, video_dropout=0.4, text_dropout=0.4,
                            post_fusion_dropout=0.4, batch_size=128, lr=5e-3),
    ("mmsa", "sims"): dict(text_hidden=128, audio_hidden=32, video_hidden=128, text_out=256,
                           post_fusion_dim=32, audio_dropout=0.4, video_dropout=0.4, text_dropout=0.4,
                           post_fusion_dropout=0.4, batch_size=32, lr=5e-4),
    ("tfr_net", "mosi"): dict(text_hidden=128, audio_hidden=16, video_hidden=128, text_out=128,
                             post_fusion_dim=32, audio_dropout=0.2, video_dropout=0.2, text_dropout=0.2,
                             post_fusion_dropout=0.2, batch_size=32, lr=5e-4),
}

_LMF = {
    ("mmsa", "mosi"): dict(text_hidden=128, audio_hidden=16, video_hidden=128, rank=3, batch_size=64,
                           lr=1e-3, lr_factors=1e-3, wd=5e-3,
                           **{f"{m}_dropout": 0.3 for m in ("audio", "video", "text", "post_fusion")}),
    ("mmsa", "mosei"): dict(text_hidden=128, audio_hidden=16, video_hidden=128, rank=4, batch_size=32,
                            lr=1e-3, lr_factors=1e-3, wd=1e-3,
                            **{f"{m}_dropout": 0.2 for m in ("audio", "video", "text", "post_fusion")}),
    ("mmsa", "sims"): dict(text_hidden=64, audio_hidden=16, video_hidden=64, rank=4, batch_size=64,
                           lr=2e-3, lr_factors=5e-4, wd=5e-3,
                           **{f"{m}_dropout": 0.2 for m in ("audio", "video", "text", "post_fusion")}),
}


def _mult(d, h, nl, k, attn, other, text_out, bs, lr, clip, pat, double):
    return dict(d_model=d, heads=h, nlevels=nl, conv_kernel_l=k[0], conv_kernel_a=k[1],
                conv_kernel_v=k[2], attn_dropout=attn[0], attn_dropout_a=attn[1],
                attn_dropout_v=attn[2], relu_dropout=other[0], embed_dropout=other[1],
                res_dropout=other[2], text_dropout=text_out[0], output_dropout=text_out[1],
                batch_size=bs, lr=lr, grad_clip=clip, plateau_patience=pat,
                double_step=double)


_MULT = {
    ("mmsa", "mosi"): _mult(50, 10, 4, (5, 5, 5), (0.3, 0.2, 0.0), (0.0, 0.2, 0.0), (0.5, 0.5),
                            16, 2e-3, 0.6, 5, False),
    ("mmsa", "mosei"): _mult(30, 6, 4, (5, 1, 3), (0.4, 0.0, 0.0), (0.0, 0.0, 0.0), (0.3, 0.5),
                             4, 5e-4, 0.6, 20, False),
    ("mmsa", "sims"): _mult(50, 10, 2, (5, 1, 1), (0.2, 0.1, 0.0), (0.0, 0.1, 0.2), (0.3, 0.1),
                            16, 2e-3, 0.6, 10, False),
    ("authors", "mosi"): _mult(40, 10, 4, (1, 5, 1), (0.1, 0.1, 0.2), (0.2, 0.1, 0.2), (0.2, 0.1),
                               4, 1e-3, 0.8, 20, True),
    ("authors", "mosei"): _mult(30, 6, 4, (5, 1, 3), (0.4, 0.0, 0.0), (0.0, 0.0, 0.0), (0.3, 0.5),
                                32, 5e-4, 0.6, 20, True),
    ("authors", "sims"): _mult(50, 10, 2, (5, 1, 1), (0.2, 0.1, 0.0), (0.0, 0.1, 0.2), (0.3, 0.1),
                               16, 2e-3, 0.6, 10, True),
}

_TFR_MOSI_LIKE = dict(nlevels=3, relu_dropout=0.2, embed_dropout=0.2, res_dropout=0.2, cls_dropout=0.0,
                      plateau_patience=5)
_TFR_SIMS = dict(nlevels=2, relu_dropout=0.0, embed_dropout=0.1, res_dropout=0.2, cls_dropout=0.1,
                 plateau_patience=10)
_TFR = {
    ("authors", "mosi"): dict(_TFR_MOSI_LIKE, batch_size=16, lr_bert=1e-5,
                              lr_other=2e-3, weight_gen_loss=(5.0, 2.0, 20.0),
                              weight_sim_loss=0.0, final_heads=1),
    ("authors", "mosei"): dict(_TFR_MOSI_LIKE, batch_size=16, lr_bert=1e-5,
                               lr_other=2e-3, weight_gen_loss=(5.0, 2.0, 20.0),
                               weight_sim_loss=0.0, final_heads=1),
    ("authors", "sims"): dict(_TFR_SIMS, batch_size=16, lr_bert=1e-5,
                              lr_other=2e-3, weight_gen_loss=(1.0, 0.01, 1e-4),
                              weight_sim_loss=0.0, final_heads=1),
    ("mmsa", "mosi"): dict(_TFR_MOSI_LIKE, batch_size=24, lr_bert=2e-6,
                           lr_other=1e-3, weight_gen_loss=(5.0, 2.0, 20.0),
                           weight_sim_loss=5.0, final_heads=25),
    ("mmsa", "mosei"): dict(_TFR_MOSI_LIKE, batch_size=24, lr_bert=1e-5,
                            lr_other=2e-3, weight_gen_loss=(5e-6, 2e-6, 2e-5),
                            weight_sim_loss=5.0, final_heads=25),
    # 25 heads do not divide SIMS's text length 39: MMSA's SIMS config fails as written
    # (docs/baselines.md#tfr-net); TFRNet raises when built faithfully from this preset.
    ("mmsa", "sims"): dict(_TFR_SIMS, batch_size=16, lr_bert=1e-5,
                           lr_other=2e-3, weight_gen_loss=(1.0, 0.01, 1e-4),
                           weight_sim_loss=5.0, final_heads=25),
}


# --------------------------------------------------------------------------------------------- MISA
@dataclass
class MISAHParams(_Common):
    """MISA (docs/baselines.md#misa)."""

    audio_dim: int = 5
    """D_a: audio feature size (= hidden size of the audio LSTMs)."""
    vision_dim: int = 20
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
    grad_clip: float = 0.8
    """clip_grad_value_ threshold, applied after every backward (on the accumulated gradient)."""
    update_epochs: int = 2
    """Batches per optimizer step (gradients summed; a trailing partial group is discarded)."""
    early_stop: int = 8
    """Epochs without validation improvement before stopping."""


_MISA_MMSA = {
    "mosi": dict(batch_size=16, lr=1e-4, hidden_size=128, dropout=0.2, diff_weight=0.1, sim_weight=0.3,
                 recon_weight=1.0, grad_clip=0.8),
    "mosei": dict(batch_size=64, lr=1e-4, hidden_size=128, dropout=0.5, diff_weight=0.3, sim_weight=0.8,
                  recon_weight=1.0, grad_clip=0.8),
    "sims": dict(batch_size=64, lr=1e-4, hidden_size=128, dropout=0.0, diff_weight=0.3, sim_weight=1.0,
                 recon_weight=0.8, grad_clip=1.0),
}
_MISA_TFR_NET = {
    "mosi": dict(batch_size=64, lr=1e-4, hidden_size=128, dropout=0.2, diff_weight=0.3, sim_weight=0.8,
                 recon_weight=0.8, grad_clip=1.0),
    "mosei": dict(batch_size=32, lr=1e-4, hidden_size=128, dropout=0.2, diff_weight=0.1, sim_weight=1.0,
                  recon_weight=0.8, grad_clip=0.8),
    "sims": dict(batch_size=64, lr=1e-4, hidden_size=128, dropout=0.2, diff_weight=0.5, sim_weight=0.5,
                 recon_weight=0.8, grad_clip=0.8),
}


# ------------------------------------------------------------------------------------------ Self-MM
@dataclass
class SelfMMHParams(_Common):
    """Self-MM (docs/baselines.md#self-mm)."""

    audio_dim: int = 5
    """D_a: audio feature size."""
    vision_dim: int = 20
    """D_v: video feature size."""
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
class MMIMHParams(_Common):
    """MMIM (docs/baselines.md#mmim); MMSA uses the same values for all three datasets."""

    audio_dim: int = 5
    """D_a: audio feature size."""
    vision_dim: int = 20
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
    plateau_patience: int = 20
    """ReduceLROnPlateau patience (on the main optimizer)."""
    plateau_factor: float = 0.5
    """ReduceLROnPlateau factor."""
    early_stop: int = 8
    """Epochs without validation improvement before stopping."""


_MMIM_MMSA = {ds: dict() for ds in ("mosi", "mosei", "sims")}



HPARAMS = {"tfn": TFNHParams, "lmf": LMFHParams, "mult": MulTHParams, "tfr_net": TFRNetHParams,
           "misa": MISAHParams, "self_mm": SelfMMHParams, "mmim": MMIMHParams}
_VALUES = {"tfn": _TFN, "lmf": _LMF, "mult": _MULT, "tfr_net": _TFR,
           "misa": {**{("mmsa", d): v for d, v in _MISA_MMSA.items()},
                    **{("tfr_net", d): v for d, v in _MISA_TFR_NET.items()}},
           "self_mm": {("mmsa", d): v for d, v in _SELF_MM_MMSA.items()},
           "mmim": {("mmsa", d): v for d, v in _MMIM_MMSA.items()}}
SOURCES = {"tfn": ("mmsa", "tfr_net"), "lmf": ("mmsa",), "mult": ("authors", "mmsa"),
           "tfr_net": ("authors", "mmsa"), "misa": ("mmsa", "tfr_net"), "self_mm": ("mmsa",),
           "mmim": ("mmsa",)}
"""Value sources per baseline, the default first."""

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
    """The released hyperparameters of `method` on `dataset` from `source` (None: the default,
    see SOURCES), with the dataset's shapes and standard text encoder."""
    cls = hparams_class(method)
    source = SOURCES[method][0] if source is None else source
    spec = get_spec(dataset)
    values = _VALUES[method].get((source, spec.name))
    if values is None:
        have = sorted(f"{s}/{d}" for s, d in _VALUES[method])
        raise ValueError(f"no {method} values for source={source!r}, dataset={dataset!r}; "
                         f"available: {have}")
    shapes = dict(audio_dim=spec.audio_dim, vision_dim=spec.vision_dim)
    if issubclass(cls, _Shapes):
        shapes.update(text_len=spec.text_len, audio_len=spec.audio_len, vision_len=spec.vision_len)
    return cls(dataset=spec.name, text_encoder=spec.text_encoder, **shapes, **values)


def smoke_hparams(method: str, dataset: str, **changes):
    """`paper_hparams` shrunk for CPU smoke runs (MiniLM text encoder, SMOKE widths), plus `changes`."""
    h = paper_hparams(method, dataset)
    return dataclasses.replace(h, text_encoder="minilm", **{**SMOKE[method], **changes})


def with_quirks(h, faithful_quirks: bool | None) -> bool:
    """`h.faithful_quirks` unless an explicit value is given."""
    return h.faithful_quirks if faithful_quirks is None else bool(faithful_quirks)


# CPU budgets with which each baseline learns on the synthetic MOSI stand-in (smoke profile +
# these overrides): tests/test_baseline_training.py and benchmarks/baselines_smoke.py use them.
# 160 / 29 / 86 samples (scale 0.125), 2 epochs unless the method's entry says otherwise, batch 8,
# the text encoder frozen and each row encoded once, as in the demo profile (fine-tuning is
# exercised by the smoke runs; here it cost 2.5 minutes of CI per pass over the seven).
LEARNING_COMMON = ["data.synthetic_scale=0.125", "data.max_samples_per_split=none",
                   "train.max_epochs=2", "baseline.freeze_text=true"]
LEARNING_BUDGETS = {
    "tfn": ["baseline.lr=5e-3", "train.max_epochs=3"],
    "lmf": ["baseline.lr=2e-3", "baseline.lr_factors=2e-3", "train.max_epochs=10"],
    "mult": [],
    # frozen BERT and padded lengths 256 / 200 (the stand-in's clips are at most 249 / 196
    # frames at scales 0.125 and 0.25) instead of 375 / 500: TFR-Net's full-length encoders
    # dominate on CPU
    "tfr_net": ["baseline.update_epochs=1", "baseline.finetune_bert=false", "baseline.batch_size=16",
                "baseline.audio_len=256", "baseline.vision_len=200"],
    "misa": ["baseline.update_epochs=1", "train.max_epochs=4"],
    "self_mm": ["baseline.update_epochs=1", "train.max_epochs=6"],
    "mmim": ["baseline.batch_size=16", "train.max_epochs=4"],
}


def learning_overrides(method: str) -> list[str]:
    """`apply_overrides` items of `method`'s CPU learning budget (on top of smoke_config)."""
    hparams_class(method)
    return LEARNING_COMMON + LEARNING_BUDGETS[method]
