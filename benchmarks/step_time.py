"""Training step time, epoch time and peak memory of emtlib, next to the authors' released code.

For each mode and each emtlib setting (precision / attention kernel / length bucketing / text
activation checkpointing / text packing), one fresh process builds EMT-DLFR in the MOSI paper
configuration with a random-weight bert-base (`transformers.BertModel(BertConfig())`, nothing is downloaded),
and times training steps on the SAME batches for every setting: forward of both views
(complete and incomplete, missing rate 0.5), all losses, backward, Adam step, host-to-device
copy included. With `--released PATH` (a checkout of github.com/sunlicai/EMT-DLFR; the project
never copies its code, it is imported from PATH at run time) the released model runs the same
batches, converted to the released batch format, through the released trainer's own training
loop (`trains/missingTask/EMT_DLFR.py`, `do_train`) in its own fresh processes, and the table
gives the ratios emtlib / released.

Protocol (the defaults): batch 32; the first 4 batches of the shuffled training split of the
synthetic MOSI stand-in (`paper_config('mosi', 'emt_dlfr', 0.5)`, `load_data`, `make_datasets`,
`make_loader`: real-size split, realistic lengths); per process 1 warm-up step then 4 timed
steps (batch j of the sequence is batch j mod 4, so the timed steps are one cycle); 3 rounds; sides and settings alternate
within a round. Reported:

    step (s)    mean step over one cycle of the 4 batches (they differ in length, so in cost),
                median over the 3 rounds
    epoch (s)   step x ceil(1284 / batch) (MOSI's training split); with --epoch the measured
                time of one real epoch over the whole split (median over rounds), with the
                trainers' gradient accumulation (an Adam step every 4 batches on both sides)
    peak        CPU: peak resident set size of the fresh process (ru_maxrss); CUDA:
                torch.cuda.max_memory_allocated over the process (weights, Adam state,
                activations)

Modes (--modes):

    bert      with BERT: fine-tuned, forward and backward, as in training
    fixed     without BERT: the text encoder is replaced on both sides by a module returning a
              fixed precomputed tensor of the right shape (B, L, 768), so BERT neither runs
              forward nor backward (emtlib gets L = the batch's longest text, the released code
              L = 50, as each pads its text)
    padded    with BERT, every sample at the full padded length (text 50, audio 375, vision
              500; `emtlib.complexity.random_batch`, random content)

Settings (--settings): '+'-joined tokens, applied with `emtlib.config.apply_overrides`:
fp32 | bf16 | auto (train.precision: bf16 autocast around the forward pass, losses in float32;
auto = bf16 where the device computes it natively), explicit | fused (model.attention), bucket
(train.bucket_by_length=true: the batches come from the length-bucketing loader), ckpt
(model.text_checkpointing=true), pack (model.text_packing=true: BERT on the valid tokens only,
packed; the paper profile's default; without it the text is padded as released), lstm
(model.lstm_kernel=fused: the audio / vision LSTMs over the padded batch in one fused call; the
paper profile's default; without it they run on packed sequences as released), adam
(train.adam_kernel=fused: one pass over each tensor; the paper profile's default; without it the
'foreach' Adam, bit for bit the released arithmetic), drop (model.dropout_kernel=keep_mask: every
dropout mask, BERT's included, from 16-bit draws and kept as bool on a CPU; the paper profile's
default; without it PyTorch's dropout as released). The released side always runs as
released (fp32, its own attention).

    python benchmarks/step_time.py --released /path/to/EMT-DLFR              # GPU: the full story
    python benchmarks/step_time.py --device cpu --batch-size 4 --steps 1 --rounds 1 \\
        --modes bert --settings fp32+explicit --released /path/to/EMT-DLFR   # a quick CPU check
    python benchmarks/step_time.py --modes bert fixed padded --settings fp32+explicit bf16+fused
    python benchmarks/step_time.py --released /path/to/EMT-DLFR --epoch --json step_time.json

Getting the released code (no work tree needed beyond this):

    git clone https://github.com/sunlicai/EMT-DLFR /path/to/EMT-DLFR
    pip install einops scikit-learn        # its imports; or pip install --target DIR and PYTHONPATH=DIR

Timings belong here, never in test assertions.
"""
from __future__ import annotations

