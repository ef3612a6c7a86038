"""Device and precision resolution (docs/training.md#precision)."""
from __future__ import annotations

import pytest
import torch

from emtlib.runtime import cpu_has_native_bf16, resolve_precision


def test_auto_follows_the_cpu_bf16_instructions():
    flags = open("/proc/cpuinfo").read() if __import__("os").path.exists("/proc/cpuinfo") else ""
    native = "avx512_bf16" in flags or "amx_bf16" in flags
    assert cpu_has_native_bf16() is native
    assert resolve_precision("auto", torch.device("cpu")) == ("bf16" if native else "fp32")


@pytest.mark.parametrize("p", ["fp32", "bf16"])
def test_explicit_precisions_are_kept(p):
    assert resolve_precision(p, torch.device("cpu")) == p


def test_unknown_precision_is_refused():
    with pytest.raises(ValueError, match="expected 'auto', 'fp32' or 'bf16'"):
        resolve_precision("fp16", torch.device("cpu"))
