"""How ordinary a label's character sequence is, measured against benign names only.

Counts of character 2-, 3- and 4-grams (label boundaries included) over benign training labels give a
Markov model of benign names. Learning them from benign names alone, never from DGA names, keeps the
features meaningful for families absent from training. A label whose own n-grams are in the counts would
look more ordinary than an unseen one, so training rows are scored leave-one-out (`exclude_self`).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numba
import numpy as np
import numpy.typing as npt

from dnsvigil.dga.alphabet import ALPHABET_SIZE, EncodedLabels

NGRAM_FEATURES = (
    "bigram_logprob",
    "trigram_logprob",
    "trigram_logprob_min",
    "unseen_bigram_share",
    "rare_trigram_share",
    "fourgram_seen_share",
    "fourgram_log_count",
)

_A = ALPHABET_SIZE
_RARE = 3  # a trigram seen fewer times than this in benign names counts as rare


@dataclass(frozen=True, slots=True)
class BenignNgrams:
    """n-gram counts over benign labels; index `((a * 39 + b) * 39 + c)` for the trigram `abc`."""

    bigrams: npt.NDArray[np.uint32]
    trigrams: npt.NDArray[np.uint32]
    fourgrams: npt.NDArray[np.uint32]

    def __post_init__(self) -> None:
        for table, order in ((self.bigrams, 2), (self.trigrams, 3), (self.fourgrams, 4)):
            if table.shape != (_A**order,):
                raise ValueError(f"{order}-gram table has shape {table.shape}, expected ({_A**order},)")


def count_ngrams(labels: EncodedLabels) -> BenignNgrams:
    """Count the 2-, 3- and 4-grams of benign training labels."""
    bigrams = np.zeros(_A**2, dtype=np.uint32)
    trigrams = np.zeros(_A**3, dtype=np.uint32)
    fourgrams = np.zeros(_A**4, dtype=np.uint32)
    _count(labels.codes, labels.offsets, bigrams, trigrams, fourgrams)
    return BenignNgrams(bigrams, trigrams, fourgrams)


def ngram_features(
    labels: EncodedLabels, counts: BenignNgrams, *, exclude_self: bool = False
) -> npt.NDArray[np.float32]:
    """One row of `NGRAM_FEATURES` per label.

    Args:
        labels: the labels to describe.
        counts: benign n-gram counts.
        exclude_self: the labels were counted in `counts` (training rows): leave their own n-grams out.
    """
    out = np.zeros((len(labels), len(NGRAM_FEATURES)), dtype=np.float32)
    context = _contexts(counts)
    _features(
        labels.codes,
        labels.offsets,
        counts.bigrams,
        counts.trigrams,
        counts.fourgrams,
        *context,
        exclude_self,
        out,
    )
    return out


def _contexts(counts: BenignNgrams) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.int64]]:
    """Occurrences of each first character of a bigram, and of each first two characters of a trigram."""
    return (
        counts.bigrams.reshape(_A, _A).sum(axis=1, dtype=np.int64),
        counts.trigrams.reshape(_A * _A, _A).sum(axis=1, dtype=np.int64),
    )


@numba.njit(cache=True, nogil=True)
def _fill_keys(
    codes: npt.NDArray[np.uint8], start: int, end: int, order: int, keys: npt.NDArray[np.int64]
) -> int:
    """Write the keys of the label's n-grams of `order` (boundaries included) into `keys`; return how many."""
    n = max(end - start + 3 - order, 0)
    for position in range(n):
        key = 0
        for offset in range(order):
            index = start - 1 + position + offset
            key = key * _A + (codes[index] if start <= index < end else 0)
        keys[position] = key
    return n


