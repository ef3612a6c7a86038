"""Loading a data file never runs code from it: the MMSA unpickler refuses every name an MMSA
pickle does not hold, before building anything."""
from __future__ import annotations

import pickle

import numpy as np
import pytest

from emtlib.data import load_mmsa
from emtlib.data.mmsa import MMSAFormatError, UnsafePickleError, read_pickle
from tests.conftest import tiny_data


class _Payload:
    """Leaves a marker file when unpickled (what a malicious `__reduce__` would do)."""

    def __init__(self, marker):
        self.marker = str(marker)

    def __reduce__(self):
        return (open, (self.marker, "w"))


def test_a_payload_file_is_refused_before_it_runs(tmp_path):
    marker, path = tmp_path / "ran", tmp_path / "unaligned_50.pkl"
    path.write_bytes(pickle.dumps(_Payload(marker)))
    with pytest.raises(MMSAFormatError, match="refers to (io|builtins).open.*refused before"):
        load_mmsa(path, "mosi")
    assert not marker.exists()


def test_a_payload_hidden_inside_a_valid_file_is_refused(tmp_path):
    marker, path = tmp_path / "ran", tmp_path / "unaligned_50.pkl"
    data = tiny_data("mosi")
    data["train"]["annotations"] = np.array([_Payload(marker)] * 4, dtype=object)
    path.write_bytes(pickle.dumps(data, protocol=4))
    with pytest.raises(MMSAFormatError, match="not loaded"):
        load_mmsa(path, "mosi")
    assert not marker.exists()


@pytest.mark.parametrize("protocol", [2, 4, 5])
def test_what_mmsa_files_hold_still_loads(tmp_path, protocol):
    data = tiny_data("mosi")
    data["train"]["id"] = data["train"]["id"].astype(object)  # object arrays of str, as released
    data["valid"]["scalar"] = np.float32(1.5)
    path = tmp_path / "x.pkl"
    path.write_bytes(pickle.dumps(data, protocol=protocol))
    back = read_pickle(path)
    np.testing.assert_array_equal(back["train"]["audio"], data["train"]["audio"])
    assert list(back["train"]["id"]) == list(data["train"]["id"]) and back["valid"]["scalar"] == 1.5


def test_the_refusal_is_an_unpickling_error():
    assert issubclass(UnsafePickleError, pickle.UnpicklingError)


def test_strict_compares_the_hash_before_reading(tmp_path):
    marker, path = tmp_path / "ran", tmp_path / "unaligned_50.pkl"
    path.write_bytes(pickle.dumps(_Payload(marker)))
    with pytest.raises(MMSAFormatError, match="with strict=True it was not read"):
        load_mmsa(path, "mosi", strict=True)
    assert not marker.exists()
