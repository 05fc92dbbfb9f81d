"""Feed quality: how much the abuse feeds overlap, which one lists a domain first, and how their lists churn.

Every abuse measure is only as good as the feeds behind it. Overlap says whether two feeds are independent
witnesses or copies of each other, and what a feed adds that no other has (what dropping it would lose);
who lists first says which feed is worth most to a resolver that blocks; churn says how stable a feed's
list is and how long a domain stays on it.

The words used throughout:

- a domain is a registrable domain; domains under private suffixes are left out, as in every other
  registration-abuse analysis (see `sources`). Threats are told apart only in `FeedListings.by_threat`;
- a feed's snapshot days are the days `observed` holds a listing of it. A domain is on the feed on each
  snapshot day it appears, and on the feed in a month when it is on any of the feed's snapshot days of that
  month. A feed lists a domain in the window when it is on the feed on a snapshot day within the window;
- a feed's first sighting of a domain is the earliest, over its listings of the domain observed before the
  window's end (earlier months included), of `first_seen` when the feed gives it, else of the `observed` day
  at 00:00 UTC. The fallback is only precise to the day and counts from the day's start, so it favours a
  feed without `first_seen` by up to a day against one that gives it.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date
from itertools import combinations

from dnsvigil.abuse.sources import Window, period_of
from dnsvigil.abuse.threats import THREATS
from dnsvigil.store.sql import SqlRunner

_SIGHTINGS = f"""
sightings AS (
  SELECT feed::VARCHAR AS feed, domain, threat::VARCHAR AS threat, observed,
    {period_of("observed", "month")} AS month,
    coalesce(first_seen::TIMESTAMPTZ, observed::TIMESTAMPTZ) AS seen_from,
    greatest(observed::TIMESTAMPTZ, last_seen::TIMESTAMPTZ) AS seen_until
  FROM abuse_listings WHERE NOT private_suffix AND observed < $2::DATE
),
window_domains AS (SELECT DISTINCT feed, domain FROM sightings WHERE observed >= $1::DATE)"""
"""SQL common table expressions (to follow `WITH`) over the window `[$1, $2)`: `sightings`, each
listing of a registrable domain observed before the window's end with its month and the span it was seen,
and `window_domains`, each feed's domains listed in the window once."""


@dataclass(frozen=True, slots=True)
class FeedListings:
    """What one feed listed in the window.

    Attributes:
        domains: distinct domains it listed.
        by_threat: distinct domains it listed for each threat (a domain listed for two threats counts under
            both), in the order of `THREATS`; threats it never listed are absent.
        exclusive: domains it listed that no other feed listed in the window: its exclusive contribution.
    """

    feed: str
    domains: int
    by_threat: Mapping[str, int]
    exclusive: int


@dataclass(frozen=True, slots=True)
class FeedOverlap:
    """How far two feeds (`feed` before `other` by name) listed the same domains in the window.

    Attributes:
        common: domains both listed.
        jaccard: `common` over the domains either listed (0 for disjoint feeds, 1 for identical ones).
        feed_share: the share of `feed`'s domains that `other` listed too.
        other_share: the share of `other`'s domains that `feed` listed too.
    """

    feed: str
    other: str
    common: int
    jaccard: float
    feed_share: float
    other_share: float

    @classmethod
    def of(cls, feed: str, other: str, *, common: int, feed_domains: int, other_domains: int) -> FeedOverlap:
        """The overlap of `feed` and `other`, listing `feed_domains` and `other_domains`, `common` alike."""
        return cls(
            feed=feed,
            other=other,
            common=common,
            jaccard=common / (feed_domains + other_domains - common),
            feed_share=common / feed_domains,
            other_share=common / other_domains,
        )


