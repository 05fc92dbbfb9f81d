"""Family attribution's hashed (suffix, length) pair buckets: inside their range and well spread."""

from __future__ import annotations

import numpy as np

from dnsvigil.dga.attribution import LENGTH_BUCKETS, PAIR_BUCKETS, SUFFIX_BUCKETS, pair_buckets


def test_pair_buckets_cover_the_whole_range() -> None:
    suffixes = np.repeat(np.arange(SUFFIX_BUCKETS), LENGTH_BUCKETS)
    lengths = np.tile(np.arange(LENGTH_BUCKETS), SUFFIX_BUCKETS)
    buckets = pair_buckets(suffixes, lengths)
    assert buckets.min() == 0
    assert buckets.max() == PAIR_BUCKETS - 1
    assert len(np.unique(buckets)) == PAIR_BUCKETS


def test_one_suffix_spreads_its_lengths_over_distinct_buckets() -> None:
    buckets = pair_buckets(np.full(LENGTH_BUCKETS, 7), np.arange(LENGTH_BUCKETS))
    assert len(np.unique(buckets)) >= LENGTH_BUCKETS - 4
