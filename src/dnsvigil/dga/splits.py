"""Train, validation and test sets of labelled names for training and for each evaluation protocol.

DGA names are split per family (60/20/20, the same partition in every protocol, so test figures compare);
benign names are split by the protocol: at random, by the day Umbrella first listed them (the time split),
or by source (Alexa 2015 to train, Umbrella to test). Validation names fix operating thresholds; test names
are only ever scored.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Final

import numpy as np
import numpy.typing as npt

from dnsvigil.dga.dataset import LabelledName, SourceReport, deduplicate, load_labelled_names

TIME_SPLIT_LAST_TRAINING_DAY: Final = date(2026, 7, 12)
_DGA_FRACTIONS: Final = (0.6, 0.2)  # train, validation; the rest is test
_SHIPPED_VALIDATION: Final = 0.2
_NO_DAY: Final = np.datetime64("NaT", "D")


@dataclass(frozen=True, slots=True)
class NameSet:
    """Labelled names as parallel arrays; `families` is empty for a benign name."""

    labels: npt.NDArray[np.str_]
    suffixes: npt.NDArray[np.str_]
    families: npt.NDArray[np.str_]
    sources: npt.NDArray[np.str_]
    first_seen: npt.NDArray[np.datetime64]

    def __post_init__(self) -> None:
        sizes = {len(self.suffixes), len(self.families), len(self.sources), len(self.first_seen)}
        if sizes != {len(self.labels)}:
            raise ValueError("every array of a name set needs one entry per name")

    def __len__(self) -> int:
        return len(self.labels)

    @property
    def is_dga(self) -> npt.NDArray[np.bool_]:
        """True for the names of a DGA family."""
        dga: npt.NDArray[np.bool_] = self.families != ""
        return dga

    def select(self, mask: npt.NDArray[np.bool_] | npt.NDArray[np.int64]) -> NameSet:
        """The names where `mask` is true (or at the given indices)."""
        return NameSet(
            self.labels[mask],
            self.suffixes[mask],
            self.families[mask],
            self.sources[mask],
            self.first_seen[mask],
        )

    @property
    def benign(self) -> NameSet:
        """The benign names."""
        return self.select(~self.is_dga)

    @property
    def dga(self) -> NameSet:
        """The DGA names."""
        return self.select(self.is_dga)

    @classmethod
    def concat(cls, *sets: NameSet) -> NameSet:
        """The names of all `sets`, in order."""
        return NameSet(*(np.concatenate([getattr(part, field) for part in sets]) for field in _FIELDS))

    @classmethod
    def from_names(cls, names: list[LabelledName]) -> NameSet:
        """Parallel arrays of `names`."""
        return NameSet(
            np.array([name.label for name in names], dtype=np.str_),
            np.array([name.suffix for name in names], dtype=np.str_),
            np.array([name.family or "" for name in names], dtype=np.str_),
            np.array([name.source for name in names], dtype=np.str_),
            np.array([name.first_seen or _NO_DAY for name in names], dtype="datetime64[D]"),
        )


_FIELDS: Final = ("labels", "suffixes", "families", "sources", "first_seen")


@dataclass(frozen=True, slots=True)
class Split:
    """One protocol's sets; `description` says how benign names were divided."""

    name: str
    description: str
    train: NameSet
    validation: NameSet
    test: NameSet


def load_name_set(data_dir: Path) -> tuple[NameSet, tuple[SourceReport, ...]]:
    """The reference data under `data_dir`, one name per (label, family), with what each file dropped.

    A label Umbrella listed on several days keeps its earliest day, so the time split tests only labels
    that were new after the training days.
    """
    data = load_labelled_names(data_dir)
    ordered = sorted(
        data.names,
        key=lambda name: (name.source != "dga", name.source != "alexa", name.first_seen or date.min),
    )
    return NameSet.from_names(deduplicate(ordered)), data.reports


