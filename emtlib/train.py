"""fit / evaluate for EMT-DLFR, EMT and the baselines, reproducing the released training protocols.

EMT-DLFR and EMT (docs/training.md):

- Adam (coupled L2 weight decay) with five parameter groups: text-encoder weights, text-encoder
  biases and LayerNorms (no decay), audio subnet, video subnet, everything else.
- Gradient accumulation: per-batch MEAN losses are back-propagated and their gradients SUMMED
  over `update_epochs` batches before one step; a trailing partial group is thrown away.
- Early stopping on the validation key (total loss as released; the complete setting has only
  its L1), patience `early_stop`, an epoch counts as better when `cur <= best - 1e-6`.
- The best checkpoint is restored, then the test split is scored from the incomplete-view
  prediction `pred_m`.

The baselines (tfn, lmf, mult, misa, self_mm, mmim, tfr_net; docs/baselines.md) run through the
same `fit`: their per-method mechanics (optimisers, accumulation, clipping, schedulers, Self-MM's
label generation, MMIM's two stages, TFR-Net's generation loss from epoch 2, the double-step
quirk) are in `emtlib.procedures`; `fit` asks `make_procedure` for the run's procedure and
drives early stopping, checkpoint selection on the procedure's validation key and the test pass.
Test metrics always come from the incomplete-view prediction (`pred_m` for EMT, `pred` for a
baseline).

Randomness: everything of a run (initialisation, dropout, shuffling) draws from generators
seeded with the run's seed inside `torch.random.fork_rng`, so the caller's global state is left
as it was and two CPU runs with the same seed give identical metrics.
"""
from __future__ import annotations

import copy
import json
import math
import os
import time
import warnings
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch
from .progress import tqdm

from . import __version__
from .config import ExperimentConfig
from .data import MMSAData, load_data
from .data.dataset import make_datasets, make_loader
from .files import atomic_write, git_commit, portable
from .losses import total_loss
from .metrics import regression_metrics
from .models import build_model
from .models.released import load_checkpoint
from .procedures import Procedure, make_baseline_procedure
from .runtime import autocast, resolve_device, resolve_precision, to_device, to_float

# ---- optimisation ----------------------------------------------------------------------------

def accumulation_schedule(n_batches: int, update_epochs: int) -> list[bool]:
    """For each batch of an epoch: whether an optimizer step follows it.

    The released loop steps after every `update_epochs`-th batch; the last partial group's
    gradients are never applied (they are zeroed at the next epoch's start).
    """
    return [(i + 1) % update_epochs == 0 for i in range(n_batches)]


# ---- one epoch -------------------------------------------------------------------------------

def train_epoch(model, loader, optimizer, cfg: ExperimentConfig, device, desc: str = "") -> dict:
    """One epoch with the released accumulation; returns mean loss terms over batches.

    The forward pass runs in the run's precision, the losses in float32 (docs/training.md#precision)."""
    model.train()
    tc = cfg.train
    sums: dict[str, float] = defaultdict(float)
    steps = accumulation_schedule(len(loader), tc.update_epochs)
    optimizer.zero_grad(set_to_none=True)
    precision = resolve_precision(tc.precision, device)
    n = 0
    for batch, step in zip(tqdm(loader, desc=desc, leave=False, disable=tc.quiet), steps):
        batch = to_device(batch, device)
        with autocast(device, precision):
            out = model(batch)
        loss, terms = total_loss(to_float(out), batch, cfg.loss, cfg.method)
        loss.backward()
        if step:
            optimizer.step()
            optimizer.zero_grad(set_to_none=True)
        for k, v in terms.items():
            sums[k] += v
        n += 1
    optimizer.zero_grad(set_to_none=True)  # the discarded trailing partial group
    return {k: v / max(n, 1) for k, v in sums.items()}


class EMTProcedure(Procedure):
    """EMT-DLFR / EMT: the released protocol above (five Adam groups, accumulation, total loss)."""

    def __init__(self, cfg: ExperimentConfig, model, device):
        super().__init__(cfg, model, device)
        self.batch_size, self.early_stop = cfg.train.batch_size, cfg.train.early_stop
        self.key = selection_key(cfg)

    def make_optimization(self):
        # see docs/training.md#optimizer: foreach, the per-tensor loop's arithmetic bit for bit;
        # fused, one pass over each tensor
        kernel = {"foreach": dict(foreach=True), "fused": dict(fused=True)}[self.cfg.train.adam_kernel]
        self.optimizers = [torch.optim.Adam(self.model.parameter_groups(self.cfg.train), **kernel)]
        return self.optimizers, []

    def train_epoch(self, loader, epoch: int, desc: str = "") -> dict:
        return train_epoch(self.model, loader, self.optimizers[0], self.cfg, self.device, desc)

    def forward_eval(self, batch):
        out = to_float(self.model(batch))  # called under the run's autocast (Procedure.eval_batch)
        with torch.autocast(self.device.type, enabled=False):  # losses in float32
            _, terms = total_loss(out, batch, self.cfg.loss, self.cfg.method)
        return terms, out["pred_m"]


