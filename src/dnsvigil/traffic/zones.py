"""Zones of query names: every message counted once under each zone above its name, in SQL.

A random-subdomain flood or an NXDOMAIN storm is a fact about a zone, and which zone is not known in
advance: the victim may be a registrable domain (`random.example.com`), a zone delegated below it
(`random.cdn.example.com`) or a public suffix (random `.com` names). So each name is counted under every
zone above it, up to `MAX_ZONE_DEPTH` labels from the root, with the label just below the zone as its
child: `a.cdn.example.com` counts under `com` (child `example`), `example.com` (child `cdn`) and
`cdn.example.com` (child `a`). The random labels of a flood are the children of exactly one of these
zones, so the flood shows there and nowhere else. The aggregation stays in the engine; only the zones
that cross a detector's thresholds come back, and the Public Suffix List then says what kind of zone each
is and which registrable domain (whose registrar and operator a responder contacts) it belongs to.

Reverse-DNS names (under `arpa`) are left out: address lookups walk distinct labels by their nature.
"""

from __future__ import annotations

from dataclasses import dataclass

from dnsvigil.dga.names import NameParts, parse_name
from dnsvigil.traffic.detection import TimeWindow, window_number_sql

MAX_ZONE_DEPTH = 6
"""Zones deeper than this many labels are not counted: bounds the rows a message expands into."""

RCODE_SERVFAIL = 2
RCODE_NXDOMAIN = 3


_COUNTED_NAMES = (
    "NOT malformed AND qname IS NOT NULL AND qname <> '' AND qname <> 'arpa'"
    " AND NOT ends_with(qname, '.arpa')"
)
"""The messages whose names are counted under zones: well-formed, named, and not reverse DNS."""


def _expanded(named: str, *, with_apex: bool) -> str:
    """`named` (a SELECT with `qname`) with each row repeated per zone above its name, as `depth` (labels
    from the root) and the name's `labels`."""
    deepest = "len(labels) + 1" if with_apex else "len(labels)"
    # Depths 1 .. (labels - 1), or the whole name too, at most the maximum.
    return (
        f"SELECT *, unnest(range(1, least({deepest}, {MAX_ZONE_DEPTH + 1}))) AS depth"
        f" FROM (SELECT *, string_split(qname, '.') AS labels FROM ({named}))"
    )


_ZONE = "array_to_string(labels[-depth:], '.') AS zone"
_CHILD = "CASE WHEN depth < len(labels) THEN labels[len(labels) - depth] END AS child"


def zone_rows_sql(
    window: TimeWindow, window_seconds: int, *, under: str | None = None, with_apex: bool = False
) -> tuple[str, list[object]]:
    """A SELECT of one row per (message, zone above its name): `ts`, `bucket`, `qr`, `rcode`, `client`
    (the querying side), `zone` and `child`; with its parameters. Malformed messages are left out;
    `under` keeps only the names at or below that zone. `with_apex` also counts each name as a zone of its
    own (child NULL): a zone's lookups of its apex belong to its own traffic."""
    where, params = window.where()
    if under is not None:
        where += " AND (qname = ? OR ends_with(qname, ?))"
        params += [under, f".{under}"]
    named = (
        "SELECT ts, qr, rcode, CASE WHEN qr THEN dst_addr ELSE src_addr END AS client, qname"
        f" FROM dns_messages WHERE {where} AND {_COUNTED_NAMES}"
    )
    sql = (
        f"SELECT ts, {window_number_sql(window_seconds)} AS bucket, qr, rcode, client, {_ZONE}, {_CHILD}"
        f" FROM ({_expanded(named, with_apex=with_apex)})"
    )
    return sql, params


def zone_counts_sql(
    window: TimeWindow,
    window_seconds: int,
    counts: str,
    *,
    responses_only: bool = False,
    with_apex: bool = False,
) -> tuple[str, list[object]]:
    """A SELECT of one row per (query name and window, zone above the name): `bucket`, `zone`, `child` and
    the aggregates `counts` (e.g. "count(*) AS responses") over the name's messages in the window; with its
    parameters. `responses_only` counts responses alone; `with_apex` as `zone_rows_sql`.

    A busy zone's names are asked again and again, so counting each name once per window before expanding
    it into its zones costs a third of expanding every message (`benchmarks/DETECT.md`); aggregates that
    add up (counts, minimum, maximum) give a zone's totals exactly."""
    where, params = window.where()
    if responses_only:
        where += " AND qr"
    named = (
        f"SELECT {window_number_sql(window_seconds)} AS bucket, qname, {counts}"
        f" FROM dns_messages WHERE {where} AND {_COUNTED_NAMES} GROUP BY bucket, qname"
    )
    expanded = _expanded(named, with_apex=with_apex)
    return f"SELECT * EXCLUDE (qname, labels, depth), {_ZONE}, {_CHILD} FROM ({expanded})", params


@dataclass(frozen=True, slots=True)
class ZoneKind:
    """What a zone is by the Public Suffix List: `public suffix`, `registrable domain`, `subdomain` (of
    a registrable domain) or `other` (not a host name); and its registrable domain, empty when none."""

    kind: str
    registrable: str


def zone_kind(zone: str) -> ZoneKind:
    """The kind of `zone` and the registrable domain it belongs to."""
    parts = parse_name(zone)
    if isinstance(parts, NameParts):
        kind = "registrable domain" if parts.name == parts.registrable else "subdomain"
        return ZoneKind(kind, parts.registrable)
    return ZoneKind("public suffix" if parts.code == "public-suffix" else "other", "")
