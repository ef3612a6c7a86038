"""Global-local cross-attention maps for one sample (paper Fig. 12, docs/model.md#attention-maps).

Fig. 12 shows, for one CMU-MOSI test sample (`jUzDDGyPkXU$_$27`), the cross-attention of the
three global tokens G (queries) over each modality's local sequence (keys): the "G <- local"
softmax of the OAGL fusion, in the complete view and in the view at missing rate 0.5. Text is
shown per word piece, audio and vision average-pooled with stride 2 (the sample has 42 audio and
50 video frames).

    model, record = trained_model(spec, results_dir)          # trained once, then loaded
    att = sample_attention(model, test_split, sample_id=None)
    att["complete"]["audio"]        # (3, ceil(T_a / 2)) pooled map, rows = the 3 global tokens
    att["tokens"]                   # word pieces of the text axis
    fig = figure12_data(None, RunSpec(missing_rate=0.5, ...))  # both panels, one model (default)
    att = checkpoint_attention(path, config)  # from a checkpoint file, released or emtlib

ASSUMPTIONS (neither is stated by the paper or the release; see docs/model.md#attention-maps):
  - the LAST fusion layer is shown (`layer=-1`);
  - the attention HEADS ARE AVERAGED (`head=None`).
Both are parameters.

The checkpoint cache: `emtlib.experiments` stores result records only. `trained_model` keeps a
state dict beside the record (`<key>.pt` next to `<key>.json`), trains with `emtlib.train.fit`
when there is none, and writes the record with `experiments`' conventions, so `experiments.run`
of the same spec reads the same record (and the other way round: a record written by `run`
without a checkpoint leads to one retraining, which rewrites the record so record and checkpoint
describe the same model).
"""
from __future__ import annotations

import json
import math
import logging
import os
import warnings
from dataclasses import asdict
from functools import lru_cache
from pathlib import Path

import numpy as np
import torch

from .config import apply_overrides
from .data.dataset import MMSADataset, collate_mmsa
from .files import atomic_write
from .experiments import (RESULTS_DIR, MissingRecordError, RunSpec, cache_only, config_key,
                          missing_message, read_record, record_path)

log = logging.getLogger(__name__)

PAPER_SAMPLE_ID = "jUzDDGyPkXU$_$27"
"""The MOSI test sample of Fig. 12 (the paper prints it as jUzDDGyPkXU_27)."""
MODALITIES = ("text", "audio", "video")
"""Keys of the maps; 'video' is the dataset's 'vision'."""
_DATA_KEY = {"text": "text", "audio": "audio", "video": "vision"}
ASSUMPTIONS = (
    "last fusion layer shown (layer=-1): the paper does not say which layer "
    "(docs/model.md#attention-maps)",
    "attention heads averaged: the paper does not say whether heads were averaged "
    "(docs/model.md#attention-maps)",
    "audio/vision average-pooled with stride 2 in non-overlapping windows, a last partial window "
    "averaged over the frames it has; pooled rows therefore sum to about 1/stride, not 1",
)


# ---- the trained-model cache -------------------------------------------------------------------

def run_config(spec: RunSpec):
    """The config `experiments.run(spec)` trains: `spec.config()` with train.quiet=true."""
    return apply_overrides(spec.config(), ["train.quiet=true"])


def checkpoint_path(spec: RunSpec, results_dir: str | os.PathLike = RESULTS_DIR) -> Path:
    """Where the state dict of `spec`'s run is kept: the record's path with suffix .pt."""
    return record_path(run_config(spec), results_dir).with_suffix(".pt")


