"""MISA, Self-MM and MMIM baselines: hand-computed losses, label generation, MMIM stages, training, sizes."""
from __future__ import annotations

import math
from dataclasses import replace

import pytest
import torch
from transformers import BertConfig, BertModel

from emtlib.models.baselines import misa, mmim, self_mm
from emtlib.config import paper_hparams
from emtlib.config.baselines import MISAHParams, MMIMHParams, SelfMMHParams
from emtlib.procedures import stage1_limit

DA, DV = 5, 20  # MOSI feature sizes


def hparams(method: str, dataset: str, source: str | None = None, **changes):
    """The released hyperparameters of `method` on `dataset` (from `source`), with `changes`."""
    return replace(paper_hparams(method, dataset, source), **changes)


# ------------------------------------------------------------------------------------------ helpers
@pytest.fixture(autouse=True)
def _own_rng():
    """The tests seed torch's global RNG for their models; fork_rng restores it afterwards."""
    with torch.random.fork_rng():
        yield


def tiny_bert(seed: int = 0) -> BertModel:
    torch.manual_seed(seed)  # the test process's own RNG; library code never seeds
    cfg = BertConfig(hidden_size=32, num_hidden_layers=1, num_attention_heads=2, intermediate_size=64,
                     vocab_size=30522, hidden_dropout_prob=0.0, attention_probs_dropout_prob=0.0)
    return BertModel(cfg)


def tiny_batch(text_counts=(10, 8, 6, 9, 4, 7), audio_lengths=(7, 3, 5, 1, 6, 2),
               vision_lengths=(9, 4, 2, 8, 5, 1), labels=(2.0, -1.5, 0.5, -2.5, 1.0, -0.5),
               L: int = 10, seed: int = 0, p_miss: float = 0.3) -> dict:
    """A batch in the data layer's collate format (incomplete view included), audio/vision cropped."""
    g = torch.Generator().manual_seed(seed)
    B = len(text_counts)
    ids = torch.zeros(B, L, dtype=torch.long)
    mask = torch.zeros(B, L, dtype=torch.long)
    for i, n in enumerate(text_counts):
        ids[i, 0], ids[i, n - 1] = 101, 102
        ids[i, 1:n - 1] = torch.randint(1000, 2000, (n - 2,), generator=g)
        mask[i, :n] = 1
    kept = (torch.rand(B, L, generator=g) > p_miss) & mask.bool()
    kept[:, 0] = True
    for i, n in enumerate(text_counts):
        kept[i, n - 1] = True
    ids_m = torch.where(kept, ids, torch.where(mask.bool(), torch.full_like(ids, 100), ids))
    seg = torch.zeros_like(ids)

    def frames(lengths, D):
        lengths = torch.tensor(lengths)
        T = int(lengths.max())
        valid = torch.arange(T)[None, :] < lengths[:, None]  # (B, T)
        x = torch.randn(B, T, D, generator=g) * valid[..., None]
        k = (torch.rand(B, T, generator=g) > p_miss) & valid
        return x, x * k[..., None], lengths, k

    a, a_m, a_len, a_k = frames(audio_lengths, DA)
    v, v_m, v_len, v_k = frames(vision_lengths, DV)
    return {"text": torch.stack([ids, mask, seg], 1), "text_m": torch.stack([ids_m, mask, seg], 1),
            "text_kept": kept, "audio": a, "audio_m": a_m, "audio_lengths": a_len, "audio_kept": a_k,
            "vision": v, "vision_m": v_m, "vision_lengths": v_len, "vision_kept": v_k,
            "labels": torch.tensor(labels, dtype=torch.float32), "index": torch.arange(B),
            "id": [f"v{i}$_$0" for i in range(B)]}


X1 = torch.tensor([[1.0, 2.0], [3.0, 4.0], [5.0, 0.0]])
X2 = torch.tensor([[0.0, 1.0], [2.0, 1.0], [1.0, 4.0]])


