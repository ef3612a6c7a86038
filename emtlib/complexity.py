"""Model cost, as in paper Table 8: parameters, fusion MACs, training time per step/epoch, peak memory.

Counting conventions
- Parameters: shared modules are counted once; `inference_only` drops every parameter whose name
  contains 'projector', 'predictor' or 'recon' (the DLFR parts unused at test time, paper 5.2.1).
- MACs: `torch.utils.flop_counter.FlopCounterMode` counts the FLOPs of matrix products (mm,
  addmm, bmm, ...) and we report MACs = FLOPs / 2. Attention is written with explicit matmuls, so
  q.k^T and attn.v are counted along with all Linear layers; element-wise ops (softmax, LayerNorm,
  GELU, additions) are not, as in thop (which the paper used). Only the fusion module (EMT, incl.
  its pooling layers) is measured, for ONE sample of ONE view at the dataset's full lengths
  (MOSI: text L-1 = 49, audio 375, vision 500).
"""
from __future__ import annotations

import math
import resource
import time
from collections.abc import Callable

import torch
import torch.nn as nn
from torch.utils.flop_counter import FlopCounterMode

from emtlib.config import ExperimentConfig, LossConfig, ModelConfig, TrainConfig

INFERENCE_EXCLUDE = ("projector", "predictor", "recon")


def count_parameters(model: nn.Module, inference_only: bool = True) -> int:
    """Number of distinct parameters (shared ones once); optionally only those used at inference."""
    total = 0
    for name, p in model.named_parameters():  # named_parameters already de-duplicates shared ones
        if inference_only and any(k in name for k in INFERENCE_EXCLUDE):
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
    with torch.no_grad(), counter:
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

    for _ in range(warmup):
        step()
    _sync(device)
    t0 = time.perf_counter()
    for _ in range(steps):
        step()
    _sync(device)
    return (time.perf_counter() - t0) / steps


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
