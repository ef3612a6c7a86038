"""Model cost, as in paper Table 8: parameters, fusion MACs, training time per step/epoch, peak memory.

Counting conventions
- Parameters: shared modules are counted once; `inference_only` drops every parameter whose name
  contains 'projector', 'predictor' or 'recon' (the DLFR parts unused at test time, paper 5.2.1).
  A baseline names its training-only parts in `training_only_prefixes` (name prefixes): TFR-Net's
  generators, MISA's reconstruction heads and dead modules, Self-MM's unimodal heads, MMIM's MMILB
  and CPC; none for TFN, LMF and MulT. Frozen text encoders count (paper Table 8: MulT 111.0M).
- MACs: `torch.utils.flop_counter.FlopCounterMode` counts the FLOPs of matrix products (mm,
  addmm, bmm, ...) and we report MACs = FLOPs / 2. Attention is written with explicit matmuls, so
  q.k^T and attn.v are counted along with all Linear layers; element-wise ops (softmax, LayerNorm,
  GELU, additions) are not, as in thop (which the paper used). Only the fusion module (EMT, incl.
  its pooling layers) is measured, for ONE sample of ONE view at the dataset's full lengths
  (MOSI: text L-1 = 49, audio 375, vision 500).

Scaling study (beyond the paper; notebook 03_complexity_scaling): `fusion_scaling` measures the
fusion MACs, time and memory of OOLL / OALL / OAGL as the number of modalities M and the sequence
length T grow, on synthetic inputs; `emtlib.paper.table1_order` gives the asymptotic orders of
paper Table 1 (and of the main text, section 3.3.3) to overlay on them.
"""
from __future__ import annotations

import dataclasses
import math
import resource
import statistics
import time
from collections.abc import Callable, Sequence

import torch
import torch.nn as nn
from torch.utils.flop_counter import FlopCounterMode

from emtlib.config import ExperimentConfig, LossConfig, ModelConfig, TrainConfig
from emtlib.models.layers import attention_kernel

INFERENCE_EXCLUDE = ("projector", "predictor", "recon")


def count_parameters(model: nn.Module, inference_only: bool = True) -> int:
    """Number of distinct parameters (shared ones once); optionally only those used at inference."""
    prefixes = getattr(model, "training_only_prefixes", None)

    def training_only(name: str) -> bool:
        if prefixes is not None:
            return name.startswith(tuple(prefixes))
        return any(k in name for k in INFERENCE_EXCLUDE)

    total = 0
    for name, p in model.named_parameters():  # named_parameters already de-duplicates shared ones
        if inference_only and training_only(name):
            continue
        total += p.numel()
    return total


def _model_cfg(config: ExperimentConfig | ModelConfig) -> ModelConfig:
    return config.model if isinstance(config, ExperimentConfig) else config


def fusion_macs(config: ExperimentConfig | ModelConfig, lengths: tuple[int, int, int] | None = None) -> int:
    """MACs (= counted FLOPs / 2) of the fusion module for one sample of one view.

    lengths: (T_text, T_audio, T_vision) of the local sequences; default the dataset's full
    lengths (text_len - 1, audio_len, vision_len).
    """
    from emtlib.models.emt import EMT

    cfg = _model_cfg(config)
    if lengths is None:
        lengths = (cfg.text_len - 1, cfg.audio_len, cfg.vision_len)
    fusion = EMT(cfg).eval()
    d = cfg.d_model
    gen = torch.Generator().manual_seed(0)
    G = torch.randn(1, 3, d, generator=gen)  # (1, 3, d)
    seqs = [torch.randn(1, T, d, generator=gen) for T in lengths]  # (1, T_m, d)
    masks = [torch.ones(1, T, dtype=torch.bool) for T in lengths]
    counter = FlopCounterMode(display=False)
    with torch.no_grad(), attention_kernel(fusion, "explicit"), counter:  # matmuls the counter sees
        fusion(G, seqs, masks)
    return counter.get_total_flops() // 2