# ------------------------------------------------------------------------------------------ MISA losses
def test_diff_loss_hand_computed():
    # centred X1 = [[-2,0],[0,2],[2,-2]], row norms 2, 2, 2*sqrt2 -> [[-1,0],[0,1],[1/r2,-1/r2]]
    # centred X2 = [[-1,-1],[1,-1],[0,2]], row norms r2, r2, 2 -> [[-1/r2,-1/r2],[1/r2,-1/r2],[0,1]]
    # X1n^T X2n = [[1/r2, r2], [1/r2, -r2]] -> squares 0.5, 2, 0.5, 2 -> mean 1.25
    assert misa.diff_loss(X1, X2).item() == pytest.approx(1.25, abs=1e-5)
    # the norm is detached: the gradient equals that of the same formula with constant norms
    a = X1.clone().requires_grad_(True)
    misa.diff_loss(a, X2).backward()
    b = X1.clone().requires_grad_(True)
    n1 = torch.tensor([[2.0], [2.0], [2 * math.sqrt(2)]]) + 1e-6
    n2 = torch.tensor([[math.sqrt(2)], [math.sqrt(2)], [2.0]]) + 1e-6
    c1, c2 = (b - b.mean(0)) / n1, (X2 - X2.mean(0)) / n2
    (c1.t() @ c2).pow(2).mean().backward()
    assert torch.allclose(a.grad, b.grad, atol=1e-6)


def test_cmd_hand_computed():
    # means (3,2) vs (1,2): ||(2,0)|| = 2
    # k=2: (8/3, 8/3) vs (2/3, 2)   -> sqrt(4 + 4/9)
    # k=3: (0, 0)     vs (0, 2)     -> 2
    # k=4: (32/3, 32/3) vs (2/3, 6) -> sqrt(100 + 196/9)
    # k=5: (0, 0)     vs (0, 10)    -> 10
    expected = 2 + math.sqrt(40 / 9) + 2 + math.sqrt(1096 / 9) + 10
    assert misa.cmd(X1, X2, 5).item() == pytest.approx(expected, rel=1e-6)
    assert misa.cmd(X1, X2, 1).item() == pytest.approx(2.0)
    assert misa.cmd(X1, X1, 5).item() == pytest.approx(0.0, abs=1e-6)


def test_misa_loss_combines_terms_with_preset_weights():
    torch.manual_seed(1)
    model = misa.MISA(hparams("misa", "mosi"), tiny_bert()).eval()
    batch = tiny_batch()
    with torch.no_grad():
        out = model(batch)
        t = model.loss(out, batch)
    p = model.preset
    assert (p.diff_weight, p.sim_weight, p.recon_weight) == (0.1, 0.3, 1.0)
    assert t["task"].item() == pytest.approx(((out["pred"] - batch["labels"]) ** 2).mean().item(), rel=1e-6)
    sh = out["shared"]
    sim = (misa.cmd(sh["t"], sh["v"]) + misa.cmd(sh["t"], sh["a"]) + misa.cmd(sh["a"], sh["v"])) / 3
    assert t["cmd"].item() == pytest.approx(sim.item(), rel=1e-6)
    total = t["task"] + 0.1 * t["diff"] + 0.3 * t["cmd"] + 1.0 * t["recon"]
    assert t["total"].item() == pytest.approx(total.item(), rel=1e-6)


def test_misa_text_length_quirk_and_fix():
    torch.manual_seed(2)
    bert = tiny_bert()
    batch = tiny_batch()  # text counts up to 10 > cropped audio length 7 and > some vision lengths
    assert int(batch["text"][:, 1].sum(1).max()) > batch["audio_m"].shape[1]
    faithful = misa.MISA(hparams("misa", "mosi"), bert).eval()
    fixed = misa.MISA(hparams("misa", "mosi", faithful_quirks=False), bert).eval()
    fixed.load_state_dict(faithful.state_dict(), strict=False)
    # Faithful: zero-padding to the original full length (as in the MMSA pickle) changes nothing.
    padded = dict(batch, audio_m=torch.nn.functional.pad(batch["audio_m"], (0, 0, 0, 30)),
                  vision_m=torch.nn.functional.pad(batch["vision_m"], (0, 0, 0, 30)))
    with torch.no_grad():
        assert torch.allclose(faithful(batch)["pred"], faithful(padded)["pred"], atol=1e-6)
    # Frames past each clip's end: read by the faithful model (text-count lengths), ignored by the fix.
    noisy = dict(batch)
    for key, len_key in (("audio_m", "audio_lengths"), ("vision_m", "vision_lengths")):
        x = batch[key].clone()
        T = x.shape[1]
        beyond = torch.arange(T)[None, :] >= batch[len_key][:, None]
        x[beyond] = 5.0
        noisy[key] = x
    with torch.no_grad():
        assert torch.allclose(fixed(batch)["pred"], fixed(noisy)["pred"], atol=1e-6)
        assert not torch.allclose(faithful(batch)["pred"], faithful(noisy)["pred"], atol=1e-4)
    # dead modules exist only in the faithful build and are not used
    assert hasattr(faithful, "unused_sp_discriminator") and not hasattr(fixed, "unused_sp_discriminator")


