"""Hashed character n-grams of labels, and linear models over them.

Character 1- to 5-grams (label boundaries included) hashed into 2**bits buckets: the feature space of the
Endgame-style bigram baseline and of the n-gram logistic regressions, training (a sparse matrix for
scikit-learn) and scoring (a compiled sum of weights, no scikit-learn at run time) alike.
"""

from __future__ import annotations

import numba
import numpy as np
import numpy.typing as npt

from dnsvigil.dga.alphabet import ALPHABET_SIZE, EncodedLabels

_MIX = 0x9E3779B97F4A7C15 - 2**64  # golden-ratio multiplier as a signed 64-bit constant


def ngram_buckets(
    labels: EncodedLabels, *, orders: tuple[int, int], bits: int
) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.int32]]:
    """Bucket of every n-gram of every label, as CSR row pointers and column indices.

    Args:
        labels: the labels.
        orders: the smallest and largest n.
        bits: log2 of the number of buckets.
    """
    low, high = orders
    lengths = np.diff(labels.offsets) + 2  # boundaries on both sides
    per_label = sum(np.maximum(lengths - order + 1, 0) for order in range(low, high + 1))
    indptr = np.zeros(len(labels) + 1, dtype=np.int64)
    np.cumsum(per_label, out=indptr[1:])
    indices = np.zeros(int(indptr[-1]), dtype=np.int32)
    _buckets(labels.codes, labels.offsets, low, high, bits, indices)
    return indptr, indices


def linear_scores(
    labels: EncodedLabels,
    weights: npt.NDArray[np.float32],
    bias: npt.NDArray[np.float32],
    *,
    orders: tuple[int, int],
) -> npt.NDArray[np.float64]:
    """Decision values of linear models over n-gram counts: one row per label, one column per model.

    Args:
        labels: the labels.
        weights: `(2**bits, models)` weights by bucket.
        bias: `(models,)` intercepts.
        orders: the smallest and largest n the models were trained on.
    """
    bits = len(weights).bit_length() - 1
    out = np.zeros((len(labels), weights.shape[1]), dtype=np.float64)
    out += bias
    _accumulate(labels.codes, labels.offsets, orders[0], orders[1], bits, weights, out)
    return out


@numba.njit(cache=True, nogil=True, inline="always")
def _bucket(key: int, order: int, bits: int) -> int:
    mixed = ((key * ALPHABET_SIZE + order) ^ (key >> 31)) * _MIX
    return (mixed >> (64 - bits)) & ((1 << bits) - 1)


@numba.njit(cache=True, nogil=True, inline="always")
def _code_at(codes: npt.NDArray[np.uint8], start: int, end: int, index: int) -> int:
    return codes[index] if start <= index < end else 0


@numba.njit(cache=True, nogil=True)
def _buckets(
    codes: npt.NDArray[np.uint8],
    offsets: npt.NDArray[np.int64],
    low: int,
    high: int,
    bits: int,
    out: npt.NDArray[np.int32],
) -> None:
    index = 0
    for row in range(len(offsets) - 1):
        start, end = offsets[row], offsets[row + 1]
        for first in range(start - 1, end + 1):
            key = 0
            for order in range(1, min(high, end + 1 - first) + 1):
                key = key * ALPHABET_SIZE + _code_at(codes, start, end, first + order - 1)
                if order >= low:
                    out[index] = _bucket(key, order, bits)
                    index += 1


@numba.njit(cache=True, nogil=True)
def _accumulate(
    codes: npt.NDArray[np.uint8],
    offsets: npt.NDArray[np.int64],
    low: int,
    high: int,
    bits: int,
    weights: npt.NDArray[np.float32],
    out: npt.NDArray[np.float64],
) -> None:
    models = weights.shape[1]
    for row in range(len(offsets) - 1):
        start, end = offsets[row], offsets[row + 1]
        for first in range(start - 1, end + 1):
            key = 0
            for order in range(1, min(high, end + 1 - first) + 1):
                key = key * ALPHABET_SIZE + _code_at(codes, start, end, first + order - 1)
                if order >= low:
                    bucket = _bucket(key, order, bits)
                    for model in range(models):
                        out[row, model] += weights[bucket, model]