def trained_model(spec: RunSpec, results_dir: str | os.PathLike = RESULTS_DIR):
    """`(model, record)` for `spec`: loaded from its checkpoint, or trained once and saved.

    With a checkpoint `<key>.pt` beside the record, the model is rebuilt with
    `build_model(cfg, pretrained_text=False)` (every weight comes from the state dict), loaded on
    the CPU and moved to the config's device, and the JSON record is read. Otherwise
    `emtlib.train.fit(cfg)` trains it; the state dict and the record (with its `key`) are written
    atomically. The record carries `spec` as `experiments.run` returns it. The model is in eval mode.
    """
    from . import train as _train
    from .models import build_model
    from .runtime import resolve_device

    cfg = run_config(spec)
    key = config_key(cfg)
    path = record_path(cfg, results_dir)
    ckpt = path.with_suffix(".pt")
    record = read_record(path, key)
    state = _read_checkpoint(ckpt, key) if record is not None else None
    device = resolve_device(cfg.train.device)
    frozen = cfg.model.freeze_text  # the text encoder's weights are the package's: not stored
    if state is not None:
        with torch.random.fork_rng(devices=[]):  # random init is overwritten; keep the caller's RNG
            model = build_model(cfg, pretrained_text=frozen)
        missing, unexpected = model.load_state_dict(state, strict=not frozen)
        if unexpected or any(not k.startswith("text_model.") for k in missing):
            raise RuntimeError(f"{ckpt.name} does not match the model: missing {missing}, "
                               f"unexpected {unexpected}")
        model = model.to(device)
    else:
        if cache_only():
            raise MissingRecordError(missing_message([(spec, ckpt)]))
        if record is not None:
            # logged, not warned or printed: what a notebook shows must not depend on what the
            # cache held (nor name this file's absolute path)
            log.info("%s: the record has no checkpoint beside it; the run is trained again to "
                     "keep its model, and the record is rewritten", path.name)
        result = _train.fit(cfg)
        model, record = result.model, dict(result.record)
        record["key"] = key
        kept = {k: v.detach().cpu() for k, v in model.state_dict().items()
                if not (frozen and k.startswith("text_model."))}
        _save_checkpoint({"key": key, "state_dict": kept}, ckpt)
        _train.write_record(record, path)  # after the checkpoint: a record alone means "retrain"
        model = model.to(device)
    model.eval()
    return model, {**record, "spec": json.loads(json.dumps(asdict(spec)))}


def _read_checkpoint(path: Path, key: str) -> dict | None:
    if not path.is_file():
        return None
    try:
        blob = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as e:  # a truncated or foreign file: train again
        warnings.warn(f"{path} could not be read ({e}); the run is trained again", stacklevel=3)
        return None
    if not isinstance(blob, dict) or blob.get("key") != key or "state_dict" not in blob:
        return None
    return blob["state_dict"]


def _save_checkpoint(blob: dict, path: Path) -> None:
    atomic_write(path, lambda f: torch.save(blob, f))


# ---- token decoding ----------------------------------------------------------------------------

@lru_cache(maxsize=8)
def _vocab_file(path: str) -> tuple[str, ...]:
    return tuple(line.rstrip("\n") for line in Path(path).read_text(encoding="utf-8").splitlines())


def token_vocabulary(text_encoder: str, vocab_size: int | None = None) -> tuple[str, ...] | None:
    """id -> word piece from the text encoder's vocab.txt, found offline; None when there is none.

    'minilm' and local directories are read directly; a Hugging Face name is looked up in the
    local cache. all-MiniLM-L6-v2 ships bert-base-uncased's vocabulary, so it stands in for
    'bert-base-uncased' (30,522 entries) when that is not cached.
    """
    from .models.text_encoder import TextEncoderNotFound, resolve_text_encoder

    candidates = []
    try:
        candidates.append(resolve_text_encoder(text_encoder))
    except TextEncoderNotFound:
        pass
    if text_encoder == "bert-base-uncased" or vocab_size == 30522:
        try:
            candidates.append(resolve_text_encoder("minilm"))
        except TextEncoderNotFound:
            pass
    for c in candidates:
        f = Path(c) / "vocab.txt"
        if not f.is_file():
            try:
                from transformers.utils import cached_file

                f = Path(cached_file(c, "vocab.txt", local_files_only=True))
            except Exception:
                continue
        vocab = _vocab_file(str(f))
        if vocab_size is None or len(vocab) == vocab_size:
            return vocab
    return None


def decode_ids(ids, vocab: tuple[str, ...] | None) -> list[str]:
    """Word pieces of `ids`; '[UNK]' is id 100 of BERT's vocabularies; unknown ids as '[id N]'."""
    from .data.schema import UNK_ID

    out = []
    for i in np.asarray(ids, dtype=np.int64).tolist():
        if vocab is not None and 0 <= i < len(vocab):
            out.append(vocab[i])
        elif i == UNK_ID:
            out.append("[UNK]")
        else:
            out.append(f"[id {i}]")
    return out


