"""The configurations the project names, one per profile: the released one per dataset
(`paper_config`), a CPU budget at which every method learns on the stand-in (`demo_config`), and a
tiny CPU budget that only runs every code path (`smoke_config`). `PROFILES` maps a profile name
to its preset."""
from __future__ import annotations

import dataclasses
from typing import Any

from emtlib.data.schema import get_spec

from .baselines import BASELINES, paper_hparams, smoke_hparams
from .experiment import METHODS, DataConfig, ExperimentConfig, LossConfig, ModelConfig, TrainConfig

def _dataset_model_fields(dataset: str) -> dict:
    spec = get_spec(dataset)
    return dict(text_encoder=spec.text_encoder, text_len=spec.text_len,
                audio_dim=spec.audio_dim, audio_len=spec.audio_len,
                vision_dim=spec.vision_dim, vision_len=spec.vision_len)


def paper_config(dataset: str, method: str = "emt_dlfr", missing_rate: float | None = None,
                 seed: int = 111, baseline_source: str | None = None) -> ExperimentConfig:
    """The released configuration (official `config_regression.py` `__EMT_DLFR`,
    docs/training.md#released-configuration).

    Where the release and paper Table 3 differ, the release wins and the comment names the paper's
    value. `method='emt'` is the complete setting: lambda_1 = lambda_2 = 0, rate 0.0, selection on
    the validation L1 (the only loss left; an interpretation, see
    docs/training.md#complete-and-incomplete-settings).

    A baseline method gets its released preset (docs/baselines.md; `baseline_source` picks another
    source, see emtlib.config.baselines.SOURCES), `faithful_quirks` on, fp32 (precision 'fp32', as the
    originals ran), no epoch cap (its own early stopping), and model = loss = None.
    """
    if method not in METHODS:
        raise ValueError(f"method {method!r}: expected one of {list(METHODS)}")
    ds = get_spec(dataset).name
    if method in BASELINES:
        return ExperimentConfig(method=method, dataset=ds, seed=seed,
                                missing_rate=0.0 if missing_rate is None else missing_rate,
                                profile="paper", model=None, loss=None, train=TrainConfig(precision="fp32"),
                                data=DataConfig(source="synthetic"),
                                baseline=paper_hparams(method, ds, baseline_source))
    if baseline_source is not None:
        raise ValueError("baseline_source applies to baseline methods only")
    # speed settings computing the same function: BERT on the words only, fused LSTMs, dropout
    # masks from 16-bit draws kept as bool (the same distribution)
    m = dict(_dataset_model_fields(ds), text_packing=True, lstm_kernel="fused",
             dropout_kernel="keep_mask")
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
    train = dataclasses.replace(train, adam_kernel="fused")  # a speed setting, like m's
    return ExperimentConfig(method=method, dataset=ds, seed=seed, missing_rate=rate,
                            profile="paper", model=model, loss=loss, train=train,
                            data=DataConfig(source="synthetic"))


def smoke_config(dataset: str = "mosi", method: str = "emt_dlfr", missing_rate: float | None = None,
                 seed: int = 111, **model_overrides: Any) -> ExperimentConfig:
    """A tiny CPU preset: MiniLM text encoder (frozen, each text encoded once), d=32, 1 fusion
    layer, 1 epoch, 16 synthetic samples a split (the first 16 of a ~32-sample stand-in).

    Same loss structure and optimiser groups as the paper preset, so every code path runs; a
    smoke training run takes seconds on two CPU cores. `model_overrides` replace ModelConfig fields.

    A baseline gets the same data and epoch budget, MiniLM, and its preset shrunk as
    emtlib.config.baselines.SMOKE says (small widths, batch 8, no accumulation); `model_overrides` then replace
    fields of its `baseline` section. Its procedure (optimisers, clipping, schedulers, label
    generation, stages, quirks) is the paper one.
    """
    if missing_rate is None:  # 'emt' is the complete setting
        missing_rate = 0.0 if method == "emt" else 0.3
    scale = round(32 / get_spec(dataset).split_sizes[0], 6)  # about 32 synthetic training samples
    data = DataConfig(source="synthetic", max_samples_per_split=16, synthetic_scale=scale)
    if method in BASELINES:
        base = paper_config(dataset, method, missing_rate=missing_rate, seed=seed)
        train = dataclasses.replace(base.train, max_epochs=1, device="cpu", num_workers=0, quiet=True)
        return dataclasses.replace(base, profile="smoke", train=train, data=data,
                                   baseline=smoke_hparams(method, base.dataset, **model_overrides))
    base = paper_config(dataset, method, missing_rate=missing_rate, seed=seed)
    model = dataclasses.replace(base.model, text_encoder="minilm", freeze_text=True,
                                text_packing=False, d_model=32, fusion_layers=1,
                                heads=4, a_lstm_hidden=16, audio_out=16, v_lstm_hidden=16,
                                video_out=16, post_fusion_dim=32, gmc_pred_dim=32,
                                text_pred_dim=32, audio_pred_dim=8, video_pred_dim=8,
                                **model_overrides)
    train = dataclasses.replace(base.train, batch_size=8, update_epochs=1, max_epochs=1,
                                early_stop=2, lr_bert=5e-5, lr_other=1e-3, device="cpu",
                                num_workers=0, quiet=True)
    return dataclasses.replace(base, profile="smoke", model=model, train=train, data=data)


