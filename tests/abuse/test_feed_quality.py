"""Feed quality from hand-made listings: overlap, who lists first, churn; the numbers worked out by hand."""

from __future__ import annotations

from datetime import date

import pytest

from dnsvigil.abuse.feed_quality import FeedListings, FeedMonth, FeedQuality, FirstListing, feed_quality
from dnsvigil.abuse.sources import Window
from tests.abuse.tables import AbuseRunner, listing, utc

JANUARY = Window.from_text("2024-01")


def test_overlap_jaccard_and_exclusive_contribution() -> None:
    runner = AbuseRunner(
        listings=[
            # f1: a, b, c (b for two threats and on two days: still one domain).
            listing("a.com"),
            listing("b.com"),
            listing("b.com", threat="malware"),
            listing("b.com", observed=date(2024, 1, 11)),
            listing("c.com"),
            listing("z.com", observed=date(2024, 2, 5)),  # after the window
            # f2: b, c, d, e.
            *(listing(domain, feed="f2") for domain in ("b.com", "c.com", "e.com")),
            listing("d.com", feed="f2", threat="malware"),
            # f3: x alone.
            listing("x.net", feed="f3"),
        ]
    )
    result = feed_quality(runner, JANUARY)
    assert result.window == JANUARY
    # Exclusive: f1 a; f2 d, e; f3 x. z.com would make f1 4 domains, 2 exclusive.
    assert result.listings == (
        FeedListings("f1", 3, {"phishing": 3, "malware": 1}, 1),
        FeedListings("f2", 4, {"phishing": 3, "malware": 1}, 2),
        FeedListings("f3", 1, {"phishing": 1}, 1),
    )
    assert list(result.listings[0].by_threat) == ["phishing", "malware"]  # the order of THREATS
    first_second, first_third, second_third = result.overlaps
    # f1 and f2 share b, c: Jaccard 2 / |{a, b, c, d, e}| = 0.4; 2 of f1's 3, 2 of f2's 4.
    assert (first_second.feed, first_second.other, first_second.common) == ("f1", "f2", 2)
    assert first_second.jaccard == pytest.approx(0.4)
    assert (first_second.feed_share, first_second.other_share) == (pytest.approx(2 / 3), pytest.approx(0.5))
    # Disjoint pairs are reported too, as zeros.
    for disjoint, pair in ((first_third, ("f1", "f3")), (second_third, ("f2", "f3"))):
        assert (disjoint.feed, disjoint.other) == pair
        assert (disjoint.common, disjoint.jaccard, disjoint.feed_share, disjoint.other_share) == (0, 0, 0, 0)


def test_who_lists_first_by_first_seen_else_observed_with_ties_and_earlier_months() -> None:
    runner = AbuseRunner(
        listings=[
            # p: f1 first_seen Jan 8 06:00 (observed Jan 10); f2 observed Jan 9 00:00. f1 -18 h, f2 +18 h.
            listing("p.com", first_seen=utc(2024, 1, 8, 6)),
            listing("p.com", feed="f2", observed=date(2024, 1, 9)),
            # q: f1 observed Jan 12 00:00; f2 first_seen Jan 11 12:00. f1 +12 h, f2 -12 h.
            listing("q.com", observed=date(2024, 1, 12)),
            listing("q.com", feed="f2", observed=date(2024, 1, 12), first_seen=utc(2024, 1, 11, 12)),
            # t: f2 observed Jan 15 00:00; f3 first_seen Jan 15 00:00 (observed Jan 16): a tie, both 0 h.
            listing("t.com", feed="f2", observed=date(2024, 1, 15)),
            listing("t.com", feed="f3", observed=date(2024, 1, 16), first_seen=utc(2024, 1, 15)),
            # r: f1 first_seen Jan 3; f2 observed Jan 5; f3 observed Jan 4.
            # f1 vs f3: -24 h; f2 vs f1: +48 h; f3 vs f1: +24 h.
            listing("r.com", observed=date(2024, 1, 6), first_seen=utc(2024, 1, 3)),
            listing("r.com", feed="f2", observed=date(2024, 1, 5)),
            listing("r.com", feed="f3", observed=date(2024, 1, 4)),
            # old: f3 already listed it on Dec 20, before the window: f1 (Jan 1) +288 h, f3 -288 h.
            listing("old.com", feed="f3", observed=date(2023, 12, 20)),
            listing("old.com", feed="f3", observed=date(2024, 1, 2)),
            listing("old.com", observed=date(2024, 1, 1)),
            # f4 races nobody.
            listing("solo.com", feed="f4"),
        ]
    )
    assert feed_quality(runner, JANUARY).first_listings == (
        # f1: p -18, q +12, r -24, old +288: median of (-24, -18, 12, 288) = -3.
        FirstListing("f1", races=4, listed_first=2, shared_first=0, median_lag_hours=pytest.approx(-3.0)),
        # f2: p +18, q -12, t 0, r +48: median of (-12, 0, 18, 48) = 9.
        FirstListing("f2", races=4, listed_first=1, shared_first=1, median_lag_hours=pytest.approx(9.0)),
        # f3: t 0, r +24, old -288: median 0.
        FirstListing("f3", races=3, listed_first=1, shared_first=1, median_lag_hours=pytest.approx(0.0)),
        FirstListing("f4", races=0, listed_first=0, shared_first=0, median_lag_hours=None),
    )