# ---- one sample's maps -------------------------------------------------------------------------

def pool_positions(a: np.ndarray, stride: int) -> np.ndarray:
    """Average over non-overlapping windows of `stride` along the last axis; the last partial
    window is averaged over the positions it has. (..., T) -> (..., ceil(T / stride))."""
    a = np.asarray(a, dtype=np.float64)
    if stride <= 1:
        return a.copy()
    T = a.shape[-1]
    n = math.ceil(T / stride)
    return np.stack([a[..., k * stride:(k + 1) * stride].mean(-1) for k in range(n)], axis=-1) \
        if n else a[..., :0].copy()


def pool_kept(kept: np.ndarray, stride: int) -> np.ndarray:
    """Fraction of kept (unmasked) positions in each pooled window."""
    return pool_positions(np.asarray(kept, dtype=np.float64), stride)


def find_sample(dataset: MMSADataset, sample_id: str | None) -> int:
    """Index of `sample_id` in the split; None: the paper's sample if present, else the first."""
    ids = dataset.ids
    if sample_id is None:
        return ids.index(PAPER_SAMPLE_ID) if PAPER_SAMPLE_ID in ids else 0
    for cand in (sample_id, sample_id.replace("$_$", "_"), _paper_style_to_mmsa(sample_id)):
        if cand in ids:
            return ids.index(cand)
    shown = ", ".join(repr(i) for i in ids[:8]) + (", ..." if len(ids) > 8 else "")
    raise ValueError(f"sample id {sample_id!r} is not in this split ({len(ids)} samples); "
                     f"available ids include {shown}")


def _paper_style_to_mmsa(sample_id: str) -> str:
    """'jUzDDGyPkXU_27' (as printed) -> 'jUzDDGyPkXU$_$27' (MMSA's video$_$clip)."""
    head, sep, tail = sample_id.rpartition("_")
    return f"{head}$_${tail}" if sep and tail.isdigit() and "$_$" not in sample_id else sample_id


def _valid_lengths(batch: dict) -> dict[str, int]:
    """Valid local positions per modality of a one-sample batch (text: words, no CLS/SEP)."""
    # text: EMT's text length (docs/model.md#text-encoder)
    return {"text": int(batch["text"][0, 1].sum()) - 2,
            "audio": int(batch["audio_lengths"][0]), "video": int(batch["vision_lengths"][0])}


def _view_maps(model, batch: dict, complete: bool, layer: int, head: int | None,
               lengths: dict[str, int]) -> tuple[dict[str, np.ndarray], float]:
    """Unpooled (3, T_m) maps of one view, cut to the valid positions, and the view's prediction."""
    s = "" if complete else "_m"
    view = model.encode_view(batch["text" + s], batch["audio" + s], batch["audio_lengths"],
                             batch["vision" + s], batch["vision_lengths"], return_attention=True)
    maps = {}
    for m in MODALITIES:
        a = view.attention[m][layer][0].float()  # (heads, 3, T_m)
        a = a.mean(0) if head is None else a[head]  # (3, T_m)
        maps[m] = a[:, :max(lengths[m], 0)].cpu().numpy().astype(np.float64)
    return maps, float(view.pred[0])


