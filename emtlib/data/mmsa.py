"""Reading and validating the MMSA processed pickles (docs/data.md).

`load_mmsa` is the only door through which data enters emtlib. It checks the file against
the dataset's schema (`emtlib.data.schema`), compares its SHA-1 with the released file's,
applies the one cleaning step the released loader applies (audio -inf -> 0) and refuses
anything else that is not finite. `normalize_sims` reproduces the authors'
`preprocess/normalize_sims.py`.

Pickles can execute code when loaded: only load files from sources you trust.
"""
from __future__ import annotations

import hashlib
import json
import os
import pickle
import warnings
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from emtlib.files import atomic_write

from .schema import SPLITS, DatasetSpec, get_spec

# Keys every split must hold (docs/data.md#top-level-structure). SIMS files also hold the
# unimodal labels.
REQUIRED_KEYS = (
    "id", "raw_text", "text", "text_bert", "audio", "vision",
    "audio_lengths", "vision_lengths", "regression_labels",
)
UNIMODAL_LABEL_KEYS = ("regression_labels_T", "regression_labels_A", "regression_labels_V")
FLOAT_KEYS = ("text", "text_bert", "audio", "vision", "regression_labels")

# A file written by `write_synthetic` carries this sidecar; see `emtlib.data.synthetic`.
SYNTHETIC_SIDECAR_SUFFIX = ".synthetic.json"

DOWNLOAD_HELP = (
    "The processed pickles are distributed by the MMSA / Self-MM authors (see data/README.md: "
    "the MMSA repository's dataset links, the Self-MM release, or the EMT-DLFR README)."
)


class MMSAFormatError(ValueError):
    """A pickle that does not have the MMSA processed layout of its dataset."""


# Everything an MMSA processed pickle refers to by name: numpy arrays (numpy 1.x and 2.x module
# paths; protocol 5 builds them from buffers), their dtypes and scalars, and the bytes of
# protocol-2 files. Dicts, lists, strings and
# numbers need no name. Any other name would be a class or function the file asks to call.
_MMSA_GLOBALS = frozenset({
    ("numpy", "ndarray"), ("numpy", "dtype"),
    ("numpy.core.multiarray", "_reconstruct"), ("numpy._core.multiarray", "_reconstruct"),
    ("numpy.core.multiarray", "scalar"), ("numpy._core.multiarray", "scalar"),
    ("numpy.core.numeric", "_frombuffer"), ("numpy._core.numeric", "_frombuffer"),
    ("_codecs", "encode"),
})


class UnsafePickleError(pickle.UnpicklingError):
    """A pickle that names something an MMSA data file never holds (it could run code)."""


class _MMSAUnpickler(pickle.Unpickler):
    """An unpickler that builds only what MMSA pickles hold and refuses every other name before
    anything is built or called, so a data file cannot run code (a pickle's `__reduce__` can)."""

    def find_class(self, module: str, name: str):
        if (module, name) in _MMSA_GLOBALS:
            return super().find_class(module, name)
        raise UnsafePickleError(
            f"it refers to {module}.{name}, which no MMSA data file holds; it was refused before "
            "anything was built (a pickle that names a callable can run code when loaded)")


def read_pickle(path: Path):
    """The object in an MMSA pickle, read with `_MMSAUnpickler` (see there)."""
    with open(path, "rb") as f:
        return _MMSAUnpickler(f).load()


class _HashingReader:
    """A binary file that hashes what is read from it, so one pass both unpickles and hashes.

    It offers `readinto`, which the unpickler uses to read a large array's bytes straight into
    their final buffer (with `read` alone each would be read into a temporary copy first)."""

    def __init__(self, f, h):
        self.f, self.h = f, h

    def read(self, n=-1):
        b = self.f.read(n)
        self.h.update(b)
        return b

    def readinto(self, buf):
        n = self.f.readinto(buf)
        with memoryview(buf) as m:
            self.h.update(m[:n])
        return n

    def readline(self):
        b = self.f.readline()
        self.h.update(b)
        return b


