"""Model artifacts: round trip, byte-identical rewrites, and refusal of files that are not models."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from dnsvigil.dga.artifact import read_artifact, write_artifact
from dnsvigil.errors import InputError


def test_round_trip_and_identical_bytes(tmp_path: Path) -> None:
    arrays = {"b": np.arange(5, dtype=np.int32), "a": np.linspace(0, 1, 7).astype(np.float32)}
    header = {"format": "x", "threshold": 0.5, "names": ["one", "two"]}
    first, second = tmp_path / "first.npz", tmp_path / "second.npz"
    write_artifact(first, header, arrays)
    write_artifact(second, dict(reversed(header.items())), dict(reversed(arrays.items())))
    assert first.read_bytes() == second.read_bytes()
    read_header, read_arrays = read_artifact(first)
    assert read_header == header
    assert sorted(read_arrays) == ["a", "b"]
    for name, array in arrays.items():
        np.testing.assert_array_equal(read_arrays[name], array)
        assert read_arrays[name].dtype == array.dtype
    with np.load(first, allow_pickle=False) as plain_numpy:  # an ordinary .npz to numpy
        np.testing.assert_array_equal(plain_numpy["a"], arrays["a"])


def test_missing_and_foreign_files_are_input_errors(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="no such model file"):
        read_artifact(tmp_path / "absent.npz")
    foreign = tmp_path / "foreign.npz"
    foreign.write_bytes(b"not a zip file")
    with pytest.raises(InputError, match="not a dnsvigil DGA model"):
        read_artifact(foreign)
    pickled = tmp_path / "pickled.npz"
    np.savez(pickled, objects=np.array([{"a": 1}], dtype=object))
    with pytest.raises(InputError):
        read_artifact(pickled)