@torch.no_grad()
def sample_attention(model, dataset_split: MMSADataset, sample_id: str | None = None,
                     layer: int = -1, pool_stride: int = 2, head: int | None = None,
                     model_incomplete=None) -> dict:
    """G <- local cross-attention of one sample, complete and incomplete views (paper Fig. 12).

    ASSUMPTION (docs/model.md#attention-maps): the last fusion layer (`layer=-1`) with the heads
    averaged (`head=None`); the paper states neither. Maps are post-softmax, pre-dropout, in eval
    mode, for a one-sample batch, cut to the sample's valid positions (text: the CLS-less word
    pieces without [SEP], as EMT's local text sequence; audio/vision: the real lengths). Audio and
    vision are average-pooled with stride `pool_stride` (non-overlapping windows, the last partial
    window averaged over what it has); text is never pooled.

    model: an EMT-DLFR or EMT model (OAGL fusion). Both views run through `model.encode_view`,
        the same computation `model(batch, return_attention=True)` does, also for method 'emt'
        (complete setting) and for lambda_attr = 0, where the forward pass skips a view.
    dataset_split: the split (its incomplete view is at the split's missing rate).
    sample_id: None -> the paper's `jUzDDGyPkXU$_$27` if in the split, else the split's first
        sample. An id that is not there raises a ValueError listing some available ids.
    model_incomplete: another model for the incomplete view (two-model reading of Fig. 12);
        None -> `model` for both views.

    Returns a dict:
        'complete', 'incomplete'   modality ('text', 'audio', 'video') -> (3, T_m') float arrays;
                                   rows = the 3 global tokens (text-, audio-, video-initialised)
        'unpooled'                 {'complete': {...}, 'incomplete': {...}} the (3, T_m) maps
                                   before pooling (each row sums to 1)
        'tokens'                   list[str] the complete view's word pieces (the text axis)
        'tokens_incomplete'        the incomplete view's ([UNK] where masked)
        'kept'                     modality -> bool (T_m,), False = masked in the incomplete view
        'kept_pooled'              audio/video -> fraction of kept frames per pooled window
        'lengths'                  modality -> T_m (unpooled)
        'id', 'index', 'label', 'pred_complete', 'pred_incomplete', 'layer', 'head',
        'pool_stride', 'missing_rate', 'assumptions'
    """
    from .models import EMTDLFR

    models = [model] if model_incomplete is None else [model, model_incomplete]
    for mdl in models:
        if not isinstance(mdl, EMTDLFR):
            raise TypeError(f"attention maps are defined for EMT-DLFR / EMT models (OAGL), got "
                            f"{type(mdl).__name__}")
        if mdl.cfg.fusion != "oagl":
            raise ValueError(f"attention maps are defined for OAGL fusion (G <- local, paper "
                             f"Fig. 12); model.fusion is {mdl.cfg.fusion!r}")
    if pool_stride < 1:
        raise ValueError(f"pool_stride must be >= 1, got {pool_stride}")
    i = find_sample(dataset_split, sample_id)
    batch = collate_mmsa([dataset_split[i]])
    lengths = _valid_lengths(batch)
    maps, preds = {}, {}
    second = model if model_incomplete is None else model_incomplete
    for view, mdl in (("complete", model), ("incomplete", second)):
        was_training = mdl.training
        mdl.eval()
        try:
            dev = next(mdl.parameters()).device
            b = {k: (v.to(dev) if isinstance(v, torch.Tensor) else v) for k, v in batch.items()}
            maps[view], preds[view] = _view_maps(mdl, b, view == "complete", layer, head, lengths)
        finally:
            mdl.train(was_training)
    n_words = max(lengths["text"], 0)
    text_model = model.text_model
    vocab = token_vocabulary(model.cfg.text_encoder,
                             getattr(getattr(text_model, "config", None), "vocab_size", None))
    kept = {"text": batch["text_kept"][0, 1:1 + n_words].bool().numpy(),  # local pos j = token j+1
            "audio": batch["audio_kept"][0, :lengths["audio"]].bool().numpy(),
            "video": batch["vision_kept"][0, :lengths["video"]].bool().numpy()}

    def pooled(view_maps):
        return {m: (a.copy() if m == "text" else pool_positions(a, pool_stride))
                for m, a in view_maps.items()}

    return {
        "complete": pooled(maps["complete"]), "incomplete": pooled(maps["incomplete"]),
        "unpooled": maps,
        "tokens": decode_ids(batch["text"][0, 0, 1:1 + n_words], vocab),
        "tokens_incomplete": decode_ids(batch["text_m"][0, 0, 1:1 + n_words], vocab),
        "kept": kept,
        "kept_pooled": {m: pool_kept(kept[m], pool_stride) for m in ("audio", "video")},
        "lengths": lengths,
        "id": dataset_split.ids[i], "index": i,
        "label": float(dataset_split.labels["labels"][i]),
        "pred_complete": preds["complete"], "pred_incomplete": preds["incomplete"],
        "layer": layer, "head": "mean" if head is None else head, "pool_stride": pool_stride,
        "missing_rate": dataset_split.missing_rate,
        "assumptions": ASSUMPTIONS,
    }


