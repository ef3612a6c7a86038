"""A synthetic stand-in for the MMSA processed pickles, with cross-modal signal that can be learned.

`make_synthetic(dataset, scale, seed)` returns a dict in exactly the layout of the released
pickle of `dataset` (docs/data.md; shapes, split sizes, label ranges and class
proportions come from `emtlib.data.schema`). `write_synthetic` writes it as a pickle, plus the
`<file>.synthetic.json` sidecar that tells `load_mmsa` the file is synthetic.

Generative model
----------------
Sample i is clip c of a synthetic video (speaker) v; videos never cross splits; s is the split.

Latent sentiment shares, one per modality m in {T, A, V}, and an incongruence cue k::

    s_m,i = mu_s + u_v + z_m,i          u_v ~ N(0, TAU^2) per video, z_m,i ~ N(0, 1)
    k_i   ~ Bernoulli(PI_K)             "ironic face": a frown over praise, over criticism a smirk

Label score (the T share is reversed by the face: a text-vision interaction)::

    u_i = ALPHA_T (1 - 2 k_i) s_T,i + ALPHA_A s_A,i + ALPHA_V s_V,i + SIGMA_EPS eps_i

Label, with lo_s < 0 < hi_s the neutral band (lo_s = -hi_s) and g0 the label grid step::

    y_i = 0                                            if lo_s <= u_i <= hi_s
        = +round_grid(g0 + KAPPA (u_i - hi_s))         if u_i > hi_s     (clipped to the range)
        = -round_grid(g0 + KAPPA (lo_s - u_i))         if u_i < lo_s

mu_s and hi_s are solved per split (bisection) so the neg / neu / pos counts equal
round(schema class_counts * N / real N): a prior shift between splits, as in the real files
(MOSI test is more negative than train). ALPHA_A + ALPHA_V > ALPHA_T keeps u increasing in mu.
Grids: MOSI 0.2 (a mean of 5 integer annotator scores), MOSEI 1/3 (3 annotators), SIMS 0.2.
SIMS unimodal labels apply the same map to each share alone: y_m = map(s_m) (a text-only
annotator reads the words and cannot see the face).

How each modality expresses its share (all events are LOCAL in time)::

    text : one sentiment phrase per ~5 words (1-8) at random word positions p_j (a mean-pooled bag
           of words then does not fade with length); phrase value w_j = s_T + SIGMA_W eta_j
           picks the word's polarity (sign) and tier (|w|: mild / medium / strong, strong ones may
           take an intensifier 'really'); a fraction P_NOT is said negated ('not bad' = mildly
           positive, 'not good' = mildly negative). Filler words carry nothing. r_j = p_j / n_tok.
    audio: x_a(t) = o_v + o_i + e(t) + P_A S(t) + Q_A |S|(t) + R_A C(t)
    video: x_v(t) = o_v + o_i + e(t) + P_V S(t) + F_V K(t)
           S(t) = sum_e a_e g_e(t),  |S|(t) = sum_e |a_e| g_e(t),  C(t) = sum_e a_e h_e(t)
           g_e(t) = exp(-(t - c_e)^2 / (2 w_e^2)) a bump over several frames (w_e = 3.5-7 % of the
           length), h_e = ((t - c_e) / w_e) g_e an antisymmetric "rising / falling pitch" contour
           whose time average is ~0 (only a model that reads time order can use it).
           Events e of a modality: its own 1-3 events (a_e = AMP (s_m + SIGMA_W eta), c_e at a
           random relative time) and ECHOES of the other modalities' events, with amplitude RHO * a
           and a lag of 2-8 % of the length: every text phrase echoes into audio and video at
           r_j + lag, audio events echo into video and video events into audio.
           K(t): if k_i = 1, a frown bump (fixed sign, dims F_V, amplitude FROWN_AMP, width 8-14 %)
           at the strongest text phrase + lag.
           o_v ~ N(0, SIGMA_VIDEO^2) per video and dim (speaker offset), o_i ~ N(0, SIGMA_SAMPLE^2),
           e(t) = smoothed white noise of std SIGMA_FRAME. Frames t >= length are exactly 0.
           P, Q, R, F are fixed unit loadings on a few dims (same for every seed); the other dims
           are nuisance. MOSI / MOSEI audio also holds a few -inf values (about 1 % of samples,
           one value in a nuisance dim at a valid frame), as the real COVAREP features do.

Values: ALPHA_T, ALPHA_A, ALPHA_V = 1.0, 0.5, 0.6; PI_K = 0.1; TAU = 0.35; SIGMA_EPS = 0.3;
SIGMA_W = 0.5; AMP = 1.5; RHO = 0.3; FROWN_AMP = 6; KAPPA = 1.0 (MOSI), 0.8 (MOSEI), 0.4 (SIMS).

What this predicts for the paper's mechanisms:

- each modality alone carries part of the label and none all of it (T has the largest weight,
  but read linearly it is shrunk by 1 - 2 PI_K, and A and V also carry echoes of the words),
  so any fusion beats any single modality;
- the k * s_T term is multiplicative and the contour is temporal: a model that fuses across
  modalities and time (EMT) beats mean-pooled concatenation (ridge / late fusion);
- masking frames or words removes local evidence; neighbouring frames (bump width) and echoes in
  the other modalities restore part of it, so scores fall smoothly with the missing rate and
  reconstruction / attraction (DLFR) have something to recover;
- SIGMA_EPS and SIGMA_W bound any model: the MAE cannot reach 0.

Measured on MOSI (scale 1, seed 0; tests/test_synthetic.py `ridge_maes`): test MAE of ridge
regression on mean-pooled features is 1.363 for the train-mean predictor, 1.155 text, 1.048
audio, 1.048 vision, 0.851 all three concatenated, 0.791 with text x vision products added;
on the incomplete view it rises smoothly with the missing rate (0.86 at 0.1, 0.91 at 0.4,
1.01 at 0.7, 1.11 at 0.9) to the mean predictor's at 1.0. Seeds 0-7 give the same picture.

The text is English word pieces of the uncased BERT vocabulary for every dataset (SIMS
included: the embedded encoder is English); every word is one word piece, so tokenizing
`raw_text` with bert-base-uncased gives back `text_bert`'s ids. `text` (N, L, 768) stands in for
the pre-extracted BERT features at low cost: a fixed random vector per token id plus 0.3 times the
sentence mean, zeros at padding. It has the real shape and dtype, so it is large
(N x L x 768 x 4 bytes: 338 MB of MOSI's 425 MB file; MOSEI at scale 1 is ~8.5 GB in memory,
like the real file).

Split sizes are round(real size * scale), at least MIN_SPLIT_SIZE. Everything is drawn from
`numpy.random.default_rng` children of `SeedSequence([seed, dataset code])`: the same
(dataset, scale, seed) gives the same arrays and the same pickle bytes.
"""
from __future__ import annotations

