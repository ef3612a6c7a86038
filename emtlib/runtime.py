"""Where and in what precision a run computes: device, precision and autocast, batches on the device.

Precision (docs/training.md#precision): `train.precision` is 'auto', 'fp32' or 'bf16'. 'auto'
resolves to 'bf16' where the device computes bfloat16 natively (a CUDA device with bf16 support;
a CPU with the avx512_bf16 or amx_bf16 instructions) and to 'fp32' elsewhere. 'bf16' runs the
forward pass under `torch.autocast(dtype=torch.bfloat16)`: matmuls and attention in bfloat16,
while parameters, optimizer state, BatchNorm statistics, losses and metrics stay float32.
"""
from __future__ import annotations

import functools
import platform
from pathlib import Path

import torch


def resolve_device(name: str = "auto") -> torch.device:
    """'auto' -> CUDA when present, else CPU; asking for CUDA without one is an error."""
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    dev = torch.device(name)
    if dev.type == "cuda" and not torch.cuda.is_available():
        raise RuntimeError(f"device {name!r} was asked for but no CUDA device is available; "
                           "use device='auto' or 'cpu'")
    return dev


@functools.cache
def cpu_has_native_bf16() -> bool:
    """Whether this CPU has bfloat16 arithmetic instructions (x86 avx512_bf16 / amx_bf16, read
    from /proc/cpuinfo on Linux); elsewhere False (bf16 would be emulated, slower than fp32)."""
    cpuinfo = Path("/proc/cpuinfo")
    if platform.system() != "Linux" or not cpuinfo.is_file():
        return False
    for line in cpuinfo.read_text(errors="replace").splitlines():
        if line.startswith("flags"):
            flags = set(line.split(":", 1)[1].split())
            return bool(flags & {"avx512_bf16", "amx_bf16"})
    return False


def device_has_native_bf16(device: torch.device) -> bool:
    if device.type == "cuda":
        return torch.cuda.is_bf16_supported(including_emulation=False)
    if device.type == "cpu":
        return cpu_has_native_bf16()
    return False


def resolve_precision(precision: str, device: torch.device) -> str:
    """'fp32' or 'bf16': what `precision` ('auto', 'fp32', 'bf16') means on `device`."""
    if precision == "auto":
        return "bf16" if device_has_native_bf16(device) else "fp32"
    if precision not in ("fp32", "bf16"):
        raise ValueError(f"precision {precision!r}: expected 'auto', 'fp32' or 'bf16'")
    return precision


def autocast(device: torch.device, precision: str):
    """bf16 autocast on `device` when `precision` (resolved) is 'bf16', a no-op context otherwise."""
    return torch.autocast(device.type, dtype=torch.bfloat16, enabled=precision == "bf16")


def to_device(batch: dict, device: torch.device) -> dict:
    """Move the tensors of a batch to `device`."""
    return {k: v.to(device, non_blocking=True) if isinstance(v, torch.Tensor) else v
            for k, v in batch.items()}


def to_float(out):
    """A model's outputs (nested dicts / lists of tensors) with floating tensors as float32, so
    losses and metrics are computed in full precision whatever precision the forward pass ran in."""
    if isinstance(out, torch.Tensor):
        return out.float() if out.is_floating_point() else out
    if isinstance(out, dict):
        return {k: to_float(v) for k, v in out.items()}
    if isinstance(out, (list, tuple)):
        return type(out)(to_float(v) for v in out)
    return out