def random_batch(cfg: ModelConfig, batch_size: int = 2, missing_rate: float = 0.5,
                 lengths: tuple[int, int, int] | None = None, seed: int = 0,
                 device: str | torch.device = "cpu") -> dict:
    """A batch in the data layer's contract with random content (benchmarks; not training data).

    Every sample has the full lengths (text tokens incl. CLS/SEP, audio frames, vision frames);
    default (text_len, audio_len, vision_len). Masks drop positions i.i.d. at `missing_rate`.
    """
    g = torch.Generator().manual_seed(seed)
    n_tok, Ta, Tv = lengths if lengths is not None else (cfg.text_len, cfg.audio_len, cfg.vision_len)
    L, B = cfg.text_len, batch_size
    text = torch.zeros(B, 3, L, dtype=torch.long)  # (B, 3, L)
    text[:, 0, 1:n_tok - 1] = torch.randint(1000, 2000, (B, n_tok - 2), generator=g)
    text[:, 0, 0], text[:, 0, n_tok - 1] = 101, 102
    text[:, 1, :n_tok] = 1
    kept = torch.rand(B, L, generator=g) > missing_rate
    kept[:, 0] = True
    kept[:, n_tok - 1] = True
    kept &= text[:, 1].bool()
    text_m = text.clone()
    text_m[:, 0] = torch.where(kept | ~text[:, 1].bool(), text[:, 0], torch.full_like(text[:, 0], 100))
    batch = {"text": text, "text_m": text_m, "text_kept": kept}
    for name, T, D in (("audio", Ta, cfg.audio_dim), ("vision", Tv, cfg.vision_dim)):
        x = torch.randn(B, T, D, generator=g)  # (B, T, D)
        k = torch.rand(B, T, generator=g) > missing_rate
        batch.update({name: x, f"{name}_m": x * k[..., None], f"{name}_kept": k,
                      f"{name}_lengths": torch.full((B,), T, dtype=torch.long)})
    batch["labels"] = torch.rand(B, generator=g) * 6 - 3
    batch["index"] = torch.arange(B)
    batch["id"] = [f"random_{i}" for i in range(B)]
    return {k: v.to(device) if torch.is_tensor(v) else v for k, v in batch.items()}


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def time_train_steps(model: nn.Module, batch: dict, loss_cfg: LossConfig, steps: int = 3,
                     warmup: int = 1, optimizer: torch.optim.Optimizer | None = None) -> float:
    """Mean seconds of one training step (forward both views, total loss, backward, Adam step)."""
    from emtlib.losses import total_loss

    device = next(model.parameters()).device
    model.train()
    if optimizer is None:
        if hasattr(model, "parameter_groups"):
            params = model.parameter_groups(TrainConfig())  # the release's five Adam groups
        else:
            params = model.parameters()
        optimizer = torch.optim.Adam(params, lr=1e-5)

    def step():
        optimizer.zero_grad(set_to_none=True)
        out = model(batch)
        loss, _ = total_loss(out, batch, loss_cfg)
        loss.backward()
        optimizer.step()

    return _mean_seconds(step, device, steps, warmup)


def _mean_seconds(step: Callable[[], None], device: torch.device, steps: int, warmup: int) -> float:
    """Mean wall seconds of `step()` over `steps` calls after `warmup` calls (device synchronised)."""
    for _ in range(warmup):
        step()
    _sync(device)
    t0 = time.perf_counter()
    for _ in range(steps):
        step()
    _sync(device)
    return (time.perf_counter() - t0) / steps