def read_pickle_sha1(path: Path, chunk: int = 1 << 22):
    """`read_pickle(path)` and the SHA-1 of the file's bytes, reading the file once."""
    h = hashlib.sha1()
    with open(path, "rb") as f:
        obj = _MMSAUnpickler(_HashingReader(f, h)).load()
        while block := f.read(chunk):  # anything after the pickle's end
            h.update(block)
    return obj, h.hexdigest()


@dataclass
class MMSAData:
    """One dataset file, validated and cleaned: `data["train"]` is a split dict."""

    dataset: str
    """'mosi', 'mosei' or 'sims'."""
    path: Path | None
    """Where the pickle was read from (None for data built in memory)."""
    sha1: str | None
    """SHA-1 of the file's bytes (None for data built in memory)."""
    synthetic: bool
    """True for the built-in stand-in written by `write_synthetic`."""
    splits: dict[str, dict] = field(repr=False)
    """train / valid / test, each a dict of arrays in the MMSA layout."""

    def __getitem__(self, split: str) -> dict:
        if split not in self.splits:
            raise KeyError(f"no split {split!r}: expected one of {list(self.splits)}")
        return self.splits[split]

    def sizes(self) -> dict[str, int]:
        """Number of samples per split."""
        return {s: len(self.splits[s]["regression_labels"]) for s in self.splits}


def default_path(root: str | os.PathLike, dataset: str, normalized: bool | None = None) -> Path:
    """`<root>/<DS>/Processed/<file>`; SIMS defaults to the normalized file
    (docs/data.md#sims-normalisation)."""
    spec = get_spec(dataset)
    name = spec.file_name
    if normalized is None:
        normalized = spec.name == "sims"
    if normalized:
        name = normalized_name(name)
    return Path(root) / spec.folder / "Processed" / name


def normalized_name(file_name: str) -> str:
    """`unaligned_39.pkl` -> `unaligned_39_normalized.pkl`."""
    stem, ext = os.path.splitext(file_name)
    return f"{stem}_normalized{ext}"


def file_sha1(path: str | os.PathLike, chunk: int = 1 << 22) -> str:
    """SHA-1 of a file's bytes, read in chunks (MOSEI is several GB)."""
    h = hashlib.sha1()
    with open(path, "rb") as f:
        while block := f.read(chunk):
            h.update(block)
    return h.hexdigest()


def resolve_path(path: str | os.PathLike, dataset: str) -> Path:
    """A file path as given, or the standard layout below a data root directory."""
    p = Path(path).expanduser()
    if p.is_dir():
        candidates = [default_path(p, dataset), default_path(p, dataset, normalized=False),
                      default_path(p / "Datasets", dataset)]
        for c in candidates:
            if c.is_file():
                return c
        p = candidates[0]
    if not p.is_file():
        spec = get_spec(dataset)
        raise FileNotFoundError(
            f"no {spec.name.upper()} pickle at {p}. Expected the MMSA processed file "
            f"'{spec.file_name}' (SHA-1 {spec.sha1}), either given as a file path or laid out as "
            f"<data_root>/{spec.folder}/Processed/{spec.file_name}"
            + (" (plus unaligned_39_normalized.pkl from `python -m emtlib normalize-sims`)"
               if spec.name == "sims" else "")
            + f". {DOWNLOAD_HELP} To run without the real data, use the synthetic stand-in: "
            f"`python -m emtlib synth --dataset {spec.name} --out data/synthetic/{spec.name}.pkl` "
            "(or `synthetic=True` in the notebooks)."
        )
    return p