import argparse
import dataclasses
import json
import math
import multiprocessing as mp
import os
import statistics
import sys
import tempfile
import time
import traceback
from dataclasses import dataclass, field
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

MOSI_TRAIN = 1284
"""Training samples of CMU-MOSI (epoch = ceil(1284 / batch) steps)."""
MISSING_RATE = 0.5
MODES = ("bert", "fixed", "padded")
MODE_TITLES = {"bert": "with BERT", "fixed": "without BERT (fixed text features)",
               "padded": "with BERT, every sample at the full padded length (50 / 375 / 500)"}
DEFAULT_SETTINGS = ("fp32+explicit", "fp32+fused+pack+lstm+adam+drop",
                    "bf16+fused+pack+lstm+adam+drop", "bf16+fused+pack+lstm+adam+drop+ckpt",
                    "bf16+fused+lstm+adam+drop+bucket")
PRECISIONS = ("auto", "fp32", "bf16")
ATTENTIONS = ("fused", "explicit")


# ---- settings --------------------------------------------------------------------------------

@dataclass(frozen=True)
class Setting:
    """One emtlib row: the tokens of --settings."""

    name: str
    precision: str = "fp32"
    attention: str | None = None  # None: emtlib's default
    bucket: bool = False
    checkpointing: bool = False
    packing: bool = False
    fused_lstm: bool = False
    fused_adam: bool = False
    keep_mask_dropout: bool = False

    @classmethod
    def parse(cls, text: str) -> "Setting":
        kw: dict = {}
        for tok in text.lower().split("+"):
            if tok in PRECISIONS:
                kw["precision"] = tok
            elif tok in ATTENTIONS:
                kw["attention"] = tok
            elif tok in ("bucket", "bucketing"):
                kw["bucket"] = True
            elif tok in ("ckpt", "checkpointing"):
                kw["checkpointing"] = True
            elif tok in ("pack", "packing"):
                kw["packing"] = True
            elif tok == "lstm":
                kw["fused_lstm"] = True
            elif tok == "adam":
                kw["fused_adam"] = True
            elif tok == "drop":
                kw["keep_mask_dropout"] = True
            else:
                raise argparse.ArgumentTypeError(
                    f"setting {text!r}: unknown token {tok!r}; tokens are {'|'.join(PRECISIONS)}, "
                    f"{'|'.join(ATTENTIONS)}, bucket, ckpt, pack, lstm, adam, drop (joined with '+', e.g. "
                    "bf16+fused+pack+lstm+adam+drop)")
        return cls(name=text, **kw)

    def overrides(self) -> list[str]:
        """The setting as emtlib config overrides."""
        out = [f"train.precision={self.precision}", f"train.bucket_by_length={str(self.bucket).lower()}",
               f"model.text_checkpointing={str(self.checkpointing).lower()}",
               f"model.text_packing={str(self.packing).lower()}",
               f"model.lstm_kernel={'fused' if self.fused_lstm else 'packed'}",
               f"train.adam_kernel={'fused' if self.fused_adam else 'foreach'}",
               f"model.dropout_kernel={'keep_mask' if self.keep_mask_dropout else 'native'}"]
        if self.attention is not None:
            out.append(f"model.attention={self.attention}")
        return out


# ---- batches (parent process) ------------------------------------------------------------------

def emtlib_config(overrides=()):
    """MOSI paper configuration at missing rate 0.5 with a random-weight bert-base."""
    from emtlib.config import apply_overrides, paper_config

    cfg = paper_config("mosi", "emt_dlfr", MISSING_RATE)
    return apply_overrides(cfg, ["model.text_encoder=bert-base-uncased", *overrides])


