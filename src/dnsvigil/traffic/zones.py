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


def zone_rows_sql(
    window: TimeWindow, window_seconds: int, *, under: str | None = None, with_apex: bool = False
) -> tuple[str, list[object]]:
    """A SELECT of one row per (message, zone above its name): `ts`, `window`, `qr`, `rcode`, `client`
    (the querying side), `zone` and `child`; with its parameters. Malformed messages are left out;
    `under` keeps only the names at or below that zone. `with_apex` also counts each name as a zone of its
    own (child NULL): a zone's lookups of its apex belong to its own traffic."""
    where, params = window.where()
    if under is not None:
        where += " AND (qname = ? OR ends_with(qname, ?))"
        params += [under, f".{under}"]
    labels = (
        "SELECT ts, qr, rcode, CASE WHEN qr THEN dst_addr ELSE src_addr END AS client,"
        " string_split(qname, '.') AS labels FROM dns_messages"
        f" WHERE {where} AND NOT malformed AND qname IS NOT NULL AND qname <> ''"
        " AND qname <> 'arpa' AND NOT ends_with(qname, '.arpa')"
    )
    deepest = "len(labels) + 1" if with_apex else "len(labels)"
    depths = (
        # Depths 1 .. (labels - 1), or the whole name too, at most the maximum.
        f"SELECT *, unnest(range(1, least({deepest}, {MAX_ZONE_DEPTH + 1}))) AS depth FROM ({labels})"
    )
    sql = (
        f"SELECT ts, {window_number_sql(window_seconds)} AS bucket, qr, rcode, client,"
        " array_to_string(labels[-depth:], '.') AS zone,"
        " CASE WHEN depth < len(labels) THEN labels[len(labels) - depth] END AS child"
        f" FROM ({depths})"
    )
    return sql, params


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