def load_mmsa(path: str | os.PathLike, dataset: str, strict: bool = False) -> MMSAData:
    """Read, validate and clean one MMSA processed pickle.

    `path` is the pickle itself or a data root holding `<DS>/Processed/<file>`. A SHA-1 that
    differs from the released file's is a warning (re-processed versions circulate), or an
    error with `strict=True`. Audio -inf becomes 0 as in the released loader; any other
    non-finite value is an error naming where it is.
    """
    spec = get_spec(dataset)
    p = resolve_path(path, dataset)
    sidecar = _read_sidecar(p)
    hash_first = strict and sidecar is None
    if hash_first:
        sha1 = file_sha1(p)
        if sha1 != spec.sha1 and not _is_normalized_of_release(p, spec):
            # before reading: with strict=True only the released bytes are read
            raise MMSAFormatError(
                f"{p}: SHA-1 {sha1} differs from the released file's {spec.sha1}, so with "
                "strict=True it was not read. Check the download against data/README.md, or pass "
                "strict=False.")
    try:
        if hash_first:
            raw = read_pickle(p)
        else:  # hashed while it is read: one pass over a file of several GB
            raw, sha1 = read_pickle_sha1(p)
    except UnsafePickleError as e:
        raise MMSAFormatError(
            f"{p} was not loaded: {e}. Expected the MMSA processed file '{spec.file_name}' for "
            f"{spec.name}: download it again from the sources in data/README.md and compare its "
            "SHA-1 there.") from e
    except (pickle.UnpicklingError, EOFError, AttributeError, ImportError, IndexError,
            ValueError, TypeError) as e:
        raise MMSAFormatError(
            f"{p} is not a readable pickle ({type(e).__name__}: {e}). Expected the MMSA processed "
            f"file '{spec.file_name}' for {spec.name}; the file may be truncated or of another "
            "format: download it again and compare its SHA-1 with data/README.md."
        ) from e
    splits = validate_mmsa(raw, spec, source=str(p))
    synthetic = sidecar is not None
    if synthetic:
        _check_synthetic_sidecar(sidecar, spec, sha1, p, splits)
    else:
        _check_release(spec, sha1, p, splits, strict)
    for split in splits.values():
        clean_split(split, spec, source=str(p))
    return MMSAData(dataset=spec.name, path=p, sha1=sha1, synthetic=synthetic, splits=splits)


def _read_sidecar(p: Path) -> dict | None:
    side = p.with_name(p.name + SYNTHETIC_SIDECAR_SUFFIX)
    if not side.is_file():
        return None
    with open(side) as f:
        return json.load(f)


def _check_synthetic_sidecar(side: dict, spec: DatasetSpec, sha1: str, p: Path, splits) -> None:
    if side.get("dataset") != spec.name:
        raise MMSAFormatError(
            f"{p} is a synthetic {side.get('dataset')!r} stand-in, but dataset={spec.name!r} was asked for"
        )
    if side.get("sha1") != sha1:
        raise MMSAFormatError(
            f"{p} has SHA-1 {sha1} but its synthetic sidecar records {side.get('sha1')}: the file "
            "changed after it was written. Regenerate it with `python -m emtlib synth`."
        )


def _check_release(spec: DatasetSpec, sha1: str, p: Path, splits, strict: bool) -> None:
    """Compare with the released file: hash, and split sizes when the hash differs."""
    problems = []
    known = {spec.sha1}
    if sha1 not in known and not _is_normalized_of_release(p, spec):
        problems.append(f"SHA-1 {sha1} differs from the released file's {spec.sha1}")
    sizes = tuple(len(splits[s]["regression_labels"]) for s in SPLITS)
    if sizes != spec.split_sizes:
        problems.append(f"split sizes (train, valid, test) are {sizes}, the released file has "
                        f"{spec.split_sizes}")
    if not problems:
        return
    msg = (f"{p}: " + "; ".join(problems) + ". Results will not be comparable with the paper's. "
           "Check the download against data/README.md, or pass strict=False to accept it.")
    if strict:
        raise MMSAFormatError(msg)
    warnings.warn(msg.replace(", or pass strict=False to accept it", ""), stacklevel=3)


def _is_normalized_of_release(p: Path, spec: DatasetSpec) -> bool:
    """A SIMS normalized file is derived locally: its hash is not published.

    It is accepted when the original beside it has the released hash.
    """
    if spec.name != "sims" or not p.name.endswith("_normalized.pkl"):
        return False
    original = p.with_name(spec.file_name)
    return original.is_file() and file_sha1(original) == spec.sha1


