"""What an MMSA processed pickle looks like, per dataset (docs/data.md).

One place holds the shapes, split sizes, label ranges and known hashes, so the reader,
the validator, the synthetic generator and the tests agree by construction.
"""
from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class DatasetSpec:
    """The fixed layout of one dataset's processed pickle."""

    name: str
    """Short name used everywhere in emtlib: 'mosi', 'mosei' or 'sims'."""
    file_name: str
    """File name of the processed pickle inside `<root>/<folder>/Processed/`."""
    folder: str
    """Directory name under the data root, as the released loader expects."""
    text_len: int
    """L: length of `text_bert` rows, counting [CLS] and [SEP]."""
    audio_len: int
    """T_a: padded number of audio frames."""
    audio_dim: int
    """D_a: audio feature size."""
    vision_len: int
    """T_v: padded number of vision frames."""
    vision_dim: int
    """D_v: vision feature size."""
    split_sizes: tuple[int, int, int]
    """Number of samples in train / valid / test of the real file."""
    label_range: tuple[float, float]
    """Closed range of `regression_labels`."""
    label_step: float | None
    """Grid step of the labels when they lie on one (SIMS: 0.2), else None."""
    class_counts: tuple[tuple[int, int, int], ...]
    """(neg, neu, pos) counts of train / valid / test in the real file."""
    sha1: str
    """SHA-1 of the released file (official README)."""
    sha256: str
    """SHA-256 of the released file (MMSA README)."""
    text_encoder: str
    """Text encoder the paper used for this dataset."""
    unimodal_labels: bool
    """Whether the file carries `regression_labels_T/A/V` (SIMS only)."""

    vocab_size: int = 30522
    """Token ids lie below this: the vocabulary of the dataset's BERT (bert-base-uncased, and
    MiniLM, share the 30,522 English word pieces; bert-base-chinese has 21,128)."""

    @property
    def text_feature_dim(self) -> int:
        """Width of the pre-extracted `text` BERT features (bert-base)."""
        return 768


SPLITS = ("train", "valid", "test")

DATASETS: dict[str, DatasetSpec] = {
    "mosi": DatasetSpec(
        name="mosi", file_name="unaligned_50.pkl", folder="MOSI",
        text_len=50, audio_len=375, audio_dim=5, vision_len=500, vision_dim=20,
        split_sizes=(1284, 229, 686), label_range=(-3.0, 3.0), label_step=None,
        class_counts=((552, 53, 679), (92, 13, 124), (379, 30, 277)),
        sha1="5da0b8440fc5a7c3a457859af27458beb993e088",
        sha256="78e0f8b5ef8ff71558e7307848fc1fa929ecb078203f565ab22b9daab2e02524",
        text_encoder="bert-base-uncased", unimodal_labels=False,
    ),
    "mosei": DatasetSpec(
        name="mosei", file_name="unaligned_50.pkl", folder="MOSEI",
        text_len=50, audio_len=500, audio_dim=74, vision_len=500, vision_dim=35,
        split_sizes=(16326, 1871, 4659), label_range=(-3.0, 3.0), label_step=None,
        class_counts=((4738, 3540, 8048), (506, 433, 932), (1350, 1025, 2284)),
        sha1="db3e2cff4d706a88ee156981c2100975513d4610",
        sha256="ad8b23d50557045e7d47959ce6c5b955d8d983f2979c7d9b7b9226f6dd6fec1f",
        text_encoder="bert-base-uncased", unimodal_labels=False,
    ),
    "sims": DatasetSpec(
        name="sims", file_name="unaligned_39.pkl", folder="SIMS",
        text_len=39, audio_len=400, audio_dim=33, vision_len=55, vision_dim=709, vocab_size=21128,
        split_sizes=(1368, 456, 457), label_range=(-1.0, 1.0), label_step=0.2,
        class_counts=((742, 207, 419), (248, 69, 139), (248, 69, 140)),
        sha1="a00c73e92f66896403c09dbad63e242d5af756f8",
        sha256="c9e20c13ec0454d98bb9c1e520e490c75146bfa2dfeeea78d84de047dbdd442f",
        text_encoder="bert-base-chinese", unimodal_labels=True,
    ),
}

# Special token ids, identical in the English and Chinese BERT vocabularies
# (docs/data.md#text-layout).
PAD_ID, UNK_ID, CLS_ID, SEP_ID = 0, 100, 101, 102


def get_spec(dataset: str) -> DatasetSpec:
    """The spec of `dataset`, or a ValueError naming the valid choices."""
    key = str(dataset).lower()
    if key not in DATASETS:
        raise ValueError(
            f"unknown dataset {dataset!r}: expected one of {sorted(DATASETS)} "
            "(mosi = CMU-MOSI, mosei = CMU-MOSEI, sims = CH-SIMS)"
        )
    return DATASETS[key]