@dataclass(frozen=True, slots=True)
class FirstListing:
    """How early one feed lists the domains it shares with other feeds.

    A race is a domain that this feed and at least one other list in the window; the contenders are the
    feeds listing it in the window, each at its first sighting (see the module's docstring).

    Attributes:
        races: domains it raced for.
        listed_first: races it won alone: its first sighting came before every other contender's.
        shared_first: races it tied for first: no contender's first sighting came before its own, and
            another's came at the same moment.
        median_lag_hours: median over its races of its first sighting minus the earliest first sighting of
            the other contenders, in hours: negative when it usually leads, positive when it usually lags.
            None without races.
    """

    feed: str
    races: int
    listed_first: int
    shared_first: int
    median_lag_hours: float | None


@dataclass(frozen=True, slots=True)
class FeedMonth:
    """How one feed's list changed in one month of the window, against its list of the month before.

    A feed has a row for each month of the window with a snapshot of it. A month without snapshots breaks
    the comparison: the following month counts none removed and its earlier domains as returned.

    Attributes:
        listed: domains on the feed in the month.
        added: domains on the feed for the first time: on none of its earlier snapshot days.
        returned: domains on the feed in the month, not in the month before, but in some earlier month.
        removed: domains on the feed in the month before and not in this month. `listed` is thus the month
            before's `listed` - `removed` + `added` + `returned`.
        median_persistence_days: median over the removed domains of how long each stayed on the feed, in
            days: from its first sighting to the later of its last snapshot day and its latest `last_seen`,
            counting only its listings before this month (a removed domain's stay is complete, unlike that
            of a domain still listed); 0 where a `first_seen` falls after the 00:00 of its only snapshot
            day. None when none was removed.
    """

    feed: str
    month: date
    listed: int
    added: int
    returned: int
    removed: int
    median_persistence_days: float | None


@dataclass(frozen=True, slots=True)
class FeedQuality:
    """The quality of every feed listing domains in `window`, each part ordered by feed (then month)."""

    window: Window
    listings: tuple[FeedListings, ...]
    overlaps: tuple[FeedOverlap, ...]
    first_listings: tuple[FirstListing, ...]
    churn: tuple[FeedMonth, ...]


def feed_quality(runner: SqlRunner, window: Window) -> FeedQuality:
    """The listings, overlaps, first listings and churn of every feed listing domains in `window`."""
    listings = _listings(runner, window)
    return FeedQuality(
        window=window,
        listings=listings,
        overlaps=_overlaps(runner, window, {feed.feed: feed.domains for feed in listings}),
        first_listings=_first_listings(runner, window),
        churn=_churn(runner, window),
    )


def _listings(runner: SqlRunner, window: Window) -> tuple[FeedListings, ...]:
    params: list[object] = [window.start, window.end]
    totals = runner.arrow(
        f"""WITH {_SIGHTINGS},
listers AS (SELECT feed, domain, count(*) OVER (PARTITION BY domain) AS feeds FROM window_domains)
SELECT feed, count(*) AS domains, count_if(feeds = 1)::BIGINT AS exclusive
FROM listers GROUP BY feed ORDER BY feed""",
        params,
    ).to_pylist()
    by_threat: dict[str, dict[str, int]] = defaultdict(dict)
    for row in runner.arrow(
        f"""WITH {_SIGHTINGS}
SELECT feed, threat, count(DISTINCT domain) AS domains
FROM sightings WHERE observed >= $1::DATE GROUP BY ALL""",
        params,
    ).to_pylist():
        by_threat[row["feed"]][row["threat"]] = row["domains"]
    order: dict[str, int] = {threat: index for index, threat in enumerate(THREATS)}
    return tuple(
        FeedListings(
            feed=row["feed"],
            domains=row["domains"],
            by_threat=dict(sorted(by_threat[row["feed"]].items(), key=lambda item: order[item[0]])),
            exclusive=row["exclusive"],
        )
        for row in totals
    )


