"""MMSADataset and collate: both views, masks, lengths, batch-level cropping."""
from __future__ import annotations

import numpy as np
import torch

from emtlib.data.dataset import MMSADataset, collate_mmsa, make_loader
from emtlib.data.missing import make_missing
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