def time_baseline_train_steps(model: nn.Module, batch: dict, cfg: ExperimentConfig, steps: int = 3,
                              warmup: int = 1, epoch: int = 2) -> float:
    """Mean seconds of one training step of a baseline through its procedure (emtlib.procedures).

    One step = forward, the method's training loss at `epoch` (2: TFR-Net's generation loss is
    on), backward, its clipping, one optimizer step (no accumulation, no double step); MMIM: one
    stage-1 plus one stage-2 batch. Self-MM's label bank holds the batch itself.
    """
    from emtlib.models.baselines import mmim
    from emtlib.procedures import AccumulatingProcedure, make_baseline_procedure

    device = next(model.parameters()).device
    proc = make_baseline_procedure(cfg, model, device, train_labels=batch["labels"].float().cpu())
    proc.make_optimization()
    bank_batch = dict(batch, index=torch.arange(batch["labels"].shape[0], device=device))

    def step():
        if isinstance(proc, AccumulatingProcedure):
            model.train()
            opt = proc.optimizers[0]
            opt.zero_grad(set_to_none=True)
            loss, _, out = proc.train_loss(bank_batch, epoch)
            loss.backward()
            proc.clip()
            proc.after_backward(bank_batch, out, epoch)
            opt.step()
        else:
            mmim.stage1_step(model, batch, proc.optimizers[0])
            mmim.stage2_step(model, batch, proc.optimizers[1], mmim.MMIMMemory(cfg.baseline.mem_size), 0)

    return _mean_seconds(step, device, steps, warmup)


def seconds_per_epoch(seconds_per_step: float, num_samples: int, batch_size: int) -> float:
    """Training time of one epoch from a measured step time: ceil(N / batch) steps."""
    return seconds_per_step * math.ceil(num_samples / batch_size)


def peak_memory(fn: Callable[[], object], device: str | torch.device = "cpu") -> tuple[object, int]:
    """Run `fn` and return (its result, peak bytes).

    CUDA: `torch.cuda.max_memory_allocated` after resetting the peak (tensor memory only).
    CPU: the process's peak resident set size (`resource.getrusage`, ru_maxrss; Linux reports KiB),
    which is the peak over the whole process life, not just `fn`.
    """
    device = torch.device(device)
    if device.type == "cuda":
        torch.cuda.synchronize(device)
        torch.cuda.reset_peak_memory_stats(device)
        result = fn()
        torch.cuda.synchronize(device)
        return result, int(torch.cuda.max_memory_allocated(device))
    result = fn()
    return result, int(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss) * 1024


# ---- scaling with the number of modalities M and the sequence length T (paper Table 1) ----------

SCALING_COLUMNS = ["strategy", "M", "T", "macs", "seconds", "memory_bytes"]


