"""EMT generalised to M modalities, and how its fusion MACs scale with M and T (paper Table 1).

MACs of one fusion layer by hand (FlopCounterMode FLOPs / 2, matmuls only, batch 1, GEGLU x4,
attention pooling). One MPU direction with target length Tq and context length Tk costs
    dir(Tq, Tk) = 18 Tq d^2 + 2 Tk d^2            (projections, GEGLU FFN)
                + 2 Tq Tk d + 2 Tq^2 d              (cross-attention q.k, attn.v; self-attention)
(see test_complexity.test_macs_of_one_mpu_direction_by_hand), so one MPU on lengths (a, b) has the
quadratic part 2 d (a + b)^2: the paper's O((T_m + T_n)^2) times 2d. Per layer, aligned length T:
    OAGL  M [dir(T, M) + dir(M, T)] + M (Md)^2 + M (Md)        pool over M candidates of width Md
    OOLL  C(M,2) [2 dir(T, T)]      + M T (M-1) (d^2 + d)      pool over M-1 candidates of width d
    OALL  M [dir(T, MT) + dir(MT, T)] + M T M (d^2 + d)        pool over M candidates of width d
Hence the quadratic (attention) part is exactly 2 d x table1_order(form='mpu'): OAGL M (T+M)^2,
OOLL 2 M (M-1) T^2, OALL M (M+1)^2 T^2, and everything else is linear in T.

Consequences checked below:
- in M at fixed T: OAGL ~ M (the pool's M^3 d^2 and the M-token G are small for M << T),
  OOLL ~ M (M-1) exactly (every term is per pair or per (modality, partner)), i.e. Table 1's M^2;
  OALL grows faster than M^2: its self-attention over the common message (length MT) inside each
  of the M MPUs costs M^3 T^2, as the paper's own main-text formula M (M+1)^2 T^2 says (Table 1's
  O(M^2 T^2) understates it);
- in T at fixed M: all three are O(T^2) (Table 1), but the d^2 T terms dominate until T ~ 10 d
  for OAGL (~ 5 d for OOLL), so at practical T <= d OAGL (and OOLL) look linear in T.
"""
from __future__ import annotations

import dataclasses
import math

import pytest
import torch

from emtlib.complexity import SCALING_COLUMNS, count_parameters, fusion_scaling
from emtlib.config import ModelConfig
from emtlib.models.emt import EMT, MODALITIES, PAIRS, modality_pairs
from emtlib.paper import table1_order


# ---- hand formulas ---------------------------------------------------------------------------

def _dir_linear(Tq, Tk, d):
    return 18 * Tq * d * d + 2 * Tk * d * d


def _dir_quadratic(Tq, Tk, d):
    return 2 * Tq * Tk * d + 2 * Tq * Tq * d


