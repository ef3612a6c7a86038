"""Per-method training mechanics that `emtlib.train.fit` runs: one small object per run.

`fit` only knows this interface (`make_procedure(cfg, model, device, train_labels)`):

    proc.batch_size, proc.early_stop, proc.key     loader batch size, patience, validation term minimised
    proc.make_optimization() -> (optimizers, schedulers)
    proc.train_epoch(loader, epoch, desc) -> {term: mean over batches}   (always has 'loss')
    proc.eval_batch(batch) -> ({term: float}, pred (B,))                 (eval mode, no grad)
    proc.end_epoch(valid_terms)                                          schedulers on the valid key

EMT / EMT-DLFR keep the released protocol (`emtlib.train`; `EMTProcedure` wraps it unchanged).
The baselines follow their original trainers (docs/baselines.md), all on the INCOMPLETE view for
training, validation and test (docs/baselines.md#protocol-in-the-incomplete-setting):

    method    optimiser(s)                        epoch                                      clip               scheduler
    tfn, lmf  module.make_optimizer               zero/backward/step per batch               -                  -
    mult      Adam                                accumulate 8, double step (faithful,       value 0.8          plateau(valid L1)
                                                  authors' trainer)
    tfr_net   Adam, 3 groups                      accumulate 4, double step (faithful),      value 0.8          plateau(valid L1)
                                                  generation loss from epoch 2
    misa      one Adam over all                   accumulate 2, MISA loss                    value, after       -
                                                                                             every backward
    self_mm   Adam, 5 groups                      accumulate 4, loss on the label bank's     -                  -
                                                  labels; per batch bank.update_labels
                                                  (epoch >= 2), update_features, centres
    mmim      MMILB Adam + main Adam              stage 1 (MMILB) then stage 2 (main),       norm 1.0, all      plateau(valid L1) on main
                                                  zero_grad every batch                      parameters

Accumulation follows the released counters (`accumulation_step_schedule`): gradients of
`update_epochs` batches are summed before a step and a trailing partial group is thrown away.
Validation key ('loss' in the valid terms) is the task loss of the prediction: L1, MSE for MISA
(docs/baselines.md#shared-mechanics); early stopping uses each preset's `early_stop` (TFR-Net 6,
the others 8).
"""
from __future__ import annotations

from collections import defaultdict

import torch
from .progress import tqdm

from .config import ExperimentConfig
from .runtime import autocast, resolve_precision, to_device


# ---- helpers ---------------------------------------------------------------------------------

def _floats(terms: dict) -> dict[str, float]:
    return {k: float(v.detach()) if torch.is_tensor(v) else float(v) for k, v in terms.items()}