def fusion_scaling(strategies: Sequence[str] = ("oagl", "ooll", "oall"),
                   M_values: Sequence[int] = (2, 3, 4, 5, 6, 7, 8),
                   T_values: Sequence[int] | None = None, d: int = 128, T: int = 100, batch: int = 1,
                   device: str | torch.device = "cpu", time_steps: int = 3, measure_time: bool = True,
                   measure_memory: bool = False, layers: int = 1, heads: int = 4,
                   base: ModelConfig | None = None, seed: int = 0):
    """Measured cost of the fusion module alone for every (strategy, M, T), on synthetic inputs.

    One row per strategy x M in `M_values` x T in `T_values` (default: the single `T`), columns
    SCALING_COLUMNS = [strategy, M, T, macs, seconds, memory_bytes] (select the length column
    with df["T"]: df.T is pandas' transpose).

    Model: `EMT(cfg, n_modalities=M)` with cfg = `base` (default `ModelConfig()`: attention pooling,
    parallel update, all sharing levels on) with fusion=strategy, d_model=d, heads=heads,
    fusion_layers=layers (default 1: every cost is exactly L x one layer's, so one layer shows the
    scaling; use layers=3 for the MOSI configuration) and max_seq_len raised to cover T.
    Inputs: random G (batch, M, d) and M random local sequences (batch, T, d), all positions valid.

    macs: FlopCounterMode FLOPs / 2 of one forward pass in eval mode, for the whole `batch`
        (default 1 sample); matmuls only (see the module docstring).
    seconds: median over `time_steps` repeats (after one warm-up) of forward + backward of
        sum(g) + sum_m sum(Z_m) in train mode (no optimizer step); NaN unless `measure_time`.
    memory_bytes: on CUDA, the peak of `torch.cuda.max_memory_allocated` during one forward +
        backward minus the bytes allocated just before it (the resident weights and inputs), i.e.
        activations, gradients and temporaries; NaN unless `measure_memory` and the device is
        CUDA. On CPU it is always NaN: the process's RSS is dominated by the interpreter and torch
        and its peak (ru_maxrss) never decreases, so deltas of a few MiB are meaningless.
    """
    import pandas as pd

    from emtlib.models.emt import EMT

    device = torch.device(device)
    base = base if base is not None else ModelConfig()
    T_values = tuple(T_values) if T_values is not None else (T,)
    rows = []
    for strategy in strategies:
        for M in M_values:
            for T_ in T_values:
                cfg = dataclasses.replace(base, fusion=strategy, d_model=d, heads=heads, fusion_layers=layers,
                                          max_seq_len=max(base.max_seq_len, T_))
                torch.manual_seed(seed)
                fusion = EMT(cfg, n_modalities=M).to(device)
                gen = torch.Generator().manual_seed(seed)
                G = torch.randn(batch, M, d, generator=gen).to(device)  # (B, M, d)
                seqs = [torch.randn(batch, T_, d, generator=gen).to(device) for _ in range(M)]  # (B, T, d)
                masks = [torch.ones(batch, T_, dtype=torch.bool, device=device) for _ in range(M)]

                fusion.eval()
                counter = FlopCounterMode(display=False)
                with torch.no_grad(), attention_kernel(fusion, "explicit"), counter:
                    fusion(G, seqs, masks)
                macs = counter.get_total_flops() // 2

                fusion.train()

                def step():
                    fusion.zero_grad(set_to_none=True)
                    out = fusion(G, seqs, masks)
                    (out.g.sum() + sum(z.sum() for z in out.Z)).backward()

                seconds = memory = float("nan")
                if measure_time:
                    step()  # warm-up
                    times = []
                    for _ in range(time_steps):
                        _sync(device)
                        t0 = time.perf_counter()
                        step()
                        _sync(device)
                        times.append(time.perf_counter() - t0)
                    seconds = statistics.median(times)
                if measure_memory and device.type == "cuda":
                    fusion.zero_grad(set_to_none=True)
                    torch.cuda.synchronize(device)
                    before = torch.cuda.memory_allocated(device)
                    torch.cuda.reset_peak_memory_stats(device)
                    step()
                    torch.cuda.synchronize(device)
                    memory = float(torch.cuda.max_memory_allocated(device) - before)
                rows.append({"strategy": strategy, "M": M, "T": T_, "macs": int(macs),
                             "seconds": seconds, "memory_bytes": memory})
                del fusion, G, seqs, masks
    return pd.DataFrame(rows, columns=SCALING_COLUMNS)


# ---- tables for the notebooks (Table 8's cost columns, Table 9's parameter column) -----------

def fusion_cost_table(config: ExperimentConfig, strategies: Sequence[str] = ("ooll", "oall", "oagl")):
    """Per fusion strategy: inference parameters (random-weight encoder) and fusion MACs (G).

    Parameters exclude projector, predictor and reconstruction heads (the paper's count);
    MACs are those of the fusion module for one sample of one view at the dataset's full lengths.
    """
    import pandas as pd

    from emtlib.models import build_model

    rows = []
    for s in strategies:
        cfg = dataclasses.replace(config, model=dataclasses.replace(config.model, fusion=s))
        rows.append({"fusion": s,
                     "params_M": round(count_parameters(build_model(cfg)) / 1e6, 2),
                     "fusion_MACs_G": round(fusion_macs(cfg) / 1e9, 3)})
    return pd.DataFrame(rows).set_index("fusion")


def sharing_table(config: ExperimentConfig):
    """Inference parameters (M) of the eight MPU / modality / layer sharing combinations (Table 9)."""
    import itertools

    import pandas as pd

    from emtlib.models import build_model

    rows = []
    for mpu, mod, layer in itertools.product((False, True), repeat=3):
        m = dataclasses.replace(config.model, mpu_share=mpu, modality_share=mod, layer_share=layer)
        model = build_model(dataclasses.replace(config, model=m))
        rows.append({"mpu_share": mpu, "modality_share": mod, "layer_share": layer,
                     "params_M": round(count_parameters(model) / 1e6, 2),
                     "fusion_params": count_parameters(model.fusion)})
    return pd.DataFrame(rows)