def train_loader(dataset, batch_size: int, seed: int, bucket: bool, drop_last: bool = False):
    """emtlib's training loader (shuffled), length-bucketed when `bucket`."""
    from emtlib.data.dataset import make_loader

    return make_loader(dataset, batch_size, shuffle=True, seed=seed, drop_last=drop_last,
                       bucket_by_length=bucket)


def prepare_batches(args, out_dir: Path, bucket: bool) -> dict[str, Path]:
    """Write the batches every process times, per mode, to `out_dir`; returns mode -> file.

    File content: {'steps': [n batches], 'epoch': [all batches of one epoch] or None}, each
    batch in emtlib's format on the CPU.
    """
    import torch

    from emtlib.complexity import random_batch
    from emtlib.data.dataset import make_datasets
    from emtlib.data.sources import load_data
    from emtlib.train import _single_sample_tail

    cfg = emtlib_config([f"data.synthetic_scale={args.scale}"])
    train = make_datasets(load_data(cfg), cfg)["train"]
    # as emtlib's fit: a trailing batch of one sample is dropped (BatchNorm; the released code crashes)
    drop_last = _single_sample_tail(len(train), args.batch_size)
    files = {}
    for name, bucketed in (("plain", False), ("bucket", True)):
        if bucketed and not bucket:
            continue
        loader = train_loader(train, args.batch_size, args.seed, bucketed, drop_last)
        batches = []
        for b in loader:
            batches.append(b)
            if not args.epoch and len(batches) == args.batches:
                break
        if len(batches) < args.batches:
            raise SystemExit(f"the training split gives {len(batches)} batches of {args.batch_size}, "
                             f"fewer than --batches {args.batches}: raise --scale")
        payload = {"steps": batches[:args.batches], "epoch": batches if args.epoch else None}
        files[name] = out_dir / f"{name}.pt"
        torch.save(payload, files[name])
    padded = [random_batch(cfg.model, args.batch_size, MISSING_RATE, seed=args.seed + i)
              for i in range(args.batches)]
    files["padded"] = out_dir / "padded.pt"
    torch.save({"steps": padded, "epoch": None}, files["padded"])
    return files


def describe(batches: list[dict]) -> str:
    """Longest text tokens / audio / vision frames of each batch."""
    parts = [f"{int(b['text'][:, 1].sum(1).max())}/{int(b['audio_lengths'].max())}/"
             f"{int(b['vision_lengths'].max())}" for b in batches]
    return ", ".join(parts)


# ---- what a process measures -----------------------------------------------------------------

@dataclass
class Measurement:
    """What one fresh process measured."""

    side: str  # 'emtlib' or 'released'
    mode: str
    setting: str
    round: int
    step_s: list[float] = field(default_factory=list)  # every timed step
    epoch_s: float | None = None  # a measured real epoch (--epoch)
    peak_bytes: int = 0
    params_m: float = 0.0  # all parameters (M), both sides count the same way
    error: str | None = None


def _sync(device) -> None:
    import torch

    if device.type == "cuda":
        torch.cuda.synchronize(device)


def _now(device) -> float:
    _sync(device)
    return time.perf_counter()


def _peak_bytes(device) -> int:
    import resource

    import torch

    if device.type == "cuda":
        return int(torch.cuda.max_memory_allocated(device))
    return int(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss) * 1024  # Linux: KiB


def _setup(job: dict):
    import torch

    if job["threads"]:
        torch.set_num_threads(job["threads"])
    torch.manual_seed(job["seed"])
    return torch.device(job["device"])


def fixed_text_encoder(batch_size: int, length: int, released: bool, seed: int):
    """The 'fixed' mode's text encoder: no parameters, returns a slice of one random
    (batch_size, length, 768) tensor made once (no BERT forward, no BERT backward).

    released: called as the released BertTextEncoder, `(text (B, 3, L)) -> (B, L, 768)`;
    otherwise as emtlib calls a BertModel, `(input_ids=..., ...) -> .last_hidden_state`.
    """
    from types import SimpleNamespace

    import torch
    import torch.nn as nn
    from transformers import BertConfig

    class FixedTextFeatures(nn.Module):
        def __init__(self):
            super().__init__()
            self.config = BertConfig()  # emtlib reads config.hidden_size (768)
            g = torch.Generator().manual_seed(seed)
            self.register_buffer("table", torch.randn(batch_size, length, self.config.hidden_size,
                                                      generator=g))

        def forward(self, text=None, input_ids=None, **_):
            if released:
                return self.table[:text.shape[0], :text.shape[2]]
            return SimpleNamespace(last_hidden_state=self.table[:input_ids.shape[0], :input_ids.shape[1]])

    return FixedTextFeatures()


