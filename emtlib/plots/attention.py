"""Paper Fig 12: attention of the global context's three tokens over each modality's local features."""
from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from pathlib import Path

import matplotlib
import numpy as np
from matplotlib.figure import Figure
from matplotlib.patches import Rectangle

from .style import maybe_save, new_figure, rc_params

MODALITY_ALIASES: dict[str, str] = {
    "text": "text", "t": "text", "l": "text", "language": "text",
    "audio": "audio", "a": "audio", "acoustic": "audio",
    "vision": "vision", "v": "vision", "video": "vision", "visual": "vision",
}
"""Accepted modality keys of a map dict and the modality each names."""
MODALITY_LABELS: dict[str, str] = {"text": "Text", "audio": "Audio", "vision": "Video"}
GLOBAL_TOKEN_LABELS: tuple[str, ...] = ("$g_l$", "$g_a$", "$g_v$")
"""Rows of every map: G = Concat(h_l, h_a, h_v), the global context's three tokens (eq. 8)."""


def avg_pool_time(arr: np.ndarray, stride: int) -> np.ndarray:
    """Average-pool the last (time) axis with window = stride (Fig 12 halves audio/video with 2).

    A trailing partial window is averaged over the frames it has (ceil mode), so nothing is dropped.
    """
    a = np.asarray(arr, dtype=float)
    if stride is None or int(stride) <= 1:
        return a
    s = int(stride)
    T = a.shape[-1]
    n = math.ceil(T / s)
    pad = n * s - T
    padded = np.concatenate([a, np.full(a.shape[:-1] + (pad,), np.nan)], axis=-1) if pad else a
    return np.nanmean(padded.reshape(a.shape[:-1] + (n, s)), axis=-1)


def _canon_maps(maps: Mapping, what: str) -> dict[str, np.ndarray]:
    """The maps keyed by canonical modality, checked to be finite (3, T_m) arrays."""
    if not isinstance(maps, Mapping) or not maps:
        raise ValueError(f"{what}: expected a non-empty dict modality -> array (3, T_m), "
                         f"found {type(maps).__name__ if not isinstance(maps, Mapping) else 'an empty dict'}")
    out: dict[str, np.ndarray] = {}
    for key, arr in maps.items():
        mod = MODALITY_ALIASES.get(str(key).lower())
        if mod is None:
            raise ValueError(f"{what}: unknown modality {key!r}; expected one of "
                             f"text/audio/vision (or l/a/v)")
        if mod in out:
            raise ValueError(f"{what}: modality {mod!r} given twice")
        a = np.asarray(arr, dtype=float)
        if a.ndim != 2 or a.shape[0] != 3 or a.shape[1] < 1:
            raise ValueError(f"{what}[{key!r}]: expected shape (3, T_m) (3 global tokens x local "
                             f"positions, heads averaged), found {a.shape}")
        if not np.isfinite(a).all():
            raise ValueError(f"{what}[{key!r}]: expected finite attention weights, found NaN/inf")
        out[mod] = a
    return out