def test_misa_optimizer_single_adam_without_weight_decay():
    model = misa.MISA(hparams("misa", "mosi"), tiny_bert())
    opt = misa.make_optimizer(model)
    assert len(opt.param_groups) == 1
    assert opt.param_groups[0]["weight_decay"] == 0 and opt.param_groups[0]["lr"] == 1e-4
    assert sum(t.numel() for t in opt.param_groups[0]["params"]) == model.num_parameters(inference=False)
    h = hparams("misa", "mosi")
    assert (h.grad_clip, h.update_epochs) == (0.8, 2)


# ------------------------------------------------------------------------------------------ MMIM bounds
def test_lld_hand_computed():
    mu = torch.tensor([[1.0, 0.0], [0.0, 0.0]])
    y = torch.tensor([[0.0, 0.0], [0.0, 2.0]])
    logvar = torch.tensor([[0.0, 0.0], [math.log(2.0), 0.0]])
    # sample 1: -(1)^2/2 = -0.5; sample 2: -0/(2*2) - 2^2/2 = -2  -> mean -1.25
    assert mmim.lld_gaussian(mu, logvar, y).item() == pytest.approx(-1.25)
    torch.manual_seed(3)
    m = mmim.MMILB(6, 4)
    x, yy = torch.randn(5, 6), torch.randn(5, 4)
    lld, samples, H = m(x, yy)
    assert lld.item() == pytest.approx(mmim.lld_gaussian(m.mlp_mu(x), m.mlp_logvar(x), yy).item())
    assert samples == {"pos": None, "neg": None} and H == 0.0


def test_cpc_nce_hand_computed():
    x = torch.tensor([[3.0, 4.0], [1.0, 0.0]])  # -> [[0.6, 0.8], [1, 0]]
    xp = torch.tensor([[0.0, 2.0], [1.0, 1.0]])  # -> [[0, 1], [1/r2, 1/r2]]
    r = 1 / math.sqrt(2)
    pos = [0.8, r]
    lse = [math.log(math.exp(0.8) + math.exp(1.4 * r)), math.log(math.exp(0.0) + math.exp(r))]
    expected = -((pos[0] - lse[0]) + (pos[1] - lse[1])) / 2
    assert mmim.cpc_nce(x, xp).item() == pytest.approx(expected, rel=1e-6)
    # identity case: nce = log(e + 1) - 1
    eye = torch.eye(2)
    assert mmim.cpc_nce(eye, 3 * eye).item() == pytest.approx(math.log(math.e + 1) - 1, rel=1e-6)


def test_gaussian_entropy_hand_computed():
    pos = torch.tensor([[1.0, 0.0], [-1.0, 0.0], [0.0, 1.0], [0.0, -1.0]])  # Sigma = 0.5 I
    neg = 3 * pos  # Sigma = 4.5 I
    # 0.25 * (2 log 0.5 + 2 log 4.5) = 0.5 log 2.25 = log 1.5
    assert mmim.gaussian_entropy(pos, neg).item() == pytest.approx(math.log(1.5), rel=1e-5)


# ------------------------------------------------------------------------------------------ Self-MM
def _bank_with_centres():
    """3 train samples: 0 (+1) and 2 (+1) share positive features, 1 (-1) has the negative ones."""
    dims = {"M": 2, "T": 2, "A": 2, "V": 2}
    bank = self_mm.SelfMMLabelBank(torch.tensor([1.0, -1.0, 1.0]), dims, H=3.0)
    pos = {"M": [1.0, 0.0], "T": [0.0, 1.0], "A": [1.0, 1.0], "V": [2.0, 0.0]}
    feats = {s: torch.tensor([pos[s], [-c for c in pos[s]], pos[s]]) for s in dims}
    bank.update_features(torch.arange(3), feats)
    bank.update_centres()
    return bank