def measure_emtlib(job: dict) -> Measurement:
    """One emtlib process: build, warm up, time the steps (and the epoch), report the peak.

    Through emtlib's own training code: the run's optimizer (EMTProcedure), its autocast and
    float32 losses, and `emtlib.train.train_epoch` for the epoch."""
    import torch

    from emtlib.losses import total_loss
    from emtlib.models import build_model
    from emtlib.runtime import autocast, resolve_precision, to_device, to_float
    from emtlib.train import make_procedure, train_epoch

    device = _setup(job)
    overrides = job["overrides"] + ["train.quiet=true"]
    if job["mode"] == "fixed":  # no text encoder to checkpoint or pack (the last override wins)
        overrides += ["model.text_checkpointing=false", "model.text_packing=false"]
    cfg = emtlib_config(overrides)
    data = torch.load(job["batches"], weights_only=False)
    text_encoder = None
    if job["mode"] == "fixed":
        text_encoder = fixed_text_encoder(job["batch_size"], cfg.model.text_len, False, job["seed"])
    model = build_model(cfg, pretrained_text=False, text_encoder=text_encoder).to(device)
    model.train()
    proc = make_procedure(cfg, model, device)
    (optimizer,), _ = proc.make_optimization()
    precision = resolve_precision(cfg.train.precision, device)

    def forward_backward(batch):
        batch = to_device(batch, device)
        with autocast(device, precision):
            out = model(batch)
        loss, _ = total_loss(to_float(out), batch, cfg.loss, cfg.method)
        loss.backward()

    m = Measurement("emtlib", job["mode"], job["setting"], job["round"],
                    params_m=sum(p.numel() for p in model.parameters()) / 1e6)
    steps = data["steps"]
    for j in range(job["warmup"] + job["steps"]):
        t0 = _now(device)
        optimizer.zero_grad(set_to_none=True)
        forward_backward(steps[j % len(steps)])
        optimizer.step()
        if j >= job["warmup"]:
            m.step_s.append(_now(device) - t0)
    if data["epoch"] is not None:  # the real epoch: accumulation, autocast, float32 losses
        t0 = _now(device)
        train_epoch(model, data["epoch"], optimizer, cfg, device)
        m.epoch_s = _now(device) - t0
    m.peak_bytes = _peak_bytes(device)
    return m


# ---- the released side -----------------------------------------------------------------------

class _Done(Exception):
    """Raised by the timed batch feed to leave the released trainer's endless epoch loop."""


class _TimedFeed:
    """A 'train' dataloader for the released `do_train`: yields the given batches and stamps the
    time (device synchronised) at each request; after the last batch it raises _Done."""

    def __init__(self, batches: list[dict], device):
        self.batches, self.device, self.stamps = batches, device, []

    def __len__(self) -> int:
        return len(self.batches)

    def __iter__(self):
        for b in self.batches:
            self.stamps.append(_now(self.device))
            yield b
        self.stamps.append(_now(self.device))
        raise _Done