def attention_maps(maps: Mapping[str, np.ndarray], tokens: Sequence[str] | None = None, *,
                   title: str | None = "Global-local cross-modal attention",
                   second: Mapping[str, np.ndarray] | None = None,
                   second_tokens: Sequence[str] | None = None,
                   conditions: Sequence[str] = ("(a) complete", "(b) missing rate 0.5"),
                   pool: Mapping[str, int] | None = None,
                   order: Sequence[str] = ("vision", "audio", "text"),
                   highlight: bool = True, name: str | None = None,
                   results_dir: str | Path | None = None) -> Figure:
    """Paper Fig 12: attention of the global context's 3 tokens over each modality's local features.

    maps: modality ('text'/'audio'/'vision', or 'l'/'a'/'v') -> array (3, T_m), heads averaged,
    rows in G's token order (g_l, g_a, g_v). tokens: the text's word pieces (CLS-less), one per
    text column (the x tick labels); audio/video columns are numbered frames.
    second / second_tokens: an optional second condition (e.g. missing rate 0.5, with [UNK] for
    dropped tokens; tokens default to `tokens`), drawn as a second row of panels.
    pool: stride of the time average pooling per modality, default {'audio': 2, 'vision': 2} as in
    the paper (42 and 50 frames -> 21 and 25); pass {} if the maps are already pooled.
    Each modality has one color scale, shared by both conditions; with `highlight` the column
    most attended on average over the 3 tokens is framed (the paper's colored rectangles).
    """
    pool = {"audio": 2, "vision": 2} if pool is None else dict(pool)
    conds = [_canon_maps(maps, "maps")]
    toks = [tokens]
    if second is not None:
        conds.append(_canon_maps(second, "second"))
        toks.append(second_tokens if second_tokens is not None else tokens)
        if set(conds[1]) != set(conds[0]):
            raise ValueError(f"second: expected the same modalities as maps {sorted(conds[0])}, "
                             f"found {sorted(conds[1])}")
    order = [MODALITY_ALIASES.get(str(m).lower(), str(m)) for m in order]
    mods = [m for m in order if m in conds[0]] + [m for m in conds[0] if m not in order]
    pooled = [{m: avg_pool_time(c[m], pool.get(m, 1)) for m in mods} for c in conds]
    for ci, (c, tk) in enumerate(zip(pooled, toks)):
        if "text" in c and tk is not None:
            if len(tk) != c["text"].shape[1]:
                raise ValueError(f"tokens{'' if ci == 0 else ' (second)'}: expected one per text "
                                 f"column ({c['text'].shape[1]}), found {len(tk)}")
        for m in mods:
            if c[m].shape != pooled[0][m].shape:
                raise ValueError(f"second[{m!r}]: expected the shape of maps[{m!r}] "
                                 f"{conds[0][m].shape}, found {conds[ci][m].shape}")
    widths = [max(pooled[0][m].shape[1], 8) for m in mods]
    nrows = len(pooled)
    vmax = {m: max(float(c[m].max()) for c in pooled) for m in mods}

    with matplotlib.rc_context(rc_params()):
        fig = new_figure((15.0, 2.5 * nrows + 0.8))
        axes = fig.subplots(nrows, len(mods), squeeze=False,
                            gridspec_kw={"width_ratios": widths})
        for r, (c, tk) in enumerate(zip(pooled, toks)):
            for j, m in enumerate(mods):
                ax = axes[r, j]
                a = c[m]
                im = ax.imshow(a, aspect="auto", cmap="Blues", vmin=0.0, vmax=vmax[m] or 1.0,
                               interpolation="nearest")
                ax.grid(False)
                ax.set_yticks(range(3))
                ax.set_yticklabels(GLOBAL_TOKEN_LABELS if j == 0 else [])
                T = a.shape[1]
                if m == "text" and tk is not None:
                    ax.set_xticks(range(T))
                    ax.set_xticklabels(list(tk), rotation=90, fontsize=7)
                else:
                    step = max(1, math.ceil(T / 10))
                    ax.set_xticks(range(0, T, step))
                    ax.set_xticklabels([str(t) for t in range(0, T, step)], fontsize=7)
                    s = pool.get(m, 1)
                    ax.set_xlabel("token" if m == "text" else
                                  f"frame{f' (avg-pooled, stride {s})' if s and s > 1 else ''}",
                                  fontsize=8)
                if highlight:
                    col = int(np.argmax(a.mean(axis=0)))
                    ax.add_patch(Rectangle((col - 0.5, -0.5), 1, 3, fill=False,
                                           edgecolor="#d62728", linewidth=1.8, gid="highlight"))
                ax.set_title(f"{MODALITY_LABELS[m] if m in MODALITY_LABELS else m}"
                             + (f" — {conditions[r]}" if second is not None and r < len(conditions)
                                else ""), fontsize=10)
                if r == nrows - 1:
                    fig.colorbar(im, ax=list(axes[:, j]), shrink=0.8, pad=0.01, aspect=15)
        if title:
            fig.suptitle(title)
    maybe_save(fig, name or "fig12_attention_maps", results_dir)
    return fig
