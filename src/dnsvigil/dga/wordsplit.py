"""How well a label splits into words: the features that catch wordlist DGAs (suppobox, matsnu).

Character statistics cannot tell `rememberspace` from `shapeshift`; how the label segments can: how much of
it English dictionary words cover, how many words and how long, and how likely the best segmentation is
under word frequencies from the web (Norvig's segmenter, "Beautiful Data" 2009). The word list and
frequencies are those shipped in the `wordsegment` package. Words and all their prefixes go into one
open-addressing hash table, so the segmentation is a compiled dynamic programme that stops walking from a
position as soon as no word starts with the characters seen.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import cache
from pathlib import Path

import numba
import numpy as np
import numpy.typing as npt
import wordsegment

from dnsvigil.dga.alphabet import EncodedLabels, encode_labels

WORD_FEATURES = (
    "dictionary_coverage3",
    "dictionary_words3",
    "dictionary_coverage4",
    "dictionary_words4",
    "dictionary_mean_word_length4",
    "longest_word_share",
    "unigram_logprob",
    "unigram_segments_share",
    "unigram_unknown_share",
)

MAX_WORD_LENGTH = 24
UNIGRAM_VOCABULARY = 100_000  # the most frequent web words; rarer entries are mostly junk and typos
_UNKNOWN_CHAR_LOGPROB = -20.0  # about a word seen once in a billion: a segmentation prefers real words
_PREFIX, _DICTIONARY, _UNIGRAM = 1, 2, 4
_HASH_BASE = 131
_MIX = 0x9E3779B97F4A7C15 - 2**64  # golden-ratio multiplier as a signed 64-bit constant


@dataclass(frozen=True, slots=True)
class WordTable:
    """Open-addressing hash table of words and their prefixes (`lengths == 0`: empty slot)."""

    keys: npt.NDArray[np.int64]
    lengths: npt.NDArray[np.int8]
    flags: npt.NDArray[np.uint8]
    logprobs: npt.NDArray[np.float32]

    def __post_init__(self) -> None:
        size = len(self.keys)
        if size & (size - 1) or not len(self.lengths) == len(self.flags) == len(self.logprobs) == size:
            raise ValueError("a word table needs four arrays of one power-of-two length")


def build_word_table(
    dictionary: list[str], unigrams: list[str], unigram_logprobs: npt.NDArray[np.float64]
) -> WordTable:
    """Build the table from dictionary words (coverage features) and frequent words with log-probabilities."""
    words = dictionary + unigrams
    encoded = encode_labels(words)
    is_dictionary = np.zeros(len(words), dtype=np.bool_)
    is_dictionary[: len(dictionary)] = True
    logprobs = np.concatenate([np.zeros(len(dictionary)), unigram_logprobs]).astype(np.float32)
    prefixes = np.zeros(int(np.minimum(np.diff(encoded.offsets), MAX_WORD_LENGTH).sum()), dtype=np.int64)
    _prefix_keys(encoded.codes, encoded.offsets, prefixes)
    size = 1 << max(10, (2 * len(np.unique(prefixes))).bit_length())  # at most half full
    table = WordTable(
        np.zeros(size, dtype=np.int64),
        np.zeros(size, dtype=np.int8),
        np.zeros(size, dtype=np.uint8),
        np.zeros(size, dtype=np.float32),
    )
    _insert_words(encoded.codes, encoded.offsets, is_dictionary, logprobs, *_arrays(table))
    return table


@cache
def shipped_word_table() -> WordTable:
    """The table from `wordsegment`'s data: its dictionary, and its most frequent unigrams.

    Unigrams of one or two letters that are not dictionary words are left out: nearly every pair of letters
    is somewhere on the web, and they would let any random string segment cheaply.
    """
    folder = Path(wordsegment.__file__).parent
    dictionary = [word for word in (folder / "words.txt").read_text().split() if word.isalpha()]
    known = set(dictionary)
    unigrams: list[str] = []
    counts: list[float] = []
    total = 0.0
    with (folder / "unigrams.txt").open() as lines:
        for line in lines:
            word, count = line.split("\t")
            total += float(count)
            if len(unigrams) < UNIGRAM_VOCABULARY and (len(word) >= 3 or word in known):
                unigrams.append(word)
                counts.append(float(count))
    return build_word_table(dictionary, unigrams, np.log(np.asarray(counts) / total))


def word_features(labels: EncodedLabels, table: WordTable) -> npt.NDArray[np.float32]:
    """One row of `WORD_FEATURES` per label."""
    out = np.zeros((len(labels), len(WORD_FEATURES)), dtype=np.float32)
    longest = int(np.diff(labels.offsets).max(initial=0))
    _segment(labels.codes, labels.offsets, *_arrays(table), longest, out)
    return out


def _arrays(
    table: WordTable,
) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.int8], npt.NDArray[np.uint8], npt.NDArray[np.float32]]:
    return table.keys, table.lengths, table.flags, table.logprobs


@numba.njit(cache=True, nogil=True)
def _prefix_keys(
    codes: npt.NDArray[np.uint8], offsets: npt.NDArray[np.int64], out: npt.NDArray[np.int64]
) -> None:
    index = 0
    for word in range(len(offsets) - 1):
        key = 0
        for position in range(offsets[word], min(offsets[word + 1], offsets[word] + MAX_WORD_LENGTH)):
            key = key * _HASH_BASE + codes[position] + 1
            out[index] = key
            index += 1


@numba.njit(cache=True, nogil=True)
def _slot(keys: npt.NDArray[np.int64], lengths: npt.NDArray[np.int8], key: int, length: int) -> int:
    """The slot holding (key, length), or the empty slot where it would go."""
    mask = len(keys) - 1
    slot = ((key ^ (key >> 29)) * _MIX) & mask
    while lengths[slot] != 0 and (keys[slot] != key or lengths[slot] != length):
        slot = (slot + 1) & mask
    return slot


@numba.njit(cache=True, nogil=True)
def _insert_words(
    codes: npt.NDArray[np.uint8],
    offsets: npt.NDArray[np.int64],
    is_dictionary: npt.NDArray[np.bool_],
    word_logprobs: npt.NDArray[np.float32],
    keys: npt.NDArray[np.int64],
    lengths: npt.NDArray[np.int8],
    flags: npt.NDArray[np.uint8],
    logprobs: npt.NDArray[np.float32],
) -> None:
    for word in range(len(offsets) - 1):
        start, end = offsets[word], offsets[word + 1]
        if end - start > MAX_WORD_LENGTH:
            continue
        key = 0
        for position in range(start, end):
            key = key * _HASH_BASE + codes[position] + 1
            slot = _slot(keys, lengths, key, position - start + 1)
            keys[slot] = key
            lengths[slot] = position - start + 1
            flags[slot] |= _PREFIX
        if is_dictionary[word]:
            flags[slot] |= _DICTIONARY
        elif not flags[slot] & _UNIGRAM:
            flags[slot] |= _UNIGRAM
            logprobs[slot] = word_logprobs[word]


@numba.njit(cache=True, nogil=True)
def _better(coverage: int, words: int, best_coverage: int, best_words: int) -> bool:
    return coverage > best_coverage or (coverage == best_coverage and words < best_words)


@numba.njit(cache=True, nogil=True)
def _segment(
    codes: npt.NDArray[np.uint8],
    offsets: npt.NDArray[np.int64],
    keys: npt.NDArray[np.int64],
    lengths: npt.NDArray[np.int8],
    flags: npt.NDArray[np.uint8],
    logprobs: npt.NDArray[np.float32],
    longest: int,
    out: npt.NDArray[np.float32],
) -> None:
    # cover3/words3: most characters covered by dictionary words of >= 3 letters, then fewest words
    cover3 = np.zeros(longest + 1, dtype=np.int64)
    words3 = np.zeros(longest + 1, dtype=np.int64)
    cover4 = np.zeros(longest + 1, dtype=np.int64)
    words4 = np.zeros(longest + 1, dtype=np.int64)
    # best log-probability of a segmentation into frequent words and unknown single characters
    logprob = np.zeros(longest + 1, dtype=np.float64)
    segments = np.zeros(longest + 1, dtype=np.int64)
    unknown = np.zeros(longest + 1, dtype=np.int64)
    for row in range(len(offsets) - 1):
        start, end = offsets[row], offsets[row + 1]
        n = end - start
        if n == 0:
            continue
        cover3[: n + 1] = 0
        words3[: n + 1] = 0
        cover4[: n + 1] = 0
        words4[: n + 1] = 0
        logprob[0] = 0.0
        logprob[1 : n + 1] = -math.inf
        segments[: n + 1] = 0
        unknown[: n + 1] = 0
        longest_word = 0
        for i in range(n):
            if _better(cover3[i], words3[i], cover3[i + 1], words3[i + 1]):
                cover3[i + 1], words3[i + 1] = cover3[i], words3[i]
            if _better(cover4[i], words4[i], cover4[i + 1], words4[i + 1]):
                cover4[i + 1], words4[i + 1] = cover4[i], words4[i]
            if logprob[i] + _UNKNOWN_CHAR_LOGPROB > logprob[i + 1]:
                logprob[i + 1] = logprob[i] + _UNKNOWN_CHAR_LOGPROB
                segments[i + 1] = segments[i] + 1
                unknown[i + 1] = unknown[i] + 1
            key = 0
            for j in range(i + 1, min(n, i + MAX_WORD_LENGTH) + 1):
                key = key * _HASH_BASE + codes[start + j - 1] + 1
                slot = _slot(keys, lengths, key, j - i)
                if lengths[slot] == 0:
                    break
                size = j - i
                flag = flags[slot]
                if flag & _DICTIONARY and size >= 3:
                    longest_word = max(longest_word, size)
                    if _better(cover3[i] + size, words3[i] + 1, cover3[j], words3[j]):
                        cover3[j], words3[j] = cover3[i] + size, words3[i] + 1
                    if size >= 4 and _better(cover4[i] + size, words4[i] + 1, cover4[j], words4[j]):
                        cover4[j], words4[j] = cover4[i] + size, words4[i] + 1
                if flag & _UNIGRAM and logprob[i] + logprobs[slot] > logprob[j]:
                    logprob[j] = logprob[i] + logprobs[slot]
                    segments[j] = segments[i] + 1
                    unknown[j] = unknown[i]
        features = out[row]
        features[0] = cover3[n] / n
        features[1] = words3[n]
        features[2] = cover4[n] / n
        features[3] = words4[n]
        features[4] = cover4[n] / words4[n] if words4[n] else 0.0
        features[5] = longest_word / n
        features[6] = logprob[n] / n
        features[7] = segments[n] / n
        features[8] = unknown[n] / n
