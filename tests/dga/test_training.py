"""Training is reproducible to the byte, and its threshold keeps the validation false-positive rate."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from dnsvigil.dga.model import DgaModel
from dnsvigil.dga.splits import NameSet, load_name_set, shipped_split
from dnsvigil.dga.training import TrainingSettings, fit_model

SMALL = TrainingSettings(ngram_bits=14, ngram_epochs=3, ngram_folds=2, iterations=15, target_fpr=1e-2)
FAMILIES = ("bamital", "conficker", "suppobox", "virut")


@pytest.fixture(scope="module")
def small_split(shared_data: Path) -> tuple[NameSet, NameSet]:
    """A few thousand names of the reference data: benign ones and four families of distinct schemes."""
    names = load_name_set(shared_data)[0]
    rng = np.random.default_rng(7)
    benign = np.flatnonzero(~names.is_dga)
    keep = np.concatenate(
        [rng.choice(benign, 3000, replace=False)]
        + [rng.choice(np.flatnonzero(names.families == family), 150, replace=False) for family in FAMILIES]
    )
    split = shipped_split(names.select(np.sort(keep)), seed=3)
    return split.train, split.validation


def fitted(small_split: tuple[NameSet, NameSet], seed: int, path: Path) -> DgaModel:
    model = fit_model(*small_split, seed=seed, settings=SMALL)
    model.to_file(path)
    return model


def test_same_seed_gives_a_byte_identical_artifact(
    small_split: tuple[NameSet, NameSet], tmp_path: Path
) -> None:
    fitted(small_split, 5, tmp_path / "first.npz")
    fitted(small_split, 5, tmp_path / "second.npz")
    fitted(small_split, 6, tmp_path / "other.npz")
    assert (tmp_path / "first.npz").read_bytes() == (tmp_path / "second.npz").read_bytes()
    assert (tmp_path / "first.npz").read_bytes() != (tmp_path / "other.npz").read_bytes()


def test_trained_model_round_trips_and_keeps_its_operating_point(
    small_split: tuple[NameSet, NameSet], tmp_path: Path
) -> None:
    model = fitted(small_split, 5, tmp_path / "model.npz")
    assert model.info.validation_fpr <= SMALL.target_fpr
    assert model.info.counts["validation_benign"] == len(small_split[1].benign)
    assert set(model.families.families) == set(FAMILIES)
    reread = DgaModel.from_file(tmp_path / "model.npz")
    assert reread.info == model.info
    names = ["example.com", "rememberspace.net", "47faeb4f1b75a48499ba14e9b1cd895a.org"]
    first, second = model.score_names(names), reread.score_names(names)
    np.testing.assert_array_equal(first.score, second.score)
    assert first.family == second.family
