"""Baselines TFN and LMF (tensor fusion): the fusion by hand (TFN's 2x2 example and fusion size, LMF's
low-rank fusion against the explicit tensor formula), time averaging over the full padded length, and
the quirks in their optimizer parameter lists (TFN's `[2:]` slice, LMF's index groups).

Training sanity, frozen-BERT dropout, training loops and released values shared with the other
baselines: tests/test_baselines_common.py.
"""
from __future__ import annotations

from dataclasses import replace

import pytest
import torch

from emtlib.models.baselines import lmf, tfn
from tests.baselines_helpers import TINY, hparams, tiny_batch, tiny_bert, tiny_hparams


# ----------------------------------------------------------------------------- hand-computed pieces

def test_tfn_fusion_dimension_and_2x2_example():
    z = tfn.tensor_fusion(torch.tensor([[2.0]]), torch.tensor([[3.0]]), torch.tensor([[5.0]]))
    # [1,2] (x) [1,3] (x) [1,5], text fastest: a_i v_j t_k for (i,j,k) in row-major order
    assert z.tolist() == [[1.0, 5.0, 3.0, 15.0, 2.0, 10.0, 6.0, 30.0]]
    p = hparams("tfn", "mosi")  # MMSA MOSI: (32+1)(128+1)(32+1)
    model = tfn.TFN(replace(p, **TINY), tiny_bert())
    assert model.post_fusion_layer_1.in_features == 33 * 129 * 33 == 140_481
    out = model.eval()(tiny_batch())
    assert out["fusion"].shape == (4, 140_481)
    assert ((out["pred"] > -3) & (out["pred"] < 3)).all()


def test_time_average_divides_by_full_padded_length():
    x = torch.tensor([[[1.0], [2.0], [0.0]]])  # cropped batch, the dataset pads to 5 frames
    assert tfn.time_average(x, 5).item() == pytest.approx(0.6)
    with pytest.raises(ValueError, match="full padded length"):
        tfn.time_average(x, 2)


def test_lmf_low_rank_fusion_equals_explicit_tensor_formula():
    g = torch.Generator().manual_seed(0)
    B, a, v, t, r = 3, 2, 3, 2, 4
    z_a, z_v, z_t = (torch.randn(B, n, generator=g) for n in (a, v, t))
    W_a, W_v, W_t = (torch.randn(r, n + 1, 1, generator=g) for n in (a, v, t))
    w, b = torch.randn(1, r, generator=g), torch.randn(1, 1, generator=g)
    got = lmf.low_rank_fusion(z_a, z_v, z_t, W_a, W_v, W_t, w, b)
    # explicit: W = sum_r w_r W_a^r (x) W_v^r (x) W_t^r, out = <W, Z> + b with Z = z'_a (x) z'_v (x) z'_t
    W = torch.einsum("r,ri,rj,rk->ijk", w[0], W_a[..., 0], W_v[..., 0], W_t[..., 0])
    one = torch.ones(B, 1)
    za, zv, zt = (torch.cat([one, z], 1) for z in (z_a, z_v, z_t))
    Z = torch.einsum("bi,bj,bk->bijk", za, zv, zt)
    want = (Z * W).sum(dim=(1, 2, 3)) + b[0, 0]
    torch.testing.assert_close(got, want)


# ------------------------------------------------------------------------------------------- quirks

def test_tfn_parameters_slice_drops_only_the_output_constants():
    """`list(model.parameters())[2:]` drops output_range and output_shift (own parameters come
    before the children's), NOT the audio BatchNorm as an earlier reading had it: same trained set
    either way."""
    p = tiny_hparams("tfn")
    model = tfn.TFN(p, tiny_bert())
    first_two = list(model.parameters())[:2]
    assert first_two[0] is model.output_range and first_two[1] is model.output_shift
    quirky = {id(q) for g in tfn.optimizer_groups(model, p, True) for q in g["params"]}
    fixed = {id(q) for g in tfn.optimizer_groups(model, p, False) for q in g["params"]}
    assert quirky == fixed == {id(q) for q in model.parameters() if q.requires_grad}
    assert id(model.audio_subnet.norm.weight) in quirky


def test_lmf_optimizer_quirk_index_groups():
    """[:3] are the factors (own parameters come first); fusion_weights/bias (indices 3, 4) never
    train when faithful; fixed puts them in the `lr` group."""
    p = tiny_hparams("lmf")
    model = lmf.LMF(p, tiny_bert())
    factors = [model.audio_factor, model.video_factor, model.text_factor]
    fusion = {id(model.fusion_weights), id(model.fusion_bias)}
    g_quirk = lmf.optimizer_groups(model, p, True)
    assert [id(q) for q in g_quirk[0]["params"]] == [id(f) for f in factors]
    assert g_quirk[0]["lr"] == p.lr_factors and g_quirk[1]["lr"] == p.lr
    quirk_ids = {id(q) for g in g_quirk for q in g["params"]}
    trainable = {id(q) for q in model.parameters() if q.requires_grad}
    assert trainable - quirk_ids == fusion
    assert id(model.audio_subnet.norm.weight) in {id(q) for q in g_quirk[1]["params"]}
    g_fixed = lmf.optimizer_groups(model, p, False)
    assert [id(q) for q in g_fixed[0]["params"]] == [id(f) for f in factors]
    assert {id(q) for g in g_fixed for q in g["params"]} == trainable
    assert all(g["weight_decay"] == p.wd for g in g_quirk + g_fixed)
