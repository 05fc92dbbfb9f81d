"""Concentration measures on known distributions, and per month from hand-made tables."""

from __future__ import annotations

from datetime import date

import pytest

from dnsvigil.abuse.concentration import Concentration, concentration_by_month
from dnsvigil.abuse.sources import Window
from tests.abuse.tables import AbuseRunner, listing, registration


def test_a_known_distribution() -> None:
    # 100 abused domains: 50, 20, 10, then ten entities with 2 each.
    counts = {"a": 50, "b": 20, "c": 10, **{f"small{i}": 2 for i in range(10)}, "none": 0}
    measured = Concentration.of(counts)
    assert (measured.total, measured.entities) == (100, 13)
    assert measured.top_share == {1: 0.5, 5: pytest.approx(0.84), 10: pytest.approx(0.94)}
    assert (measured.entities_for_half, measured.entities_for_90) == (1, 8)  # 80 after 3, +2 each
    assert measured.hhi == pytest.approx(50**2 + 20**2 + 10**2 + 10 * 2**2)
    assert measured.top[:3] == (("a", 50), ("b", 20), ("c", 10))
    assert measured.top[3] == ("small0", 2)


def test_equal_shares_and_a_monopoly() -> None:
    equal = Concentration.of({str(i): 7 for i in range(20)})
    assert equal.hhi == pytest.approx(10_000 / 20)
    assert (equal.entities_for_half, equal.entities_for_90) == (10, 18)
    assert equal.top_share[10] == pytest.approx(0.5)
    alone = Concentration.of({"x": 3})
    assert (alone.hhi, alone.top_share[10], alone.entities_for_90) == (10_000.0, 1.0, 1)
    empty = Concentration.of({})
    assert (empty.total, empty.hhi, empty.entities_for_half) == (0, 0.0, 0)
    with pytest.raises(ValueError):
        Concentration.of({"x": -1})


def test_by_month_counts_registrars_and_tlds_and_what_it_cannot_attribute() -> None:
    runner = AbuseRunner(
        listings=[listing("a.com"), listing("b.com"), listing("c.net"), listing("d.net", threat="spam")],
        registrations=[registration("a.com", 146), registration("b.com", 146), registration("c.net", 9999)],
    )
    result = {
        (item.entity_type, item.threat): item
        for item in concentration_by_month(runner, Window.from_text("2024-01"))
    }
    registrars = result[("registrar", "phishing")]
    assert registrars.month == date(2024, 1, 1)
    assert (registrars.concentration.top, registrars.unattributed) == ((("146", 2),), 1)  # c.net: 9999
    tlds = result[("tld", "security")].concentration
    assert tlds.top == (("com", 2), ("net", 1))
    assert result[("tld", "spam")].concentration.top == (("net", 1),)