def make_procedure(cfg: ExperimentConfig, model, device, train_labels=None) -> Procedure:
    """The run's training mechanics: EMTProcedure, or the baseline's (emtlib.procedures)."""
    if cfg.is_baseline:
        return make_baseline_procedure(cfg, model, device, train_labels)
    return EMTProcedure(cfg, model, device)


def run_batch_size(cfg: ExperimentConfig) -> int:
    """The loaders' batch size: train.batch_size (EMT) or baseline.batch_size."""
    return cfg.baseline.batch_size if cfg.is_baseline else cfg.train.batch_size


@torch.no_grad()
def evaluate(model, loader, cfg: ExperimentConfig, device, procedure: Procedure | None = None
             ) -> tuple[dict, np.ndarray, np.ndarray]:
    """Eval mode over a split: mean-over-batches loss terms, and the incomplete-view prediction
    (pred_m; a baseline's pred) / labels in split order."""
    procedure = procedure if procedure is not None else make_procedure(cfg, model, device)
    model.eval()
    sums: dict[str, float] = defaultdict(float)
    preds, labels, index = [], [], []
    for batch in loader:
        batch = to_device(batch, device)
        terms, pred = procedure.eval_batch(batch)
        for k, v in terms.items():
            sums[k] += v
        preds.append(pred.float().cpu())
        labels.append(batch["labels"].float().cpu())
        index.append(batch["index"].cpu())
    order = torch.cat(index).argsort()
    losses = {k: v / max(len(loader), 1) for k, v in sums.items()}
    return losses, torch.cat(preds)[order].numpy(), torch.cat(labels)[order].numpy()


# ---- the whole run ---------------------------------------------------------------------------

@dataclass
class FitResult:
    """What `fit` returns: the result record and the trained model (best checkpoint)."""

    record: dict
    """JSON-safe record: config, metrics, history, best epoch, wall time, versions, data hash."""
    model: torch.nn.Module = field(repr=False)
    """The model with the best checkpoint loaded."""
    procedure: Procedure | None = field(default=None, repr=False)
    """The run's procedure (optimisers, Self-MM's label bank as at the end of training)."""


def selection_key(cfg: ExperimentConfig) -> str:
    """The validation term that selects the checkpoint
    (docs/training.md#early-stopping-and-model-selection; complete setting: its L1; a baseline:
    'loss' = its validation task loss, L1 or MISA's MSE, docs/baselines.md#shared-mechanics)."""
    if cfg.is_baseline:
        return "loss"
    return "loss_pred_m" if cfg.method == "emt" else cfg.train.key_eval


def fit(cfg: ExperimentConfig, data: "MMSAData | None" = None, pretrained_text: bool = True) -> FitResult:
    """Train with early stopping, restore the best checkpoint, score the test split."""
    t0 = time.perf_counter()
    device = resolve_device(cfg.train.device)
    data = data if data is not None else load_data(cfg)
    datasets = make_datasets(data, cfg)
    tc = cfg.train
    batch_size = run_batch_size(cfg)
    drop_last = _single_sample_tail(len(datasets["train"]), batch_size)
    with torch.random.fork_rng(devices=[device] if device.type == "cuda" else []):
        torch.manual_seed(cfg.seed)
        model = build_model(cfg, pretrained_text=pretrained_text).to(device)
        proc = make_procedure(cfg, model, device, datasets["train"].labels["labels"])
        # EMT: Adam with the five groups (docs/training.md#optimizer); MMIM re-initialises
        proc.make_optimization()
        loaders = {s: make_loader(ds, batch_size, shuffle=(s == "train"), seed=cfg.seed,
                                  num_workers=tc.num_workers, drop_last=(s == "train" and drop_last),
                                  bucket_by_length=tc.bucket_by_length)
                   for s, ds in datasets.items()}
        key = proc.key
        best, best_epoch, best_state, history, train_seconds = math.inf, 0, None, [], []
        epoch = 0
        while tc.max_epochs is None or epoch < tc.max_epochs:
            epoch += 1
            t_epoch = time.perf_counter()
            train_terms = proc.train_epoch(loaders["train"], epoch, desc=f"epoch {epoch}")
            train_s = time.perf_counter() - t_epoch
            valid_terms, _, _ = evaluate(model, loaders["valid"], cfg, device, proc)
            proc.end_epoch(valid_terms)
            history.append({"epoch": epoch, "train": train_terms, "valid": valid_terms})
            train_seconds.append(train_s)
            cur = valid_terms[key]
            if cur <= best - 1e-6:
                best, best_epoch = cur, epoch
                best_state = copy.deepcopy(model.state_dict())
            if not tc.quiet:
                tqdm.write(f"epoch {epoch}: train {train_terms['loss']:.4f} "
                           f"valid {key} {cur:.4f} (best {best:.4f} @ {best_epoch})")
            if epoch - best_epoch >= proc.early_stop:
                break
        if best_state is not None:
            model.load_state_dict(best_state)
        else:  # NaN compares false: no epoch was ever selected
            warnings.warn(f"the validation {key} was not finite in any of {epoch} epochs: no best "
                          "checkpoint exists and the run is tested on its last weights "
                          "(record['valid_never_finite'] is true)", stacklevel=2)
        test_terms, pred, y = evaluate(model, loaders["test"], cfg, device, proc)
    record = {
        "config": cfg.to_dict(),
        "metrics": regression_metrics(cfg.dataset, pred, y),
        "test_loss": test_terms,
        "selection_key": key,
        "best_epoch": best_epoch,
        "valid_never_finite": best_state is None,
        "epochs": epoch,
        "history": history,
        "wall_time_s": time.perf_counter() - t0,
        "train_epoch_s": train_seconds,
        "device": str(device),
        "precision": resolve_precision(tc.precision, device),  # what 'auto' resolved to
        "emtlib_version": __version__,
        "emtlib_commit": git_commit(),  # the checkout's commit, '-dirty' with local changes
        "torch_version": torch.__version__,
        "data": {"path": portable(data.path) if data.path else None, "sha1": data.sha1,
                 "synthetic": data.synthetic,
                 "sizes": {s: len(ds) for s, ds in datasets.items()},
                 "train_samples_dropped_per_epoch": int(drop_last)},
    }
    return FitResult(record=record, model=model, procedure=proc)


