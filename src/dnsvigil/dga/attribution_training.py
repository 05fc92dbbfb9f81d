"""Fit the family attribution model and choose, on validation names, when it should answer `unknown`.

Families with fewer than `MIN_FAMILY_NAMES` training names are not modelled: their validation names stand
for families the model has never seen, and the confidence threshold is the one that maximises macro-F1
when those names count as correct only if answered `unknown`. Before that, the weights of the families'
generative models (`family_shapes`) are the ones of `SHAPE_WEIGHTS` that maximise macro-F1 over the
validation names of modelled families.
"""

from __future__ import annotations

import dataclasses
import itertools

import numpy as np
import numpy.typing as npt
import scipy.sparse  # type: ignore[import-untyped]
from sklearn.linear_model import SGDClassifier  # type: ignore[import-untyped]

from dnsvigil.dga.alphabet import EncodedLabels, encode_labels
from dnsvigil.dga.attribution import (
    NGRAM_BITS,
    RANGE_QUANTILES,
    STORED_WEIGHT_DTYPE,
    UNKNOWN,
    FamilyModel,
    sparse_design,
    suffix_buckets,
)
from dnsvigil.dga.family_shapes import FamilyShapes
from dnsvigil.dga.features import dense_features
from dnsvigil.dga.metrics import macro_f1
from dnsvigil.dga.model import Detector
from dnsvigil.dga.splits import NameSet

MIN_FAMILY_NAMES = 40
KEEP_IN_RANGE = 0.99  # share of correctly attributed validation names the range guard must keep
ALPHA = 1e-5
EPOCHS = 10
SHAPE_WEIGHTS = (
    (0.0, 1.0, 2.0, 3.0, 4.0),  # of the (suffix, length) log-probability
    (0.0, 0.5, 1.0, 1.5, 2.0, 3.0),  # of the bigram log-likelihood
    (0.0, 0.5, -0.5),  # of the log of the family's training names
)


def fit_family_model(train: NameSet, validation: NameSet, detector: Detector, *, seed: int) -> FamilyModel:
    """Fit on the DGA names of `train`; calibrate the `unknown` rules on those of `validation`."""
    names, counts = np.unique(train.families, return_counts=True)
    families = tuple(
        str(name) for name, count in zip(names, counts, strict=True) if count >= MIN_FAMILY_NAMES
    )
    modelled = train.select(np.isin(train.families, families))
    labels = encode_labels(modelled.labels.tolist())
    dense = dense_features(labels, detector.ngrams, detector.words)
    mean = dense.mean(axis=0)
    scale = np.where(dense.std(axis=0) > 0, dense.std(axis=0), 1.0).astype(np.float32)
    values, columns, pointers, width = sparse_design(labels, modelled.suffixes.tolist(), dense, mean, scale)
    design = scipy.sparse.csr_matrix((values, columns, pointers), shape=(len(modelled), width))
    design.sum_duplicates()
    classifier = SGDClassifier(loss="log_loss", alpha=ALPHA, max_iter=EPOCHS, tol=None, random_state=seed)
    classifier.fit(design, modelled.families)
    if tuple(classifier.classes_) != families:
        raise AssertionError("scikit-learn reordered the family classes")
    # Rounded to the precision the artifact stores, so the calibration below sees the shipped weights.
    weights = classifier.coef_.T.astype(STORED_WEIGHT_DTYPE).astype(np.float32)
    low, high = _usual_ranges(dense, modelled.families, families)
    column = {family: index for index, family in enumerate(families)}
    shapes = FamilyShapes.fit(
        labels,
        suffix_buckets(modelled.suffixes.tolist()),
        np.array([column[family] for family in modelled.families.tolist()], dtype=np.int64),
        len(families),
    )
    model = FamilyModel(
        families,
        np.ascontiguousarray(weights[: 1 << NGRAM_BITS]),
        np.ascontiguousarray(weights[1 << NGRAM_BITS :]),
        classifier.intercept_.astype(np.float32),
        mean.astype(np.float32),
        scale,
        low,
        high,
        shapes,
        min_confidence=0.0,
        max_distance=float("inf"),
    )
    validation_labels = encode_labels(validation.labels.tolist())
    validation_dense = dense_features(validation_labels, detector.ngrams, detector.words)
    weighed = _weigh_shapes(model, validation, validation_labels, validation_dense)
    return _calibrate(weighed, validation, validation_labels, validation_dense)


def _usual_ranges(
    dense: npt.NDArray[np.float32], truth: npt.NDArray[np.str_], families: tuple[str, ...]
) -> tuple[npt.NDArray[np.float32], npt.NDArray[np.float32]]:
    """Each family's central range of each feature."""
    low = np.stack([np.quantile(dense[truth == family], RANGE_QUANTILES[0], axis=0) for family in families])
    high = np.stack([np.quantile(dense[truth == family], RANGE_QUANTILES[1], axis=0) for family in families])
    return low.astype(np.float32), high.astype(np.float32)


def _weigh_shapes(
    model: FamilyModel, validation: NameSet, labels: EncodedLabels, dense: npt.NDArray[np.float32]
) -> FamilyModel:
    """`model` with the shape weights that best name the modelled families' validation names (`labels`,
    `dense`: all validation names'; ties: the first in `SHAPE_WEIGHTS` order, so the linear model alone wins
    when the shapes add nothing)."""
    modelled = np.flatnonzero(np.isin(validation.families, model.families))
    labels, dense = labels.select(modelled), dense[modelled]
    suffixes, truth = validation.suffixes[modelled].tolist(), validation.families[modelled].tolist()
    classes = list(model.families)
    best_score, best = -1.0, model
    for weights in itertools.product(*SHAPE_WEIGHTS):
        weighted = dataclasses.replace(model, shapes=model.shapes.weighted(*weights))
        predicted = np.array(model.families)[weighted.choose(labels, suffixes, dense).family].tolist()
        score = macro_f1(truth, predicted, classes)[0]
        if score > best_score:
            best_score, best = score, weighted
    return best


def _calibrate(
    model: FamilyModel, validation: NameSet, labels: EncodedLabels, dense: npt.NDArray[np.float32]
) -> FamilyModel:
    """Choose `max_distance`, then `min_confidence`, on validation DGA names (`labels`, `dense`: theirs)."""
    choice = model.choose(labels, validation.suffixes.tolist(), dense)
    confidence, distance = choice.confidence, choice.distance
    predicted = np.array(model.families)[choice.family]
    correct = predicted == validation.families
    max_distance = float(np.quantile(distance[correct], KEEP_IN_RANGE)) if correct.any() else float("inf")
    in_range = distance <= max_distance
    truth = [family if family in model.families else UNKNOWN for family in validation.families.tolist()]
    classes = [*model.families, UNKNOWN]
    candidates = np.unique(np.round(np.quantile(confidence, np.linspace(0, 0.5, 51)), 4))

    def score(threshold: float) -> float:
        answer = np.where(in_range & (confidence >= threshold), predicted, UNKNOWN)
        return macro_f1(truth, answer.tolist(), classes)[0]

    min_confidence = max(candidates, key=lambda threshold: (score(float(threshold)), -threshold))
    return dataclasses.replace(model, min_confidence=float(min_confidence), max_distance=max_distance)