import functools
import hashlib
import json
import math
import pickle
from pathlib import Path

import numpy as np

from emtlib.files import atomic_write

from .schema import CLS_ID, PAD_ID, SEP_ID, SPLITS, UNK_ID, DatasetSpec, get_spec

GENERATOR_VERSION = 1
"""Bumped whenever the same (dataset, scale, seed) would give different bytes."""

MIN_SPLIT_SIZE = 8
"""Smallest split the generator writes, whatever the scale."""

# --- generative constants (see the module docstring) -------------------------------------
ALPHA_T, ALPHA_A, ALPHA_V = 1.0, 0.5, 0.6
"""Weights of the text, audio and vision shares in the label score."""
PI_K = 0.1
"""Probability of the incongruent face that reverses what the words say."""
TAU = 0.35
"""Std of the per-video sentiment offset u_v (clips of one speaker are correlated)."""
SIGMA_EPS = 0.3
"""Label noise in the score u."""
SIGMA_W = 0.5
"""Noise of each expressed event around its modality's share."""
P_NOT = 0.1
"""Fraction of mild / medium text phrases said with a negator."""
WORDS_PER_PHRASE, MAX_PHRASES = 5.0, 8
"""One sentiment phrase per ~5 words (so a mean-pooled bag of words does not fade with length)."""
AMP = {"audio": 1.5, "vision": 1.5}
"""Amplitude of a modality's own events along its polarity loading."""
RHO = 0.3
"""Relative amplitude of an echo in another modality."""
AROUSAL_AMP, CONTOUR_AMP, FROWN_AMP = 1.0, 2.0, 6.0
SIGMA_VIDEO, SIGMA_SAMPLE, SIGMA_FRAME = 0.2, 0.15, 0.6
"""Speaker offset, per-clip offset and frame noise (stds, per feature dim)."""
NEG_INF_FRACTION = 0.01
"""Fraction of MOSI / MOSEI samples holding one -inf audio value."""

# Per-dataset shape of the synthetic data that the schema does not fix.
_PROFILE = {
    # words: median words per utterance and log-std; fpw: frames per word (audio, vision);
    # clips: mean clips per video; grid: label step; kappa: label spread; id: video id style.
    "mosi": dict(code=1, words=(10.0, 0.55), fpw=(4.0, 4.5), clips=24, grid=0.2, kappa=1.0,
                 neg_inf=True, id="youtube"),
    "mosei": dict(code=2, words=(16.0, 0.5), fpw=(7.0, 7.0), clips=7, grid=1.0 / 3.0, kappa=0.8,
                  neg_inf=True, id="youtube"),
    "sims": dict(code=3, words=(13.0, 0.45), fpw=(10.0, 1.6), clips=38, grid=None, kappa=0.4,
                 neg_inf=False, id="video"),
}
_STRUCTURE_SEED = 20230417
"""Seed of the fixed structure (loadings, token feature table): the same for every `seed`."""