def released_batch(b: dict, text_len: int, audio_len: int, vision_len: int) -> dict:
    """An emtlib batch in the released loader's format (data/load_data.py, MMDataset.__getitem__
    after default collation): text padded to `text_len` as float, audio / vision padded back to
    the file's lengths, validity and missing masks as int (audio, vision) / float (text) tensors,
    labels under {'M': (B, 1)}."""
    import torch
    import torch.nn.functional as F

    def pad_to(x, T, dim):
        pad = [0, 0] * (x.dim() - 1 - dim) + [0, T - x.shape[dim]]
        return F.pad(x, pad)

    out = {"text": pad_to(b["text"], text_len, 2).float(), "text_m": pad_to(b["text_m"], text_len, 2).float(),
           "text_missing_mask": pad_to(b["text_kept"].float(), text_len, 1)}
    for name, T in (("audio", audio_len), ("vision", vision_len)):
        lengths = b[f"{name}_lengths"].long()
        valid = (torch.arange(T)[None, :] < lengths[:, None]).long()  # (B, T)
        out[name] = pad_to(b[name].float(), T, 1)
        out[f"{name}_m"] = pad_to(b[f"{name}_m"].float(), T, 1)
        out[f"{name}_lengths"] = lengths
        out[f"{name}_mask"] = valid
        out[f"{name}_missing_mask"] = pad_to(b[f"{name}_kept"].long(), T, 1) * valid
    out.update(index=b["index"], id=b["id"], labels={"M": b["labels"].float().view(-1, 1)})
    return out


def released_args(device, update_epochs: int | None):
    """The released run's arguments for EMT-DLFR on MOSI at rate 0.5, built the way run_once.py
    does: its parse_args defaults, missing_rate, seeds, then ConfigRegression."""
    from config.config_regression import ConfigRegression  # the released package, from PATH

    ns = argparse.Namespace(
        need_task_scheduling=False, is_tune=False, train_mode="regression", modelName="emt-dlfr",
        datasetName="mosi", num_workers=0, model_save_dir=tempfile.gettempdir(),
        res_save_dir=tempfile.gettempdir(), gpu_ids=[], missing_rates=[MISSING_RATE], seed=1111,
        num_seeds=None, exp_name="", diff_missing=None, KeyEval="Loss", save_model=False,
        use_normalized_data=False)
    ns.seeds = [111, 1111, 11111]
    ns.num_seeds = len(ns.seeds)
    ns.missing_rate = (MISSING_RATE,) * 3
    args = ConfigRegression(ns).get_config()
    args.seed = args.seeds[0]
    args.cur_time = 1
    args.model_save_path = os.path.join(tempfile.gettempdir(), "emt-dlfr-benchmark-unused.pth")
    args.gpu_ids = [device.index or 0] if device.type == "cuda" else []
    args.device = device
    if update_epochs is not None:
        args.update_epochs = update_epochs
    return args


def _patch_released_bert() -> None:
    """The released BertTextEncoder loads a tokenizer and BERT from `<data_root>/pretrained_berts`;
    make both names in its module build nothing / a random-weight bert-base instead."""
    import transformers

    import models.subNets.BertTextEncoder as bte  # the released module, from PATH

    class _NoTokenizer:
        @staticmethod
        def from_pretrained(*a, **k):
            return None  # only used by its from_text / get_tokenizer, never in training

    class _RandomBert:
        @staticmethod
        def from_pretrained(*a, **k):
            return transformers.BertModel(transformers.BertConfig())

    bte.BertTokenizer, bte.BertModel = _NoTokenizer, _RandomBert


