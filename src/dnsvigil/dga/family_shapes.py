"""What a family's names look like whole: the suffixes and lengths it registers, which letter follows which.

Many families draw uniformly random letters, so a name's n-grams say little about which of them made it; its
suffix and length say more (a 10-letter `.com` label is dnschanger six times in ten), and so does an
alphabet a generator never leaves (ramnit never uses `z`). The linear model sees suffix, length and their
pair as separate hashed features; this adds, per family, a generative model of the whole name: the
(suffix, length) pair's probability from the family's training counts, smoothed towards the product of its
suffix and length shares, and a character-bigram model with the label's boundaries. Their log-likelihoods,
weighted, are added to the linear model's log-sigmoids (`attribution.FamilyModel`); with every weight zero the
answer is the linear model's alone. The weights are chosen on validation names (`attribution_training`).
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field

import numba
import numpy as np
import numpy.typing as npt

from dnsvigil.dga.alphabet import ALPHABET_SIZE, BOUNDARY, EncodedLabels

SUFFIX_BUCKETS = 1024
LENGTH_BUCKETS = 64
PAIR_KEYS = SUFFIX_BUCKETS * LENGTH_BUCKETS
"""A (suffix bucket, length) pair's row: every pair its own, unlike the linear model's hashed pairs."""
PAIR_SMOOTHING = 5.0
"""Pseudo-names by which a pair's count is pulled towards the family's suffix share times length share."""
SHARE_PSEUDO_COUNT = 0.1
"""Added to every suffix and length count of a family, so that an unseen one is unlikely, not impossible."""
BIGRAM_PSEUDO_COUNT = 0.1
"""Added to every bigram count of a family (its bigram model's smoothing)."""


def require_shapes(what: str, shapes: dict[str, tuple[tuple[int, ...], tuple[int, ...]]]) -> None:
    """Raise ValueError naming the first array of `what` whose (found, expected) shapes differ."""
    for name, (found, expected) in shapes.items():
        if found != expected:
            raise ValueError(f"{what} {name} has shape {found}, expected {expected}")


@dataclass(frozen=True, slots=True)
class FamilyShapes:
    """Per family (`k` columns), the counts of its training names and the bigram model; and the weights.

    Attributes:
        pair_counts: `(PAIR_KEYS, k)` names per (suffix bucket, length) pair.
        suffix_counts: `(SUFFIX_BUCKETS, k)` names per suffix bucket.
        length_counts: `(LENGTH_BUCKETS, k)` names per length (the last row: that long or longer).
        bigram_log_probs: `(ALPHABET_SIZE, ALPHABET_SIZE, k)` log P(next code | code), boundaries as code 0.
        shape_weight: weight of the (suffix, length) log-probability.
        bigram_weight: weight of the bigram log-likelihood.
        prior_weight: weight of the log of the family's training names.
    """

    pair_counts: npt.NDArray[np.float32]
    suffix_counts: npt.NDArray[np.float32]
    length_counts: npt.NDArray[np.float32]
    bigram_log_probs: npt.NDArray[np.float32]
    shape_weight: float
    bigram_weight: float
    prior_weight: float
    _tables: _WeightedTables = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        k = self.pair_counts.shape[1] if self.pair_counts.ndim == 2 else -1
        shapes = {
            "pair_counts": (self.pair_counts.shape, (PAIR_KEYS, k)),
            "suffix_counts": (self.suffix_counts.shape, (SUFFIX_BUCKETS, k)),
            "length_counts": (self.length_counts.shape, (LENGTH_BUCKETS, k)),
            "bigram_log_probs": (self.bigram_log_probs.shape, (ALPHABET_SIZE, ALPHABET_SIZE, k)),
        }
        require_shapes("family shapes", shapes)
        if (self.suffix_counts.sum(axis=0) <= 0).any():
            raise ValueError("every family needs training names")
        object.__setattr__(self, "_tables", _WeightedTables.of(self))

    @classmethod
    def fit(
        cls,
        labels: EncodedLabels,
        suffix_bucket: npt.NDArray[np.int64],
        family: npt.NDArray[np.int64],
        families: int,
    ) -> FamilyShapes:
        """Counts and bigram model of labelled names (`family`: each name's column), every weight zero."""
        length = np.minimum(np.diff(labels.offsets), LENGTH_BUCKETS - 1)
        pair_counts = np.zeros((PAIR_KEYS, families), np.float32)
        np.add.at(pair_counts, (suffix_bucket * LENGTH_BUCKETS + length, family), 1.0)
        suffix_counts = np.zeros((SUFFIX_BUCKETS, families), np.float32)
        np.add.at(suffix_counts, (suffix_bucket, family), 1.0)
        length_counts = np.zeros((LENGTH_BUCKETS, families), np.float32)
        np.add.at(length_counts, (length, family), 1.0)
        bigrams = np.zeros((ALPHABET_SIZE, ALPHABET_SIZE, families), np.float64)
        _count_bigrams(labels.codes, labels.offsets, family, bigrams)
        smoothed = bigrams + BIGRAM_PSEUDO_COUNT
        log_probs = np.log(smoothed / smoothed.sum(axis=1, keepdims=True)).astype(np.float32)
        return cls(pair_counts, suffix_counts, length_counts, log_probs, 0.0, 0.0, 0.0)

    def weighted(self, shape: float, bigram: float, prior: float) -> FamilyShapes:
        """The same counts with other weights."""
        return dataclasses.replace(self, shape_weight=shape, bigram_weight=bigram, prior_weight=prior)

    def scores(
        self, labels: EncodedLabels, suffix_bucket: npt.NDArray[np.int64], length: npt.NDArray[np.int64]
    ) -> npt.NDArray[np.float64]:
        """`(n, k)`: the weighted log-likelihoods of each label under each family (`length` clipped to
        `LENGTH_BUCKETS - 1`)."""
        out = np.zeros((len(labels), self.pair_counts.shape[1]), np.float64)
        if self.shape_weight or self.bigram_weight or self.prior_weight:
            tables = self._tables
            _scores(
                labels.codes, labels.offsets, suffix_bucket, length, tables.by_suffix, tables.by_length,
                tables.seen_start, tables.seen_family, tables.seen_correction, tables.bigrams, out,
            )  # fmt: skip
        return out


@dataclass(frozen=True, slots=True)
class _WeightedTables:
    """The weighted log-likelihoods as sums of table rows, computed once, so that scoring takes no logarithm.

    A (suffix, length) pair a family never registered under scores `log(smoothing x suffix share x length
    share / (names + smoothing))`: a suffix row plus a length row (`by_suffix` also holds the prior term).
    The pairs it did register under, few, add a correction to that, listed by pair (`seen_start`: CSR row
    pointers over `PAIR_KEYS`, `seen_family`, `seen_correction`). `bigrams` is the bigram table times its
    weight.
    """

    by_suffix: npt.NDArray[np.float64]
    by_length: npt.NDArray[np.float64]
    seen_start: npt.NDArray[np.int64]
    seen_family: npt.NDArray[np.int64]
    seen_correction: npt.NDArray[np.float64]
    bigrams: npt.NDArray[np.float64]

    @classmethod
    def of(cls, shapes: FamilyShapes) -> _WeightedTables:
        names = shapes.suffix_counts.sum(axis=0, dtype=np.float64)
        suffix_share = (shapes.suffix_counts + SHARE_PSEUDO_COUNT) / (
            names + SHARE_PSEUDO_COUNT * SUFFIX_BUCKETS
        )
        length_share = (shapes.length_counts + SHARE_PSEUDO_COUNT) / (
            names + SHARE_PSEUDO_COUNT * LENGTH_BUCKETS
        )
        unseen = np.log(PAIR_SMOOTHING / (names + PAIR_SMOOTHING))
        weight = shapes.shape_weight
        by_suffix = weight * (unseen + np.log(suffix_share)) + shapes.prior_weight * np.log(names)
        by_length = weight * np.log(length_share)
        keys, family = np.nonzero(shapes.pair_counts)  # row-major: sorted by key
        suffix, length = keys // LENGTH_BUCKETS, keys % LENGTH_BUCKETS
        seen = shapes.pair_counts[keys, family].astype(np.float64)
        smoothed = seen + PAIR_SMOOTHING * suffix_share[suffix, family] * length_share[length, family]
        as_unseen = (
            unseen[family] + np.log(suffix_share[suffix, family]) + np.log(length_share[length, family])
        )
        correction = weight * (np.log(smoothed) - np.log(names + PAIR_SMOOTHING)[family] - as_unseen)
        seen_start = np.zeros(PAIR_KEYS + 1, np.int64)
        np.cumsum(np.bincount(keys, minlength=PAIR_KEYS), out=seen_start[1:])
        bigrams = shapes.bigram_weight * shapes.bigram_log_probs.astype(np.float64)
        return cls(by_suffix, by_length, seen_start, family.astype(np.int64), correction, bigrams)


@numba.njit(cache=True, nogil=True)
def _count_bigrams(
    codes: npt.NDArray[np.uint8],
    offsets: npt.NDArray[np.int64],
    family: npt.NDArray[np.int64],
    out: npt.NDArray[np.float64],
) -> None:
    for row in range(len(offsets) - 1):
        previous = BOUNDARY
        for index in range(offsets[row], offsets[row + 1] + 1):
            current = codes[index] if index < offsets[row + 1] else BOUNDARY
            out[previous, current, family[row]] += 1.0
            previous = current


@numba.njit(cache=True, nogil=True)
def _scores(
    codes: npt.NDArray[np.uint8],
    offsets: npt.NDArray[np.int64],
    suffix_bucket: npt.NDArray[np.int64],
    length: npt.NDArray[np.int64],
    by_suffix: npt.NDArray[np.float64],
    by_length: npt.NDArray[np.float64],
    seen_start: npt.NDArray[np.int64],
    seen_family: npt.NDArray[np.int64],
    seen_correction: npt.NDArray[np.float64],
    bigrams: npt.NDArray[np.float64],
    out: npt.NDArray[np.float64],
) -> None:
    k = out.shape[1]
    for row in range(len(offsets) - 1):
        suffix, size = suffix_bucket[row], length[row]
        scores = out[row]
        for index in range(k):
            scores[index] = by_suffix[suffix, index] + by_length[size, index]
        key = suffix * LENGTH_BUCKETS + size
        for entry in range(seen_start[key], seen_start[key + 1]):
            scores[seen_family[entry]] += seen_correction[entry]
        previous = BOUNDARY
        for position in range(offsets[row], offsets[row + 1] + 1):
            current = codes[position] if position < offsets[row + 1] else BOUNDARY
            for index in range(k):
                scores[index] += bigrams[previous, current, index]
            previous = current
