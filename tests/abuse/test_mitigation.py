"""Mitigation times: the Kaplan-Meier estimate by hand, and timelines built from zone, hold and feed data."""

from __future__ import annotations

from datetime import date

import pytest

from dnsvigil.abuse.mitigation import Survival, Timeline, summarise, timelines
from dnsvigil.abuse.sources import Window
from tests.abuse.tables import AbuseRunner, listing, registration, utc, zone


def test_without_censoring_it_is_the_plain_distribution() -> None:
    survival = Survival.of([0.5, 2, 3, 10, 40], [True] * 5)
    assert survival.median_days == 3
    assert survival.within == {1: pytest.approx(0.2), 7: pytest.approx(0.6), 30: pytest.approx(0.8)}


def test_censored_domains_count_while_watched() -> None:
    # Times 1, 2+, 3, 4+, 5: S(1) = 4/5; S(3) = 4/5 * 2/3 = 8/15; S(5) = 0.
    survival = Survival.of([1, 2, 3, 4, 5], [True, False, True, False, True])
    assert survival.median_days == 5
    assert survival.within[1] == pytest.approx(1 / 5)
    assert survival.within[7] is None  # nobody was watched for a week
    never = Survival.of([10, 20], [False, False])
    assert (never.median_days, never.within[7]) == (None, 0.0)
    assert Survival.of([], []).median_days is None


def test_timelines_from_zone_removal_hold_and_feed() -> None:
    listings = [
        # Listed on the 10th at noon; delegated on the 9th, no longer on the 15th: mitigated within the
        # 4.5 days from listing to the 15th, so 2.25 days (the bracket's midpoint).
        listing("gone.com", first_seen=utc(2024, 1, 10, 12)),
        # Listed on the 10th; its registration data showed no hold on the 10th, a hold on the 12th: 1 day.
        # (Still delegated on the 15th, the snapshot that lagged the hold says nothing earlier.)
        listing("held.com"),
        # Dropped by its feed: last seen on the 11th at 06:00 (exact), absent from the feeds' later snapshots.
        listing("dropped.com", last_seen=utc(2024, 1, 11, 6)),
        # Still delegated on the 20th and listed at the end of the data (February 1st).
        listing("open.com"),
        listing("open.com", observed=date(2024, 2, 1)),
        # Listed in February: outside the window.
        listing("later.com", observed=date(2024, 2, 1)),
    ]
    zones = [
        *(zone(name, date(2024, 1, 9)) for name in ("gone.com", "held.com", "open.com")),
        *(zone(name, date(2024, 1, 15)) for name in ("held.com", "open.com")),
        zone("open.com", date(2024, 1, 20)),
    ]
    registrations = [
        registration("held.com", 146),
        registration("held.com", 146, observed=utc(2024, 1, 12), on_hold=True, status=["serverHold"]),
        registration("gone.com", 1068),
        registration("open.com", 9999),
    ]
    runner = AbuseRunner(listings=listings, zones=zones, registrations=registrations)
    found = {timeline.domain: timeline for timeline in timelines(runner, Window.from_text("2024-01"))}
    assert set(found) == {"gone.com", "held.com", "dropped.com", "open.com"}
    assert (found["gone.com"].days, found["gone.com"].method, found["gone.com"].registrar) == (
        2.25,
        "zone",
        "1068",
    )
    assert (found["held.com"].days, found["held.com"].method) == (1.0, "hold")
    assert (found["dropped.com"].days, found["dropped.com"].method) == (1.25, "feed")
    # open.com: never mitigated, watched to the end of the data (February 1st), by no real registrar.
    assert (found["open.com"].days, found["open.com"].watched, found["open.com"].registrar) == (
        None,
        22.0,
        None,
    )


def test_summaries_per_registrar_and_tld() -> None:
    runs = [
        Timeline("a.com", "com", "146", 1.0, "zone", 1.0),
        Timeline("b.com", "com", "146", 3.0, "hold", 3.0),
        Timeline("c.net", "net", "146", None, None, 40.0),
        Timeline("d.net", "net", None, 0.5, "feed", 0.5),
    ]
    summaries = {(item.entity_type, item.entity): item for item in summarise(runs)}
    assert list(summaries) == [("all", "all"), ("tld", "com"), ("tld", "net"), ("registrar", "146")]
    registrar = summaries[("registrar", "146")]
    assert (registrar.listed, registrar.mitigated, registrar.by_method) == (3, 2, {"hold": 1, "zone": 1})
    # 1, 3, 40+: S(1) = 2/3, S(3) = 1/3, so the median is 3 days.
    assert registrar.survival.median_days == 3.0
    assert registrar.survival.within[1] == pytest.approx(1 / 3)
    assert (registrar.unmitigated_median_days, registrar.unmitigated_max_days) == (40.0, 40.0)
    assert summaries[("tld", "com")].unmitigated_max_days is None
    assert summaries[("all", "all")].survival.median_days == 1.0
