"""Which DGA family generated a name, with a confidence, or `unknown` when no known family fits.

A one-vs-rest logistic model over hashed character 1-4-grams, the public suffix, the label length, the
(suffix, length) pair and the standardised dense features: families differ in alphabet, length and the
TLDs they register under, so the suffix itself is a feature here (the detector reads only its odds of being
any DGA's). Each family's generative model of whole names (`family_shapes`) adds its weighted
log-likelihood to the log-sigmoids; the answer is the best family and its share of the softmax (the
sigmoids' share, with no weight). Two guards answer `unknown`: a confidence below a threshold chosen on
validation names, and a label whose dense features lie too far outside the ranges the predicted family
showed in training (a 30-character label is not `virut`, whose labels have 6).
"""

from __future__ import annotations

import math
import zlib
from collections.abc import Sequence
from dataclasses import dataclass

import numba
import numpy as np
import numpy.typing as npt

from dnsvigil.dga.alphabet import EncodedLabels
from dnsvigil.dga.charngrams import linear_scores, ngram_buckets
from dnsvigil.dga.family_shapes import LENGTH_BUCKETS, SUFFIX_BUCKETS, FamilyShapes, require_shapes

UNKNOWN = "unknown"
NGRAM_BITS = 14
ORDERS = (1, 4)
PAIR_BITS = 11
# Hashed (suffix, length) pairs: random-letter families differ less in letters than in which lengths
# they register under which suffixes.
PAIR_BUCKETS = 1 << PAIR_BITS
RANGE_QUANTILES = (0.01, 0.99)  # a family's usual range of each feature
# Half precision halves the largest array of the shipped model; attribution loses nothing measurable.
STORED_WEIGHT_DTYPE = np.float16
_DENSE_START = SUFFIX_BUCKETS + LENGTH_BUCKETS + PAIR_BUCKETS  # first dense row of `extra_weights`
_PAIR_MIX = 2654435761  # Knuth's multiplicative hash
_NEGLIGIBLE = 40.0  # nats below the best family's bound: left out of the softmax (`_choose`)


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
        shapes: each family's generative model of whole names and its weights.
        min_confidence: below this confidence the answer is `unknown`.
        max_distance: beyond this distance from the family's ranges the answer is `unknown`
            (`choose`).
    """

    families: tuple[str, ...]
    ngram_weights: npt.NDArray[np.float32]
    extra_weights: npt.NDArray[np.float32]
    bias: npt.NDArray[np.float32]
    dense_mean: npt.NDArray[np.float32]
    dense_scale: npt.NDArray[np.float32]
    low: npt.NDArray[np.float32]
    high: npt.NDArray[np.float32]
    shapes: FamilyShapes
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
            "shapes": (self.shapes.suffix_counts.shape[1:], (k,)),
        }
        require_shapes("family model", shapes)
        if UNKNOWN in self.families:
            raise ValueError(f"{UNKNOWN!r} cannot be a family name")

    def choose(
        self, labels: EncodedLabels, suffixes: Sequence[str], dense: npt.NDArray[np.float32]
    ) -> FamilyChoice:
        """Each label's most likely family, its probability, and how far the label lies outside that
        family's usual feature ranges (in standard deviations), in one compiled pass per batch."""
        decision = linear_scores(labels, self.ngram_weights, self.bias, orders=ORDERS)
        lengths = np.minimum(np.diff(labels.offsets), LENGTH_BUCKETS - 1)
        buckets = suffix_buckets(suffixes)
        rows = np.stack(
            [
                buckets,
                SUFFIX_BUCKETS + lengths,
                SUFFIX_BUCKETS + LENGTH_BUCKETS + pair_buckets(buckets, lengths),
            ],
            axis=1,
        )
        shaped = self.shapes.scores(labels, buckets, lengths)
        n = len(labels)
        choice = FamilyChoice(np.empty(n, np.int64), np.empty(n, np.float64), np.empty(n, np.float64))
        _choose(
            decision, rows, self.extra_weights, _DENSE_START, dense, self.dense_mean, self.dense_scale,
            shaped, self.low, self.high, choice.family, choice.confidence, choice.distance,
        )  # fmt: skip
        return choice

    def attribute(
        self, labels: EncodedLabels, suffixes: Sequence[str], dense: npt.NDArray[np.float32]
    ) -> tuple[list[str], npt.NDArray[np.float64]]:
        """The most likely family of each label (or `UNKNOWN`) and its probability."""
        choice = self.choose(labels, suffixes, dense)
        known = (choice.confidence >= self.min_confidence) & (choice.distance <= self.max_distance)
        pairs = zip(choice.family.tolist(), known.tolist(), strict=True)
        return [self.families[index] if ok else UNKNOWN for index, ok in pairs], choice.confidence


