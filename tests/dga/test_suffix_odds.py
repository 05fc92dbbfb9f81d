"""Suffix odds: smoothed per-suffix log-odds, out of fold for training names, and what the model learnt."""

from __future__ import annotations

import math

import numpy as np
import pytest

from dnsvigil.dga.model import load_model
from dnsvigil.dga.suffix_odds import SMOOTHING, SuffixOdds, out_of_fold_odds

# 4 DGA names under info, 1 under com; 1 benign under info, 4 under com: a DGA share of 1/2.
SUFFIXES = ["info"] * 4 + ["com"] + ["info"] + ["com"] * 4
IS_DGA = np.array([True] * 5 + [False] * 5)


def test_log_odds_are_the_smoothed_counts() -> None:
    odds = SuffixOdds.fit(SUFFIXES, IS_DGA)
    half = SMOOTHING / 2
    assert odds.log_odds["info"] == pytest.approx(math.log((4 + half) / (1 + half)))
    assert odds.log_odds["com"] == pytest.approx(math.log((1 + half) / (4 + half)))
    assert odds.unseen == pytest.approx(0.0)  # even odds
    values = odds.of(["info", "com", "cloudfront.net"])
    assert values.dtype == np.float32
    assert values.tolist() == pytest.approx([odds.log_odds["info"], odds.log_odds["com"], 0.0], rel=1e-6)


def test_unseen_suffix_gets_the_overall_odds() -> None:
    odds = SuffixOdds.fit(["biz", "com", "com", "com"], np.array([True, False, False, False]))
    assert odds.unseen == pytest.approx(math.log(1 / 3))
    assert odds.of(["ddns.net"])[0] == pytest.approx(math.log(1 / 3), rel=1e-6)


def test_out_of_fold_odds_never_count_a_name_itself() -> None:
    rng = np.random.default_rng(1)
    suffixes = rng.choice(["com", "net", "info", "ru", "cloudfront.net", "rare"], 200).tolist()
    is_dga = rng.random(200) < 0.4
    values = out_of_fold_odds(suffixes, is_dga, folds=4, rng=np.random.default_rng(0))
    fold = np.random.default_rng(0).integers(0, 4, 200)  # the folds `out_of_fold_odds` draws
    for index in range(200):
        others = np.flatnonzero(fold != fold[index])
        odds = SuffixOdds.fit([suffixes[other] for other in others], is_dga[others])
        assert values[index] == odds.of([suffixes[index]])[0]
    in_fold = SuffixOdds.fit(suffixes, is_dga).of(suffixes)
    assert not np.allclose(values, in_fold)


def test_one_kind_of_name_is_refused() -> None:
    with pytest.raises(ValueError, match="both DGA and benign"):
        SuffixOdds.fit(["com", "net"], np.array([True, True]))
    with pytest.raises(ValueError, match="2 suffixes for 3 labels"):
        SuffixOdds.fit(["com", "net"], np.array([True, False, True]))


def test_shipped_model_scores_a_cdn_assigned_label_below_the_same_label_on_a_dga_suffix() -> None:
    model = load_model()
    labels = ["dgxwgnfhqnhlx", "d3g3xs3o53nui8u", "wt1pa99d7wbd75ic"]
    under_cdn = model.score_labels(labels, ["cloudfront.net"] * 3).score
    under_info = model.score_labels(labels, ["info"] * 3).score
    assert (under_cdn < under_info).all()
    assert model.detector.suffix_odds.log_odds["cloudfront.net"] < model.detector.suffix_odds.unseen
