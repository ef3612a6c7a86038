"""Checkpoints of the authors' released EMT-DLFR in emtlib, and emtlib's weights under the released names.

What the released trainer writes: `torch.save(model.state_dict())` of a thin wrapper whose one
child, `Model`, is the network, so every name starts with 'Model.' ('module.Model.' when the run
used DataParallel; a bare network's names, without prefix, are accepted too). Like any PyTorch
state dict it repeats a shared module under every name it is reachable by (the one MPU of the
paper configurations is saved 2 x 3 x L times). It also holds two buffers that emtlib does not
save: the sinusoidal position table of the fusion module, and, with the transformers version the
authors used (4.29), BERT's position ids.

The name mapping. Below the prefix each emtlib state-dict name has exactly one released name:

    emtlib                                   released
    text_model.<BERT name>                   text_model.model.<BERT name>   (BERT sits in a wrapper)
    audio_model.*, video_model.*             unchanged (rnn.*, linear_1.* where not the identity)
    proj_text / proj_audio / proj_video      unchanged; on neither side where the identity
    fusion.pos_emb.pe                        fusion.pos_embed.pe            (see below)
    fusion.mpus.i.m.k.<part>                 fusion.mpus.i.m.k.layers.0.<part'>, one MPU direction:
        norm_q, norm_c, cross_attn               0.norm, 0.norm_context, 0.fn     (cross-attention)
        norm_sa, self_attn                       1.norm, 1.fn                     (self-attention)
        norm_ff, ff.w_in, ff.w_out               2.norm, 2.fn.net.0, 2.fn.net.2   (GEGLU FFN)
    fusion.pools.i.W / fusion.pools.i.v      fusion.attn_pools.i.attention.0 / .2
    projector.<k>.j, predictor.<k>.j         <k'>_projector.net.j, <k'>_predictor.net.j,
                                             k' = gmc_tokens for k = gmc, else k
    recon_text / recon_audio / recon_video   unchanged
    post_fusion.1 / .3 / .5                  post_fusion_layer_1 / _2 / _3

Checked, not loaded: the position table `fusion.pos_embed.pe` (1, max_seq_len, d) must equal
emtlib's sinusoidal table within PE_TOLERANCE (float32 tables computed by different torch
versions agree to about 1e-4; any other table differs by order 1); with
`model.learnable_pos_emb` it is a parameter and loads like one. BERT's
`embeddings.position_ids`, when present, must be 0, 1, ..., n-1.

Loading checks every tensor before it changes the model, and reports all problems at once in a
CheckpointMismatch: names the model needs that the checkpoint lacks, names the checkpoint has
that this configuration's model does not, shape mismatches; then that all names of one shared
module hold the same values (a checkpoint trained without sharing does not fit a model that
shares); then the two checked buffers.
"""
from __future__ import annotations

import os
import re
from collections import defaultdict

import torch
import torch.nn as nn

from emtlib.config import ExperimentConfig

from .emt_dlfr import EMTDLFR

RELEASED_PREFIXES = ("module.Model.", "Model.")
"""Name prefixes of a released checkpoint: DataParallel around the wrapper, the wrapper alone."""
SAVED_PREFIX = "Model."
"""The prefix the released trainer writes (one GPU)."""
POSITION_TABLE = "fusion.pos_embed.pe"
BERT_POSITION_IDS = "text_model.model.embeddings.position_ids"
PE_TOLERANCE = 1e-3
"""Largest |difference| accepted between a checkpoint's position table and emtlib's."""

_MPU_PARTS = (  # one MPU direction: emtlib sub-module -> released sub-module under layers.0
    ("norm_q.", "0.norm."), ("norm_c.", "0.norm_context."), ("cross_attn.", "0.fn."),
    ("norm_sa.", "1.norm."), ("self_attn.", "1.fn."),
    ("norm_ff.", "2.norm."), ("ff.w_in.", "2.fn.net.0."), ("ff.w_out.", "2.fn.net.2."),
)
_POOL_PARTS = {"W": "attention.0", "v": "attention.2"}
_POST_FUSION = {"1": "post_fusion_layer_1", "3": "post_fusion_layer_2", "5": "post_fusion_layer_3"}
_HEAD_KEYS = {"gmc": "gmc_tokens", "text": "text", "audio": "audio", "video": "video"}
_UNCHANGED = ("audio_model", "video_model", "proj_text", "proj_audio", "proj_video",
              "recon_text", "recon_audio", "recon_video")