DEMO_SCALE = 0.5
"""The demo stand-in's size relative to the dataset (MOSI: 642 / 115 / 343 samples)."""
DEMO_FRAME_POOL = 8
"""The demo averages every 8 audio / vision frames into one (MOSI-shaped stand-in: ~6 frames a
clip on average, 40 at most, instead of ~50 and ~330)."""
DEMO_EMT = dict(text_encoder="minilm", freeze_text=True, text_packing=False, lstm_kernel="fused",
                dropout_kernel="keep_mask", d_model=32, fusion_layers=2, heads=2, attn_dropout=0.0,
                a_lstm_hidden=16, audio_out=16, v_lstm_hidden=16, video_out=16, post_fusion_dim=64,
                gmc_pred_dim=32, text_pred_dim=64, audio_pred_dim=8, video_pred_dim=8)
"""EMT-DLFR's demo model: the paper's mechanisms at a small width (2 heads of 16), MiniLM frozen
and cached, the fused LSTM and keep-mask dropout kernels (docs/profiles.md)."""
DEMO_TRAIN = dict(batch_size=32, update_epochs=1, max_epochs=12, early_stop=3, lr_other=2e-3,
                  lr_audio=2e-3, lr_video=2e-3, precision="fp32", adam_kernel="fused",
                  bucket_by_length=True, device="cpu", num_workers=0, quiet=True)
"""EMT-DLFR's demo optimisation: a step per batch, early stopping within 12 epochs, bucketing,
fused Adam; float32, which is faster than bf16 autocast for a model this small (the casts cost
more than the bf16 matmuls save)."""


def demo_config(dataset: str = "mosi", method: str = "emt_dlfr", missing_rate: float | None = None,
                seed: int = 111, **model_overrides: Any) -> ExperimentConfig:
    """A CPU budget at which every method learns on the synthetic stand-in (docs/profiles.md).

    The stand-in at DEMO_SCALE (MOSI-shaped: 642 / 115 / 343 samples, so test differences of a few
    hundredths of MAE can be told from seed noise); EMT-DLFR at a small width with MiniLM frozen and
    each text encoded once (DEMO_EMT, DEMO_TRAIN); the baselines at their smoke widths with the
    learning budgets of emtlib.config.baselines (DEMO_BASELINE). The losses, fusion strategies,
    sharing, pooling and every baseline's procedure are the paper's.
    """
    if missing_rate is None:
        missing_rate = 0.0
    data = DataConfig(source="synthetic", synthetic_scale=DEMO_SCALE, frame_pool=DEMO_FRAME_POOL)
    base = paper_config(dataset, method, missing_rate=missing_rate, seed=seed)
    if method in BASELINES:
        train = dataclasses.replace(base.train, max_epochs=DEMO_BASELINE_EPOCHS, device="cpu",
                                    num_workers=0, quiet=True, precision="fp32",
                                    bucket_by_length=True)
        spec = get_spec(dataset)
        h = smoke_hparams(method, base.dataset, freeze_text=True, **DEMO_BASELINE.get(method, {}))
        if hasattr(h, "audio_len"):  # the full padded lengths after pooling
            h = dataclasses.replace(h, audio_len=-(-spec.audio_len // DEMO_FRAME_POOL),
                                    vision_len=-(-spec.vision_len // DEMO_FRAME_POOL))
        h = dataclasses.replace(h, **model_overrides)
        return dataclasses.replace(base, profile="demo", train=train, data=data, baseline=h)
    model = dataclasses.replace(base.model, **{**DEMO_EMT, **model_overrides})
    train = dataclasses.replace(base.train, **DEMO_TRAIN)
    return dataclasses.replace(base, profile="demo", model=model, train=train, data=data)


DEMO_BASELINE_EPOCHS = 12
DEMO_BASELINE: dict[str, dict] = {
    "tfn": dict(lr=5e-3), "lmf": dict(lr=2e-3, lr_factors=2e-3), "mult": dict(),
    "tfr_net": dict(update_epochs=1, finetune_bert=False, batch_size=16),  # frozen BERT
    "misa": dict(update_epochs=1), "self_mm": dict(update_epochs=1), "mmim": dict(batch_size=16),
}
"""The baselines' demo changes on top of their smoke widths (emtlib.config.baselines.SMOKE): the
learning budgets with which each learns on the stand-in (tests/test_baseline_training.py)."""

PROFILES = {"paper": paper_config, "demo": demo_config, "smoke": smoke_config}
"""Profile name -> preset(dataset, method, missing_rate, seed)."""