def write_record(record: dict, path: str | Path) -> Path:
    """Write a result record as strict JSON atomically (emtlib.files.atomic_write): a non-finite
    number becomes null and its place is listed in the record's `nonfinite` ('metrics.corr')."""
    clean, nonfinite = strict_json(record)
    if nonfinite:
        clean["nonfinite"] = sorted(set(clean.get("nonfinite") or ()) | set(nonfinite))
    text = json.dumps(clean, indent=1, allow_nan=False)
    return atomic_write(path, lambda f: f.write(text.encode()))


def strict_json(value, where: str = ""):
    """`value` with every non-finite float replaced by None, and the dotted places replaced."""
    if isinstance(value, float) and not math.isfinite(value):
        return None, [where]
    if isinstance(value, dict):
        out, places = {}, []
        for k, v in value.items():
            out[k], p = strict_json(v, f"{where}.{k}" if where else str(k))
            places += p
        return out, places
    if isinstance(value, (list, tuple)):
        out, places = [], []
        for i, v in enumerate(value):
            item, p = strict_json(v, f"{where}.{i}" if where else str(i))
            out.append(item)
            places += p
        return out, places
    return value, []


def _single_sample_tail(n_train: int, batch_size: int) -> bool:
    """Whether the last training batch would hold one sample (then it is dropped each epoch).

    BatchNorm cannot train on one sample (the released code crashes there); the real datasets
    never hit this with the paper's batch sizes, small synthetic or truncated splits can.
    """
    if n_train < 2:
        raise ValueError(f"the training split has {n_train} sample(s): need at least 2")
    if n_train % batch_size != 1:
        return False
    warnings.warn(f"{n_train} training samples with batch_size {batch_size} leave a last batch of "
                  "one sample, which BatchNorm cannot train on: it is dropped in every epoch "
                  "(a different sample each epoch, as the order is shuffled)", stacklevel=3)
    return True


# ---- trained weights from elsewhere --------------------------------------------------------

def evaluate_model(model: torch.nn.Module, config: ExperimentConfig, split: str = "test") -> dict:
    """Metrics of `model` on `split` of `config`'s data at its missing rate, from the incomplete view."""
    datasets = make_datasets(load_data(config), config)
    if split not in datasets:
        raise ValueError(f"split {split!r}: expected one of {sorted(datasets)}")
    device = resolve_device(config.train.device)
    model = model.to(device)
    loader = make_loader(datasets[split], run_batch_size(config), shuffle=False, seed=config.seed,
                         num_workers=config.train.num_workers,
                         bucket_by_length=config.train.bucket_by_length)
    _, pred, y = evaluate(model, loader, config, device)
    return regression_metrics(config.dataset, pred, y)


def evaluate_checkpoint(path: str | os.PathLike | dict, config: ExperimentConfig, split: str = "test",
                        fmt: str = "auto") -> dict:
    """Metrics of a released or emtlib checkpoint on `split` of `config`'s data (see evaluate_model)."""
    return evaluate_model(load_checkpoint(path, config, fmt), config, split)