@numba.njit(cache=True, nogil=True)
def _count(
    codes: npt.NDArray[np.uint8],
    offsets: npt.NDArray[np.int64],
    bigrams: npt.NDArray[np.uint32],
    trigrams: npt.NDArray[np.uint32],
    fourgrams: npt.NDArray[np.uint32],
) -> None:
    keys = np.zeros(int(np.diff(offsets).max()) + 2, dtype=np.int64)
    for row in range(len(offsets) - 1):
        start, end = offsets[row], offsets[row + 1]
        for position in range(_fill_keys(codes, start, end, 2, keys)):
            bigrams[keys[position]] += 1
        for position in range(_fill_keys(codes, start, end, 3, keys)):
            trigrams[keys[position]] += 1
        for position in range(_fill_keys(codes, start, end, 4, keys)):
            fourgrams[keys[position]] += 1


@numba.njit(cache=True, nogil=True)
def _own(keys: npt.NDArray[np.int64], n: int, key: int, exclude_self: bool) -> int:
    """How often the label itself contributed `key` (among its first `n` keys) to the counts."""
    own = 0
    if exclude_self:
        for position in range(n):
            own += keys[position] == key
    return own


@numba.njit(cache=True, nogil=True)
def _features(
    codes: npt.NDArray[np.uint8],
    offsets: npt.NDArray[np.int64],
    bigrams: npt.NDArray[np.uint32],
    trigrams: npt.NDArray[np.uint32],
    fourgrams: npt.NDArray[np.uint32],
    unigram_context: npt.NDArray[np.int64],
    bigram_context: npt.NDArray[np.int64],
    exclude_self: bool,
    out: npt.NDArray[np.float32],
) -> None:
    size = int(np.diff(offsets).max()) + 2 if len(offsets) > 1 else 0
    keys1 = np.zeros(size, dtype=np.int64)
    keys2 = np.zeros(size, dtype=np.int64)
    keys3 = np.zeros(size, dtype=np.int64)
    keys4 = np.zeros(size, dtype=np.int64)
    for row in range(len(offsets) - 1):
        start, end = offsets[row], offsets[row + 1]
        if end == start:
            continue
        n1 = _fill_keys(codes, start, end, 1, keys1) - 1  # first characters of the bigrams
        n2 = _fill_keys(codes, start, end, 2, keys2)
        n3 = _fill_keys(codes, start, end, 3, keys3)
        n4 = _fill_keys(codes, start, end, 4, keys4)
        bigram_sum = 0.0
        unseen = 0
        for position in range(n2):
            key = keys2[position]
            seen = bigrams[key] - _own(keys2, n2, key, exclude_self)
            first = keys1[position]
            context = unigram_context[first] - _own(keys1, n1, first, exclude_self)
            bigram_sum += math.log((seen + 1.0 / _A) / (context + 1.0))
            unseen += seen == 0
        trigram_sum = 0.0
        trigram_min = 0.0
        rare = 0
        for position in range(n3):
            key = keys3[position]
            seen = trigrams[key] - _own(keys3, n3, key, exclude_self)
            pair = keys2[position]
            context = bigram_context[pair] - _own(keys2, n2 - 1, pair, exclude_self)
            middle = pair % _A
            backoff_key = middle * _A + key % _A
            backoff_seen = bigrams[backoff_key] - _own(keys2, n2, backoff_key, exclude_self)
            backoff_context = unigram_context[middle] - _own(keys1, n1, middle, exclude_self)
            backoff = (backoff_seen + 1.0 / _A) / (backoff_context + 1.0)
            logprob = math.log((seen + 2.0 * backoff) / (context + 2.0))
            trigram_sum += logprob
            trigram_min = min(trigram_min, logprob)
            rare += seen < _RARE
        fourgram_seen = 0
        fourgram_log = 0.0
        for position in range(n4):
            key = keys4[position]
            seen = fourgrams[key] - _own(keys4, n4, key, exclude_self)
            fourgram_seen += seen >= _RARE
            fourgram_log += math.log1p(seen)
        features = out[row]
        features[0] = bigram_sum / n2
        features[1] = trigram_sum / n3
        features[2] = trigram_min
        features[3] = unseen / n2
        features[4] = rare / n3
        if n4:
            features[5] = fourgram_seen / n4
            features[6] = fourgram_log / n4
