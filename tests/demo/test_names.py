"""The demo vocabulary's added domains: bots' DGA names and the domains people mistype."""

from __future__ import annotations

import numpy as np
import pytest

from dnsvigil.demo.names import REGISTERED, SIGNED, TLDS, NameKind, build_vocabulary

VOCABULARY = build_vocabulary(np.random.default_rng(5), 400)


def _one_typo_apart(typed: str, meant: str) -> bool:
    """Whether `typed` is `meant` with one letter dropped, doubled, replaced, or swapped with the next."""
    if len(typed) == len(meant) - 1:
        return any(meant[:at] + meant[at + 1 :] == typed for at in range(len(meant)))
    if len(typed) == len(meant) + 1:
        return any(typed[:at] + typed[at + 1 :] == meant for at in range(len(typed)))
    if len(typed) != len(meant):
        return False
    differ = [at for at in range(len(meant)) if typed[at] != meant[at]]
    swapped = len(differ) == 2 and differ[1] == differ[0] + 1 and typed[differ[0]] == meant[differ[1]]
    return len(differ) == 1 or (swapped and typed[differ[1]] == meant[differ[0]])


def test_added_domains_come_after_the_others_with_their_zone_and_traits() -> None:
    before = len(VOCABULARY)
    grown = VOCABULARY.with_domains(["abcdefgh.com", "0123abcd.org"], NameKind.GENERATED, [False, True])
    unregistered, registered = before, before + 1
    assert len(grown) == before + 2 and grown.to_text(registered) == "0123abcd.org."
    assert grown.tables().forward_names == VOCABULARY.tables().forward_names
    com = 1 + TLDS.index("com")
    assert grown.apex[unregistered] == grown.tld[unregistered] == com  # NXDOMAIN from the TLD's zone
    assert grown.zone_offset[unregistered] == grown.tld_offset[unregistered] == len("abcdefgh") + 1
    assert grown.traits[unregistered] == grown.traits[com] & SIGNED
    assert grown.apex[registered] == registered and grown.zone_offset[registered] == 0
    assert grown.traits[registered] == REGISTERED and grown.addresses[registered] == 1


@pytest.mark.parametrize("bad", ["abcdefgh.info", "a.b.com", "com", "é.com", "a" * 64 + ".net"])
def test_an_added_domain_must_be_one_label_under_a_vocabulary_tld(bad: str) -> None:
    with pytest.raises(ValueError, match="one label under"):
        VOCABULARY.with_domains([bad], NameKind.GENERATED, [False])


def test_every_added_domain_needs_a_registered_flag() -> None:
    with pytest.raises(ValueError, match="registered flags"):
        VOCABULARY.with_domains(["abc.com"], NameKind.GENERATED, [])


def test_mistyped_domains_are_one_typo_or_the_wrong_tld_from_a_registered_one() -> None:
    registered = {VOCABULARY.to_text(index) for index in VOCABULARY.index_of(NameKind.APEX)}
    mistyped = [VOCABULARY.to_text(index) for index in VOCABULARY.index_of(NameKind.MISTYPED)]
    assert len(mistyped) == len(set(mistyped)) == 100 and not set(mistyped) & registered
    pairs = [(text.split(".")[0], text.split(".")[1]) for text in registered]
    wrong_tld = 0
    for text in mistyped:
        label, tld, _ = text.split(".")
        assert any(
            (other_tld == tld and _one_typo_apart(label, other_label))
            or (other_label == label and other_tld != tld)
            for other_label, other_tld in pairs
        ), text
        wrong_tld += any(other_label == label for other_label, _ in pairs)
    assert 0 < wrong_tld < len(mistyped)