def validate_mmsa(raw, spec: DatasetSpec, source: str = "<memory>") -> dict[str, dict]:
    """Check the top-level layout and every split's keys, shapes, dtypes, lengths and labels.

    Returns the splits with features as float32 and lengths as int64, as the released
    loader casts them; raises MMSAFormatError saying what was expected and found.
    """
    if not isinstance(raw, dict):
        raise MMSAFormatError(f"{source}: expected a dict with keys {list(SPLITS)}, found a "
                              f"{type(raw).__name__}. Is this an MMSA processed pickle?")
    missing = [s for s in SPLITS if s not in raw]
    if missing:
        raise MMSAFormatError(f"{source}: missing split(s) {missing}; expected keys {list(SPLITS)}, "
                              f"found {sorted(map(str, raw))}")
    return {s: _validate_split(raw[s], spec, f"{source} [{s}]") for s in SPLITS}


def _validate_split(split, spec: DatasetSpec, where: str) -> dict:
    if not isinstance(split, dict):
        raise MMSAFormatError(f"{where}: expected a dict of arrays, found {type(split).__name__}")
    required = REQUIRED_KEYS + (UNIMODAL_LABEL_KEYS if spec.unimodal_labels else ())
    absent = [k for k in required if k not in split]
    if absent:
        raise MMSAFormatError(f"{where}: missing key(s) {absent}; an MMSA {spec.name} split has "
                              f"{list(required)}, found {sorted(split)}")
    out = dict(split)
    for k in FLOAT_KEYS + (UNIMODAL_LABEL_KEYS if spec.unimodal_labels else ()):
        arr = np.asarray(split[k])
        if not np.issubdtype(arr.dtype, np.number):
            raise MMSAFormatError(f"{where}: '{k}' should be numeric, found dtype {arr.dtype}")
        out[k] = arr.astype(np.float32, copy=False)
    n = len(out["regression_labels"])
    L, Ta, Da, Tv, Dv = spec.text_len, spec.audio_len, spec.audio_dim, spec.vision_len, spec.vision_dim
    expected = {
        "text_bert": (n, 3, L), "text": (n, L, spec.text_feature_dim),
        "audio": (n, Ta, Da), "vision": (n, Tv, Dv), "regression_labels": (n,),
    }
    for k, shape in expected.items():
        if out[k].shape != shape:
            raise MMSAFormatError(f"{where}: '{k}' should have shape {shape} for {spec.name} "
                                  f"(N, ...), found {out[k].shape}")
    for k in ("id", "raw_text"):
        out[k] = np.asarray(split[k])
        if out[k].shape != (n,):
            raise MMSAFormatError(f"{where}: '{k}' should have shape ({n},), found {out[k].shape}")
    for k, T in (("audio_lengths", Ta), ("vision_lengths", Tv)):
        out[k] = _lengths(split[k], n, T, where, k)
    for k in UNIMODAL_LABEL_KEYS if spec.unimodal_labels else ():
        if out[k].shape != (n,):
            raise MMSAFormatError(f"{where}: '{k}' should have shape ({n},), found {out[k].shape}")
    _check_text_bert(out["text_bert"], where, spec.vocab_size)
    _check_labels(out["regression_labels"], spec, where)
    return out


def _lengths(values, n: int, T: int, where: str, key: str) -> np.ndarray:
    arr = np.asarray(values)
    if arr.shape != (n,) or not np.issubdtype(arr.dtype, np.number):
        raise MMSAFormatError(f"{where}: '{key}' should be ({n},) integers, found shape {arr.shape}, "
                              f"dtype {arr.dtype}")
    if not np.all(np.isfinite(arr)) or not np.all(arr == np.round(arr)):
        raise MMSAFormatError(f"{where}: '{key}' should hold whole numbers, found e.g. "
                              f"{arr[arr != np.round(arr)][:3]}")
    arr = arr.astype(np.int64)
    bad = np.flatnonzero((arr < 1) | (arr > T))
    if bad.size:
        raise MMSAFormatError(
            f"{where}: '{key}' must lie in [1, {T}] (a length of 0 crashes the packed LSTMs), "
            f"found {arr[bad[:5]].tolist()} at sample(s) {bad[:5].tolist()} ({bad.size} in all)")
    return arr