def test_label_bank_centres_and_hand_computed_update():
    bank = _bank_with_centres()
    assert torch.equal(bank.centres["V"]["pos"], torch.tensor([2.0, 0.0]))
    assert torch.equal(bank.centres["V"]["neg"], torch.tensor([-2.0, 0.0]))
    # Sample 2 (y_M = 1) at epoch n = 2, its new features:
    #   fusion (0.5, 0): d_p = 0.5, d_n = 1.5 -> delta_f = 2
    #   text   (0, 0):   delta_s = 0, alpha = 0    -> new = 0.5 (1 + 0 - 2) = -0.5
    #                    y_T = 1/3 * 1 + 2/3 * (-0.5) = 0
    #   audio  (1, 1) = the positive centre: d_p = 0 -> delta_s = 2 r2 / 1e-8 -> new clamped to H = 3
    #                    y_A = 1/3 + 2/3 * 3 = 7/3
    #   video  (-1, 0):  d_p = 3, d_n = 1 -> delta_s = -2/3, alpha = -1/3
    #                    new = 0.5 (-1/3) 1 + 0.5 (1 - 2/3 - 2) = -1 -> y_V = 1/3 - 2/3 = -1/3
    new = {"M": torch.tensor([[0.5, 0.0]]), "T": torch.tensor([[0.0, 0.0]]),
           "A": torch.tensor([[1.0, 1.0]]), "V": torch.tensor([[-1.0, 0.0]])}
    bank.update_labels(torch.tensor([2]), new, epoch=1)  # epoch 1: no update
    assert bank.labels(torch.tensor([2]))["T"].item() == 1.0
    bank.update_labels(torch.tensor([2]), new, epoch=2)
    got = bank.labels(torch.tensor([2]))
    assert got["M"].item() == 1.0  # never changed
    assert got["T"].item() == pytest.approx(0.0, abs=1e-6)
    assert got["A"].item() == pytest.approx(7 / 3, rel=1e-6)
    assert got["V"].item() == pytest.approx(-1 / 3, rel=1e-6)
    # the other samples are untouched
    assert bank.labels(torch.tensor([0, 1]))["T"].tolist() == [1.0, -1.0]


def test_label_bank_moves_away_and_stays_bounded():
    g = torch.Generator().manual_seed(4)
    n, H = 40, 1.0
    y = (torch.rand(n, generator=g) * 2 - 1)
    dims = {"M": 8, "T": 4, "A": 3, "V": 5}
    bank = self_mm.SelfMMLabelBank(y, dims, H=H)
    for epoch in (1, 2, 3, 4):
        for idx in torch.randperm(n, generator=g).split(8):
            f = {s: torch.randn(len(idx), d, generator=g) * 3 for s, d in dims.items()}
            bank.update_labels(idx, f, epoch)
            bank.update_features(idx, f)
            bank.update_centres()
        lab = bank.labels(torch.arange(n))
        if epoch == 1:
            assert all(torch.equal(lab[s], y) for s in "TAV")
    for s in "TAV":
        assert torch.isfinite(lab[s]).all()
        assert lab[s].abs().max() <= H + 1e-6
        assert (lab[s] - y).abs().mean() > 0.05  # generated labels moved away from y_M
    assert torch.equal(lab["M"], y)


def test_label_bank_empty_class_quirk():
    dims = {"M": 2, "T": 2, "A": 2, "V": 2}
    for faithful in (True, False):
        bank = self_mm.SelfMMLabelBank(torch.tensor([1.0, 2.0]), dims, H=3.0, faithful_quirks=faithful)
        bank.update_features(torch.arange(2), {s: torch.ones(2, 2) for s in dims})
        bank.update_centres()
        assert torch.isnan(bank.centres["M"]["neg"]).all() == faithful


def test_self_mm_weighted_loss_hand_computed():
    out = {"M": torch.tensor([1.0, 0.0]), "T": torch.tensor([0.0, 0.0]),
           "A": torch.tensor([2.0, 0.0]), "V": torch.tensor([0.0, 0.0])}
    lab = {"M": torch.tensor([2.0, 0.0]), "T": torch.tensor([1.0, 0.0]),
           "A": torch.tensor([2.0, 0.5]), "V": torch.tensor([2.0, 0.0])}
    t = self_mm.self_mm_loss(out, lab)
    assert t["M"].item() == pytest.approx(0.5)  # mean(|1-2|, 0)
    assert t["T"].item() == pytest.approx(math.tanh(1.0) * 1.0 / 2)  # w = tanh|1-2|, err 1; sample 2: w=0
    assert t["A"].item() == pytest.approx(math.tanh(0.5) * 0.5 / 2)  # sample 1 err 0; sample 2 w tanh .5
    assert t["V"].item() == pytest.approx(0.0)  # w = tanh 0 = 0 for sample 1; err 0 for sample 2
    assert t["total"].item() == pytest.approx(sum(t[s].item() for s in "MTAV"))