def shipped_split(names: NameSet, seed: int) -> Split:
    """Everything for training except a validation share that fixes the operating threshold."""
    rng = np.random.default_rng(seed)
    dga_part = _stratified_parts(names.families, (1 - _SHIPPED_VALIDATION, _SHIPPED_VALIDATION), rng)
    benign_part = _random_parts(len(names), (1 - _SHIPPED_VALIDATION, _SHIPPED_VALIDATION), rng)
    part = np.where(names.is_dga, dga_part, benign_part)
    empty = names.select(np.zeros(len(names), dtype=np.bool_))
    return Split(
        "shipped",
        "all data: 80 % train, 20 % validation",
        names.select(part == 0),
        names.select(part == 1),
        empty,
    )


def random_split(names: NameSet, seed: int) -> Split:
    """Benign names of both sources at random 60/20/20: a sanity check, not a measure of generalisation."""
    rng = np.random.default_rng(seed)
    dga_part = _dga_parts(names, seed)
    benign_part = _random_parts(len(names), _DGA_FRACTIONS, rng)
    return _assemble(
        "random", "benign names of both sources at random, 60/20/20", names, dga_part, benign_part
    )


def time_split(names: NameSet, seed: int) -> Split:
    """Benign test names are Umbrella labels first seen after `TIME_SPLIT_LAST_TRAINING_DAY`."""
    rng = np.random.default_rng(seed)
    late = (names.sources == "umbrella") & (names.first_seen > np.datetime64(TIME_SPLIT_LAST_TRAINING_DAY))
    benign_part = np.where(late, 2, _random_parts(len(names), (0.8, 0.2), rng))
    description = (
        "benign train/validation: Alexa 2015 and Umbrella labels first seen by "
        f"{TIME_SPLIT_LAST_TRAINING_DAY} "
        "(80/20); benign test: Umbrella labels first seen later"
    )
    return _assemble("time", description, names, _dga_parts(names, seed), benign_part)


def cross_source_split(names: NameSet, seed: int) -> Split:
    """Benign train/validation names from Alexa 2015 only, benign test names from Umbrella."""
    rng = np.random.default_rng(seed)
    benign_part = np.where(names.sources == "umbrella", 2, _random_parts(len(names), (0.8, 0.2), rng))
    description = "benign train/validation: Alexa 2015 (80/20); benign test: Umbrella labels not in Alexa"
    return _assemble("cross-source", description, names, _dga_parts(names, seed), benign_part)


def leave_family_out(split: Split, family: str) -> Split:
    """`split` with every name of `family` moved to the test set, which keeps the benign test names."""

    def without(names: NameSet) -> NameSet:
        return names.select(names.families != family)

    held_out = NameSet.concat(
        *(part.select(part.families == family) for part in (split.train, split.validation, split.test))
    )
    return Split(
        f"without {family}",
        f"{split.description}; every {family} name held out of training",
        without(split.train),
        without(split.validation),
        NameSet.concat(held_out, split.test.benign),
    )


def _dga_parts(names: NameSet, seed: int) -> npt.NDArray[np.int64]:
    """The DGA partition shared by all protocols (its own random stream, so it does not depend on them)."""
    return _stratified_parts(names.families, _DGA_FRACTIONS, np.random.default_rng([seed, 1]))


def _assemble(
    name: str,
    description: str,
    names: NameSet,
    dga_part: npt.NDArray[np.int64],
    benign_part: npt.NDArray[np.int64],
) -> Split:
    part = np.where(names.is_dga, dga_part, benign_part)
    return Split(name, description, *(names.select(part == index) for index in range(3)))


def _random_parts(n: int, fractions: tuple[float, float], rng: np.random.Generator) -> npt.NDArray[np.int64]:
    """0, 1 or 2 (train, validation, test) per row, in the given shares."""
    order = rng.permutation(n)
    part = np.full(n, 2, dtype=np.int64)
    first, second = round(fractions[0] * n), round((fractions[0] + fractions[1]) * n)
    part[order[:first]] = 0
    part[order[first:second]] = 1
    return part


def _stratified_parts(
    families: npt.NDArray[np.str_], fractions: tuple[float, float], rng: np.random.Generator
) -> npt.NDArray[np.int64]:
    """Like `_random_parts` within each family; benign rows (empty family) get 2 and are not used."""
    part = np.full(len(families), 2, dtype=np.int64)
    for family in sorted(set(families.tolist()) - {""}):
        rows = np.flatnonzero(families == family)
        part[rows] = _random_parts(len(rows), fractions, rng)
    return part