@dataclass(frozen=True, slots=True)
class FamilyChoice:
    """`FamilyModel.choose`'s answer: per label, the family index, its probability (the softmax of the
    log-sigmoids plus the shapes' log-likelihoods; with no shapes, the one-vs-rest sigmoids scaled to sum
    1, as scikit-learn gives them) and the distance from the family's usual ranges."""

    family: npt.NDArray[np.int64]
    confidence: npt.NDArray[np.float64]
    distance: npt.NDArray[np.float64]


@numba.njit(cache=True, nogil=True)
def _choose(
    decision: npt.NDArray[np.float64],
    rows: npt.NDArray[np.int64],
    extra_weights: npt.NDArray[np.float32],
    dense_start: int,
    dense: npt.NDArray[np.float32],
    mean: npt.NDArray[np.float32],
    scale: npt.NDArray[np.float32],
    shaped: npt.NDArray[np.float64],
    low: npt.NDArray[np.float32],
    high: npt.NDArray[np.float32],
    family: npt.NDArray[np.int64],
    confidence: npt.NDArray[np.float64],
    distance: npt.NDArray[np.float64],
) -> None:
    k, d = decision.shape[1], dense.shape[1]
    standard = np.empty(d, dtype=np.float32)
    bound = np.empty(k, dtype=np.float64)
    for row in range(decision.shape[0]):
        scores = decision[row]
        for extra in rows[row]:
            for index in range(k):
                scores[index] += extra_weights[extra, index]
        for feature in range(d):
            standard[feature] = (dense[row, feature] - mean[feature]) / scale[feature]
        for feature in range(d):
            weight = np.float64(standard[feature])
            for index in range(k):
                scores[index] += weight * extra_weights[dense_start + feature, index]
        # log-sigmoid(x) lies within log 2 below min(x, 0): a family whose bound is far below the best bound
        # adds under e^-39 of the best's share to the softmax, so only the others are computed exactly.
        top = -math.inf
        for index in range(k):
            bound[index] = min(scores[index], 0.0) + shaped[row, index]
            top = max(top, bound[index])
        best = -1
        for index in range(k):
            if bound[index] < top - _NEGLIGIBLE:
                continue
            linear = scores[index]  # its log-sigmoid, without overflow; within 1e-13 of x below -30
            if linear < -30.0:
                sigmoid = linear
            elif linear >= 0:
                sigmoid = -math.log1p(math.exp(-linear))
            else:
                sigmoid = linear - math.log1p(math.exp(linear))
            scores[index] = sigmoid + shaped[row, index]
            if best < 0 or scores[index] > scores[best]:
                best = index
        total = 0.0
        for index in range(k):
            if bound[index] >= top - _NEGLIGIBLE:
                total += math.exp(scores[index] - scores[best])
        family[row] = best
        confidence[row] = 1.0 / total
        outside = 0.0
        for feature in range(d):
            value = dense[row, feature]
            gap = max(low[best, feature] - value, 0.0) + max(value - high[best, feature], 0.0)
            outside += gap / scale[feature]
        distance[row] = outside


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
