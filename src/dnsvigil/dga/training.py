"""Train the DGA model from labelled names, reproducibly: one seed, one byte-identical artifact.

The detector stacks two learners. A logistic regression over hashed character 1-5-grams learns what
families look like character by character (it carries the word identities of wordlist families); its
decision value joins the lexical, benign n-gram and word-split features as one input of gradient-boosted
trees, which learn how to weigh them. Training rows get out-of-fold n-gram scores, so the trees learn how
far to trust them on names the regression has not seen; the public suffix's odds of being a DGA's
(`suffix_odds`, also out of fold) are one more input. Benign rows weigh more than DGA rows because the
operating point sits at a false-positive rate of 1e-3, far in the benign tail. Random base-36 labels
(`synthetic`) join the DGA rows at a fraction of a real name's weight, so that shapes of random label no
collected family happens to use do not pass for benign; each takes the suffix of a random training name
of either kind, so the suffix alone does not give them away.

`python -m dnsvigil.dga.training DATA_DIR` regenerates the shipped model (`make model`).
"""

from __future__ import annotations

import argparse
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import numpy.typing as npt
import scipy.sparse  # type: ignore[import-untyped]
from sklearn.ensemble import HistGradientBoostingClassifier  # type: ignore[import-untyped]
from sklearn.linear_model import SGDClassifier  # type: ignore[import-untyped]

from dnsvigil.dga.alphabet import EncodedLabels, encode_labels
from dnsvigil.dga.attribution_training import fit_family_model
from dnsvigil.dga.charngrams import ngram_buckets
from dnsvigil.dga.features import dense_features
from dnsvigil.dga.metrics import threshold_at_fpr
from dnsvigil.dga.model import DETECTOR_ORDERS, SHIPPED_MODEL, Detector, DgaModel, ModelInfo
from dnsvigil.dga.ngrams import count_ngrams
from dnsvigil.dga.splits import NameSet, load_name_set, shipped_split
from dnsvigil.dga.suffix_odds import SuffixOdds, out_of_fold_odds
from dnsvigil.dga.synthetic import random_labels
from dnsvigil.dga.trees import from_histogram_boosting
from dnsvigil.dga.wordsplit import shipped_word_table

Progress = Callable[[str], None]
SEED = 0


@dataclass(frozen=True, slots=True)
class TrainingSettings:
    """Hyperparameters of the detector, chosen on validation names (never on test names).

    Attributes:
        ngram_bits: log2 of the hash buckets of the n-gram regression.
        ngram_alpha: its L2 penalty (averaged SGD, logistic loss).
        ngram_epochs: its passes over the data.
        ngram_folds: folds of its out-of-fold scores (and of the suffix odds) for the training rows.
        iterations: boosting iterations (trees).
        learning_rate: boosting shrinkage.
        max_leaf_nodes: leaves per tree.
        benign_weight: weight of a benign training row relative to a DGA one.
        synthetic_names: random base-36 labels added to the DGA rows (`synthetic.random_labels`).
        synthetic_weight: the weight of each of them relative to a real DGA row.
        target_fpr: false-positive rate on benign validation names the threshold is chosen for.
    """

    ngram_bits: int = 19
    ngram_alpha: float = 1e-6
    ngram_epochs: int = 10
    ngram_folds: int = 4
    iterations: int = 250
    learning_rate: float = 0.1
    max_leaf_nodes: int = 31
    benign_weight: float = 10.0
    synthetic_names: int = 3000
    synthetic_weight: float = 0.3
    target_fpr: float = 1e-3


SHIPPED_SETTINGS = TrainingSettings()


def train(data_dir: Path, *, seed: int = SEED, progress: Progress | None = None) -> DgaModel:
    """The shipped model's recipe: all reference data under `data_dir`, 20 % held out for the threshold.

    Raises:
        InputError: a reference file is missing or malformed.
    """
    names, _ = load_name_set(data_dir)
    split = shipped_split(names, seed)
    return fit_model(split.train, split.validation, seed=seed, progress=progress)


def fit_model(
    train: NameSet,
    validation: NameSet,
    *,
    seed: int,
    settings: TrainingSettings = SHIPPED_SETTINGS,
    progress: Progress | None = None,
) -> DgaModel:
    """Fit detector and family model on `train`; fix the threshold and the `unknown` rule on `validation`."""
    report = progress or (lambda message: None)
    detector = fit_detector(train, seed=seed, settings=settings, progress=report)
    benign_scores = detector.scores(
        encode_labels(validation.benign.labels.tolist()), validation.benign.suffixes.tolist()
    )
    dga_scores = detector.scores(
        encode_labels(validation.dga.labels.tolist()), validation.dga.suffixes.tolist()
    )
    threshold = threshold_at_fpr(benign_scores, settings.target_fpr)
    report("fitting the family model")
    families = fit_family_model(train.dga, validation.dga, detector, seed=seed)
    info = ModelInfo(
        seed=seed,
        threshold=threshold,
        target_fpr=settings.target_fpr,
        validation_fpr=float(np.mean(benign_scores > threshold)),
        validation_tpr=float(np.mean(dga_scores > threshold)),
        counts={
            "train_benign": len(train.benign),
            "train_dga": len(train.dga),
            "validation_benign": len(validation.benign),
            "validation_dga": len(validation.dga),
        },
    )
    return DgaModel(detector, families, info)


