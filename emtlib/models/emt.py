"""EMT: the Efficient Multimodal Transformer fusion module, with the paper's three fusion strategies.

Inputs are the projected local sequences H_m (B, T_m, d) with their key-padding masks and the
projected utterance vectors stacked as G^[0] (B, 3, d), modality order (text, audio, video).

OAGL (eq. 8, as released; docs/model.md#fusion-layer-loop). Per layer i and modality m:
    H_m^[i+1] = MPU_{g->m}(H_m^[i], G^[i])          local promoted by the global context G
    G_m       = MPU_{m->g}(G^[i], H_m^[i])          G promoted by the OLD local sequence ('parallel')
                MPU_{m->g}(G^[i], H_m^[i+1])        ... by the promoted one ('serial', paper 5.2.1)
    G^[i+1]   = Pool(G_l, G_a, G_v)                 eq. 9; each G_m is flattened to 3d
All modalities read the same G^[i]. g = flatten(G^[L]) in token order [text | audio | video].

OOLL (eq. 6; paper only, our reading). One MPU per modality pair (l,a), (l,v), (a,v):
    H_{n->m} = MPU_{n->m}(H_m, H_n),  H_{m->n} = MPU_{m->n}(H_n, H_m)   ('parallel')
    H_{m->n} = MPU_{m->n}(H_n, H_{n->m})                                ('serial', by analogy)
    Each modality gets two promoted copies (one per partner); H_m^[i+1] = Pool of the two,
    applied position-wise (the candidates at position t are pooled; width d).
    g = [masked mean of Z_l | Z_a | Z_v] (3d), Z_m = H_m^[L], since OOLL has no global context.

OALL (eq. 7; paper only, our reading). Common message C^[0] = Concat_t(H_l, H_a, H_v) (B, S, d):
    H_m^[i+1] = MPU_{c->m}(H_m^[i], C^[i])          local promoted by C
    C_m       = MPU_{m->c}(C^[i], H_m^[i])          ('parallel';  H_m^[i+1] when 'serial')
    C^[i+1]   = Pool(C_l, C_a, C_v)                 position-wise over the three promoted copies
    g = [masked mean of the text | audio | video segments of C^[L]] (3d): C plays G's role.

Sharing (paper 3.3.4, docs/model.md#hierarchical-sharing): `mpus[layer][unit][direction]`, built
with `_clones` at the MPU (2 directions), modality (3 units: modalities for OAGL/OALL, pairs for
OOLL) and layer level; one pool per layer, cloned with `layer_share`. All shared, OAGL at d=128:
478,337 parameters.

M modalities (`EMT(cfg, n_modalities=M)`, default 3 = the paper; used by the complexity-scaling
study, paper section 3.3.3 / Table 1). Everything above generalises with 3 -> M:
    OAGL  G (B, M, d); M MPUs per layer; Pool over M promoted G's, each flattened to M*d (eq. 9)
    OOLL  C(M, 2) = M(M-1)/2 MPUs, pairs in `itertools.combinations` order (M=3: PAIRS);
          each modality gets M-1 promoted copies, pooled position-wise (width d)
    OALL  C^[0] = Concat_t(H_1, ..., H_M); M MPUs per layer; Pool over M promoted C's
    g is (B, M*d). The modality-sharing level clones over the M units (C(M, 2) pairs for OOLL).
For M = 3 the modules are built in the same order with the same names, so parameters (and, for a
fixed seed, their initial values), outputs and MAC counts are exactly those of the 3-modality code.
"""
from __future__ import annotations

from dataclasses import dataclass
from itertools import combinations

import torch
import torch.nn as nn

from emtlib.config import ModelConfig

from .layers import CrossSelfTransformer, PositionalEmbedding, _clones, make_pool

MODALITIES = ("text", "audio", "video")
PAIRS = ((0, 1), (0, 2), (1, 2))  # OOLL: (l, a), (l, v), (a, v)