_EMTLIB_BERT_POSITION_IDS = "text_model.embeddings.position_ids"  # saved by old transformers only


class CheckpointMismatch(ValueError):
    """A checkpoint does not fit the model built from the given configuration."""


# ---- names -------------------------------------------------------------------------------------

def released_name(name: str) -> str:
    """The released state-dict name (without 'Model.') of an emtlib state-dict name."""
    top, _, rest = name.partition(".")
    if top == "text_model":
        return f"text_model.model.{rest}"
    if top in _UNCHANGED:
        return name
    if top == "post_fusion":
        index, _, leaf = rest.partition(".")
        if index in _POST_FUSION:
            return f"{_POST_FUSION[index]}.{leaf}"
    if top in ("projector", "predictor"):
        key, _, leaf = rest.partition(".")
        if key in _HEAD_KEYS:
            return f"{_HEAD_KEYS[key]}_{top}.net.{leaf}"
    if top == "fusion":
        if rest == "pos_emb.pe":
            return POSITION_TABLE
        m = re.fullmatch(r"mpus\.(\d+)\.(\d+)\.(\d+)\.(.+)", rest)
        if m:
            for ours, theirs in _MPU_PARTS:
                if m[4].startswith(ours):
                    return f"fusion.mpus.{m[1]}.{m[2]}.{m[3]}.layers.0.{theirs}{m[4][len(ours):]}"
        m = re.fullmatch(r"pools\.(\d+)\.(W|v)\.(weight|bias)", rest)
        if m:
            return f"fusion.attn_pools.{m[1]}.{_POOL_PARTS[m[2]]}.{m[3]}"
    raise KeyError(f"emtlib tensor {name!r} has no counterpart in the released model; the mapping "
                   "is listed in emtlib/models/released.py")


def check_released_architecture(model: nn.Module) -> None:
    """Raise a ValueError unless `model` is a network the released code builds."""
    if not isinstance(model, EMTDLFR):
        raise TypeError(f"the released checkpoints hold EMT-DLFR models; got {type(model).__name__}")
    cfg, found = model.cfg, []
    for field, released in (("fusion", "oagl"), ("pooling", "attention"), ("update", "parallel")):
        if getattr(cfg, field) != released:
            found.append(f"model.{field}={getattr(cfg, field)!r} (released: {released!r})")
    if model.method != "emt_dlfr":
        found.append(f"method={model.method!r} (released: 'emt_dlfr')")
    else:
        if not (model.use_complete_view and model.attraction == "simsiam"):
            found.append("no SimSiam projector/predictor heads (released: loss.lambda_attr > 0 "
                         "with loss.attraction='simsiam')")
        if not model.use_recon:
            found.append("no reconstruction heads (released: loss.lambda_recon > 0)")
    if found:
        raise ValueError("the released code builds EMT-DLFR with OAGL fusion, attention pooling, the "
                         "parallel update and all heads; this configuration differs: "
                         + "; ".join(found) + ". Use the dataset's paper_config (method 'emt_dlfr').")


def name_map(model: EMTDLFR) -> dict[str, str]:
    """emtlib state-dict name -> released name, for every tensor both sides load."""
    check_released_architecture(model)
    return {n: released_name(n) for n in model.state_dict() if n != _EMTLIB_BERT_POSITION_IDS}


# ---- export ------------------------------------------------------------------------------------

def export_released_state_dict(model: EMTDLFR, prefix: str = SAVED_PREFIX,
                               bert_position_ids: bool = True) -> dict[str, torch.Tensor]:
    """`model`'s weights under the released names, as the released trainer saves them.

    prefix: 'Model.' (the released trainer), 'module.Model.' (its DataParallel runs) or ''.
    bert_position_ids: include BERT's position-id buffer, as transformers 4.29 saves it.
    """
    state = model.state_dict()
    out = {prefix + r: state[n] for n, r in name_map(model).items()}
    if not model.cfg.learnable_pos_emb:  # a buffer the released code saves; emtlib recomputes it
        out[prefix + POSITION_TABLE] = model.fusion.pos_emb.pe.detach().clone()  # (1, max_seq_len, d)
    if bert_position_ids:
        n_pos = model.text_model.config.max_position_embeddings
        out[prefix + BERT_POSITION_IDS] = torch.arange(n_pos)[None]  # (1, n_pos) int64
    return out


