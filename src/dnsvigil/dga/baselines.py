"""The published kinds of DGA detector the evaluation runs beside dnsvigil's, on the same splits.

- a length/entropy heuristic: logistic regression on the label's length and Shannon entropy;
- Endgame-style bigrams: logistic regression on character-bigram counts (Anderson, Woodbridge et al.);
- character 1-4-gram logistic regression (hashed, averaged SGD), the model measured in REFERENCE.md;
- FANCI-style random forest on lexical and benign n-gram features (Schüppen et al. 2018), trained on
  at most `FOREST_SAMPLE` names per class to keep the evaluation within minutes on two cores.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
import scipy.sparse  # type: ignore[import-untyped]
from sklearn.ensemble import RandomForestClassifier  # type: ignore[import-untyped]
from sklearn.linear_model import LogisticRegression, SGDClassifier  # type: ignore[import-untyped]

from dnsvigil.dga.alphabet import EncodedLabels, encode_labels
from dnsvigil.dga.charngrams import ngram_buckets
from dnsvigil.dga.lexical import LEXICAL_FEATURES, lexical_features
from dnsvigil.dga.ngrams import count_ngrams, ngram_features
from dnsvigil.dga.splits import NameSet

Scorer = Callable[[EncodedLabels], npt.NDArray[np.float64]]
FOREST_SAMPLE = 40_000
_LENGTH, _ENTROPY = LEXICAL_FEATURES.index("length"), LEXICAL_FEATURES.index("entropy")


@dataclass(frozen=True, slots=True)
class Baseline:
    """A baseline detector: a name, what it is, and how to fit it (`fit(train, seed)` returns a scorer)."""

    name: str
    description: str
    fit: Callable[[NameSet, int], Scorer]


def _training_rows(train: NameSet) -> tuple[EncodedLabels, EncodedLabels, npt.NDArray[np.float64]]:
    benign = encode_labels(train.benign.labels.tolist())
    dga = encode_labels(train.dga.labels.tolist())
    return benign, dga, np.concatenate([np.zeros(len(benign)), np.ones(len(dga))])


def fit_length_entropy(train: NameSet, seed: int) -> Scorer:
    """Logistic regression on length and entropy: how far the simplest heuristic goes."""
    benign, dga, target = _training_rows(train)

    def columns(labels: EncodedLabels) -> npt.NDArray[np.float32]:
        return lexical_features(labels)[:, [_LENGTH, _ENTROPY]]

    regression = LogisticRegression(random_state=seed).fit(np.vstack([columns(benign), columns(dga)]), target)
    return lambda labels: regression.decision_function(columns(labels))


def _ngram_counts(labels: EncodedLabels, orders: tuple[int, int], bits: int) -> scipy.sparse.csr_matrix:
    pointers, columns = ngram_buckets(labels, orders=orders, bits=bits)
    matrix = scipy.sparse.csr_matrix(
        (np.ones(len(columns), dtype=np.float32), columns, pointers), shape=(len(labels), 1 << bits)
    )
    matrix.sum_duplicates()
    return matrix


def fit_bigram_regression(train: NameSet, seed: int) -> Scorer:
    """Endgame's bigram model: logistic regression on character-bigram counts (39**2 < 2**11 buckets)."""
    benign, dga, target = _training_rows(train)
    counts = scipy.sparse.vstack([_ngram_counts(benign, (2, 2), 11), _ngram_counts(dga, (2, 2), 11)])
    regression = LogisticRegression(max_iter=500, random_state=seed).fit(counts, target)
    return lambda labels: regression.decision_function(_ngram_counts(labels, (2, 2), 11))


def fit_ngram_regression(train: NameSet, seed: int) -> Scorer:
    """Logistic regression (averaged SGD) on hashed character 1-4-gram counts."""
    benign, dga, target = _training_rows(train)
    counts = scipy.sparse.vstack([_ngram_counts(benign, (1, 4), 20), _ngram_counts(dga, (1, 4), 20)])
    regression = SGDClassifier(
        loss="log_loss", alpha=1e-6, max_iter=10, tol=None, average=True, random_state=seed
    ).fit(counts, target)
    return lambda labels: regression.decision_function(_ngram_counts(labels, (1, 4), 20))


def fit_fanci_forest(train: NameSet, seed: int) -> Scorer:
    """FANCI-style random forest on lexical and benign n-gram features, on a per-class sample."""
    rng = np.random.default_rng(seed)
    benign_names, dga_names = train.benign, train.dga
    benign_rows = np.sort(rng.permutation(len(benign_names))[:FOREST_SAMPLE])
    dga_rows = np.sort(rng.permutation(len(dga_names))[:FOREST_SAMPLE])
    all_benign = encode_labels(benign_names.labels.tolist())
    counts = count_ngrams(all_benign)
    benign = encode_labels(benign_names.labels[benign_rows].tolist())
    dga = encode_labels(dga_names.labels[dga_rows].tolist())

    def features(labels: EncodedLabels, *, exclude_self: bool = False) -> npt.NDArray[np.float32]:
        return np.hstack(
            [lexical_features(labels), ngram_features(labels, counts, exclude_self=exclude_self)]
        )

    forest = RandomForestClassifier(n_estimators=100, min_samples_leaf=2, n_jobs=2, random_state=seed)
    forest.fit(
        np.vstack([features(benign, exclude_self=True), features(dga)]),
        np.concatenate([np.zeros(len(benign)), np.ones(len(dga))]),
    )
    return lambda labels: forest.predict_proba(features(labels))[:, 1]


BASELINES = (
    Baseline(
        "length/entropy heuristic",
        "logistic regression on label length and Shannon entropy",
        fit_length_entropy,
    ),
    Baseline("bigram LR (Endgame)", "logistic regression on character-bigram counts", fit_bigram_regression),
    Baseline(
        "char 1-4-gram LR",
        "logistic regression (averaged SGD) on hashed 1-4-gram counts",
        fit_ngram_regression,
    ),
    Baseline(
        "FANCI-style random forest",
        f"100 trees on lexical and benign n-gram features, at most {FOREST_SAMPLE:,} training names a class",
        fit_fanci_forest,
    ),
)