def measure_released(job: dict) -> Measurement:
    """One released process: its model (AMIO -> EMT_DLFR) and its trainer's do_train, fed the
    same batches; step times are the intervals between the trainer's batch requests."""
    import torch

    sys.path.insert(0, str(job["released"]))
    device = _setup(job)
    shapes = (50, 375, 500)  # MOSI unaligned_50.pkl: text 50, audio 375, vision 500
    try:
        _patch_released_bert()
        from models.AMIO import AMIO
        from trains.ATIO import ATIO
    except ModuleNotFoundError as e:
        raise RuntimeError(f"the released code imports {e.name!r}, not installed here: pip install "
                           f"{e.name} (it needs einops and scikit-learn)") from e
    if job["mode"] == "fixed":  # EMT_DLFR builds the fixed module instead of BertTextEncoder
        # (the module itself: its package rebinds the attribute 'EMT_DLFR' to the class)
        released_model = sys.modules["models.missingTask.EMT_DLFR"]
        released_model.BertTextEncoder = lambda **_: fixed_text_encoder(
            job["batch_size"], shapes[0], True, job["seed"])

    data = torch.load(job["batches"], weights_only=False)
    args = released_args(device, update_epochs=1)  # an Adam step every batch
    model = AMIO(args).to(device)
    if job["mode"] == "fixed" and any(True for _ in model.Model.text_model.parameters()):
        raise RuntimeError("fixed mode: the released model still holds a BERT")
    m = Measurement("released", job["mode"], job["setting"], job["round"],
                    params_m=sum(p.numel() for p in model.parameters()) / 1e6)
    steps = [released_batch(b, *shapes) for b in data["steps"]]
    feed = _TimedFeed([steps[j % len(steps)] for j in range(job["warmup"] + job["steps"])], device)
    trainer = ATIO().getTrain(args)
    try:
        trainer.do_train(model, {"train": feed})
    except _Done:
        pass
    s = feed.stamps
    m.step_s = [s[i + 1] - s[i] for i in range(job["warmup"], len(s) - 1)]
    if data["epoch"] is not None:  # a real epoch with its accumulation (update_epochs = 4)
        trainer.args.update_epochs = released_args(device, None).update_epochs
        feed = _TimedFeed([released_batch(b, *shapes) for b in data["epoch"]], device)
        try:
            trainer.do_train(model, {"train": feed})
        except _Done:
            pass
        m.epoch_s = feed.stamps[-1] - feed.stamps[0]
    m.peak_bytes = _peak_bytes(device)
    return m


# ---- processes and the table -----------------------------------------------------------------

def _child(job: dict, q) -> None:
    try:
        m = (measure_released if job["side"] == "released" else measure_emtlib)(job)
    except BaseException:  # report, never hang the parent
        m = Measurement(job["side"], job["mode"], job["setting"], job["round"],
                        error=traceback.format_exc())
    q.put(dataclasses.asdict(m))


def run_fresh(job: dict) -> Measurement:
    """Run one job in a fresh (spawned) interpreter."""
    ctx = mp.get_context("spawn")
    q = ctx.Queue()
    p = ctx.Process(target=_child, args=(job, q))
    saved = os.environ.get("TQDM_DISABLE")
    os.environ["TQDM_DISABLE"] = "1"  # the released trainer's progress bar (read at tqdm's import)
    try:
        p.start()
    finally:
        if saved is None:
            del os.environ["TQDM_DISABLE"]
        else:
            os.environ["TQDM_DISABLE"] = saved
    out = q.get()
    p.join()
    return Measurement(**out)


@dataclass
class Row:
    """One line of the table: all rounds of one side / mode / setting."""

    side: str
    mode: str
    setting: str
    step_s: float = math.nan
    epoch_s: float = math.nan
    peak_gb: float = math.nan
    params_m: float = math.nan
    measured_epoch: bool = False
    note: str = ""


def summarise(ms: list[Measurement], steps_per_epoch: int) -> Row:
    first = ms[0]
    row = Row(first.side, first.mode, first.setting)
    errors = [m.error for m in ms if m.error]
    if errors:
        row.note = "error: " + errors[0].strip().splitlines()[-1]
        return row
    # the batches differ in length (so in cost): a process's figure is its mean step over whole
    # cycles of the batches; the row's is the median over processes (rounds)
    row.step_s = statistics.median([statistics.fmean(m.step_s) for m in ms])
    epochs = [m.epoch_s for m in ms if m.epoch_s is not None]
    row.measured_epoch = bool(epochs)
    row.epoch_s = statistics.median(epochs) if epochs else row.step_s * steps_per_epoch
    row.peak_gb = max(m.peak_bytes for m in ms) / 1e9
    row.params_m = first.params_m
    return row