def _l1(pred: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
    return (pred.float().view(-1) - labels.float().view(-1)).abs().mean()


def accumulation_step_schedule(n_batches: int, update_epochs: int, double_step: bool
                               ) -> list[tuple[bool, int]]:
    """Per batch of one epoch: (zero_grad before the batch's forward, number of optimizer.step()
    after its backward), exactly as the original trainers do it.

    A counter starts at `update_epochs`; `zero_grad` runs when it equals `update_epochs`; each batch
    decrements it; at 0 a step runs and the counter resets. The step after the batch loop only fires
    when the counter is 0, which never happens, so the batches of a trailing partial group are
    thrown away by the next epoch's zero_grad (docs/training.md#gradient-accumulation). With
    `double_step` every batch also steps once (with the still-accumulating gradient), so the
    boundary batch steps twice and the trailing partial group still takes its per-batch steps.
    """
    if n_batches < 0 or update_epochs < 1:
        raise ValueError(f"need n_batches >= 0 and update_epochs >= 1, got {n_batches}, {update_epochs}")
    schedule, left = [], update_epochs
    for _ in range(n_batches):
        zero = left == update_epochs
        left -= 1
        steps = 1 if double_step else 0
        if left == 0:
            steps += 1
            left = update_epochs
        schedule.append((zero, steps))
    return schedule


class _Sums:
    """Running per-term sums -> means."""

    def __init__(self):
        self.sums: dict[str, float] = defaultdict(float)
        self.n = 0

    def add(self, terms: dict[str, float]) -> None:
        for k, v in terms.items():
            self.sums[k] += v
        self.n += 1

    def means(self) -> dict[str, float]:
        return {k: v / max(self.n, 1) for k, v in self.sums.items()}


# ---- the interface ---------------------------------------------------------------------------

class Procedure:
    """Base class: one run's optimisation state and its per-method epoch / evaluation."""

    key = "loss"

    def __init__(self, cfg: ExperimentConfig, model: torch.nn.Module, device: torch.device):
        self.cfg, self.model, self.device = cfg, model, device
        self.precision = resolve_precision(cfg.train.precision, device)  # 'fp32' or 'bf16'
        self.quiet = cfg.train.quiet
        self.optimizers: list = []
        self.schedulers: list = []

    batch_size: int
    early_stop: int

    def make_optimization(self) -> tuple[list, list]:
        raise NotImplementedError

    def train_epoch(self, loader, epoch: int, desc: str = "") -> dict[str, float]:
        raise NotImplementedError

    def forward_eval(self, batch: dict) -> tuple[dict, torch.Tensor]:
        raise NotImplementedError

    @torch.no_grad()
    def eval_batch(self, batch: dict) -> tuple[dict[str, float], torch.Tensor]:
        """Terms and prediction of one batch (already on the device), in eval mode."""
        with autocast(self.device, self.precision):
            terms, pred = self.forward_eval(batch)
        return _floats(terms), pred

    def end_epoch(self, valid_terms: dict[str, float]) -> None:
        """ReduceLROnPlateau schedulers step on the validation key."""
        for s in self.schedulers:
            s.step(valid_terms[self.key])

    def _bar(self, loader, desc):
        return tqdm(loader, desc=desc, leave=False, disable=self.quiet)


# ---- the baselines ---------------------------------------------------------------------------

class AccumulatingProcedure(Procedure):
    """The released MMSA / authors' loop: counter-based accumulation, optional double step and
    clip-after-backward; subclasses give the loss (and any per-batch bookkeeping)."""

    update_epochs = 1
    double_step = False
    clip_value: float | None = None

    def __init__(self, cfg, model, device):
        super().__init__(cfg, model, device)
        self.h = cfg.baseline
        self.batch_size = self.h.batch_size
        self.early_stop = self.h.early_stop

    def train_loss(self, batch: dict, epoch: int) -> tuple[torch.Tensor, dict, dict]:
        """-> (loss to backward, its terms, the model's outputs)."""
        raise NotImplementedError

    def after_backward(self, batch: dict, outputs: dict, epoch: int) -> None:
        """Per-batch bookkeeping between backward and step (Self-MM's label bank)."""

    def clip(self) -> None:
        if self.clip_value is not None:
            torch.nn.utils.clip_grad_value_([p for p in self.model.parameters() if p.requires_grad],
                                            self.clip_value)

    def train_epoch(self, loader, epoch: int, desc: str = "") -> dict[str, float]:
        self.model.train()
        (opt,) = self.optimizers
        sums = _Sums()
        schedule = accumulation_step_schedule(len(loader), self.update_epochs, self.double_step)
        for batch, (zero, steps) in zip(self._bar(loader, desc), schedule):
            if zero:
                opt.zero_grad(set_to_none=True)
            batch = to_device(batch, self.device)
            with autocast(self.device, self.precision):
                loss, terms, out = self.train_loss(batch, epoch)
            loss.backward()
            self.clip()
            self.after_backward(batch, out, epoch)
            for _ in range(steps):
                opt.step()
            sums.add(_floats(terms))
        # a trailing partial group is thrown away (docs/training.md#gradient-accumulation)
        opt.zero_grad(set_to_none=True)
        return sums.means()


class ModelLossProcedure(AccumulatingProcedure):
    """TFN and LMF (MMSA's plain loop: zero, backward, step on every batch): the model's own loss,
    the module's `make_optimizer`, validation on the L1 of `pred`."""

    def __init__(self, cfg, model, device):
        super().__init__(cfg, model, device)
        from .models.baselines import lmf, mult, tfn, tfr_net

        self.module = {"tfn": tfn, "lmf": lmf, "mult": mult, "tfr_net": tfr_net}[cfg.method]

    def make_optimization(self):
        opt, sched = self.module.make_optimizer(self.model, self.h)
        self.optimizers, self.schedulers = [opt], [sched] if sched is not None else []
        return self.optimizers, self.schedulers

    def train_loss(self, batch, epoch):
        out = self.model(batch)
        total, terms = self.model.loss(out, batch, epoch)  # TFR-Net: + generation from epoch 2
        terms = {"loss": terms.pop("total"), **terms}
        return total, terms, out

    def forward_eval(self, batch):
        out = self.model(batch)
        l1 = _l1(out["pred"], batch["labels"])  # the released validation Loss (L1 of pred only)
        return {"loss": l1, "pred_l1": l1}, out["pred"]


class DoubleStepProcedure(ModelLossProcedure):
    """MulT and TFR-Net: accumulation over `update_epochs` batches, clip_grad_value_ after every
    backward and, with faithful quirks and `double_step`, the authors' double step: a step after
    every batch and another at each group boundary."""

    def __init__(self, cfg, model, device):
        super().__init__(cfg, model, device)
        self.update_epochs = self.h.update_epochs
        self.double_step = self.h.faithful_quirks and self.h.double_step
        self.clip_value = self.h.grad_clip


class MISAProcedure(AccumulatingProcedure):
    """MISA: one Adam over everything, accumulation 2, clip_grad_value_ after every backward."""

    def __init__(self, cfg, model, device):
        super().__init__(cfg, model, device)
        self.update_epochs = self.h.update_epochs

    def make_optimization(self):
        from .models.baselines import misa

        self.optimizers, self.schedulers = [misa.make_optimizer(self.model, self.h)], []
        return self.optimizers, self.schedulers

    def clip(self):
        from .models.baselines import misa

        misa.clip_gradients(self.model, self.h)

    def train_loss(self, batch, epoch):
        out = self.model(batch)
        terms = self.model.loss(out, batch)
        return terms["total"], {"loss": terms.pop("total"), **terms}, out

    def forward_eval(self, batch):
        out = self.model(batch)
        mse = self.model.valid_loss(out, batch)  # the released validation Loss: MSE
        return {"loss": mse, "pred_l1": _l1(out["pred"], batch["labels"])}, out["pred"]


class SelfMMProcedure(AccumulatingProcedure):
    """Self-MM: five Adam groups, accumulation 4, the multi-task loss on generated labels."""

    def __init__(self, cfg, model, device, train_labels: torch.Tensor | None):
        super().__init__(cfg, model, device)
        from .models.baselines.self_mm import SelfMMLabelBank

        self.update_epochs = self.h.update_epochs
        self.bank = None if train_labels is None else \
            SelfMMLabelBank.for_model(model, torch.as_tensor(train_labels), device=device)

    def make_optimization(self):
        from .models.baselines import self_mm

        self.optimizers, self.schedulers = [self_mm.make_optimizer(self.model, self.h)], []
        return self.optimizers, self.schedulers

    def train_loss(self, batch, epoch):
        out = self.model(batch)
        terms = self.model.loss(out, self.bank.labels(batch["index"]))
        return terms["total"], {"loss": terms.pop("total"), **terms}, out

    def after_backward(self, batch, outputs, epoch):
        idx = batch["index"]
        self.bank.update_labels(idx, outputs["features"], epoch)  # a no-op in epoch 1
        self.bank.update_features(idx, outputs["features"])
        self.bank.update_centres()

    def train_epoch(self, loader, epoch, desc=""):
        if self.bank is None:
            raise ValueError("Self-MM trains on generated labels: build its procedure with the train "
                             "split's labels (make_procedure(..., train_labels=...))")
        terms = super().train_epoch(loader, epoch, desc)
        y_m = self.bank.label_map["M"]
        for s in ("T", "A", "V"):  # how far the generated labels have moved (diagnostics)
            y = self.bank.label_map[s]
            terms[f"label_gap_{s}"] = float((y - y_m).abs().mean())
            terms[f"label_absmax_{s}"] = float(y.abs().max())
        return terms

    def forward_eval(self, batch):
        out = self.model(batch)
        l1 = self.model.valid_loss(out, batch)
        return {"loss": l1, "pred_l1": l1}, out["pred"]


def stage1_limit(dataset: str, faithful_quirks: bool = True) -> tuple[str, float] | None:
    """MMIM's stage-1 batch limit: None (every batch), or ('first', n) / ('fraction', f) of them.

    The released rule breaks on MOSEI at i_batch / len(loaders) >= 0.5, where len() is taken of
    the loader DICT (3 splits): stage 1 stops after 2 batches (faithful); the intent is half of
    the train batches."""
    if dataset != "mosei":
        return None
    return ("first", 2) if faithful_quirks else ("fraction", 0.5)


class MMIMProcedure(Procedure):
    """MMIM: every epoch stage 1 (MMILB optimizer) then stage 2 (main optimizer), see mmim.py."""

    def __init__(self, cfg, model, device):
        super().__init__(cfg, model, device)
        self.h = cfg.baseline
        self.batch_size, self.early_stop = self.h.batch_size, self.h.early_stop
        self.stage1_rule = stage1_limit(cfg.dataset, self.h.faithful_quirks)

    def make_optimization(self):
        from .models.baselines import mmim

        opt_mmilb, opt_main, sched = mmim.make_optimizers(self.model, self.h)  # re-initialises
        self.optimizers, self.schedulers = [opt_mmilb, opt_main], [sched]
        return self.optimizers, self.schedulers

    def _stage1_done(self, i: int, n: int) -> bool:
        if self.stage1_rule is None:
            return False
        kind, v = self.stage1_rule
        return i >= v if kind == "first" else i / n >= v

    def train_epoch(self, loader, epoch, desc=""):
        from .models.baselines import mmim

        opt_mmilb, opt_main = self.optimizers
        s1, s2 = _Sums(), _Sums()
        n = len(loader)
        for i, batch in enumerate(self._bar(loader, f"{desc} stage 1")):
            if self._stage1_done(i, n):
                break
            with autocast(self.device, self.precision):
                s1.add(mmim.stage1_step(self.model, to_device(batch, self.device), opt_mmilb))
        memory = mmim.MMIMMemory(self.h.mem_size)
        for i, batch in enumerate(self._bar(loader, f"{desc} stage 2")):
            with autocast(self.device, self.precision):
                s2.add(mmim.stage2_step(self.model, to_device(batch, self.device), opt_main, memory, i))
        self.model.zero_grad(set_to_none=True)
        terms = s2.means()
        terms = {"loss": terms.pop("total"), **terms}
        terms.update({f"stage1_{k}": v for k, v in s1.means().items()})
        return terms

    def forward_eval(self, batch):
        out = self.model(batch)
        l1 = self.model.valid_loss(out, batch)
        return {"loss": l1, "pred_l1": l1}, out["pred"]


def make_baseline_procedure(cfg: ExperimentConfig, model, device, train_labels=None) -> Procedure:
    """The procedure of baseline `cfg.method` (train_labels: the train split's labels, Self-MM)."""
    m = cfg.method
    if m in ("tfn", "lmf"):
        return ModelLossProcedure(cfg, model, device)
    if m in ("mult", "tfr_net"):
        return DoubleStepProcedure(cfg, model, device)
    if m == "misa":
        return MISAProcedure(cfg, model, device)
    if m == "self_mm":  # without train labels: evaluation only (no label bank)
        return SelfMMProcedure(cfg, model, device, train_labels)
    if m == "mmim":
        return MMIMProcedure(cfg, model, device)
    raise ValueError(f"{m!r} is not a baseline")


TASK_LOSS_TERM = {"tfn": "pred_l1", "lmf": "pred_l1", "mult": "pred_l1", "tfr_net": "pred_l1",
                  "misa": "task", "self_mm": "M", "mmim": "task"}
"""The task term of each baseline's training-loss history: the totals of TFR-Net, Self-MM and MMIM
gain terms between epochs (generation loss from epoch 2, moved labels, the entropy term), so
"does training reduce the loss" compares this term."""


__all__ = ["Procedure", "AccumulatingProcedure", "ModelLossProcedure", "DoubleStepProcedure",
           "MISAProcedure", "SelfMMProcedure", "MMIMProcedure", "make_baseline_procedure",
           "accumulation_step_schedule"]