def _check_text_bert(tb: np.ndarray, where: str, vocab_size: int) -> None:
    ids, mask = tb[:, 0], tb[:, 1]
    if not np.isin(mask, (0.0, 1.0)).all():
        raise MMSAFormatError(f"{where}: text_bert row 1 is the attention mask and must be 0/1, "
                              f"found values {np.unique(mask)[:5]}")
    n_tok = mask.sum(axis=1)
    if (n_tok < 2).any():
        i = int(np.flatnonzero(n_tok < 2)[0])
        raise MMSAFormatError(f"{where}: sample {i} has {int(n_tok[i])} tokens; every text needs "
                              "at least [CLS] and [SEP]")
    # Ones must be a prefix (tokens then padding), as BERT tokenizers write them.
    prefix = np.arange(mask.shape[1])[None, :] < n_tok[:, None]
    if not (prefix == (mask == 1)).all():
        i = int(np.flatnonzero((prefix != (mask == 1)).any(axis=1))[0])
        raise MMSAFormatError(f"{where}: sample {i}'s attention mask is not tokens-then-padding")
    if not np.all(ids == np.round(ids)) or (ids < 0).any():
        raise MMSAFormatError(f"{where}: text_bert row 0 must hold non-negative token ids")
    if (ids >= vocab_size).any():
        i = int(np.flatnonzero((ids >= vocab_size).any(axis=1))[0])
        raise MMSAFormatError(f"{where}: sample {i} holds token id {int(ids[i].max())}, outside the "
                              f"vocabulary of {vocab_size} word pieces of the dataset's BERT: the "
                              "file was tokenized with another vocabulary, or is damaged")
    segments = tb[:, 2]
    if not np.isin(segments, (0.0, 1.0)).all():
        raise MMSAFormatError(f"{where}: text_bert row 2 holds segment ids, which must be 0/1, "
                              f"found values {np.unique(segments)[:5]}")


def _check_labels(y: np.ndarray, spec: DatasetSpec, where: str) -> None:
    lo, hi = spec.label_range
    bad = np.flatnonzero(~((y >= lo - 1e-6) & (y <= hi + 1e-6)))
    if bad.size:
        raise MMSAFormatError(f"{where}: regression_labels must lie in [{lo}, {hi}] for {spec.name}, "
                              f"found {y[bad[:5]].tolist()} at sample(s) {bad[:5].tolist()}")