def print_table(rows: list[Row], mode: str, cuda: bool) -> None:
    mem = "GPU mem (GB)" if cuda else "peak RSS (GB)"
    print(f"\n== {MODE_TITLES[mode]}")
    w = max([22] + [len(r.setting) for r in rows])  # the setting column fits the longest name
    head = (f"{'side':8s}  {'setting':{w}s} {'params (M)':>10s} {'step (s)':>9s} {'epoch (s)':>10s} "
            f"{mem:>13s} | {'step':>6s} {'epoch':>6s} {'memory':>6s}  (emtlib / released)")
    print(head)
    print("-" * len(head))
    ref = next((r for r in rows if r.side == "released" and not math.isnan(r.step_s)), None)
    notes: list[str] = []
    for r in rows:
        if math.isnan(r.step_s):
            print(f"{r.side:8s}  {r.setting:{w}s} {r.note}")
            continue
        ratios = ""
        if ref is not None and r.side == "emtlib":
            ratios = (f"{r.step_s / ref.step_s:5.2f}x {r.epoch_s / ref.epoch_s:5.2f}x "
                      f"{r.peak_gb / ref.peak_gb:5.2f}x")
        epoch = f"{r.epoch_s:.1f}" + ("" if r.measured_epoch else "*")
        print(f"{r.side:8s}  {r.setting:{w}s} {r.params_m:10.1f} {r.step_s:9.3f} {epoch:>10s} "
              f"{r.peak_gb:13.2f} | {ratios}")
        notes += [n for n in r.note.split("; ") if n and n not in notes]
    for n in notes:
        print(f"  note: {n}")


def check_released(path: Path) -> Path:
    path = path.expanduser().resolve()
    need = ("models/missingTask/EMT_DLFR.py", "trains/missingTask/EMT_DLFR.py",
            "config/config_regression.py")
    missing = [n for n in need if not (path / n).is_file()]
    if missing:
        hint = (" (this looks like a bare git directory: extract a work tree with "
                f"`git --git-dir={path} archive HEAD | tar -x -C DIR`)") if (path / "HEAD").is_file() else ""
        raise SystemExit(f"--released {path}: not a checkout of sunlicai/EMT-DLFR, it lacks "
                         f"{', '.join(missing)}{hint}")
    return path


