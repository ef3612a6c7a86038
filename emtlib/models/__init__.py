"""EMT-DLFR, its ablation variants and the baselines: `build_model(config)` returns the model for an ExperimentConfig."""
from __future__ import annotations

import torch.nn as nn

from emtlib.config import ExperimentConfig
from emtlib.data.schema import get_spec

from .emt import EMT, FusionOutput
from .emt_dlfr import EMTDLFR, ViewOutput
from .released import (CheckpointMismatch, export_released_state_dict, load_checkpoint,
                       load_released_checkpoint)
from .text_encoder import (FrozenTextEncoder, TextEncoderNotFound, build_text_encoder,
                           resolve_text_encoder, text_encoder_config)

__all__ = ["build_model", "EMTDLFR", "EMT", "FusionOutput", "ViewOutput", "build_text_encoder",
           "resolve_text_encoder", "text_encoder_config", "TextEncoderNotFound",
           "load_released_checkpoint", "export_released_state_dict", "load_checkpoint",
           "CheckpointMismatch"]


def build_model(config: ExperimentConfig, pretrained_text: bool = False,
                text_encoder: nn.Module | None = None) -> nn.Module:
    """EMT-DLFR for `config` (its model, loss and method), or the baseline `config.method` built
    from `config.baseline` (emtlib.config.baselines).

    pretrained_text: load the text encoder's weights from disk (never downloaded); False builds it
        with random weights from its standard config.
    text_encoder: an already-built BertModel-like module to use instead (tests, sharing one BERT);
        it must expose `.config.hidden_size` and return `.last_hidden_state`.
    """
    if not isinstance(config, ExperimentConfig):
        raise TypeError(f"build_model expects an ExperimentConfig, got {type(config).__name__}: "
                        "use emtlib.config.paper_config(...) or smoke_config(...)")
    if config.is_baseline:
        from .baselines import build_baseline

        h = config.baseline
        shared = None
        if text_encoder is None:
            text_encoder = build_text_encoder(h.text_encoder, pretrained_text)
            shared = f"pretrained:{h.text_encoder}" if pretrained_text else None
        if h.freeze_text:
            if getattr(h, "finetune_bert", False):
                raise ValueError(f"{config.method}: freeze_text and finetune_bert are both set; "
                                 "set baseline.finetune_bert=false to freeze the text encoder")
            text_encoder = FrozenTextEncoder(text_encoder, get_spec(h.dataset).text_len, shared)
        return build_baseline(config.method, h, text_encoder)
    shared = None
    if text_encoder is None:
        text_encoder = build_text_encoder(config.model.text_encoder, pretrained_text)
        if pretrained_text:  # the same weights in every run: frozen, its outputs can be shared
            shared = f"pretrained:{config.model.text_encoder}"
    return EMTDLFR(config.model, config.loss, config.method, text_encoder, shared)