def test_churn_across_two_months_against_the_month_before() -> None:
    runner = AbuseRunner(
        listings=[
            # f1 in December (before the window): {a, b}.
            listing("a.com", observed=date(2023, 12, 15)),
            listing(
                "b.com",
                observed=date(2023, 12, 15),
                first_seen=utc(2023, 12, 10),
                last_seen=utc(2023, 12, 18, 12),
            ),
            # January: {a, c, d}.
            listing("a.com", observed=date(2024, 1, 5)),
            listing("c.com", observed=date(2024, 1, 5)),
            listing("c.com", observed=date(2024, 1, 20)),
            listing("d.com", observed=date(2024, 1, 20), first_seen=utc(2024, 1, 19)),
            # February: {b, c, e}; b is back.
            *(listing(domain, observed=date(2024, 2, 3)) for domain in ("b.com", "c.com", "e.com")),
            # f2 first snapshots in February.
            listing("c.com", feed="f2", observed=date(2024, 2, 10)),
        ]
    )
    churn = feed_quality(runner, Window(date(2024, 1, 1), date(2024, 3, 1))).churn
    assert churn == (
        # January: c, d new; b gone. b stayed Dec 10 00:00 (first_seen) to Dec 18 12:00 (last_seen): 8.5 days
        # (its return in February is not part of that stay). 2 - 1 + 2 + 0 = 3.
        FeedMonth("f1", date(2024, 1, 1), 3, 2, 0, 1, pytest.approx(8.5)),
        # February: e new, b returned; a, d gone. a: Dec 15 to Jan 5, 21 days; d: Jan 19 (first_seen) to
        # Jan 20, 1 day; median 11. 3 - 2 + 1 + 1 = 3.
        FeedMonth("f1", date(2024, 2, 1), 3, 1, 1, 2, pytest.approx(11.0)),
        # No January row for f2: it had no snapshot then.
        FeedMonth("f2", date(2024, 2, 1), 1, 1, 0, 0, None),
    )


def test_private_suffixes_are_left_out() -> None:
    runner = AbuseRunner(
        listings=[
            listing("shop.blogspot.com", private_suffix=True),
            listing("shop.blogspot.com", feed="f2", private_suffix=True),
            listing("a.com"),
        ]
    )
    result = feed_quality(runner, JANUARY)
    # Counted, the blog would give f1 2 domains, make f2 a feed and the two an overlapping pair.
    assert result.listings == (FeedListings("f1", 1, {"phishing": 1}, 1),)
    assert result.overlaps == ()
    assert result.first_listings == (FirstListing("f1", 0, 0, 0, None),)
    assert result.churn == (FeedMonth("f1", date(2024, 1, 1), 1, 1, 0, 0, None),)


def test_an_empty_window() -> None:
    february = Window.from_text("2024-02")
    # January's listings are no February snapshots: nothing listed, nothing counted removed.
    assert feed_quality(AbuseRunner(listings=[listing("a.com")]), february) == FeedQuality(
        february, (), (), (), ()
    )
    assert feed_quality(AbuseRunner(), JANUARY) == FeedQuality(JANUARY, (), (), (), ())