def test_self_mm_optimizer_groups():
    model = self_mm.SelfMM(hparams("self_mm", "mosi"), tiny_bert())
    opt = self_mm.make_optimizer(model)
    lrs = [g["lr"] for g in opt.param_groups]
    wds = [g["weight_decay"] for g in opt.param_groups]
    assert lrs == [5e-5, 5e-5, 5e-3, 5e-3, 1e-3] and wds == [1e-3, 0.0, 1e-3, 1e-3, 1e-3]
    n_groups = [sum(t.numel() for t in g["params"]) for g in opt.param_groups]
    assert sum(n_groups) == model.num_parameters(inference=False)
    assert n_groups[1] == sum(t.numel() for n, t in model.text_model.named_parameters()
                              if "bias" in n or "LayerNorm" in n)


# ------------------------------------------------------------------------------------------ MMIM stages
def _mmim(seed=5, **kw):
    torch.manual_seed(seed)
    model = mmim.MMIM(hparams("mmim", "mosi", **kw), tiny_bert(seed))
    return model


def _two_batches():
    """Two different 8-sample batches with 4 positive and 4 negative labels each (for MMIM's H)."""
    lab = (2.0, -1.5, 0.5, -2.5, 1.0, -0.5, 1.5, -1.0)
    b1 = tiny_batch(text_counts=(10, 8, 6, 9, 4, 7, 5, 10), audio_lengths=(7, 3, 5, 1, 6, 2, 4, 7),
                    vision_lengths=(9, 4, 2, 8, 5, 1, 3, 6), labels=lab, seed=1)
    b2 = tiny_batch(text_counts=(9, 7, 10, 5, 6, 8, 4, 10), audio_lengths=(2, 7, 4, 6, 1, 3, 5, 7),
                    vision_lengths=(3, 9, 6, 2, 7, 4, 8, 1), labels=lab[::-1], seed=2)
    return b1, b2


def test_mmim_parameter_split_and_reinit():
    model = _mmim()
    before = model.fusion_prj.linear_1.weight.detach().clone()
    g = torch.Generator().manual_seed(0)
    opt_mmilb, opt_main, sched = mmim.make_optimizers(model, generator=g)
    names = {id(t): n for n, t in model.named_parameters()}
    mmilb_names = {names[id(t)] for t in opt_mmilb.param_groups[0]["params"]}
    assert mmilb_names == {n for n, _ in model.named_parameters() if n.startswith("mi_")}
    bert_group, main_group = opt_main.param_groups
    assert all(names[id(t)].startswith("bert.") for t in bert_group["params"])
    assert (bert_group["lr"], main_group["lr"], opt_mmilb.param_groups[0]["lr"]) == (5e-5, 1e-3, 1e-3)
    assert not torch.equal(before, model.fusion_prj.linear_1.weight)  # xavier_normal_ re-init
    w = model.fusion_prj.linear_1.weight
    assert w.std().item() == pytest.approx(math.sqrt(2 / sum(w.shape)), rel=0.15)
    assert isinstance(sched, torch.optim.lr_scheduler.ReduceLROnPlateau) and sched.patience == 20


def test_mmim_stage1_changes_only_mmilb():
    model = _mmim()
    opt_mmilb, _, _ = mmim.make_optimizers(model)
    before = {k: v.detach().clone() for k, v in model.state_dict().items()}
    terms = mmim.stage1_step(model, tiny_batch(), opt_mmilb)
    assert math.isfinite(terms["loss"]) and terms["loss"] == pytest.approx(-terms["lld"])
    after = model.state_dict()
    changed = {k for k in before if not torch.equal(before[k], after[k])}
    assert changed, "stage 1 must move the MMILB"
    assert all(k.startswith(("mi_tv.mlp_", "mi_ta.mlp_")) for k in changed), changed
    # quirk 2: entropy_prj gets no stage-1 gradient, so it never moves
    assert not any("entropy_prj" in k for k in changed)


