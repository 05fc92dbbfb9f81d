"""Which DGA family generated a name, with a confidence, or `unknown` when no known family fits.

A one-vs-rest logistic model over hashed character 1-4-grams, the public suffix, the label length, the
(suffix, length) pair and the standardised dense features: families differ in alphabet, length and the
TLDs they register under, so the suffix, which the detector ignores on purpose, helps here. Two guards
answer `unknown`: a confidence below a threshold chosen on validation names, and a label whose dense
features lie too far outside the ranges the predicted family showed in training (a 30-character label is
not `virut`, whose labels have 6).
"""

from __future__ import annotations

import zlib
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from dnsvigil.dga.alphabet import EncodedLabels
from dnsvigil.dga.charngrams import linear_scores, ngram_buckets

UNKNOWN = "unknown"
NGRAM_BITS = 14
ORDERS = (1, 4)
SUFFIX_BUCKETS = 1024
LENGTH_BUCKETS = 64
PAIR_BITS = 11
# Hashed (suffix, length) pairs: random-letter families differ less in letters than in which lengths
# they register under which suffixes.
PAIR_BUCKETS = 1 << PAIR_BITS
RANGE_QUANTILES = (0.01, 0.99)  # a family's usual range of each feature
# Half precision halves the largest array of the shipped model; attribution loses nothing measurable.
STORED_WEIGHT_DTYPE = np.float16
_DENSE_START = SUFFIX_BUCKETS + LENGTH_BUCKETS + PAIR_BUCKETS  # first dense row of `extra_weights`
_PAIR_MIX = 2654435761  # Knuth's multiplicative hash


@dataclass(frozen=True, slots=True)
class FamilyModel:
    """The fitted attribution model; `k` families, `d` dense features.

    Attributes:
        families: the families it can name, in column order.
        ngram_weights: `(2**NGRAM_BITS, k)` weights of hashed n-grams.
        extra_weights: `(SUFFIX_BUCKETS + LENGTH_BUCKETS + PAIR_BUCKETS + d, k)` weights of suffix bucket,
            length, (suffix, length) pair bucket and the standardised dense features.
        bias: `(k,)` intercepts.
        dense_mean: `(d,)` means for standardising dense features.
        dense_scale: `(d,)` standard deviations for the same.
        low: `(k, d)` lower end of each family's usual feature range.
        high: `(k, d)` upper end of the same.
        min_confidence: below this confidence the answer is `unknown`.
        max_distance: beyond this distance from the family's ranges the answer is `unknown`
            (`range_distance`).
    """

    families: tuple[str, ...]
    ngram_weights: npt.NDArray[np.float32]
    extra_weights: npt.NDArray[np.float32]
    bias: npt.NDArray[np.float32]
    dense_mean: npt.NDArray[np.float32]
    dense_scale: npt.NDArray[np.float32]
    low: npt.NDArray[np.float32]
    high: npt.NDArray[np.float32]
    min_confidence: float
    max_distance: float

    def __post_init__(self) -> None:
        k, d = len(self.families), len(self.dense_mean)
        shapes = {
            "ngram_weights": (self.ngram_weights.shape, (1 << NGRAM_BITS, k)),
            "extra_weights": (self.extra_weights.shape, (_DENSE_START + d, k)),
            "bias": (self.bias.shape, (k,)),
            "dense_scale": (self.dense_scale.shape, (d,)),
            "low": (self.low.shape, (k, d)),
            "high": (self.high.shape, (k, d)),
        }
        for name, (found, expected) in shapes.items():
            if found != expected:
                raise ValueError(f"family model {name} has shape {found}, expected {expected}")
        if UNKNOWN in self.families:
            raise ValueError(f"{UNKNOWN!r} cannot be a family name")

    def probabilities(
        self, labels: EncodedLabels, suffixes: Sequence[str], dense: npt.NDArray[np.float32]
    ) -> npt.NDArray[np.float64]:
        """Each family's probability for each label (rows sum to 1)."""
        decision = linear_scores(labels, self.ngram_weights, self.bias, orders=ORDERS)
        lengths = np.minimum(np.diff(labels.offsets), LENGTH_BUCKETS - 1)
        buckets = suffix_buckets(suffixes)
        decision += self.extra_weights[buckets]
        decision += self.extra_weights[SUFFIX_BUCKETS + lengths]
        decision += self.extra_weights[SUFFIX_BUCKETS + LENGTH_BUCKETS + pair_buckets(buckets, lengths)]
        standard = (dense - self.dense_mean) / self.dense_scale
        decision += standard.astype(np.float64) @ self.extra_weights[_DENSE_START:]
        return normalised_sigmoid(decision)

    def range_distance(
        self, dense: npt.NDArray[np.float32], family: npt.NDArray[np.int64]
    ) -> npt.NDArray[np.float64]:
        """How far each label's features lie outside its family's usual ranges, in standard deviations."""
        below = np.maximum(self.low[family] - dense, 0.0)
        above = np.maximum(dense - self.high[family], 0.0)
        distance: npt.NDArray[np.float64] = ((below + above) / self.dense_scale).sum(axis=1, dtype=np.float64)
        return distance

    def attribute(
        self, labels: EncodedLabels, suffixes: Sequence[str], dense: npt.NDArray[np.float32]
    ) -> tuple[list[str], npt.NDArray[np.float64]]:
        """The most likely family of each label (or `UNKNOWN`) and its probability."""
        probabilities = self.probabilities(labels, suffixes, dense)
        best = probabilities.argmax(axis=1)
        confidence = probabilities[np.arange(len(best)), best]
        distance = self.range_distance(dense, best)
        known = (confidence >= self.min_confidence) & (distance <= self.max_distance)
        return [self.families[b] if ok else UNKNOWN for b, ok in zip(best, known, strict=True)], confidence