def hand_macs(strategy: str, M: int, T: int, d: int, layers: int = 1) -> tuple[int, int]:
    """(linear part, quadratic part) of the fusion MACs, attention pooling, batch 1."""
    if strategy == "oagl":
        pairs = [(T, M), (M, T)] * M  # per modality: local <- G, G <- local
        pool = M * (M * d) ** 2 + M * (M * d)
    elif strategy == "ooll":
        pairs = [(T, T), (T, T)] * (M * (M - 1) // 2)
        pool = M * T * (M - 1) * (d * d + d)
    else:
        pairs = [(T, M * T), (M * T, T)] * M  # per modality: H_m <- C, C <- H_m
        pool = M * T * M * (d * d + d)
    lin = sum(_dir_linear(a, b, d) for a, b in pairs) + pool
    quad = sum(_dir_quadratic(a, b, d) for a, b in pairs)
    return layers * lin, layers * quad


def macs_table(strategies, M_values, T_values, d, heads=4):
    df = fusion_scaling(strategies, M_values, T_values, d=d, heads=heads, measure_time=False)
    return {(r.strategy, r.M, r.T): r.macs for r in df.itertuples()}


# ---- M = 3 is the paper's module, unchanged ---------------------------------------------------

def test_m3_parameter_count_and_structure_unchanged():
    cfg = ModelConfig()  # OAGL, d=128, 3 layers, all shared
    default, explicit = EMT(cfg), EMT(cfg, n_modalities=3)
    assert count_parameters(default) == count_parameters(explicit) == 478_337
    assert [n for n, _ in default.named_parameters()] == [n for n, _ in explicit.named_parameters()]
    assert modality_pairs(3) == PAIRS and explicit.names == MODALITIES


@pytest.mark.parametrize("fusion", ["oagl", "ooll", "oall"])
def test_m3_forward_identical_to_default(fusion):
    cfg = ModelConfig(d_model=32, heads=4, fusion_layers=2, fusion=fusion, mpu_share=False,
                      modality_share=False, layer_share=False)
    outs = []
    for kwargs in ({}, {"n_modalities": 3}):
        torch.manual_seed(0)
        emt = EMT(cfg, **kwargs).eval()
        g = torch.Generator().manual_seed(1)
        G = torch.randn(2, 3, 32, generator=g)
        seqs = [torch.randn(2, T, 32, generator=g) for T in (5, 7, 9)]
        masks = [torch.arange(T)[None, :] < torch.tensor([[T], [T - 2]]) for T in (5, 7, 9)]
        with torch.no_grad():
            outs.append(emt(G, seqs, masks))
    a, b = outs
    assert torch.equal(a.g, b.g) and a.g.shape == (2, 96)
    assert all(torch.equal(x, y) for x, y in zip(a.Z, b.Z))


# ---- M modalities: structure, shapes, gradients ------------------------------------------------

def test_m5_structure_and_shapes():
    M, d, B = 5, 16, 2
    base = ModelConfig(d_model=d, heads=2, fusion_layers=2, mpu_share=False, modality_share=False,
                       layer_share=False)
    lengths = (3, 4, 5, 6, 7)
    G = torch.randn(B, M, d)
    seqs = [torch.randn(B, T, d) for T in lengths]
    masks = [torch.arange(T)[None, :] < torch.tensor([[T], [1]]) for T in lengths]
    for fusion, units, K, width in (("oagl", M, M, M * d), ("ooll", 10, M - 1, d), ("oall", M, M, d)):
        emt = EMT(dataclasses.replace(base, fusion=fusion), n_modalities=M)
        assert len(emt.mpus) == 2 and all(len(layer) == units for layer in emt.mpus)
        assert emt.pools[0].W.in_features == width
        out = emt(G, seqs, masks, return_attention=fusion == "oagl")
        assert out.g.shape == (B, M * d)
        assert [tuple(z.shape) for z in out.Z] == [(B, T, d) for T in lengths]
        if fusion == "oagl":
            assert list(out.attention) == ["m0", "m1", "m2", "m3", "m4"]
            assert out.attention["m4"][1].shape == (B, 2, M, 7)  # (B, heads, M tokens, T_m)
        loss = out.g.square().sum() + sum(z.square().sum() for z in out.Z)
        loss.backward()
        grads = [p.grad for p in emt.parameters()]
        assert all(gr is not None and torch.isfinite(gr).all() for gr in grads), fusion
        assert torch.isfinite(out.g).all()
    with pytest.raises(ValueError, match="5 modalities"):
        emt(G, seqs[:3], masks[:3])


def test_sharing_keeps_mpu_count_independent_of_m():
    # all shared: one MPU direction per module, so only OAGL's pool (width M d) grows with M
    base = ModelConfig(d_model=16, heads=2)
    one_half = count_parameters(EMT(base, 2).mpus[0][0][0])
    for M in (2, 6):
        for fusion in ("ooll", "oall"):
            emt = EMT(dataclasses.replace(base, fusion=fusion), M)
            assert count_parameters(emt) == one_half + 16 * 16 + 16 + 16 + 1
        oagl = EMT(base, M)
        n = M * 16
        assert count_parameters(oagl) == one_half + n * n + n + n + 1


# ---- MACs: exact, then their scaling ----------------------------------------------------------

def test_macs_match_hand_formula_and_paper_mpu_order():
    d = 16
    got = macs_table(("oagl", "ooll", "oall"), (2, 5), (6, 20), d)
    for (s, M, T), macs in got.items():
        lin, quad = hand_macs(s, M, T, d)
        assert macs == lin + quad, (s, M, T)
        assert quad == 2 * d * table1_order(s, M, T, form="mpu"), (s, M, T)
    two = fusion_scaling(("ooll",), (3,), d=d, T=6, layers=2, measure_time=False)
    assert two.macs[0] == sum(hand_macs("ooll", 3, 6, d, layers=2)) == 2 * sum(hand_macs("ooll", 3, 6, d))


def test_macs_scale_in_m():
    d, T = 32, 64
    got = macs_table(("oagl", "ooll", "oall"), (4, 8), (T,), d)
    r = {s: got[(s, 8, T)] / got[(s, 4, T)] for s in ("oagl", "ooll", "oall")}
    # OAGL linear in M (Table 1: M T^2): 2x modalities -> ~2x MACs
    assert abs(r["oagl"] / 2 - 1) < 0.25, r
    # OOLL: exactly proportional to the C(M, 2) pairs, i.e. (8*7)/(4*3); Table 1's M^2 gives 4
    assert r["ooll"] == pytest.approx(8 * 7 / (4 * 3), rel=1e-9), r
    assert abs(r["ooll"] / 4 - 1) < 0.25, r
    # OALL: at least quadratic (Table 1: M^2 -> 4), at most cubic
    assert 4 * 0.95 < r["oall"] < 8, r
    assert r["oall"] > 2 * r["oagl"]  # local-local fusion scales worse than global-local


def test_oall_grows_like_the_main_text_formula_at_large_t():
    # T >> d: the attention terms dominate and OALL follows M (M+1)^2 T^2 (section 3.3.3), which
    # grows like M^3, not Table 1's M^2 T^2
    d, T = 4, 128
    got = macs_table(("oall",), (4, 8), (T,), d, heads=2)
    r = got[("oall", 8, T)] / got[("oall", 4, T)]
    text = table1_order("oall", 8, T, "text") / table1_order("oall", 4, T, "text")  # 6.48
    assert abs(r / text - 1) < 0.1, (r, text)
    assert r > 1.5 * table1_order("oall", 8, T) / table1_order("oall", 4, T)


def test_macs_scale_in_t():
    # T >> 10 d: every strategy is quadratic in T (Table 1): doubling T -> ~4x MACs
    d = 8
    got = macs_table(("oagl", "ooll", "oall"), (3,), (256, 512), d)
    for s in ("oagl", "ooll", "oall"):
        r = got[(s, 3, 512)] / got[(s, 3, 256)]
        expected = table1_order(s, 3, 512) / table1_order(s, 3, 256)  # 4
        assert abs(r / expected - 1) < 0.25, (s, r)
    # T < 10 d (practical widths): the d^2 T projection/FFN terms dominate, OAGL looks linear in T
    d = 64
    got = macs_table(("oagl",), (3,), (16, 32), d)
    r = got[("oagl", 3, 32)] / got[("oagl", 3, 16)]
    assert abs(r / 2 - 1) < 0.25, r


# ---- the API ----------------------------------------------------------------------------------

def test_fusion_scaling_columns_time_and_memory():
    df = fusion_scaling(("oagl", "oall"), (2, 3), (4, 6), d=8, heads=2, time_steps=1,
                        measure_memory=True)
    assert list(df.columns) == SCALING_COLUMNS and len(df) == 8
    assert (df.seconds > 0).all() and (df.macs > 0).all()
    assert df.memory_bytes.isna().all()  # CPU: not measured
    assert df.macs[(df.strategy == "oagl") & (df.M == 3) & (df["T"] == 6)].item() == sum(hand_macs("oagl", 3, 6, 8))
    assert math.isnan(fusion_scaling(("ooll",), (2,), d=8, heads=2, measure_time=False).seconds[0])


@pytest.mark.skipif(not torch.cuda.is_available(), reason="peak memory is measured on CUDA only")
def test_fusion_scaling_cuda_memory():
    df = fusion_scaling(("oagl",), (2, 4), d=16, T=32, device="cuda", time_steps=1, measure_memory=True)
    assert 0 < df.memory_bytes[0] < df.memory_bytes[1]  # M = 2, then 4: more activations
