"""Families' generative models of whole names: what they learn, that their fast sums equal the formula, and
that with no weight the attribution is the linear model's alone."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from dnsvigil.dga.alphabet import encode_labels
from dnsvigil.dga.attribution import _DENSE_START, pair_buckets, suffix_buckets
from dnsvigil.dga.charngrams import linear_scores
from dnsvigil.dga.family_shapes import (
    LENGTH_BUCKETS,
    PAIR_SMOOTHING,
    SHARE_PSEUDO_COUNT,
    SUFFIX_BUCKETS,
    FamilyShapes,
)
from dnsvigil.dga.model import DgaModel, dense_part, load_model

RNG = np.random.default_rng(7)


@pytest.fixture(scope="module")
def model() -> DgaModel:
    return load_model()


def _labels(letters: str, length: int, count: int) -> list[str]:
    alphabet = np.array(list(letters))
    return ["".join(RNG.choice(alphabet, length)) for _ in range(count)]


def _shapes(labels: list[str], suffixes: list[str], family: list[int]) -> FamilyShapes:
    return FamilyShapes.fit(
        encode_labels(labels), suffix_buckets(suffixes), np.array(family, dtype=np.int64), max(family) + 1
    )


def _scores(shapes: FamilyShapes, labels: list[str], suffixes: list[str]) -> np.ndarray:
    encoded = encode_labels(labels)
    length = np.minimum(np.diff(encoded.offsets), LENGTH_BUCKETS - 1)
    return shapes.scores(encoded, suffix_buckets(suffixes), length)


def test_suffix_and_length_tell_apart_families_of_the_same_letters() -> None:
    letters = "abcdefghijklmnopqrstuvwxyz"
    train = _labels(letters, 8, 200) + _labels(letters, 12, 200)
    shapes = _shapes(train, ["com"] * 200 + ["net"] * 200, [0] * 200 + [1] * 200).weighted(1.0, 0.0, 0.0)
    scores = _scores(shapes, _labels(letters, 8, 50) + _labels(letters, 12, 50), ["com"] * 50 + ["net"] * 50)
    assert (scores.argmax(axis=1) == [0] * 50 + [1] * 50).all()
    # A pair neither registered is unlikely under both, not impossible.
    assert np.isfinite(_scores(shapes, ["abcdefghijklmnopq"], ["org"])).all()


def test_bigrams_tell_apart_families_of_different_alphabets() -> None:
    train = _labels("abcdefghijklm", 10, 200) + _labels("nopqrstuvwxyz", 10, 200)
    shapes = _shapes(train, ["com"] * 400, [0] * 200 + [1] * 200).weighted(0.0, 1.0, 0.0)
    scores = _scores(
        shapes, _labels("abcdefghijklm", 10, 30) + _labels("nopqrstuvwxyz", 10, 30), ["com"] * 60
    )
    assert (scores.argmax(axis=1) == [0] * 30 + [1] * 30).all()


def test_the_pair_term_is_the_smoothed_count_formula() -> None:
    train = ["abcdefgh", "bcdefghi", "cdefghijkl", "zyxwvu"]
    suffixes = ["com", "com", "net", "com"]
    shapes = _shapes(train, suffixes, [0, 0, 0, 1]).weighted(1.0, 0.0, 0.5)
    asked = ["qwertyui", "qwertyuiop", "qwertyuiopas", "qwerty"]  # seen and unseen (suffix, length) pairs
    asked_suffixes = ["com", "net", "org", "com"]
    bucket = suffix_buckets(asked_suffixes)
    expected = np.empty((len(asked), 2))
    for row, (label, suffix) in enumerate(zip(asked, bucket, strict=True)):
        for family in range(2):
            names = shapes.suffix_counts[:, family].sum()
            suffix_share = (shapes.suffix_counts[suffix, family] + SHARE_PSEUDO_COUNT) / (
                names + SHARE_PSEUDO_COUNT * SUFFIX_BUCKETS
            )
            length_share = (shapes.length_counts[len(label), family] + SHARE_PSEUDO_COUNT) / (
                names + SHARE_PSEUDO_COUNT * LENGTH_BUCKETS
            )
            seen = shapes.pair_counts[suffix * LENGTH_BUCKETS + len(label), family]
            pair = (seen + PAIR_SMOOTHING * suffix_share * length_share) / (names + PAIR_SMOOTHING)
            expected[row, family] = np.log(pair) + 0.5 * np.log(names)
    assert _scores(shapes, asked, asked_suffixes) == pytest.approx(expected, rel=1e-6)  # float32 counts
    assert expected[0, 0] > expected[0, 1] and expected[3, 1] > expected[3, 0]  # each family's own pair


def test_with_no_weight_the_answer_is_the_linear_models(model: DgaModel) -> None:
    families = model.families
    plain = dataclasses.replace(families, shapes=families.shapes.weighted(0.0, 0.0, 0.0))
    labels = encode_labels(
        _labels("abcdefghijklmnopqrstuvwxyz", 10, 40) + _labels("0123456789abcdef", 16, 40)
    )
    suffixes = ["com"] * 40 + ["net"] * 40
    dense = dense_part(model.detector.features(labels, suffixes))
    choice = plain.choose(labels, suffixes, dense)
    # The linear decision, as `choose` builds it, and its sigmoids scaled to sum 1.
    decision = linear_scores(labels, families.ngram_weights, families.bias, orders=(1, 4))
    lengths = np.minimum(np.diff(labels.offsets), LENGTH_BUCKETS - 1)
    bucket = suffix_buckets(suffixes)
    for row in (
        bucket,
        SUFFIX_BUCKETS + lengths,
        SUFFIX_BUCKETS + LENGTH_BUCKETS + pair_buckets(bucket, lengths),
    ):
        decision += families.extra_weights[row]
    standard = (dense - families.dense_mean) / families.dense_scale
    decision += standard.astype(np.float64) @ families.extra_weights[_DENSE_START:].astype(np.float64)
    sigmoid = 1.0 / (1.0 + np.exp(-decision))
    assert (choice.family == sigmoid.argmax(axis=1)).all()
    assert choice.confidence == pytest.approx(sigmoid.max(axis=1) / sigmoid.sum(axis=1), rel=1e-6)
    # The shipped weights do change some answers: the shapes are used.
    assert (families.choose(labels, suffixes, dense).confidence != choice.confidence).any()