def test_mmim_memory_and_entropy_schedule():
    model = _mmim()
    p = model.preset
    mem = mmim.MMIMMemory(p.mem_size)
    assert mem.view(0) is None
    b0, b = _two_batches()
    with torch.no_grad():
        out0 = model(b0, labels=b0["labels"], mem=mem.view(0))
        assert out0["H"] == 0.0 and out0["pn"]["tv"]["pos"].shape == (4, p.d_vout // 4)
        mem.push(out0["pn"], 0)
        out1 = model(b, labels=b["labels"], mem=mem.view(1))
        assert torch.is_tensor(out1["H"]) and torch.isfinite(out1["H"])
        # H enters the loss only once batch_index > mem_size
        l1 = mmim.stage2_loss(out1, b["labels"], p, batch_index=1)
        l2 = mmim.stage2_loss(out1, b["labels"], p, batch_index=2)
        assert (l1["total"] - l2["total"]).item() == pytest.approx(p.beta * out1["H"].item(), rel=1e-5)
        base = l1["task"] + p.alpha * out1["nce"] - p.beta * out1["lld"]
        assert l1["total"].item() == pytest.approx(base.item(), rel=1e-6)
        # quirk 3: the same 4 positives twice give a singular 4x4 covariance -> H not finite
        dup = mmim.MMIMMemory(p.mem_size)
        dup.push(out1["pn"], 0)
        out_dup = model(b, labels=b["labels"], mem=dup.view(1))
        assert not torch.isfinite(out_dup["H"])
        assert not torch.isfinite(mmim.stage2_loss(out_dup, b["labels"], p, 2)["total"])
        fixed = replace(p, faithful_quirks=False)
        assert torch.isfinite(mmim.stage2_loss(out_dup, b["labels"], fixed, 2)["total"])
    mem.push(out1["pn"], 1)
    assert len(mem.pos["tv"]) == 1  # mem_size 1: replaced, not appended


def test_mmim_stage1_limit_quirk():
    assert stage1_limit("mosei") == ("first", 2)
    assert stage1_limit("mosei", faithful_quirks=False) == ("fraction", 0.5)
    assert stage1_limit("mosi") is None and stage1_limit("sims", faithful_quirks=False) is None


# ------------------------------------------------------------------------------------------ training
def _eval_loss(fn):
    with torch.no_grad():
        return float(fn())


def test_misa_trains_on_a_fixed_batch():
    torch.manual_seed(6)
    model = misa.MISA(hparams("misa", "mosi", lr=1e-3, dropout=0.0), tiny_bert(6))
    batch = tiny_batch()
    opt = misa.make_optimizer(model)

    def total():
        model.eval()
        return model.loss(model(batch), batch)["total"]

    start = _eval_loss(total)
    for _ in range(20):
        model.train()
        opt.zero_grad()
        t = model.loss(model(batch), batch)
        assert torch.isfinite(t["total"])
        t["total"].backward()
        misa.clip_gradients(model)
        opt.step()
    assert all(v.grad is not None and torch.isfinite(v.grad).all() for n, v in model.named_parameters()
               if not n.startswith("unused_") and "pooler" not in n)
    end = _eval_loss(total)
    print(f"\nMISA total loss {start:.3f} -> {end:.3f}")
    assert end < 0.5 * start


def test_self_mm_trains_on_a_fixed_batch_with_label_bank():
    torch.manual_seed(7)
    # 6 samples: a task can lose all its positive labels; the fixed bank keeps the old centre (quirk 2)
    model = self_mm.SelfMM(hparams("self_mm", "mosi", lr_other=1e-2, faithful_quirks=False), tiny_bert(7))
    batch = tiny_batch()
    bank = self_mm.SelfMMLabelBank.for_model(model, batch["labels"])
    opt = self_mm.make_optimizer(model)

    def l1_m():
        model.eval()
        return model.valid_loss(model(batch), batch)

    start = _eval_loss(l1_m)
    for step in range(20):
        model.train()
        opt.zero_grad()
        out = model(batch)
        t = model.loss(out, bank.labels(batch["index"]))
        assert torch.isfinite(t["total"])
        t["total"].backward()
        epoch = 1 + step // 10  # label updates from the 11th step on
        bank.update_labels(batch["index"], out["features"], epoch)
        bank.update_features(batch["index"], out["features"])
        bank.update_centres()
        opt.step()
    lab = bank.labels(batch["index"])
    assert all(torch.isfinite(lab[s]).all() and lab[s].abs().max() <= 3.0 for s in "TAV")
    assert torch.equal(lab["M"], batch["labels"])
    assert any((lab[s] - lab["M"]).abs().max() > 0.1 for s in "TAV")
    end = _eval_loss(l1_m)
    print(f"\nSelf-MM L1(M) {start:.3f} -> {end:.3f}")
    assert end < 0.5 * start  # the multimodal L1 (the validation key) fell


def test_mmim_trains_with_both_stages():
    model = _mmim(8, lr_main=3e-3)
    opt_mmilb, opt_main, _ = mmim.make_optimizers(model)
    b1, b2 = _two_batches()
    batches = [b1, b2]

    def task():
        model.eval()
        return sum(model.valid_loss(model(b), b) for b in batches) / 2

    start = _eval_loss(task)
    for epoch in range(5):
        for b in batches:
            s1 = mmim.stage1_step(model, b, opt_mmilb)
            assert math.isfinite(s1["loss"])
        memory = mmim.MMIMMemory(model.preset.mem_size)
        for i in range(4):  # batch indices 0..3: H is used from index 2 on
            s2 = mmim.stage2_step(model, batches[i % 2], opt_main, memory, i)
            assert all(math.isfinite(v) for v in s2.values()), s2
    assert s2["H"] != 0.0
    end = _eval_loss(task)
    print(f"\nMMIM L1 {start:.3f} -> {end:.3f}")
    assert end < 0.7 * start


# ------------------------------------------------------------------------------------------ presets, sizes
def test_presets_tables():
    assert hparams("misa", "mosei").dropout == 0.5 and hparams("misa", "sims").recon_weight == 0.8
    tfr = hparams("misa", "mosi", source="tfr_net")
    assert (tfr.batch_size, tfr.diff_weight, tfr.sim_weight, tfr.recon_weight, tfr.grad_clip) == \
        (64, 0.3, 0.8, 0.8, 1.0)
    s = hparams("self_mm", "sims")
    assert (s.H, s.v_lstm_hidden, s.post_text_dim, s.audio_dim, s.vision_dim) == \
        (1.0, 64, 64, 33, 709)
    assert hparams("self_mm", "mosei").lr_video == 1e-4 and hparams("self_mm", "mosei").wd_other == 1e-2
    m = hparams("mmim", "mosei")
    assert isinstance(m, MMIMHParams) and (m.audio_dim, m.vision_dim, m.alpha, m.beta, m.mem_size) == \
        (74, 35, 0.1, 0.1, 1)
    assert isinstance(hparams("misa", "mosi"), MISAHParams) and isinstance(s, SelfMMHParams)
    with pytest.raises(ValueError, match="available"):
        hparams("mmim", "mosi", source="tfr_net")
    with pytest.raises(ValueError, match="iemocap"):
        hparams("misa", "iemocap")
    assert replace(hparams("misa", "mosi"), faithful_quirks=False).faithful_quirks is False


def test_parameter_counts_bert_base_mosi():
    bert = BertModel(BertConfig())  # random bert-base-uncased: 109,482,240 parameters
    assert sum(t.numel() for t in bert.parameters()) == 109_482_240
    counts = {}
    for name, cls in (("misa", misa.MISA), ("self_mm", self_mm.SelfMM), ("mmim", mmim.MMIM)):
        model = cls(hparams(name, "mosi"), bert)
        counts[name] = (model.num_parameters(inference=True), model.num_parameters(inference=False))
    print("\nMOSI parameter counts (inference, total):", counts)
    for inf, tot in counts.values():
        assert 109.5e6 <= inf <= 111e6 and inf <= tot
    # Worked out by hand from the architectures (see the module docstrings):
    # MISA: LSTMs+LN audio 1,180, video 16,720; projections 98,688 + 2,944 + 10,624; private/shared 66,048;
    #       transformer layer 593,024; fusion 295,681; recon 49,536 (training only); dead modules 3,588.
    assert counts["misa"] == (110_567_149, 110_620_273)
    # Self-MM: subnets 1,472 + 272 + 6,912 + 1,056; heads M 121,217, T 25,697, A 561, V 2,145 (T/A/V: training).
    assert counts["self_mm"] == (109_613_169, 109_641_572)
    # MMIM: encoders 3,472 + 5,392; fusion 119,169; MMILB 2 x 25,220 and CPC 103,200 (training only).
    assert counts["mmim"] == (109_610_273, 109_763_913)