def _overlaps(runner: SqlRunner, window: Window, domains: Mapping[str, int]) -> tuple[FeedOverlap, ...]:
    """Every pair of feeds in `domains` (feed to the domains it listed), disjoint pairs included."""
    common = {
        (row["feed"], row["other"]): row["common"]
        for row in runner.arrow(
            f"""WITH {_SIGHTINGS}
SELECT a.feed, b.feed AS other, count(*) AS common
FROM window_domains a JOIN window_domains b ON a.domain = b.domain AND a.feed < b.feed GROUP BY ALL""",
            [window.start, window.end],
        ).to_pylist()
    }
    return tuple(
        FeedOverlap.of(
            feed,
            other,
            common=common.get((feed, other), 0),
            feed_domains=domains[feed],
            other_domains=domains[other],
        )
        for feed, other in combinations(sorted(domains), 2)
    )


def _first_listings(runner: SqlRunner, window: Window) -> tuple[FirstListing, ...]:
    rows = runner.arrow(
        f"""WITH {_SIGHTINGS},
firsts AS (
  SELECT feed, domain, min(s.seen_from) AS first_sighting
  FROM sightings s JOIN window_domains w USING (feed, domain) GROUP BY ALL
),
lags AS (
  SELECT a.feed, a.domain, epoch(a.first_sighting - min(b.first_sighting)) / 3600.0 AS lag_hours
  FROM firsts a JOIN firsts b ON a.domain = b.domain AND a.feed <> b.feed
  GROUP BY a.feed, a.domain, a.first_sighting
)
SELECT feed, count(l.domain) AS races, count(*) FILTER (WHERE l.lag_hours < 0) AS listed_first,
  count(*) FILTER (WHERE l.lag_hours = 0) AS shared_first, median(l.lag_hours) AS median_lag_hours
FROM (SELECT DISTINCT feed FROM window_domains) LEFT JOIN lags l USING (feed)
GROUP BY feed ORDER BY feed""",
        [window.start, window.end],
    ).to_pylist()
    return tuple(FirstListing(**row) for row in rows)


def _churn(runner: SqlRunner, window: Window) -> tuple[FeedMonth, ...]:
    rows = runner.arrow(
        f"""WITH {_SIGHTINGS},
on_feed AS (SELECT DISTINCT feed, month, domain FROM sightings),
debuts AS (SELECT feed, domain, min(month) AS debut FROM on_feed GROUP BY ALL),
counts AS (
  SELECT o.feed, o.month, count(*) AS listed, count_if(d.debut = o.month)::BIGINT AS added,
    count_if(d.debut < o.month AND p.domain IS NULL)::BIGINT AS returned
  FROM on_feed o JOIN debuts d USING (feed, domain)
    LEFT JOIN on_feed p ON p.feed = o.feed AND p.domain = o.domain
      AND p.month = (o.month - INTERVAL 1 MONTH)::DATE
  WHERE o.month >= $1::DATE GROUP BY ALL
),
removed AS (
  SELECT feed, (month + INTERVAL 1 MONTH)::DATE AS month, domain FROM on_feed
  EXCEPT SELECT feed, month, domain FROM on_feed
),
stays AS (
  SELECT r.feed, r.month, greatest(0, epoch(max(s.seen_until) - min(s.seen_from))) / 86400.0 AS days
  FROM removed r JOIN counts c USING (feed, month)
    JOIN sightings s ON s.feed = r.feed AND s.domain = r.domain AND s.observed < r.month
  GROUP BY r.feed, r.month, r.domain
),
departures AS (
  SELECT feed, month, count(*) AS removed, median(days) AS median_persistence_days FROM stays GROUP BY ALL
)
SELECT c.feed, c.month, c.listed, c.added, c.returned, coalesce(d.removed, 0) AS removed,
  d.median_persistence_days
FROM counts c LEFT JOIN departures d USING (feed, month) ORDER BY c.feed, c.month""",
        [window.start, window.end],
    ).to_pylist()
    return tuple(FeedMonth(**row) for row in rows)