def main(argv=None) -> list[Row]:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--device", default="auto", help="auto | cpu | cuda | cuda:N")
    p.add_argument("--batch-size", type=int, default=32)
    p.add_argument("--batches", type=int, default=4, help="distinct batches the steps cycle through")
    p.add_argument("--warmup", type=int, default=1, help="untimed steps per process")
    p.add_argument("--steps", type=int, default=4,
                   help="timed steps per process (a multiple of --batches: whole cycles)")
    p.add_argument("--rounds", type=int, default=3, help="fresh processes per side / mode / setting")
    p.add_argument("--modes", nargs="+", default=["bert", "fixed"], choices=MODES)
    p.add_argument("--settings", nargs="+", default=list(DEFAULT_SETTINGS), type=Setting.parse,
                   metavar="SETTING", help="emtlib rows, e.g. fp32+explicit bf16+fused+bucket (see above)")
    p.add_argument("--released", type=Path, metavar="PATH",
                   help="checkout of github.com/sunlicai/EMT-DLFR: add its rows and the ratios")
    p.add_argument("--epoch", action="store_true",
                   help="also time one real epoch over the whole training split (slow on a CPU)")
    p.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                   help="extra emtlib override for every emtlib row (repeatable)")
    p.add_argument("--scale", type=float, default=1.0,
                   help="synthetic stand-in scale (1.0: MOSI's 1,284 training samples)")
    p.add_argument("--seed", type=int, default=0, help="loader shuffling, model initialisation")
    p.add_argument("--threads", type=int, default=0, help="torch CPU threads per process (0: default)")
    p.add_argument("--json", type=Path, metavar="PATH", help="also write every measurement as JSON")
    a = p.parse_args(argv)
    import torch

    device = a.device
    if device == "auto":
        device = "cuda" if torch.cuda.is_available() else "cpu"
    cuda = device.startswith("cuda")
    if cuda and not torch.cuda.is_available():
        raise SystemExit(f"--device {device}: no CUDA device here")
    released = check_released(a.released) if a.released else None
    if a.batch_size < 2:
        raise SystemExit("--batch-size must be >= 2 (SimSiam BatchNorms)")

    plans = [(s, s.overrides() + list(a.set)) for s in a.settings]  # the emtlib rows
    bucket = any(s.bucket for s in a.settings)
    steps_per_epoch = math.ceil(MOSI_TRAIN / a.batch_size)
    print(f"device={device}{'' if cuda else f' threads={a.threads or torch.get_num_threads()}'} "
          f"batch={a.batch_size} batches={a.batches} warmup={a.warmup} steps={a.steps} "
          f"rounds={a.rounds} missing rate {MISSING_RATE} (both views), MOSI paper configuration, "
          f"random-weight bert-base; epoch = {'measured' if a.epoch else f'step x {steps_per_epoch}'}",
          flush=True)

    with tempfile.TemporaryDirectory(prefix="step_time_") as tmp:
        files = prepare_batches(a, Path(tmp), bucket)
        for name, f in files.items():
            print(f"batches '{name}' (longest text tokens/audio/vision frames): "
                  f"{describe(torch.load(f, weights_only=False)['steps'])}", flush=True)
        base = dict(device=device, batch_size=a.batch_size, warmup=a.warmup, steps=a.steps,
                    threads=a.threads, seed=a.seed, released=released)
        results: dict[tuple, list[Measurement]] = {}
        for rnd in range(a.rounds):
            for mode in a.modes:
                jobs = []
                for s, overrides in plans:
                    kind = "padded" if mode == "padded" else ("bucket" if s.bucket else "plain")
                    jobs.append(dict(base, side="emtlib", mode=mode, setting=s.name, round=rnd,
                                     overrides=overrides, batches=files[kind]))
                if released is not None:
                    rel = dict(base, side="released", mode=mode, setting="as released (fp32)",
                               round=rnd, batches=files["padded" if mode == "padded" else "plain"])
                    # alternate: released first in odd rounds, last in even ones
                    jobs = [rel] + jobs if rnd % 2 else jobs + [rel]
                for job in jobs:
                    m = run_fresh(job)
                    results.setdefault((mode, job["side"], job["setting"]), []).append(m)
                    status = "error" if m.error else \
                        f"median step {statistics.median(m.step_s):.3f} s, peak {m.peak_bytes / 1e9:.2f} GB"
                    print(f"  round {rnd + 1} {mode:6s} {job['side']:8s} {job['setting']:22s} {status}",
                          flush=True)
                    if m.error:
                        print(m.error, file=sys.stderr)

    rows = []
    for mode in a.modes:
        mode_rows = []
        if released is not None:
            mode_rows.append(summarise(results[(mode, "released", "as released (fp32)")], steps_per_epoch))
        for s, _ in plans:
            mode_rows.append(summarise(results[(mode, "emtlib", s.name)], steps_per_epoch))
        print_table(mode_rows, mode, cuda)
        rows += mode_rows
    print(f"\nstep = mean over {a.steps} steps, median over {a.rounds} rounds (fresh process each), forward of both "
          f"views + losses + backward + Adam step, host-to-device copy included; epoch: "
          + ("one measured epoch over the training split (an Adam step every 4 batches), " if a.epoch else "")
          + f"* step x ceil({MOSI_TRAIN} / {a.batch_size}) = step x {steps_per_epoch}; memory: "
          + ("torch.cuda.max_memory_allocated of the process" if cuda else
             "peak RSS (ru_maxrss) of the process"))
    if a.json:
        a.json.write_text(json.dumps({
            "argv": sys.argv[1:] if argv is None else list(argv), "device": device,
            "rows": [dataclasses.asdict(r) for r in rows],
            "measurements": [dataclasses.asdict(m) for ms in results.values() for m in ms]},
            indent=1, default=str))
        print(f"wrote {a.json}")
    return rows


if __name__ == "__main__":
    main()