# --- the curated vocabulary: (word, id in bert-base-uncased's vocab.txt) -------------------
VOCAB: dict[str, tuple[tuple[str, int], ...]] = {
    "filler": (
        ("the", 1996), ("i", 1045), ("was", 2001), ("a", 1037), ("movie", 3185), ("film", 2143),
        ("it", 2009), ("is", 2003), ("and", 1998), ("this", 2023), ("that", 2008),
        ("think", 2228), ("just", 2074), ("like", 2066), ("of", 1997), ("to", 2000), ("he", 2002),
        ("she", 2016), ("they", 2027), ("my", 2026), ("you", 2017), ("we", 2057),
        ("actor", 3364), ("story", 2466), ("plot", 5436), ("acting", 3772),
        ("character", 2839), ("end", 2203), ("scene", 3496), ("um", 8529), ("uh", 7910),
        ("kind", 2785), ("guess", 3984), ("were", 2020), ("had", 2018), ("have", 2031),
        ("but", 2021), ("about", 2055), ("there", 2045), ("what", 2054), ("when", 2043),
        ("in", 1999), ("with", 2007), ("on", 2006), ("me", 2033), ("all", 2035), ("one", 2028),
        ("know", 2113), ("see", 2156), ("saw", 2387), ("watched", 3427), ("because", 2138),
        ("then", 2059), ("also", 2036), ("some", 2070), ("people", 2111), ("thing", 2518),
        ("time", 2051), ("going", 2183), ("lot", 2843), ("show", 2265), ("part", 2112),
        ("actually", 2941),
    ),
    "intensifier": (("really", 2428), ("so", 2061), ("very", 2200), ("totally", 6135),
                    ("extremely", 5186)),
    "negator": (("not", 2025), ("never", 2196)),
    "pos_mild": (("nice", 3835), ("fine", 2986), ("decent", 11519), ("okay", 3100),
                 ("cute", 10140), ("interesting", 5875)),
    "pos_medium": (("good", 2204), ("funny", 6057), ("fun", 4569), ("enjoyed", 5632),
                   ("liked", 4669), ("cool", 4658), ("sweet", 4086)),
    "pos_strong": (("great", 2307), ("love", 2293), ("loved", 3866), ("best", 2190),
                   ("amazing", 6429), ("awesome", 12476), ("excellent", 6581),
                   ("fantastic", 10392), ("wonderful", 6919), ("perfect", 3819),
                   ("beautiful", 3376), ("brilliant", 8235)),
    "neg_mild": (("weird", 6881), ("slow", 4030), ("odd", 5976), ("silly", 10021),
                 ("bland", 20857)),
    "neg_medium": (("bad", 2919), ("boring", 11771), ("dull", 10634), ("poor", 3532),
                   ("stupid", 5236), ("annoying", 15703), ("disappointing", 15640)),
    "neg_strong": (("hate", 5223), ("hated", 6283), ("awful", 9643), ("worst", 5409),
                   ("terrible", 6659), ("horrible", 9202), ("waste", 5949), ("ugly", 9200),
                   ("pathetic", 17203), ("ridiculous", 9951)),
}
SPECIAL_TOKENS = (("[PAD]", PAD_ID), ("[UNK]", UNK_ID), ("[CLS]", CLS_ID), ("[SEP]", SEP_ID))
_TIERS = ("mild", "medium", "strong")
_TIER_EDGES = (0.25, 0.8, 1.5)
"""|w| below 0.25: no sentiment word; then mild / medium / strong."""


def vocabulary() -> dict[str, int]:
    """Every word the generator writes (special tokens included) -> its bert-base-uncased id."""
    out = dict(SPECIAL_TOKENS)
    for group in VOCAB.values():
        out.update(group)
    return out


_ID2WORD = {i: w for w, i in vocabulary().items()}
_ALL_IDS = np.array(sorted(_ID2WORD), dtype=np.int64)


# --- public API ------------------------------------------------------------------------------

def split_sizes(dataset: str, scale: float = 1.0) -> tuple[int, int, int]:
    """(train, valid, test) sizes of the synthetic file: round(real * scale), at least 8."""
    spec = get_spec(dataset)
    scale = _check_scale(scale)
    return tuple(max(MIN_SPLIT_SIZE, int(round(n * scale))) for n in spec.split_sizes)  # type: ignore


def make_synthetic(dataset: str, scale: float = 1.0, seed: int = 0) -> dict:
    """The synthetic stand-in of `dataset` in the MMSA processed-pickle layout.

    Returns {'train', 'valid', 'test'} -> split dict (docs/data.md#top-level-structure), with split
    sizes `split_sizes(dataset, scale)`. Same (dataset, scale, seed), same arrays. See the module
    docstring for the generative model.
    """
    return {s: make() for s, make in _split_makers(dataset, scale, seed).items()}