def suffix_buckets(suffixes: Sequence[str]) -> npt.NDArray[np.int64]:
    """A stable bucket per public suffix (CRC-32, not Python's salted `hash`)."""
    return np.fromiter(
        (zlib.crc32(suffix.encode()) % SUFFIX_BUCKETS for suffix in suffixes), np.int64, len(suffixes)
    )


def pair_buckets(suffix: npt.NDArray[np.int64], length: npt.NDArray[np.int64]) -> npt.NDArray[np.int64]:
    """A stable bucket per (suffix bucket, length bucket) pair."""
    mixed = ((suffix * LENGTH_BUCKETS + length) * _PAIR_MIX) & 0xFFFFFFFF
    buckets: npt.NDArray[np.int64] = mixed >> (32 - PAIR_BITS)
    return buckets


def normalised_sigmoid(decision: npt.NDArray[np.float64]) -> npt.NDArray[np.float64]:
    """One-vs-rest probabilities as scikit-learn gives them: each class's sigmoid, rows scaled to sum 1."""
    probabilities = 1.0 / (1.0 + np.exp(-np.clip(decision, -500, 500)))
    total = probabilities.sum(axis=1, keepdims=True)
    normalised: npt.NDArray[np.float64] = np.divide(
        probabilities, total, out=np.full_like(probabilities, 1.0 / decision.shape[1]), where=total > 0
    )
    return normalised


def sparse_design(
    labels: EncodedLabels,
    suffixes: Sequence[str],
    dense: npt.NDArray[np.float32],
    mean: npt.NDArray[np.float32],
    scale: npt.NDArray[np.float32],
) -> tuple[npt.NDArray[np.float32], npt.NDArray[np.int64], npt.NDArray[np.int64], int]:
    """The model's design matrix as CSR parts (data, column indices, row pointers) and its width.

    Columns: n-gram buckets (counts), then one-hot suffix bucket, one-hot length, one-hot (suffix, length)
    pair bucket, standardised dense features.
    """
    n, d = dense.shape
    ngram_pointers, ngram_columns = ngram_buckets(labels, orders=ORDERS, bits=NGRAM_BITS)
    per_row = np.diff(ngram_pointers) + 3 + d
    pointers = np.zeros(n + 1, dtype=np.int64)
    np.cumsum(per_row, out=pointers[1:])
    extra = np.empty((n, 3 + d), dtype=np.int64)
    lengths = np.minimum(np.diff(labels.offsets), LENGTH_BUCKETS - 1)
    extra[:, 0] = suffix_buckets(suffixes)
    extra[:, 1] = SUFFIX_BUCKETS + lengths
    extra[:, 2] = SUFFIX_BUCKETS + LENGTH_BUCKETS + pair_buckets(extra[:, 0], lengths)
    extra[:, 3:] = _DENSE_START + np.arange(d)
    extra_values = np.ones((n, 3 + d), dtype=np.float32)
    extra_values[:, 3:] = (dense - mean) / scale
    columns = np.empty(int(pointers[-1]), dtype=np.int64)
    values = np.ones(int(pointers[-1]), dtype=np.float32)
    ngram_count = np.diff(ngram_pointers)
    ngram_start = pointers[:-1]
    is_ngram = np.zeros(int(pointers[-1]), dtype=np.bool_)
    is_ngram[_ranges(ngram_start, ngram_count)] = True
    columns[is_ngram] = ngram_columns
    columns[~is_ngram] = (extra + (1 << NGRAM_BITS)).ravel()
    values[~is_ngram] = extra_values.ravel()
    return values, columns, pointers, (1 << NGRAM_BITS) + _DENSE_START + d


def _ranges(starts: npt.NDArray[np.int64], counts: npt.NDArray[np.int64]) -> npt.NDArray[np.int64]:
    """The indices `starts[i] .. starts[i] + counts[i] - 1` of every `i`, concatenated."""
    total = int(counts.sum())
    offsets = np.repeat(starts - np.concatenate([[0], np.cumsum(counts)[:-1]]), counts)
    indices: npt.NDArray[np.int64] = np.arange(total, dtype=np.int64) + offsets
    return indices
