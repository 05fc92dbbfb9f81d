"""The dense feature matrix every DGA model here reads: lexical, benign n-gram and word-split features.

Each group lives in its own module; this one fixes their order, which a trained model depends on.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

from dnsvigil.dga.alphabet import EncodedLabels
from dnsvigil.dga.lexical import LEXICAL_FEATURES, lexical_features
from dnsvigil.dga.ngrams import NGRAM_FEATURES, BenignNgrams, ngram_features
from dnsvigil.dga.wordsplit import WORD_FEATURES, WordTable, word_features

DENSE_FEATURES = LEXICAL_FEATURES + NGRAM_FEATURES + WORD_FEATURES


def dense_features(
    labels: EncodedLabels, ngrams: BenignNgrams, words: WordTable, *, exclude_self: bool = False
) -> npt.NDArray[np.float32]:
    """One row of `DENSE_FEATURES` per label.

    Args:
        labels: the labels.
        ngrams: benign n-gram counts.
        words: the word table.
        exclude_self: the labels are the benign names `ngrams` was counted from (see `ngram_features`).
    """
    return np.hstack(
        [
            lexical_features(labels),
            ngram_features(labels, ngrams, exclude_self=exclude_self),
            word_features(labels, words),
        ]
    )