def _split_makers(dataset: str, scale: float, seed: int) -> dict:
    """split -> a function of no arguments that generates that split (call each once, in order:
    `make_synthetic` is every split made at once, `write_synthetic` makes them one at a time)."""
    spec = get_spec(dataset)
    sizes = split_sizes(spec.name, scale)
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or seed < 0:
        raise ValueError(f"seed must be a non-negative integer, found {seed!r}")
    prof = _PROFILE[spec.name]
    root = np.random.SeedSequence([int(seed), prof["code"]])
    split_seqs = root.spawn(len(SPLITS))
    structure = _structure(spec)
    video_ids = _video_ids(spec, sizes, np.random.default_rng(root.spawn(1)[0]))
    return {
        s: functools.partial(_make_split, spec, s, n, counts, split_seqs[j], structure, video_ids[j])
        for j, (s, n, counts) in enumerate(zip(SPLITS, sizes, spec.class_counts))
    }


def write_synthetic(dataset: str, out_path, scale: float = 1.0, seed: int = 0) -> Path:
    """Write `make_synthetic(dataset, scale, seed)` to `out_path` (pickle protocol 4).

    Parent directories are created; the pickle is written to a temporary file in the same
    directory and moved into place, so a reader never sees a half-written file. A sidecar
    `<out_path>.synthetic.json` records dataset, seed, scale, generator version and the pickle's
    SHA-1 (`load_mmsa` reads it to know the file is synthetic). Returns the pickle's path.

    The bytes are those of `pickle.dump(make_synthetic(...), f, protocol=4)`, but each split is
    generated when the pickler reaches it and let go once written (`_SplitStreamPickler`), so
    memory holds about one split and one array's bytes rather than the whole file twice.
    """
    spec = get_spec(dataset)
    makers = _split_makers(spec.name, scale=scale, seed=seed)
    data = {s: _LazySplit(make) for s, make in makers.items()}
    out = Path(out_path)
    out.parent.mkdir(parents=True, exist_ok=True)
    sha1 = hashlib.sha1()

    class _HashingFile:
        def __init__(self, f):
            self.f = f

        def write(self, b):
            sha1.update(b)
            return self.f.write(b)

    atomic_write(out, lambda f: _SplitStreamPickler(_HashingFile(f)).dump(data))
    side = {
        "dataset": spec.name, "seed": int(seed), "scale": float(scale),
        "split_sizes": list(split_sizes(spec.name, scale)),
        "generator": "emtlib.data.synthetic", "generator_version": GENERATOR_VERSION,
        "sha1": sha1.hexdigest(),
    }
    side_path = out.with_name(out.name + ".synthetic.json")
    atomic_write(side_path, lambda f: f.write((json.dumps(side, indent=2) + "\n").encode()))
    return out


# --- internals -------------------------------------------------------------------------------

class _LazySplit:
    """A split not generated yet: `_SplitStreamPickler` pickles `make()` in its place."""

    def __init__(self, make):
        self.make = make


class _SplitStreamPickler(pickle._Pickler):
    """Pickle protocol 4 with the bytes `pickle.dump` writes, holding one split at a time.

    Python's own pure-Python pickler (its output equals the C pickler's; tests/test_synthetic.py
    checks that `write_synthetic` writes the bytes of `pickle.dump(make_synthetic(...))`), with
    two changes that leave every byte as it was:

    - a `_LazySplit` is generated when the pickler reaches it, and the split is let go once
      written;
    - a pickler's memo keeps every object it has written alive, so that a later reference to the
      same object becomes a back-reference; for an array that includes the copy of its data that
      numpy's `__reduce__` makes. Once an array or a split is written, the memo entries of the
      objects that cannot be met again (the array and the split themselves, which appear once
      in the data, and the fresh tuples and byte strings of the array's reduction) are replaced
      by placeholders under keys that no object id can match. Memo indices are the memo's size,
      so the numbering, and every byte, stays the same.
    """

    def __init__(self, file):
        super().__init__(file, protocol=4)

    def save(self, obj, save_persistent_id=True):
        if isinstance(obj, _LazySplit):
            split = obj.make()
            values = [id(v) for v in split.values() if isinstance(v, np.ndarray)]
            if len(set(values)) != len(values):  # a shared array would be a back-reference
                raise AssertionError("a synthetic split holds the same array twice")
            since = len(self.memo)
            super().save(split, save_persistent_id)
            self._forget(since, lambda o: o is split or type(o) is np.ndarray)
            return
        if type(obj) is np.ndarray:
            since = len(self.memo)
            super().save(obj, save_persistent_id)
            self._forget(since, lambda o: o is obj or type(o) is tuple
                         or (type(o) is bytes and len(o) > 1))  # b'b' and other 1-byte bytes are shared
            return
        super().save(obj, save_persistent_id)

    def _forget(self, since: int, disposable) -> None:
        """Replace the memo entries from index `since` on whose object is `disposable`."""
        for key, (idx, obj) in list(self.memo.items()):
            if idx >= since and isinstance(key, int) and disposable(obj):
                del self.memo[key]
                self.memo[("written", idx)] = (idx, None)