def _row_chunks(arr: np.ndarray, nbytes: int = 1 << 26):
    """Slices of about `nbytes` along the first axis (at least one row each)."""
    row = max(1, arr[:1].nbytes)
    step = max(1, nbytes // row)
    return (slice(i, i + step) for i in range(0, len(arr), step))


def clean_split(split: dict, spec: DatasetSpec, source: str = "<memory>") -> dict:
    """The released loader's cleaning (audio -inf -> 0, in place), then refuse non-finite data.

    Both run over slices of about 64 MB, so the temporary masks stay small whatever the split's
    size."""
    audio = split["audio"]
    for sl in _row_chunks(audio):
        a = audio[sl]  # a view: the replacement is in place
        a[a == -np.inf] = 0
    for k in FLOAT_KEYS:
        arr = split[k]
        if all(np.isfinite(arr[sl]).all() for sl in _row_chunks(arr)):
            continue
        bad = ~np.isfinite(arr)
        first = tuple(int(i) for i in np.argwhere(bad)[0])
        raise MMSAFormatError(
            f"{source}: '{k}' holds {int(bad.sum())} non-finite value(s) (NaN or +/-inf) after "
            f"the released loader's cleaning (audio -inf -> 0); the first is at index {first}. "
            "The released code would train on them silently; fix or re-download the file.")
    return split


def normalize_sims(data: dict, eps: float = 1e-6) -> dict:
    """SIMS audio/vision z-normalisation (docs/data.md#sims-normalisation, official
    `preprocess/normalize_sims.py`).

    Per-feature mean and (population) std over the valid frames of all TRAIN samples; each
    split's valid frames become (x - mean) / (std + eps); padding stays 0; text untouched.
    Statistics are accumulated in float64 and written back as float32. Returns a new dict;
    the input is not modified.
    """
    out = {s: dict(data[s]) for s in SPLITS}
    for key in ("audio", "vision"):
        lengths = {s: np.asarray(data[s][f"{key}_lengths"]).astype(np.int64) for s in SPLITS}
        train = data["train"][key]
        valid = np.arange(train.shape[1])[None, :] < lengths["train"][:, None]  # (N, T)
        frames = train[valid].astype(np.float64)  # (sum of lengths, D)
        if not np.isfinite(frames).all():
            raise MMSAFormatError(f"SIMS train '{key}' has non-finite values in valid frames; "
                                  "normalisation would spread them to every sample")
        mean, std = frames.mean(axis=0), frames.std(axis=0)
        for s in SPLITS:
            x = np.array(data[s][key], dtype=np.float32, copy=True)
            v = np.arange(x.shape[1])[None, :] < lengths[s][:, None]  # (N, T)
            x[v] = ((x[v] - mean) / (std + eps)).astype(np.float32)
            out[s][key] = x
    return out


def write_normalized_sims(path: str | os.PathLike) -> Path:
    """Read `unaligned_39.pkl` (or a root holding it), write `unaligned_39_normalized.pkl` beside it."""
    src = resolve_path(Path(path), "sims") if Path(path).is_file() else \
        default_path(path, "sims", normalized=False)
    if not src.is_file():
        resolve_path(src, "sims")  # raises the standard FileNotFoundError
    raw = read_pickle(src)
    validate_mmsa(raw, get_spec("sims"), source=str(src))
    dst = src.with_name(normalized_name(src.name))
    atomic_write(dst, lambda f: pickle.dump(normalize_sims(raw), f, protocol=4))
    return dst


def summarize(data: MMSAData) -> str:
    """A plain-text table per split: size, label statistics, class counts, lengths."""
    lines = [f"{data.dataset} ({'synthetic stand-in' if data.synthetic else 'MMSA file'}) "
             f"{data.path or '<memory>'}  sha1={data.sha1}",
             f"{'split':<6} {'N':>6} {'label mean':>10} {'std':>6} {'neg/neu/pos':>16} "
             f"{'text tok':>8} {'audio len':>9} {'vision len':>10}"]
    for s, split in data.splits.items():
        y = split["regression_labels"]
        counts = f"{(y < 0).sum()}/{(y == 0).sum()}/{(y > 0).sum()}"
        n_tok = split["text_bert"][:, 1].sum(axis=1)
        lines.append(f"{s:<6} {len(y):>6} {y.mean():>10.3f} {y.std():>6.3f} {counts:>16} "
                     f"{n_tok.mean():>8.1f} {split['audio_lengths'].mean():>9.1f} "
                     f"{split['vision_lengths'].mean():>10.1f}")
    spec = get_spec(data.dataset)
    lines.append(f"shapes: text_bert (N, 3, {spec.text_len}), audio (N, {spec.audio_len}, "
                 f"{spec.audio_dim}), vision (N, {spec.vision_len}, {spec.vision_dim})")
    return "\n".join(lines)


def class_table(data: MMSAData):
    """Paper Table 2's layout: per split, negative / neutral / positive counts and the total."""
    import pandas as pd

    rows = []
    for s, split in data.splits.items():
        y = split["regression_labels"]
        rows.append({"split": s, "negative": int((y < 0).sum()), "neutral": int((y == 0).sum()),
                     "positive": int((y > 0).sum()), "total": len(y)})
    return pd.DataFrame(rows).set_index("split")


def shapes_table(data: MMSAData):
    """Array shapes, dtypes and valid-length statistics per modality of the train split."""
    import pandas as pd

    tr = data["train"]
    n_tok = tr["text_bert"][:, 1].sum(axis=1)
    rows = [
        {"modality": "text (text_bert)", "shape": str(tr["text_bert"].shape), "dtype": str(tr["text_bert"].dtype),
         "mean length": round(float(n_tok.mean()), 1), "max length": int(n_tok.max())},
    ]
    for m in ("audio", "vision"):
        L = tr[f"{m}_lengths"]
        rows.append({"modality": m, "shape": str(tr[m].shape), "dtype": str(tr[m].dtype),
                     "mean length": round(float(L.mean()), 1), "max length": int(L.max())})
    return pd.DataFrame(rows).set_index("modality")
