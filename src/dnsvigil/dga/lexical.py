"""FANCI-style lexical features of a label: length, character classes, runs, entropy, hex-ness.

These need no learned state, so they describe a family the model never saw as well as a known one
(Schüppen et al., "FANCI", USENIX Security 2018). One compiled pass per batch.
"""

from __future__ import annotations

import math

import numba
import numpy as np
import numpy.typing as npt

from dnsvigil.dga.alphabet import ALPHABET_SIZE, HYPHEN, EncodedLabels

LEXICAL_FEATURES = (
    "length",
    "digit_share",
    "vowel_share",
    "consonant_share",
    "hyphens",
    "unique_share",
    "entropy",
    "max_consonant_run",
    "max_vowel_run",
    "max_digit_run",
    "consonant_run_share",
    "doubled_share",
    "hex_share",
    "hex_only",
    "class_switch_share",
    "first_is_digit",
    "vowel_alternation_share",
)

_VOWELS = np.zeros(ALPHABET_SIZE, dtype=np.bool_)
_VOWELS[[1, 5, 9, 15, 21]] = True  # a e i o u
_HEX = np.zeros(ALPHABET_SIZE, dtype=np.bool_)
_HEX[1:7] = True
_HEX[27:37] = True


def lexical_features(labels: EncodedLabels) -> npt.NDArray[np.float32]:
    """One row of `LEXICAL_FEATURES` per label."""
    out = np.zeros((len(labels), len(LEXICAL_FEATURES)), dtype=np.float32)
    _lexical(labels.codes, labels.offsets, _VOWELS, _HEX, out)
    return out


@numba.njit(cache=True, nogil=True)
def _char_class(code: int, vowels: npt.NDArray[np.bool_]) -> int:
    """0 vowel, 1 consonant, 2 digit, 3 hyphen or other."""
    if code <= 26:
        return 0 if vowels[code] else 1
    return 2 if code <= 36 else 3


@numba.njit(cache=True, nogil=True)
def _lexical(
    codes: npt.NDArray[np.uint8],
    offsets: npt.NDArray[np.int64],
    vowels: npt.NDArray[np.bool_],
    hexdigits: npt.NDArray[np.bool_],
    out: npt.NDArray[np.float32],
) -> None:
    counts = np.zeros(ALPHABET_SIZE, dtype=np.int64)
    for row in range(len(offsets) - 1):
        start, end = offsets[row], offsets[row + 1]
        length = end - start
        if length == 0:
            continue
        counts[:] = 0
        n_class = np.zeros(4, dtype=np.int64)
        runs = np.zeros(4, dtype=np.int64)
        max_runs = np.zeros(4, dtype=np.int64)
        previous_class = -1
        previous_code = -1
        consonant_run_chars = 0
        doubled = 0
        switches = 0
        alternations = 0
        n_hex = 0
        for position in range(start, end):
            code = codes[position]
            counts[code] += 1
            klass = _char_class(code, vowels)
            n_class[klass] += 1
            if hexdigits[code]:
                n_hex += 1
            if klass == previous_class:
                runs[klass] += 1
            else:
                if previous_class == 1 and runs[1] >= 3:
                    consonant_run_chars += runs[1]
                runs[klass] = 1
                if previous_class >= 0:
                    switches += (previous_class == 2) != (klass == 2)
                    alternations += previous_class <= 1 and klass <= 1
            max_runs[klass] = max(max_runs[klass], runs[klass])
            doubled += code == previous_code
            previous_class = klass
            previous_code = code
        if previous_class == 1 and runs[1] >= 3:
            consonant_run_chars += runs[1]
        entropy = 0.0
        unique = 0
        for code in range(ALPHABET_SIZE):
            if counts[code]:
                unique += 1
                share = counts[code] / length
                entropy -= share * math.log2(share)
        features = out[row]
        features[0] = length
        features[1] = n_class[2] / length
        features[2] = n_class[0] / length
        features[3] = n_class[1] / length
        features[4] = counts[HYPHEN]
        features[5] = unique / length
        features[6] = entropy
        features[7] = max_runs[1]
        features[8] = max_runs[0]
        features[9] = max_runs[2]
        features[10] = consonant_run_chars / length
        features[11] = doubled / length
        features[12] = n_hex / length
        features[13] = n_hex == length
        features[14] = switches / length
        features[15] = _char_class(codes[start], vowels) == 2
        features[16] = alternations / length