def _check_scale(scale) -> float:
    try:
        s = float(scale)
    except (TypeError, ValueError):
        raise ValueError(f"scale must be a positive number, found {scale!r}") from None
    if not (s > 0 and math.isfinite(s)):
        raise ValueError(f"scale must be a positive finite number (split size = real size x "
                         f"scale), found {scale!r}")
    return s


def _layout(D: int, kinds: dict[str, int], rng: np.random.Generator) -> dict[str, np.ndarray]:
    """Assign `kinds[name]` feature dims to each named signal (fixed per dataset), rest nuisance."""
    perm = rng.permutation(D)
    out, start = {}, 0
    for name, n in kinds.items():
        out[name] = np.sort(perm[start:start + n])
        start += n
    out["nuisance"] = np.sort(perm[start:])
    return out


def _unit_loading(D: int, dims: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    w = np.zeros(D, np.float32)
    v = rng.uniform(0.5, 1.0, len(dims)) * rng.choice([-1.0, 1.0], len(dims))
    w[dims] = v / np.linalg.norm(v)
    return w


def _structure(spec: DatasetSpec) -> dict:
    """Fixed loadings and the token feature table: independent of the seed."""
    rng = np.random.default_rng(np.random.SeedSequence([_STRUCTURE_SEED, _PROFILE[spec.name]["code"]]))
    Da, Dv = spec.audio_dim, spec.vision_dim
    la = _layout(Da, {"pol": int(np.clip(Da // 6, 2, 6)), "arousal": 1 if Da < 20 else 2,
                      "contour": 1}, rng)
    lv = _layout(Dv, {"pol": int(np.clip(Dv // 5, 2, 6)), "frown": 1 if Dv < 10 else 2}, rng)
    st = {
        "audio_layout": la, "vision_layout": lv,
        "P_A": _unit_loading(Da, la["pol"], rng),
        "Q_A": np.abs(_unit_loading(Da, la["arousal"], rng)),
        "R_A": np.abs(_unit_loading(Da, la["contour"], rng)),
        "P_V": _unit_loading(Dv, lv["pol"], rng),
        "F_V": np.abs(_unit_loading(Dv, lv["frown"], rng)),
    }
    # Token feature table (shared by all datasets): row j belongs to _ALL_IDS[j]; PAD is zero.
    trng = np.random.default_rng(np.random.SeedSequence([_STRUCTURE_SEED, 0]))
    table = trng.normal(0.0, 0.5, (len(_ALL_IDS), spec.text_feature_dim)).astype(np.float32)
    table[np.searchsorted(_ALL_IDS, PAD_ID)] = 0.0
    st["token_table"] = table
    return st


def _video_ids(spec: DatasetSpec, sizes, rng: np.random.Generator) -> list[list[str]]:
    """Enough distinct video names for every split (videos never cross splits)."""
    prof = _PROFILE[spec.name]
    names: list[list[str]] = []
    seen: set[str] = set()
    alphabet = np.array(list("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"))
    counter = 0
    for n in sizes:
        # Far more names than videos are expected; _assign_videos extends the last if short.
        cap = min(n, 4 * int(math.ceil(n / prof["clips"])) + 8)
        lst = []
        while len(lst) < cap:
            if prof["id"] == "video":
                counter += 1
                name = f"video_{counter:04d}"
            else:
                name = "".join(alphabet[rng.integers(0, 64, 11)])
            if name not in seen:
                seen.add(name)
                lst.append(name)
        names.append(lst)
    return names


def _assign_videos(n: int, mean_clips: int, rng: np.random.Generator, n_names: int):
    """Video index and 1-based clip number of each of n samples."""
    counts = []
    total = 0
    draws = rng.poisson(max(mean_clips - 1, 0), size=n_names) + 1
    for c in draws:
        if total >= n:
            break
        c = int(min(c, n - total))
        counts.append(c)
        total += c
    if total < n:  # only when names ran out: extend the last video
        counts[-1] += n - total
    counts = np.array(counts)
    video = np.repeat(np.arange(len(counts)), counts)
    clip = np.arange(n) - np.repeat(np.cumsum(counts) - counts, counts) + 1
    return video, clip, len(counts)


def _solve_labels(A: np.ndarray, B: np.ndarray, n_neg: int, n_pos: int):
    """mu, lo, hi with u = A + mu B having exactly n_neg values < lo, n_pos > hi, lo = -hi."""
    n = len(A)

    def gaps(mu):
        u = np.sort(A + mu * B)
        ext = np.concatenate([[u[0] - 1.0], u, [u[-1] + 1.0]])  # u_(0) .. u_(n+1)
        lo = 0.5 * (ext[n_neg] + ext[n_neg + 1])
        hi = 0.5 * (ext[n - n_pos] + ext[n - n_pos + 1])
        return lo, hi

    a, b = -10.0, 10.0
    for _ in range(80):
        mid = 0.5 * (a + b)
        lo, hi = gaps(mid)
        if lo + hi > 0:
            b = mid
        else:
            a = mid
    mu = 0.5 * (a + b)
    lo, hi = gaps(mu)
    return mu, lo, hi


def _label_map(u: np.ndarray, lo: float, hi: float, spec: DatasetSpec) -> np.ndarray:
    prof = _PROFILE[spec.name]
    step = spec.label_step if spec.label_step is not None else prof["grid"]
    y_max = spec.label_range[1]
    mag = np.where(u > hi, u - hi, np.where(u < lo, lo - u, 0.0))
    val = np.round((step + prof["kappa"] * mag) / step) * step
    val = np.clip(val, step, y_max)
    y = np.where(u > hi, val, np.where(u < lo, -val, 0.0))
    return y.astype(np.float32)


def _class_of(y: np.ndarray):
    cls = np.where(y < 0, 0, np.where(y > 0, 2, 1))
    words = np.array(["Negative", "Neutral", "Positive"])[cls]
    return cls.astype(np.float32), words


def _target_counts(n: int, counts: tuple[int, int, int]) -> tuple[int, int, int]:
    total = sum(counts)
    n_neg = int(round(n * counts[0] / total))
    n_pos = int(round(n * counts[2] / total))
    n_pos = min(n_pos, n - n_neg)
    return n_neg, n - n_neg - n_pos, n_pos


def _make_split(spec: DatasetSpec, split: str, n: int, counts, seq: np.random.SeedSequence,
                structure: dict, names: list[str]) -> dict:
    prof = _PROFILE[spec.name]
    r_vid, r_lat, r_txt, r_evt, r_aud, r_vis = (np.random.default_rng(c) for c in seq.spawn(6))

    # Videos (speakers) and latent shares.
    video, clip, n_videos = _assign_videos(n, prof["clips"], r_vid, len(names))
    ids = np.array([f"{names[v]}$_${c}" for v, c in zip(video, clip)])
    u_v = r_lat.normal(0.0, TAU, n_videos)[video]  # (N,)
    z = r_lat.standard_normal((n, 3))  # (N, 3): T, A, V
    k = r_lat.random(n) < PI_K  # (N,)
    eps = r_lat.standard_normal(n)
    flip = 1.0 - 2.0 * k
    A = (ALPHA_T * flip * (u_v + z[:, 0]) + ALPHA_A * (u_v + z[:, 1]) + ALPHA_V * (u_v + z[:, 2])
         + SIGMA_EPS * eps)
    B = ALPHA_T * flip + ALPHA_A + ALPHA_V  # > 0 for every sample
    n_neg, _, n_pos = _target_counts(n, counts)
    mu, lo, hi = _solve_labels(A, B, n_neg, n_pos)
    shares = mu + u_v[:, None] + z  # (N, 3)
    y = _label_map(A + mu * B, lo, hi, spec)

    # Text.
    tb, raw_text, phrase_pos, phrase_val, n_tok = _make_text(spec, shares[:, 0], r_txt)
    text = _text_features(tb, structure["token_table"])

    # Lengths of audio / vision, tied to the number of words.
    words = n_tok - 2
    lens = {}
    for j, (name, T) in enumerate((("audio", spec.audio_len), ("vision", spec.vision_len))):
        raw = words * prof["fpw"][j] * np.exp(r_evt.normal(0.0, 0.25, n))
        lens[name] = np.clip(np.round(raw), min(4, T), T).astype(np.int64)

    # Events in relative time: own events of audio and vision, text phrases.
    own = {}
    for j, name in ((1, "audio"), (2, "vision")):
        n_own = 1 + (r_evt.random(n) < 0.5) + (r_evt.random(n) < 0.15)  # 1-3
        active = np.arange(3)[None, :] < n_own[:, None]  # (N, 3)
        val = shares[:, j:j + 1] + SIGMA_W * r_evt.standard_normal((n, 3))
        own[name] = dict(r=r_evt.uniform(0.1, 0.9, (n, 3)), a=np.where(active, val, 0.0))
    txt_active = ~np.isnan(phrase_pos)
    txt_r = np.where(txt_active, phrase_pos, 0.5)
    txt_a = np.where(txt_active, phrase_val, 0.0)
    strongest = np.argmax(np.abs(txt_a), axis=1)
    frown_r = txt_r[np.arange(n), strongest]

    def lag(shape):
        return r_evt.uniform(0.02, 0.08, shape)

    # Echoes: text -> audio, text -> vision, vision -> audio, audio -> vision.
    ev = {
        "audio": dict(r=np.concatenate([own["audio"]["r"], txt_r + lag(txt_r.shape),
                                        own["vision"]["r"] + lag((n, 3))], 1),
                      a=np.concatenate([AMP["audio"] * own["audio"]["a"],
                                        RHO * AMP["audio"] * txt_a,
                                        RHO * AMP["audio"] * own["vision"]["a"]], 1)),
        "vision": dict(r=np.concatenate([own["vision"]["r"], txt_r + lag(txt_r.shape),
                                         own["audio"]["r"] + lag((n, 3)),
                                         (frown_r + lag(n))[:, None]], 1),
                       a=np.concatenate([AMP["vision"] * own["vision"]["a"],
                                         RHO * AMP["vision"] * txt_a,
                                         RHO * AMP["vision"] * own["audio"]["a"],
                                         np.zeros((n, 1))], 1)),
    }
    frown = np.zeros_like(ev["vision"]["a"])
    frown[:, -1] = FROWN_AMP * k
    for name in ("audio", "vision"):
        ev[name]["w"] = r_evt.uniform(0.035, 0.07, ev[name]["r"].shape)
    ev["vision"]["w"][:, -1] = r_evt.uniform(0.08, 0.14, n)  # a frown lasts longer than a word

    audio = _render(spec.audio_len, spec.audio_dim, lens["audio"], ev["audio"], video, n_videos,
                    r_aud, channels=[("pol", structure["P_A"]), ("abs", AROUSAL_AMP * structure["Q_A"]),
                                     ("contour", CONTOUR_AMP * structure["R_A"])])
    vision = _render(spec.vision_len, spec.vision_dim, lens["vision"], ev["vision"], video,
                     n_videos, r_vis, channels=[("pol", structure["P_V"]),
                                                ("extra", structure["F_V"])], extra=frown)
    if prof["neg_inf"]:
        nuis = structure["audio_layout"]["nuisance"]
        hit = np.flatnonzero(r_aud.random(n) < NEG_INF_FRACTION)
        t = (r_aud.random(len(hit)) * lens["audio"][hit]).astype(np.int64)
        d = nuis[r_aud.integers(0, len(nuis), len(hit))]
        audio[hit, t, d] = -np.inf

    cls, words_ = _class_of(y)
    out = {
        "raw_text": raw_text, "id": ids, "text": text, "text_bert": tb,
        "audio": audio, "vision": vision,
        "audio_lengths": lens["audio"], "vision_lengths": lens["vision"],
        "regression_labels": y, "classification_labels": cls, "annotations": words_,
    }
    if spec.unimodal_labels:
        for j, m in enumerate("TAV"):
            ym = _label_map(shares[:, j], lo, hi, spec)
            out[f"regression_labels_{m}"] = ym
            out[f"classification_labels_{m}"] = _class_of(ym)[0]
    return out


def _pick(group: str, u: float) -> tuple[str, int]:
    words = VOCAB[group]
    return words[min(int(u * len(words)), len(words) - 1)]


def _make_text(spec: DatasetSpec, s_t: np.ndarray, rng: np.random.Generator):
    """text_bert (N, 3, L) float32, raw_text, phrase relative positions / values (N, 8), n_tok."""
    n, L = len(s_t), spec.text_len
    med, sd = _PROFILE[spec.name]["words"]
    n_words = np.clip(np.round(med * np.exp(rng.normal(0.0, sd, n))), 3, L - 2).astype(int)
    n_ph = np.round(n_words / WORDS_PER_PHRASE + rng.uniform(-0.5, 0.5, n))
    n_ph = np.clip(n_ph, 1, np.minimum(MAX_PHRASES, n_words // 3)).astype(int)
    w = s_t[:, None] + SIGMA_W * rng.standard_normal((n, MAX_PHRASES))  # phrase values
    U = rng.random((n, MAX_PHRASES, 5))  # per phrase: tier word, negation, negator, intensifier, slot
    filler_u = rng.random((n, L))
    fill = VOCAB["filler"]
    tb = np.zeros((n, 3, L), np.float32)
    raw = []
    pos = np.full((n, MAX_PHRASES), np.nan)
    val = np.full((n, MAX_PHRASES), np.nan)
    for i in range(n):
        phrases = []
        for j in range(n_ph[i]):
            v, u = w[i, j], U[i, j]
            mag = abs(v)
            sign = "pos" if v > 0 else "neg"
            if mag < _TIER_EDGES[0]:
                ph = [_pick("filler", u[0])]
            else:
                tier = _TIERS[int(np.searchsorted(_TIER_EDGES, mag, side="right")) - 1]
                if tier != "strong" and u[1] < P_NOT:
                    other = "neg" if sign == "pos" else "pos"
                    ph = [_pick("negator", u[2]), _pick(f"{other}_medium", u[0])]
                else:
                    ph = [_pick(f"{sign}_{tier}", u[0])]
                    if tier == "strong" and (mag > 2.2 or u[3] < 0.5):
                        ph = [_pick("intensifier", u[3] * 2 % 1.0)] + ph
            phrases.append(ph)
        n_fill = n_words[i] - sum(len(p) for p in phrases)
        cuts = np.sort((U[i, :n_ph[i], 4] * (n_fill + 1)).astype(int))
        toks: list[tuple[str, int]] = []
        prev = 0
        for j, ph in enumerate(phrases):
            toks += [fill[int(f * len(fill))] for f in filler_u[i, prev:cuts[j]]]
            toks += ph
            prev = cuts[j]
            pos[i, j] = len(toks)  # token index of the phrase's last word, counting [CLS]
            val[i, j] = w[i, j]
        toks += [fill[int(f * len(fill))] for f in filler_u[i, prev:n_fill]]
        nt = len(toks) + 2
        tb[i, 0, 0] = CLS_ID
        tb[i, 0, 1:nt - 1] = [t[1] for t in toks]
        tb[i, 0, nt - 1] = SEP_ID
        tb[i, 1, :nt] = 1.0
        raw.append(" ".join(t[0] for t in toks))
        pos[i, :n_ph[i]] /= nt
    n_tok = tb[:, 1].sum(1).astype(np.int64)
    return tb, np.array(raw), pos, val, n_tok


def _text_features(tb: np.ndarray, table: np.ndarray, chunk: int = 2048) -> np.ndarray:
    """(N, L, 768): token vector + 0.3 x the sentence mean at valid positions, 0 at padding."""
    n, _, L = tb.shape
    out = np.empty((n, L, table.shape[1]), np.float32)
    for s in range(0, n, chunk):
        ids = tb[s:s + chunk, 0].astype(np.int64)
        mask = tb[s:s + chunk, 1:2].transpose(0, 2, 1)  # (c, L, 1)
        x = np.take(table, np.searchsorted(_ALL_IDS, ids), axis=0)  # (c, L, 768)
        ctx = x.sum(1, keepdims=True) / mask.sum(1, keepdims=True)  # (c, 1, 768)
        x += 0.3 * ctx * mask
        out[s:s + chunk] = x
    return out


def _render(T: int, D: int, lengths: np.ndarray, ev: dict, video: np.ndarray, n_videos: int,
            rng: np.random.Generator, channels, extra=None, chunk_elems: int = 4_000_000):
    """(N, T, D) float32 features: offsets + smoothed noise + event bumps, zero past the length."""
    n = len(lengths)
    x_out = np.zeros((n, T, D), np.float32)
    o_video = rng.normal(0.0, SIGMA_VIDEO, (n_videos, D)).astype(np.float32)
    o_sample = rng.normal(0.0, SIGMA_SAMPLE, (n, D)).astype(np.float32)
    E = ev["r"].shape[1]
    step = max(1, chunk_elems // (T * max(D, E)))
    order = np.argsort(lengths, kind="stable")  # chunks of similar lengths: little padding work
    for s in range(0, n, step):
        sl = order[s:s + step]
        ln = lengths[sl]
        Tc = int(ln.max())
        c = len(ln)
        t = np.arange(Tc, dtype=np.float32)[None, None, :]  # (1, 1, Tc)
        centre = (np.clip(ev["r"][sl], 0.0, 1.0) * ln[:, None]).astype(np.float32)[..., None]
        width = np.maximum(ev["w"][sl] * ln[:, None], 0.8).astype(np.float32)[..., None]
        d = (t - centre) / width  # (c, E, Tc)
        g = np.exp(-0.5 * d * d)
        a = ev["a"][sl].astype(np.float32)[..., None]  # (c, E, 1)
        sig = {"pol": (a * g).sum(1), "abs": (np.abs(a) * g).sum(1),
               "contour": (a * d * g).sum(1)}  # each (c, Tc)
        if extra is not None:
            sig["extra"] = (extra[sl].astype(np.float32)[..., None] * g).sum(1)
        noise = rng.standard_normal((c, Tc + 1, D), dtype=np.float32)
        x = (noise[:, 1:] + noise[:, :-1]) * np.float32(SIGMA_FRAME / math.sqrt(2.0))  # (c, Tc, D)
        x += o_video[video[sl]][:, None, :] + o_sample[sl][:, None, :]
        for name, load in channels:
            nz = np.flatnonzero(load)
            x[:, :, nz] += sig[name][:, :, None] * load[nz][None, None, :]
        x *= (np.arange(Tc)[None, :] < ln[:, None])[:, :, None]
        x_out[sl, :Tc] = x
    return x_out
