"""Train/validation/test splits of the reference data: disjoint, stratified, and as each protocol says."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest

from dnsvigil.dga.splits import (
    TIME_SPLIT_LAST_TRAINING_DAY,
    NameSet,
    Split,
    cross_source_split,
    leave_family_out,
    load_name_set,
    random_split,
    shipped_split,
    time_split,
)


@pytest.fixture(scope="module")
def names(shared_data: Path) -> NameSet:
    return load_name_set(shared_data)[0]


def labels_of(names: NameSet) -> set[tuple[str, str]]:
    return set(zip(names.labels.tolist(), names.families.tolist(), strict=True))


def test_each_label_and_family_once(names: NameSet) -> None:
    assert len(labels_of(names)) == len(names)


@pytest.mark.parametrize("make", [random_split, time_split, cross_source_split])
def test_protocol_sets_are_disjoint_and_share_the_dga_partition(
    names: NameSet, make: Callable[[NameSet, int], Split]
) -> None:
    split = make(names, 0)
    train, validation, test = (labels_of(part) for part in (split.train, split.validation, split.test))
    assert not train & validation and not train & test and not validation & test
    assert len(train) + len(validation) + len(test) == len(names)
    reference = time_split(names, 0)
    assert labels_of(split.test.dga) == labels_of(reference.test.dga)


def test_time_split_tests_only_labels_new_after_the_training_days(names: NameSet) -> None:
    split = time_split(names, 0)
    assert set(split.test.benign.sources.tolist()) == {"umbrella"}
    assert (split.test.benign.first_seen > np.datetime64(TIME_SPLIT_LAST_TRAINING_DAY)).all()
    trained = split.train.benign
    assert not (trained.first_seen > np.datetime64(TIME_SPLIT_LAST_TRAINING_DAY)).any()


def test_cross_source_trains_on_alexa_and_tests_on_umbrella(names: NameSet) -> None:
    split = cross_source_split(names, 0)
    assert set(split.train.benign.sources.tolist()) == {"alexa"}
    assert set(split.test.benign.sources.tolist()) == {"umbrella"}


def test_dga_split_is_stratified_by_family(names: NameSet) -> None:
    split = time_split(names, 0)
    families, counts = np.unique(names.dga.families, return_counts=True)
    trained = dict(zip(*np.unique(split.train.dga.families, return_counts=True), strict=True))
    for family, count in zip(families, counts, strict=True):
        assert trained[family] == round(0.6 * count)


def test_leave_family_out_moves_every_name_of_the_family_to_test(names: NameSet) -> None:
    split = leave_family_out(time_split(names, 0), "suppobox")
    assert "suppobox" not in set(split.train.families.tolist()) | set(split.validation.families.tolist())
    assert set(split.test.dga.families.tolist()) == {"suppobox"}
    assert len(split.test.dga) == np.count_nonzero(names.families == "suppobox")


def test_shipped_split_holds_out_a_fifth_for_the_threshold(names: NameSet) -> None:
    split = shipped_split(names, 0)
    assert len(split.test) == 0
    assert len(split.validation) / len(names) == pytest.approx(0.2, abs=0.01)
