"""The demo's DGA families: deterministic, valid host names, each of its family's published shape."""

from __future__ import annotations

import datetime
import re

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from dnsvigil.demo.dga_families import (
    BANJORI_SEED_DOMAINS,
    FAMILIES,
    SCHEMES,
    SUPPOBOX_WORDS,
    DgaFamily,
    bamital_domains,
    banjori_domains,
    find_family,
    ramnit_domains,
    suppobox_domains,
)
from dnsvigil.demo.names import _WORDS, TLDS

DAY = datetime.date(2026, 11, 2)
LABEL = re.compile(r"^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$")
BY_NAME = pytest.mark.parametrize("family", FAMILIES, ids=[family.name for family in FAMILIES])


def _label(name: str) -> str:
    return name.partition(".")[0]


def test_the_families_cover_every_generation_scheme() -> None:
    assert sorted(family.scheme for family in FAMILIES) == sorted(SCHEMES)
    assert all(set(family.tlds) <= set(TLDS) for family in FAMILIES)


@BY_NAME
def test_the_same_key_and_day_give_the_same_names_in_the_same_order(family: DgaFamily) -> None:
    names = family.domains(11, DAY, 60)
    assert names == family.domains(11, DAY, 60)
    assert family.domains(11, DAY, 25) == names[:25]
    assert family.domains(12, DAY, 60) != names


@BY_NAME
def test_only_time_dependent_families_change_with_the_day(family: DgaFamily) -> None:
    today, tomorrow = family.domains(11, DAY, 40), family.domains(11, DAY + datetime.timedelta(days=1), 40)
    assert (today != tomorrow) == family.time_dependent


@BY_NAME
@settings(max_examples=40, deadline=None)
@given(key=st.integers(0, 2**31 - 1), day=st.dates(datetime.date(2000, 1, 1), datetime.date(2099, 12, 31)))
def test_names_are_distinct_host_names_under_the_family_tlds(
    family: DgaFamily, key: int, day: datetime.date
) -> None:
    names = family.domains(key, day, 50)
    assert len(names) == 50 == len(set(names))
    for name in names:
        label, _, tld = name.partition(".")
        assert LABEL.match(label) and len(name) <= 253 and tld in family.tlds


@BY_NAME
def test_no_names_on_request_and_a_negative_count_is_refused(family: DgaFamily) -> None:
    assert family.domains(5, DAY, 0) == ()
    with pytest.raises(ValueError, match="-1"):
        family.domains(5, DAY, -1)


def test_ramnit_spells_8_to_19_letters_from_a_to_y_under_com() -> None:
    names = ramnit_domains(0x4BFCBC6A, DAY, 400)
    lengths = {len(_label(name)) for name in names}
    assert lengths == set(range(8, 20))  # 400 names show every length the modulo-12 draw allows
    assert all(re.fullmatch(r"[a-y]+\.com", name) for name in names)
    assert {character for name in names for character in _label(name)} == set("abcdefghijklmnopqrstuvwxy")


def test_bamital_labels_are_md5_hex_digests_alternating_org_and_net() -> None:
    names = bamital_domains(0xC0FFEE, DAY, 40)
    assert all(re.fullmatch(r"[0-9a-f]{32}", _label(name)) for name in names)
    assert [name.rpartition(".")[2] for name in names[:4]] == ["org", "net", "org", "net"]
    assert len({character for name in names for character in _label(name)}) == 16


def test_suppobox_labels_are_two_different_words_of_its_own_list() -> None:
    words = set(SUPPOBOX_WORDS)
    assert not words & set(_WORDS), "the bots' words must not be the benign vocabulary's"
    for name in suppobox_domains(77, DAY, 300):
        label, _, tld = name.partition(".")
        splits = [
            (label[:cut], label[cut:])
            for cut in range(1, len(label))
            if label[:cut] in words and label[cut:] in words
        ]
        assert tld == "net" and any(first != second for first, second in splits), name


def test_banjori_rewrites_only_the_first_four_letters_of_its_seed_domain() -> None:
    names = banjori_domains(1, DAY, 3000)
    seed = BANJORI_SEED_DOMAINS[1]
    assert names[0] == seed
    assert {name[4:] for name in names} == {seed[4:]}
    assert len({name[:4] for name in names}) == 3000  # one long cycle: no prefix comes back this soon


def test_a_family_is_found_by_name_and_an_unknown_one_is_refused() -> None:
    assert find_family("suppobox").scheme == "wordlist"
    with pytest.raises(KeyError, match="conficker"):
        find_family("conficker")


def test_a_family_needs_a_known_scheme_and_a_tld() -> None:
    with pytest.raises(ValueError, match="scheme"):
        DgaFamily("x", "markov", ("com",), False, "", ramnit_domains)
    with pytest.raises(ValueError, match="TLD"):
        DgaFamily("x", "hash", (), False, "", ramnit_domains)