def fit_detector(
    train: NameSet,
    *,
    seed: int,
    settings: TrainingSettings = SHIPPED_SETTINGS,
    progress: Progress | None = None,
) -> Detector:
    """Fit the detector (no threshold) on the benign and DGA names of `train`."""
    report = progress or (lambda message: None)
    benign = encode_labels(train.benign.labels.tolist())
    real = encode_labels(train.dga.labels.tolist())
    synthetic = random_labels(settings.synthetic_names, rng=np.random.default_rng([seed, 3]))
    dga = EncodedLabels.concat(real, synthetic)
    words = shipped_word_table()
    ngrams = count_ngrams(benign)
    report(f"features of {len(benign)} benign and {len(dga)} DGA training names")
    dense = np.vstack(
        [dense_features(benign, ngrams, words, exclude_self=True), dense_features(dga, ngrams, words)]
    )
    target = np.concatenate([np.zeros(len(benign)), np.ones(len(dga))])
    report("fitting the character n-gram regression")
    counts = _ngram_matrix([benign, dga], settings.ngram_bits)
    out_of_fold, weights, bias = _fit_ngram_regression(counts, target, seed=seed, settings=settings)
    real_suffixes = np.concatenate([train.benign.suffixes, train.dga.suffixes]).tolist()
    is_dga = target[: len(real_suffixes)] == 1
    suffix_odds = SuffixOdds.fit(real_suffixes, is_dga)
    synthetic_suffixes = np.random.default_rng([seed, 6]).choice(real_suffixes, len(synthetic)).tolist()
    suffix_column = np.concatenate(
        [
            out_of_fold_odds(
                real_suffixes, is_dga, folds=settings.ngram_folds, rng=np.random.default_rng([seed, 5])
            ),
            suffix_odds.of(synthetic_suffixes),
        ]
    )
    report(f"fitting {settings.iterations} boosted trees")
    boosting = HistGradientBoostingClassifier(
        max_iter=settings.iterations,
        learning_rate=settings.learning_rate,
        max_leaf_nodes=settings.max_leaf_nodes,
        l2_regularization=1.0,
        early_stopping=False,
        random_state=seed,
    )
    sample_weight = np.where(target == 0, settings.benign_weight, 1.0)
    sample_weight[len(benign) + len(real) :] = settings.synthetic_weight
    boosting.fit(
        np.hstack([dense, out_of_fold[:, None].astype(np.float32), suffix_column[:, None]]),
        target,
        sample_weight=sample_weight,
    )
    return Detector(ngrams, words, weights, bias, suffix_odds, from_histogram_boosting(boosting))


def _ngram_matrix(batches: list[EncodedLabels], bits: int) -> scipy.sparse.csr_matrix:
    """Counts of hashed character n-grams, one row per label of all batches in order."""
    parts = []
    for labels in batches:
        pointers, columns = ngram_buckets(labels, orders=DETECTOR_ORDERS, bits=bits)
        matrix = scipy.sparse.csr_matrix(
            (np.ones(len(columns), dtype=np.float32), columns, pointers), shape=(len(labels), 1 << bits)
        )
        matrix.sum_duplicates()
        parts.append(matrix)
    return scipy.sparse.vstack(parts, format="csr")


def _fit_ngram_regression(
    counts: scipy.sparse.csr_matrix, target: npt.NDArray[np.float64], *, seed: int, settings: TrainingSettings
) -> tuple[npt.NDArray[np.float64], npt.NDArray[np.float32], npt.NDArray[np.float32]]:
    """Out-of-fold decision values of the training rows, then the weights and bias fitted on all rows."""

    def fit(rows: npt.NDArray[np.int64]) -> SGDClassifier:
        model = SGDClassifier(
            loss="log_loss",
            alpha=settings.ngram_alpha,
            max_iter=settings.ngram_epochs,
            tol=None,
            average=True,
            random_state=seed,
        )
        return model.fit(counts[rows], target[rows])

    fold = np.random.default_rng([seed, 2]).integers(0, settings.ngram_folds, len(target))
    out_of_fold = np.zeros(len(target))
    for index in range(settings.ngram_folds):
        held_out = fold == index
        out_of_fold[held_out] = fit(np.flatnonzero(~held_out)).decision_function(counts[held_out])
    final = fit(np.arange(len(target)))
    weights = final.coef_.astype(np.float32).T.copy()
    return out_of_fold, weights, final.intercept_.astype(np.float32)


def main() -> None:
    """`make model`: train on the reference data and write the shipped artifact."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("data_dir", type=Path, help="the shared reference data folder (../shared/data)")
    parser.add_argument("--seed", type=int, default=SEED)
    parser.add_argument("--out", type=Path, default=SHIPPED_MODEL)
    arguments = parser.parse_args()
    model = train(arguments.data_dir, seed=arguments.seed, progress=print)
    model.to_file(arguments.out)
    print(
        f"wrote {arguments.out} ({arguments.out.stat().st_size / 1e6:.1f} MB), "
        f"threshold {model.info.threshold:.6f}"
    )


if __name__ == "__main__":
    main()
