"""Helpers shared by the baseline tests (tests/test_baselines_*.py): the released hyperparameters
with changes, tiny BERTs, tiny batches in the collate contract, tiny hyperparameters.

Two families, kept exactly as they were written so that every test computes what it always did:
- TFN, LMF, MulT, TFR-Net: `tiny_bert` (seed 0, dropout 0.1 unless told), `tiny_batch` (4 samples,
  text length 8), `tiny_hparams` (MOSI at the lengths `TINY`), `MODULES` (module and class);
- MISA, Self-MM, MMIM: `tiny_bert_seeded` (dropout-free, seed given), `tiny_batch_from_counts`
  (6 samples by default, text length 10, from per-sample token counts, lengths and labels), `eval_loss`.

Imported as `tests.baselines_helpers`, like `tests.conftest`'s helpers elsewhere: `python -m pytest`
from the repository root, and the root conftest.py under pytest's default import mode, put the root on
sys.path.
"""
from __future__ import annotations

from dataclasses import replace

import torch
from transformers import BertConfig, BertModel

from emtlib.config import paper_hparams
from emtlib.models.baselines import lmf, mult, tfn, tfr_net


def hparams(method: str, dataset: str, source: str | None = None, **changes):
    """The released hyperparameters of `method` on `dataset` (from `source`), with `changes`."""
    return replace(paper_hparams(method, dataset, source), **changes)


# -------------------------------------------------------------------------- TFN, LMF, MulT, TFR-Net

MODULES = {"tfn": (tfn, tfn.TFN), "lmf": (lmf, lmf.LMF), "mult": (mult, mult.MulT),
           "tfr_net": (tfr_net, tfr_net.TFRNet)}
TINY = dict(text_len=8, audio_len=12, vision_len=10)  # MOSI feature dims, tiny padded lengths


def tiny_bert(dropout: float = 0.1) -> BertModel:
    """A one-layer BERT (hidden size 32) seeded with 0; dropout 0.1 unless told."""
    torch.manual_seed(0)
    return BertModel(BertConfig(hidden_size=32, num_hidden_layers=1, num_attention_heads=2,
                                intermediate_size=64, vocab_size=30522, hidden_dropout_prob=dropout,
                                attention_probs_dropout_prob=dropout))


def tiny_batch(seed: int = 0, L: int = 8, audio_lengths=(10, 7, 5, 3), vision_lengths=(8, 6, 4, 2),
               n_tok=(8, 6, 5, 3), rate: float = 0.4) -> dict:
    """A batch in the collate contract; audio/vision cropped to the batch maximum (10 and 8)."""
    g = torch.Generator().manual_seed(seed)
    B = len(n_tok)
    text = torch.zeros(B, 3, L, dtype=torch.long)
    for i, n in enumerate(n_tok):
        text[i, 0, 0], text[i, 0, n - 1] = 101, 102
        text[i, 0, 1:n - 1] = torch.randint(1000, 2000, (n - 2,), generator=g)
        text[i, 1, :n] = 1
    valid_t = text[:, 1].bool()
    kept_t = valid_t & (torch.rand(B, L, generator=g) > rate)
    kept_t[:, 0] = True
    kept_t[torch.arange(B), torch.tensor(n_tok) - 1] = True
    text_m = text.clone()
    text_m[:, 0][valid_t & ~kept_t] = 100
    batch = {"text": text, "text_m": text_m, "text_kept": kept_t,
             "labels": torch.tensor([2.0, -1.5, 0.5, -2.5])[:B], "index": torch.arange(B),
             "id": [f"v{i}" for i in range(B)]}
    for m, lengths, D in (("audio", audio_lengths, 5), ("vision", vision_lengths, 20)):
        lengths = torch.tensor(lengths)
        T = int(lengths.max())
        valid = torch.arange(T)[None] < lengths[:, None]
        x = torch.randn(B, T, D, generator=g) * valid[..., None]
        kept = valid & (torch.rand(B, T, generator=g) > rate)
        batch.update({m: x, f"{m}_m": x * kept[..., None], f"{m}_lengths": lengths, f"{m}_kept": kept})
    return batch


def tiny_hparams(method: str, faithful: bool = True, no_dropout: bool = False):
    """MOSI hyperparameters of `method` at the tiny lengths `TINY` (small fusion nets for TFN/LMF)."""
    p = hparams(method, "mosi", faithful_quirks=faithful, **TINY)
    if method in ("tfn", "lmf"):  # small fusion tensors keep the tests fast
        p = replace(p, audio_hidden=8, video_hidden=8, text_hidden=16)
        if method == "tfn":
            p = replace(p, text_out=8, post_fusion_dim=16)
    if no_dropout:
        p = replace(p, **{f: 0.0 for f in p.__dataclass_fields__ if "drop" in f})
    return p


# ------------------------------------------------------------------------------ MISA, Self-MM, MMIM

DA, DV = 5, 20  # MOSI feature sizes


def tiny_bert_seeded(seed: int = 0) -> BertModel:
    """A one-layer dropout-free BERT (hidden size 32) seeded with `seed`."""
    torch.manual_seed(seed)  # the test process's own RNG; library code never seeds
    cfg = BertConfig(hidden_size=32, num_hidden_layers=1, num_attention_heads=2, intermediate_size=64,
                     vocab_size=30522, hidden_dropout_prob=0.0, attention_probs_dropout_prob=0.0)
    return BertModel(cfg)


def tiny_batch_from_counts(text_counts=(10, 8, 6, 9, 4, 7), audio_lengths=(7, 3, 5, 1, 6, 2),
                           vision_lengths=(9, 4, 2, 8, 5, 1),
                           labels=(2.0, -1.5, 0.5, -2.5, 1.0, -0.5),
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


def eval_loss(fn):
    """`fn()` as a float, computed without autograd."""
    with torch.no_grad():
        return float(fn())
