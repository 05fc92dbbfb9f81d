"""Synthetic random labels: reproducible, in the requested lengths, base-36 only."""

from __future__ import annotations

import numpy as np
import pytest

from dnsvigil.dga.alphabet import EncodedLabels, encode_labels
from dnsvigil.dga.synthetic import BASE36_CODES, random_labels


def test_labels_are_reproducible_base36_and_within_the_lengths() -> None:
    first = random_labels(500, rng=np.random.default_rng(4), min_length=10, max_length=12)
    second = random_labels(500, rng=np.random.default_rng(4), min_length=10, max_length=12)
    other = random_labels(500, rng=np.random.default_rng(5), min_length=10, max_length=12)
    np.testing.assert_array_equal(first.codes, second.codes)
    assert not np.array_equal(first.codes[:100], other.codes[:100])
    assert len(first) == 500
    assert set(np.diff(first.offsets).tolist()) == {10, 11, 12}
    assert set(first.codes.tolist()) == set(BASE36_CODES.tolist())


def test_bad_lengths_are_refused() -> None:
    with pytest.raises(ValueError, match="min_length"):
        random_labels(3, rng=np.random.default_rng(0), min_length=5, max_length=4)


def test_concat_keeps_the_labels_in_order() -> None:
    joined = EncodedLabels.concat(encode_labels(["ab", "c"]), encode_labels(["", "xyz"]))
    expected = encode_labels(["ab", "c", "", "xyz"])
    np.testing.assert_array_equal(joined.codes, expected.codes)
    np.testing.assert_array_equal(joined.offsets, expected.offsets)