def checkpoint_attention(path, config, sample_id: str | None = None, split: str = "test",
                         fmt: str = "auto", **kwargs) -> dict:
    """`sample_attention` of a released or emtlib checkpoint (file or state dict) on `config`'s `split`.

    config: the ExperimentConfig the checkpoint was trained with (its data and missing rate give
        the split); fmt: 'auto', 'released' or 'emtlib' (emtlib.models.released.load_checkpoint).
    kwargs: `sample_attention`'s layer, pool_stride, head. The result also carries 'split'.
    """
    from .models.released import load_checkpoint
    from .data import load_data
    from .data.dataset import make_datasets

    model = load_checkpoint(path, config, fmt)
    data = make_datasets(load_data(config), config)[split]
    out = sample_attention(model, data, sample_id, **kwargs)
    out["split"] = split
    return out


# ---- Fig. 12 -------------------------------------------------------------------------------------

def split_for(spec: RunSpec, split: str = "test") -> MMSADataset:
    """The `split` of `spec`'s run as training sees it (its masks at the run's missing rate)."""
    from .data import load_data
    from .data.dataset import make_datasets

    cfg = run_config(spec)
    return make_datasets(load_data(cfg), cfg)[split]


def figure12_data(spec_complete: RunSpec | None, spec_incomplete: RunSpec,
                  sample_id: str | None = None,
                  results_dir: str | os.PathLike = RESULTS_DIR, split: str = "test",
                  layer: int = -1, pool_stride: int = 2, head: int | None = None,
                  checkpoint: str | os.PathLike | None = None) -> dict:
    """The data of paper Fig. 12: one test sample's maps in the complete and incomplete views.

    checkpoint: a trained model of `spec_incomplete`'s configuration (the authors' or emtlib's
    state dict) to draw instead of training one; its record is then {'checkpoint': path}.

    DECISION: with `spec_complete=None` (the default) both panels come from ONE model, the EMT-DLFR
    run of `spec_incomplete` (missing rate 0.5 in the paper), evaluated on the complete view and on
    the 0.5-masked view of the same sample: docs/model.md#attention-maps reads the caption as "the
    complete view and the 0.5-masked view of MOSI test sample jUzDDGyPkXU$_$27", and EMT-DLFR runs
    both views of every sample anyway. Given a `spec_complete` (e.g. method 'emt' at rate 0, the
    complete setting), panel (a) comes from that model's complete view and panel (b) from the
    `spec_incomplete` model's incomplete view (the "two models" reading of the caption). Both models
    are trained once and cached (`trained_model`). The sample and its masks come from
    `spec_incomplete`'s split, so the masked positions are the ones the 0.5 model saw.

    Returns `sample_attention`'s dict plus 'mode' ('one_model' | 'two_models'), 'records'
    ({'complete': record, 'incomplete': record}) and 'split'.
    """
    if spec_incomplete.method not in ("emt_dlfr", "emt"):
        raise ValueError(f"Fig. 12 shows EMT's attention; spec_incomplete.method is "
                         f"{spec_incomplete.method!r}")
    if spec_incomplete.missing_rate <= 0:
        warnings.warn("spec_incomplete has missing rate 0: its 'incomplete' view equals the "
                      "complete one (the paper uses 0.5)", stacklevel=2)
    if checkpoint is None:
        model_inc, rec_inc = trained_model(spec_incomplete, results_dir)
    else:
        from .models.released import load_checkpoint

        model_inc = load_checkpoint(checkpoint, run_config(spec_incomplete))
        rec_inc = {"checkpoint": str(checkpoint)}
    data = split_for(spec_incomplete, split)
    if spec_complete is None:
        model_comp, rec_comp, mode, other = model_inc, rec_inc, "one_model", None
    else:
        model_comp, rec_comp = trained_model(spec_complete, results_dir)
        mode, other = "two_models", model_inc
    out = sample_attention(model_comp, data, sample_id, layer=layer, pool_stride=pool_stride,
                           head=head, model_incomplete=other)
    out.update(mode=mode, records={"complete": rec_comp, "incomplete": rec_inc}, split=split)
    return out
