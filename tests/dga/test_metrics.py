"""Metrics: Clopper–Pearson intervals against published values, the threshold rule, ROC-AUC and macro-F1."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.metrics import f1_score, roc_auc_score

from dnsvigil.dga.metrics import Rate, clopper_pearson, macro_f1, rate_above, roc_auc, threshold_at_fpr


@pytest.mark.parametrize(
    ("hits", "total", "low", "high"),
    [
        # R's binom.test(x, n)$conf.int, the exact (Clopper–Pearson) interval
        (5, 10, 0.187086, 0.812914),
        (0, 10, 0.0, 0.308497),
        (10, 10, 0.691503, 1.0),
        (1, 1000, 0.0000253, 0.0055589),
        (95, 100, 0.887165, 0.983568),
    ],
)
def test_clopper_pearson_matches_published_values(hits: int, total: int, low: float, high: float) -> None:
    found_low, found_high = clopper_pearson(hits, total)
    assert found_low == pytest.approx(low, abs=2e-6)
    assert found_high == pytest.approx(high, abs=2e-6)


def test_rate_of_an_empty_set_is_not_a_number() -> None:
    empty = Rate.of(0, 0)
    assert np.isnan(empty.value)
    assert (empty.low, empty.high) == (0.0, 1.0)
    assert empty.to_text() == "n/a"
    with pytest.raises(ValueError, match="hits"):
        Rate(3, 2, 0.0, 1.0)


def test_threshold_allows_at_most_the_target_share_above_it() -> None:
    benign = np.arange(1.0, 10_001.0)
    threshold = threshold_at_fpr(benign, 1e-3)
    assert threshold == 9990.0
    assert rate_above(benign, threshold).hits == 10
    assert rate_above(benign, threshold_at_fpr(benign, 1e-4)).hits == 1
    # fewer names than 1/fpr: nothing may be flagged
    assert rate_above(benign[:500], threshold_at_fpr(benign[:500], 1e-3)).hits == 0


def test_tied_scores_at_the_threshold_are_never_flagged() -> None:
    benign = np.array([0.1] * 990 + [0.9] * 10)
    threshold = threshold_at_fpr(benign, 1e-3)
    assert rate_above(benign, threshold).hits == 0
    assert rate_above(np.array([0.9, 0.95]), threshold).hits == 1


def test_roc_auc_agrees_with_scikit_learn_including_ties() -> None:
    rng = np.random.default_rng(0)
    benign = np.round(rng.normal(0, 1, 500), 1)
    dga = np.round(rng.normal(1, 1, 300), 1)
    expected = roc_auc_score(np.r_[np.zeros(500), np.ones(300)], np.r_[benign, dga])
    assert roc_auc(benign, dga) == pytest.approx(expected, abs=1e-12)
    assert np.isnan(roc_auc(benign[:0], dga))


def test_macro_f1_agrees_with_scikit_learn() -> None:
    truth = ["a", "a", "b", "b", "c", "c", "a"]
    predicted = ["a", "b", "b", "unknown", "c", "a", "a"]
    classes = ["a", "b"]
    score, per_class = macro_f1(truth, predicted, classes)
    assert score == pytest.approx(f1_score(truth, predicted, labels=classes, average="macro"))
    assert per_class["b"] == pytest.approx(f1_score(truth, predicted, labels=["b"], average="macro"))
