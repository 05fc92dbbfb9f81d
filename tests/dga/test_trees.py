"""Boosted trees exported to arrays score exactly as scikit-learn does, missing values included."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.ensemble import HistGradientBoostingClassifier

from dnsvigil.dga.trees import TreeEnsemble, from_histogram_boosting


def test_exported_trees_match_scikit_learn() -> None:
    rng = np.random.default_rng(0)
    features = rng.normal(size=(4000, 6)).astype(np.float32)
    target = features[:, 0] + features[:, 1] * features[:, 2] + rng.normal(size=4000) > 0
    features[rng.random(features.shape) < 0.05] = np.nan  # missing values take the learned side
    model = HistGradientBoostingClassifier(max_iter=40, early_stopping=False, random_state=0)
    model.fit(features[:3000], target[:3000])
    trees = from_histogram_boosting(model)
    held_out = features[3000:]
    np.testing.assert_array_equal(trees.raw_scores(held_out), model.decision_function(held_out))
    # exactly on a float32-rounded threshold, the comparison must still agree
    inner = trees.feature >= 0
    on_threshold = np.repeat(held_out[:1], inner.sum(), axis=0)
    on_threshold[np.arange(inner.sum()), trees.feature[inner]] = trees.threshold[inner]
    np.testing.assert_array_equal(trees.raw_scores(on_threshold), model.decision_function(on_threshold))


def test_tree_ensemble_rejects_children_past_its_nodes() -> None:
    with pytest.raises(ValueError, match="points past"):
        TreeEnsemble(
            feature=np.array([0], dtype=np.int32),
            threshold=np.zeros(1, dtype=np.float32),
            left=np.array([5], dtype=np.int32),
            value=np.zeros(1),
            missing_left=np.zeros(1, dtype=np.bool_),
            roots=np.array([0], dtype=np.int32),
            baseline=0.0,
        )
