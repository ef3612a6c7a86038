"""MMSADataset and collate: both views, masks, lengths, batch-level cropping."""
from __future__ import annotations

import numpy as np
import pytest
import torch

from emtlib.data.dataset import MMSADataset, collate_mmsa, make_loader
from emtlib.data.missing import make_missing
from emtlib.data.schema import get_spec
from tests.conftest import tiny_split


def test_batch_contract_and_cropping():
    split = tiny_split("mosi", n=5, seed=4, audio_lengths=[3, 10, 7, 1, 2],
                       vision_lengths=[20, 5, 6, 7, 8], text_tokens=[12, 50, 9, 30, 4])
    ds = MMSADataset(split, missing_rate=0.5)
    batch = collate_mmsa([ds[i] for i in (0, 2, 3)])
    assert batch["text"].shape == (3, 3, 30) and batch["text"].dtype == torch.long  # longest text: 30
    assert batch["text_m"].shape == (3, 3, 30) and batch["text_kept"].shape == (3, 30)
    assert batch["audio"].shape == (3, 7, 5)  # longest audio among samples 0, 2, 3
    assert batch["vision"].shape == (3, 20, 20)
    assert batch["audio_kept"].shape == (3, 7) and batch["audio_kept"].dtype == torch.bool
    assert batch["vision_m"].shape == (3, 20, 20)
    assert batch["index"].tolist() == [0, 2, 3] and batch["id"] == [str(split["id"][i]) for i in (0, 2, 3)]
    m = make_missing(split, 0.5)
    np.testing.assert_array_equal(batch["audio_m"][1].numpy(), m["audio"][2, :7])
    np.testing.assert_array_equal(batch["text_m"][2].numpy(), m["text_bert"][3, :, :30])
    np.testing.assert_array_equal(batch["text"][0].numpy(), split["text_bert"][0, :, :30])
    assert (split["text_bert"][[0, 2, 3], :, 30:] == 0).all()  # only padding was cropped
    np.testing.assert_allclose(batch["labels"].numpy(), split["regression_labels"][[0, 2, 3]])


def test_sims_unimodal_labels_and_loader_determinism():
    split = tiny_split("sims", n=9, seed=1)
    ds = MMSADataset(split, missing_rate=(0.1, 0.2, 0.3))
    order = lambda seed: torch.cat([b["index"] for b in make_loader(ds, 4, True, seed)]).tolist()
    assert order(3) == order(3) and sorted(order(3)) == list(range(9))
    assert order(3) != order(4)
    b = next(iter(make_loader(ds, 4, False)))
    assert set(b) >= {"labels_T", "labels_A", "labels_V"}
    np.testing.assert_allclose(b["labels_V"].numpy(), split["regression_labels_V"][:4])


def _bits(x) -> np.ndarray:
    """The raw bits of a float array (tells -0.0 from 0.0 and compares NaN payloads)."""
    x = x.numpy() if isinstance(x, torch.Tensor) else np.asarray(x)
    return x.view(np.int32) if x.dtype == np.float32 else x


@pytest.mark.parametrize("rate", [0.0, 0.3, 0.5, 1.0, (0.1, 0.6, 0.9), (0.8, 0.0, 0.4)])
@pytest.mark.parametrize("dataset", ["mosi", "sims"])
def test_batches_equal_make_missing_bit_for_bit(dataset, rate):
    """The incomplete view applied per batch is the one make_missing gives for the whole split:
    same ids, same frames bit for bit (negative values masked to -0.0 included), same masks."""
    n = 21
    split = tiny_split(dataset, n=n, seed=7, text_tokens=[get_spec(dataset).text_len] * 3
                       + list(np.random.default_rng(0).integers(3, 30, n - 3)))  # 3 full texts
    split["audio"][0, -1] = -2.5  # a padding frame holding values: complete keeps, masked zeroes
    m = make_missing(split, rate)
    ds = MMSADataset(split, missing_rate=rate)
    seen = []
    for b in make_loader(ds, 4, shuffle=True, seed=2):
        idx = b["index"].numpy()
        seen += idx.tolist()
        L = b["text"].shape[-1]
        np.testing.assert_array_equal(b["text_m"].numpy(), m["text_bert"][idx, :, :L].round())
        np.testing.assert_array_equal(b["text"].numpy(), split["text_bert"][idx, :, :L].round())
        np.testing.assert_array_equal(b["text_kept"].numpy(), m["text_kept"][idx, :L])
        for name in ("audio", "vision"):
            T = b[name].shape[1]
            assert T == split[f"{name}_lengths"][idx].max()
            np.testing.assert_array_equal(_bits(b[f"{name}_m"]), _bits(m[name][idx, :T]))
            np.testing.assert_array_equal(_bits(b[name]), _bits(split[name][idx, :T]))
            np.testing.assert_array_equal(b[f"{name}_kept"].numpy(), m[f"{name}_kept"][idx, :T])
            assert b[f"{name}_m"].dtype == torch.float32
    assert sorted(seen) == list(range(n))


def test_dataset_holds_no_copy_of_the_features():
    """Audio and vision are the split's own float32 arrays; only masks, lengths and text ids
    (small next to the features) are the dataset's own memory."""
    split = tiny_split("mosei", n=6, seed=3)
    ds = MMSADataset(split, missing_rate=0.5)
    for name in ("audio", "vision"):
        assert np.shares_memory(ds.tensors[name].numpy(), split[name])
        assert ds.tensors[name].data_ptr() == split[name].ctypes.data
    feature_bytes = split["audio"].nbytes + split["vision"].nbytes
    tensors = [ds.text, ds.text_valid, ds.text_kept, *ds.tensors.values(), *ds.labels.values()]
    own = sum(t.numel() * t.element_size() for t in tensors
              if not any(np.shares_memory(t.numpy(), v) for v in split.values()
                         if isinstance(v, np.ndarray) and v.dtype != object))
    assert own < 0.05 * feature_bytes
    assert not any(k.endswith("_m") for k in ds.tensors)  # no masked copy
    # A float64 split is converted once (a copy is unavoidable) and masks the same way.
    split64 = {k: (v.astype(np.float64) if k in ("audio", "vision") else v)
               for k, v in split.items()}
    b64 = collate_mmsa([MMSADataset(split64, 0.5)[i] for i in range(6)])
    b32 = collate_mmsa([ds[i] for i in range(6)])
    for k in ("audio", "audio_m", "vision", "vision_m"):
        np.testing.assert_array_equal(_bits(b64[k]), _bits(b32[k]))