# ---- import ------------------------------------------------------------------------------------

def read_state_dict(path: str | os.PathLike) -> dict[str, torch.Tensor]:
    """The state dict saved in `path` (torch.save): plain, or emtlib's {'key', 'state_dict'} blob."""
    blob = torch.load(path, map_location="cpu", weights_only=True)
    if isinstance(blob, dict) and isinstance(blob.get("state_dict"), dict):
        blob = blob["state_dict"]
    if not isinstance(blob, dict) or not all(isinstance(k, str) and torch.is_tensor(v)
                                             for k, v in blob.items()):
        found = ("a dict with values other than tensors" if isinstance(blob, dict)
                 else f"a {type(blob).__name__}")
        raise CheckpointMismatch(f"{path}: expected a state dict (name -> tensor) saved with "
                                 f"torch.save, found {found}")
    return dict(blob)


def strip_released_prefix(state: dict) -> tuple[dict, str]:
    """(state without its released prefix, the prefix); prefix '' when not every name has one."""
    for p in RELEASED_PREFIXES:
        if state and all(k.startswith(p) for k in state):
            return {k[len(p):]: v for k, v in state.items()}, p
    return dict(state), ""


def checkpoint_format(state: dict) -> str:
    """'released' for the authors' names, 'emtlib' for emtlib's own."""
    bare, prefix = strip_released_prefix(state)
    released_only = ("text_model.model.", "fusion.pos_embed.", "fusion.attn_pools.", "post_fusion_layer_")
    return "released" if prefix or any(k.startswith(released_only) for k in bare) else "emtlib"


def _listed(title: str, items: list[str], limit: int = 12) -> str:
    shown = "\n    ".join(items[:limit])
    more = f"\n    ... and {len(items) - limit} more" if len(items) > limit else ""
    return f"  {title} ({len(items)}):\n    {shown}{more}"


def _mismatch_report(source: str, missing: list[str], unexpected: list[str], shapes: list[str]) -> str:
    parts = [f"{source} does not fit the model of this configuration:"]
    if missing:
        parts.append(_listed("in the model, not in the checkpoint", missing))
    if unexpected:
        parts.append(_listed("in the checkpoint, not in the model", unexpected))
    if shapes:
        parts.append(_listed("shape mismatches, checkpoint vs model", shapes))
    parts.append("  The checkpoint comes from another configuration: build the config it was trained "
                 "with (the dataset's paper_config, plus any --set overrides of the run).")
    return "\n".join(parts)


def _shape(t: torch.Tensor) -> tuple:
    return tuple(t.shape)