def modality_names(n_modalities: int) -> tuple:
    """Names of the modalities: MODALITIES for the paper's 3, else 'm0', 'm1', ... (synthetic)."""
    return MODALITIES if n_modalities == 3 else tuple(f"m{k}" for k in range(n_modalities))


def modality_pairs(n_modalities: int) -> tuple:
    """OOLL's C(M, 2) modality pairs (m, n), m < n, in lexicographic order (M=3: PAIRS)."""
    return tuple(combinations(range(n_modalities), 2))


@dataclass
class FusionOutput:
    g: torch.Tensor
    """(B, M*d) utterance-level inter-modal representation (M = 3: (B, 3d))."""
    Z: list
    """Final local sequences [(B, T_m, d)] (M = 3: text, audio, video)."""
    attention: dict | None = None
    """OAGL only, when asked: modality -> list over layers of (B, heads, M, T_m), G <- local."""


def masked_mean(x: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """(B, T, d), (B, T) bool -> (B, d) mean over valid positions (zeros when none)."""
    m = mask.to(x.dtype).unsqueeze(-1)  # (B, T, 1)
    return (x * m).sum(1) / m.sum(1).clamp(min=1.0)


class EMT(nn.Module):
    """The fusion module (paper 3.3): positional embedding, L layers of MPUs, pooling.

    `n_modalities` M (default 3, the paper's text/audio/video) sets the number of local sequences
    and of global tokens; M >= 2. See the module docstring for how each strategy generalises.
    """

    def __init__(self, cfg: ModelConfig, n_modalities: int = 3):
        super().__init__()
        if n_modalities < 2:
            raise ValueError(f"EMT fuses at least 2 modalities, got n_modalities={n_modalities}")
        self.fusion, self.update, self.d, self.L = cfg.fusion, cfg.update, cfg.d_model, cfg.fusion_layers
        self.M = M = n_modalities
        self.names = modality_names(M)
        self.pairs = modality_pairs(M)  # OOLL only
        d = cfg.d_model
        self.pos_emb = PositionalEmbedding(d, cfg.max_seq_len, cfg.learnable_pos_emb, cfg.emb_dropout)
        half = CrossSelfTransformer(d, cfg.heads, cfg.ff_expansion, cfg.attn_dropout, cfg.ff_dropout,
                                    fused_attention=cfg.attention == "fused")
        mpu = _clones(half, 2, cfg.mpu_share)  # the two directions of one MPU (eq. 4)
        n_units = len(self.pairs) if cfg.fusion == "ooll" else M  # MPUs per layer
        layer = _clones(mpu, n_units, cfg.modality_share)  # one MPU per modality (per pair for OOLL)
        self.mpus = _clones(layer, cfg.fusion_layers, cfg.layer_share)
        if cfg.fusion == "oagl":
            pool = make_pool(cfg.pooling, M * d, M, cfg.attn_act_fn)  # M promoted G's, each M*d
        elif cfg.fusion == "ooll":
            pool = make_pool(cfg.pooling, d, M - 1, cfg.attn_act_fn)  # M-1 promoted copies per position
        else:
            pool = make_pool(cfg.pooling, d, M, cfg.attn_act_fn)  # M promoted C's per position
        self.pools = _clones(pool, cfg.fusion_layers, cfg.layer_share)

    def forward(self, G: torch.Tensor, seqs: list, masks: list, return_attention: bool = False) -> FusionOutput:
        # G (B, M, d); seqs[m] (B, T_m, d); masks[m] (B, T_m) bool, True = valid; m = 0..M-1
        if len(seqs) != self.M or len(masks) != self.M:
            raise ValueError(f"EMT built for {self.M} modalities, got {len(seqs)} sequences and "
                             f"{len(masks)} masks")
        if self.fusion == "oagl" and G.shape[1] != self.M:
            raise ValueError(f"G must hold {self.M} global tokens (B, M, d), got shape {tuple(G.shape)}")
        # PE on local sequences only (docs/model.md#positional-embedding)
        seqs = [self.pos_emb(x) for x in seqs]
        if return_attention and self.fusion != "oagl":
            raise ValueError(f"attention capture is defined for OAGL (G <- local, paper Fig. 12); "
                             f"model.fusion is {self.fusion!r}")
        if self.fusion == "oagl":
            return self._oagl(G, seqs, masks, return_attention)
        if self.fusion == "ooll":
            return self._ooll(seqs, masks)
        return self._oall(seqs, masks)

    def _pool_positions(self, i: int, cands: list) -> torch.Tensor:
        x = torch.stack(cands, dim=2)  # (B, T, K, d)
        B, T, K, d = x.shape
        return self.pools[i](x.reshape(B * T, K, d)).view(B, T, d)  # (B, T, d)

    def _oagl(self, G, seqs, masks, capture):
        B, d, M = G.shape[0], self.d, self.M
        attn = {m: [] for m in self.names} if capture else None
        for i in range(self.L):
            new_seqs, promoted = [], []
            for m in range(M):
                x_new = self.mpus[i][m][0](seqs[m], G, masks[m], None)  # local <- G
                ctx = x_new if self.update == "serial" else seqs[m]
                cap = [] if capture else None
                promoted.append(self.mpus[i][m][1](G, ctx, None, masks[m], cap))  # G <- local
                if capture:
                    attn[self.names[m]].append(cap[0])  # (B, heads, M, T_m)
                new_seqs.append(x_new)  # (B, T_m, d)
            # promoted[m] (B, M, d): M copies of G, each flattened to one M*d candidate
            stacked = torch.stack(promoted, dim=1).reshape(B, M, M * d)  # (B, M copies, M*d)
            G = self.pools[i](stacked).view(B, M, d)  # eq. 9 -> (B, M, d)
            seqs = new_seqs
        return FusionOutput(g=G.reshape(B, M * d), Z=seqs, attention=attn)

    def _ooll(self, seqs, masks):
        for i in range(self.L):
            cands = [[] for _ in range(self.M)]  # cands[m]: M-1 promoted copies (B, T_m, d)
            for p, (m, n) in enumerate(self.pairs):
                h_nm = self.mpus[i][p][0](seqs[m], seqs[n], masks[m], masks[n])  # H_{n->m}
                ctx = h_nm if self.update == "serial" else seqs[m]
                h_mn = self.mpus[i][p][1](seqs[n], ctx, masks[n], masks[m])  # H_{m->n}
                cands[m].append(h_nm)
                cands[n].append(h_mn)
            seqs = [self._pool_positions(i, c) for c in cands]  # (B, T_m, d) each
        g = torch.cat([masked_mean(x, mk) for x, mk in zip(seqs, masks)], dim=-1)  # (B, M*d)
        return FusionOutput(g=g, Z=seqs)

    def _oall(self, seqs, masks):
        lens = [x.shape[1] for x in seqs]
        C = torch.cat(seqs, dim=1)  # (B, S, d), S = T_1 + ... + T_M (M=3: T_l + T_a + T_v)
        C_mask = torch.cat(masks, dim=1)  # (B, S)
        for i in range(self.L):
            new_seqs, promoted = [], []
            for m in range(self.M):
                x_new = self.mpus[i][m][0](seqs[m], C, masks[m], C_mask)  # H_m <- C
                ctx = x_new if self.update == "serial" else seqs[m]
                promoted.append(self.mpus[i][m][1](C, ctx, C_mask, masks[m]))  # C <- H_m
                new_seqs.append(x_new)
            C = self._pool_positions(i, promoted)  # M candidates per position -> (B, S, d)
            seqs = new_seqs
        segs = torch.split(C, lens, dim=1)  # [(B, T_m, d)]
        g = torch.cat([masked_mean(x, mk) for x, mk in zip(segs, masks)], dim=-1)  # (B, M*d)
        return FusionOutput(g=g, Z=seqs)
