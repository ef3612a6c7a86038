"""Paper Tables 8 and 9: parameter counts of every sharing combination, fusion MACs ratios."""
from __future__ import annotations

import os
import sys
import time

import pytest
import torch

from emtlib.complexity import (count_parameters, fusion_macs, peak_memory, random_batch,
                               seconds_per_epoch, time_train_steps)
from emtlib.config import apply_overrides, paper_config
from emtlib.models import build_model, build_text_encoder
from emtlib.models.emt import EMT

# paper Table 9: (MPU, modality, layer) sharing -> inference parameters (M)
TABLE9 = {
    (False, False, False): 116.4, (True, False, False): 113.4, (False, True, False): 112.4,
    (False, False, True): 112.1, (True, True, False): 111.4, (True, False, True): 111.1,
    (False, True, True): 110.8, (True, True, True): 110.5,
}


@pytest.fixture(scope="module")
def bert_base():
    return build_text_encoder("bert-base-uncased", pretrained=False)  # random weights, no files


def test_bert_base_count_includes_pooler(bert_base):
    assert count_parameters(bert_base) == 109_482_240


def test_table9_parameter_counts(bert_base):
    for (mpu, mod, lay), paper_m in TABLE9.items():
        cfg = apply_overrides(paper_config("mosi"), [f"model.mpu_share={mpu}", f"model.modality_share={mod}",
                                                     f"model.layer_share={lay}"])
        model = build_model(cfg, text_encoder=bert_base)
        n = count_parameters(model)
        assert abs(n / 1e6 - paper_m) < 0.05, ((mpu, mod, lay), n)
        if mpu and mod and lay:
            assert n == 110_468_146
            assert count_parameters(model.fusion) == 478_337
            assert count_parameters(model, inference_only=False) > n  # projector/predictor/recon exist


def test_mpu_and_pool_sizes():
    emt = EMT(paper_config("mosi").model)
    assert count_parameters(emt.mpus[0][0][0]) == 330_112
    assert count_parameters(emt.pools[0]) == 148_225
    assert emt.mpus[2][1][0] is emt.mpus[0][0][1]  # one MPU serves 2 directions x 3 modalities x L layers
    sims = EMT(paper_config("sims").model)
    assert count_parameters(sims.mpus[0][0][0]) == 21_088 and count_parameters(sims.pools[0]) == 9_409


def test_unshared_clones_start_identical():
    cfg = apply_overrides(paper_config("mosi"), ["model.mpu_share=false", "model.modality_share=false",
                                                 "model.layer_share=false"])
    emt = EMT(cfg.model)
    a, b = emt.mpus[0][0][0], emt.mpus[2][2][1]
    assert a is not b
    assert all(torch.equal(p, q) for p, q in zip(a.parameters(), b.parameters()))


def test_table8_fusion_macs_ratios():
    macs = {f: fusion_macs(apply_overrides(paper_config("mosi"), [f"model.fusion={f}"]))
            for f in ("oagl", "ooll", "oall")}
    assert 1.0e9 < macs["oagl"] < 1.6e9  # paper: 1.5 G
    ooll, oall = macs["ooll"] / macs["oagl"], macs["oall"] / macs["oagl"]
    assert abs(ooll / (3.1 / 1.5) - 1) < 0.25, ooll
    assert abs(oall / (8.3 / 1.5) - 1) < 0.25, oall


def test_macs_of_one_mpu_direction_by_hand():
    """One MPU direction, target length Tq, context Tk, width d (FlopCounterMode FLOPs / 2):
    CA: q Tq d^2, kv 2 Tk d^2, q.k Tq Tk d, attn.v Tq Tk d, out Tq d^2;
    SA: 4 Tq d^2 + 2 Tq^2 d; GEGLU FFN: 8 Tq d^2 + 4 Tq d^2."""
    from torch.utils.flop_counter import FlopCounterMode

    from emtlib.models.layers import CrossSelfTransformer, attention_kernel

    d, Tq, Tk = 32, 7, 11
    half = CrossSelfTransformer(d, heads=4).eval()
    counter = FlopCounterMode(display=False)
    with torch.no_grad(), attention_kernel(half, "explicit"), counter:
        half(torch.randn(1, Tq, d), torch.randn(1, Tk, d))
    expected = 18 * Tq * d * d + 2 * Tk * d * d + 2 * Tq * Tk * d + 2 * Tq * Tq * d
    assert counter.get_total_flops() // 2 == expected


def test_step_time_is_a_mean_over_real_training_steps():
    cfg = apply_overrides(paper_config("mosi"), ["model.text_encoder=bert-base-uncased", "model.d_model=16",
                                                 "model.fusion_layers=1", "model.heads=2"])
    from transformers import BertConfig, BertModel
    tiny = BertModel(BertConfig(vocab_size=2100, hidden_size=16, num_hidden_layers=1, num_attention_heads=2,
                                intermediate_size=32))
    model = build_model(cfg, text_encoder=tiny)
    batch = random_batch(cfg.model, batch_size=2, lengths=(6, 5, 4))
    before = [p.detach().clone() for p in model.fusion.parameters()]
    t0 = time.perf_counter()
    sec = time_train_steps(model, batch, cfg.loss, steps=4, warmup=1)
    wall = time.perf_counter() - t0
    assert 0 < 4 * sec < wall  # the mean of the 4 timed steps, inside the call's wall time
    assert any(not torch.equal(a, b) for a, b in zip(before, model.fusion.parameters()))  # Adam stepped
    assert seconds_per_epoch(0.5, 1284, 32) == pytest.approx(0.5 * 41)


def _resident_bytes() -> int:
    """The process's resident set size now (Linux)."""
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


@pytest.mark.skipif(not sys.platform.startswith("linux"),
                    reason="ru_maxrss is in KiB and /proc/self/statm exists on Linux only")
def test_cpu_peak_memory_covers_what_fn_allocates():
    size = 128 * 2**20
    before = _resident_bytes()
    n, peak = peak_memory(lambda: int(torch.ones(size // 4).sum()))  # writes 128 MiB of fresh pages
    assert n == size // 4
    assert peak >= before + 0.9 * size
    assert peak_memory(lambda: None)[1] >= peak  # the process's lifetime peak never decreases


@pytest.mark.skipif(not torch.cuda.is_available(), reason="the CUDA path needs a GPU")
def test_cuda_peak_memory_is_the_tensor_peak_during_fn():
    size = 64 * 2**20
    before = torch.cuda.memory_allocated()
    n, peak = peak_memory(lambda: int(torch.ones(size // 4, device="cuda").sum()), "cuda")
    assert n == size // 4
    assert before + size <= peak <= before + size + 2**20
    assert peak_memory(lambda: torch.ones(1024, device="cuda"), "cuda")[1] < before + size  # peak reset