def load_released_state_dict(model: EMTDLFR, state: dict, source: str = "the checkpoint") -> dict:
    """Check every tensor of a released state dict, then load it into `model`; returns a summary."""
    names = name_map(model)
    sd, prefix = strip_released_prefix(state)
    own = model.state_dict(keep_vars=True)
    want = {r: own[n] for n, r in names.items()}  # released name -> the model's tensor
    checked = {} if model.cfg.learnable_pos_emb else {POSITION_TABLE: model.fusion.pos_emb.pe}
    n_pos = model.text_model.config.max_position_embeddings
    optional = {BERT_POSITION_IDS: torch.arange(n_pos)[None]}  # (1, n_pos)
    missing = [prefix + r for r in list(want) + list(checked) if r not in sd]  # names as in the file
    unexpected = [prefix + k for k in sd if k not in want and k not in checked and k not in optional]
    shapes = [f"{prefix}{k}: {_shape(sd[k])} vs {_shape(t)}"
              for k, t in {**checked, **optional, **want}.items() if k in sd and _shape(sd[k]) != _shape(t)]
    if missing or unexpected or shapes:
        raise CheckpointMismatch(_mismatch_report(source, missing, unexpected, shapes))

    by_tensor = defaultdict(list)  # names of one (possibly shared) tensor
    for n, r in names.items():
        by_tensor[id(own[n])].append(r)
    split = [(rs[0], r) for rs in by_tensor.values() for r in rs[1:] if not torch.equal(sd[rs[0]], sd[r])]
    if split:
        c = model.cfg
        raise CheckpointMismatch(
            f"{source} holds different values under {len(split)} names that this configuration shares "
            f"(model.mpu_share={c.mpu_share}, modality_share={c.modality_share}, layer_share="
            f"{c.layer_share}), e.g. {split[0][0]} and {split[0][1]}: it was trained with less "
            "sharing; set the sharing flags it was trained with.")
    for k, table in checked.items():
        diff = (sd[k].float() - table.detach().float().cpu()).abs().max().item()
        if not diff <= PE_TOLERANCE:
            raise CheckpointMismatch(
                f"{source}: its position table {k} differs from the sinusoidal table by up to "
                f"{diff:.3g} (tolerance {PE_TOLERANCE:g}); the released code with learnable_pos_emb="
                "False saves exactly that table. If the run learned its positions, set "
                "model.learnable_pos_emb=true; otherwise the file is not a released checkpoint.")
    for k, ids in optional.items():
        if k in sd and not torch.equal(sd[k].long(), ids):
            raise CheckpointMismatch(f"{source}: {k} should hold 0, 1, ..., {n_pos - 1} "
                                     f"(BERT's position ids); it holds other values")

    load = {n: (sd[names[n]] if n in names else t) for n, t in own.items()}
    model.load_state_dict(load, strict=True)
    return {"format": "released", "prefix": prefix, "names": len(sd),
            "tensors_loaded": len(by_tensor), "verified": [k for k in {**checked, **optional} if k in sd]}


def load_emtlib_state_dict(model: nn.Module, state: dict, source: str = "the checkpoint") -> dict:
    """Check an emtlib state dict against `model` (names and shapes), then load it; returns a summary."""
    own = model.state_dict()
    missing = [k for k in own if k not in state]
    unexpected = [k for k in state if k not in own]
    shapes = [f"{k}: {_shape(state[k])} vs {_shape(t)}" for k, t in own.items()
              if k in state and _shape(state[k]) != _shape(t)]
    if missing or unexpected or shapes:
        raise CheckpointMismatch(_mismatch_report(source, missing, unexpected, shapes))
    model.load_state_dict(state, strict=True)
    return {"format": "emtlib", "prefix": "", "names": len(state)}


def _build(config: ExperimentConfig) -> nn.Module:
    from . import build_model

    with torch.random.fork_rng(devices=[]):  # every weight is overwritten; keep the caller's RNG
        return build_model(config, pretrained_text=False)


def load_released_checkpoint(path: str | os.PathLike | dict, config: ExperimentConfig) -> EMTDLFR:
    """EMT-DLFR for `config` with the weights of a checkpoint saved by the authors' trainer (eval mode, CPU).

    path: the .pth file the released trainer wrote (or its state dict, already loaded).
    config: the configuration it was trained with, e.g. `paper_config('sims')`.
    """
    state = path if isinstance(path, dict) else read_state_dict(path)
    model = _build(config)
    load_released_state_dict(model, state, "the state dict" if isinstance(path, dict) else str(path))
    return model.eval()


def load_checkpoint(path: str | os.PathLike | dict, config: ExperimentConfig,
                    fmt: str = "auto") -> nn.Module:
    """The model of `config` with the weights of a released or emtlib checkpoint (eval mode, CPU).

    fmt: 'released', 'emtlib', or 'auto' (recognised from the names, see checkpoint_format).
    """
    state = path if isinstance(path, dict) else read_state_dict(path)
    fmt = checkpoint_format(state) if fmt == "auto" else fmt
    if fmt not in ("released", "emtlib"):
        raise ValueError(f"fmt {fmt!r}: expected 'auto', 'released' or 'emtlib'")
    source = "the state dict" if isinstance(path, dict) else str(path)
    model = _build(config)
    if fmt == "released":
        load_released_state_dict(model, state, source)
    else:
        load_emtlib_state_dict(model, state, source)
    return model.eval()
