"""Search: everything the warehouse knows about one domain, IP address or registrar.

The text is checked first, so a string that can be none of the three (SQL, markup, control characters)
is refused with a 400 rather than searched for; then it is classified and normalised (domains to lower
case A-labels, addresses to RFC 5952 text), and every table is asked about it with bound parameters.
"""

from __future__ import annotations

import enum
import ipaddress
import re
from dataclasses import dataclass
from typing import Any

import idna

from dnsvigil.store.sql import SqlRunner
from dnsvigil.web.errors import ApiError
from dnsvigil.web.queries import findings_about

MAX_QUERY_CHARS = 253
SECTION_ROWS = 50
_ALLOWED = re.compile(r"[\w .,&'()+:@-]+")
# SQL comments start with `--`; in a domain, `--` is always followed by a letter or digit (xn--).
_COMMENT = re.compile(r"--(?![^\W_])")
_HOST = re.compile(r"(?=.{1,253}$)[a-z0-9_](?:[a-z0-9_-]{0,62})(?:\.[a-z0-9_][a-z0-9_-]{0,62})+")
_ISO = "%Y-%m-%dT%H:%M:%SZ"


class SearchKind(enum.StrEnum):
    """What the searched text is; `auto` decides from its form."""

    AUTO = "auto"
    DOMAIN = "domain"
    IP = "ip"
    REGISTRAR = "registrar"


@dataclass(frozen=True, slots=True)
class SearchTerm:
    """A checked search: its kind (never `auto`) and normalised text."""

    kind: SearchKind
    text: str


def _refuse(message: str) -> ApiError:
    return ApiError(400, "invalid_query", message, detail={"parameter": "q"})


def _domain(text: str) -> str | None:
    try:
        name = idna.encode(text.rstrip("."), uts46=True).decode("ascii").lower()
    except (idna.IDNAError, UnicodeError):
        return None
    return name if _HOST.fullmatch(name) else None


def parse_term(text: str, kind: SearchKind) -> SearchTerm:
    """Check and classify a search text.

    Raises:
        ApiError: 400 when it cannot be a domain, address or registrar, or not the kind asked for.
    """
    text = text.strip()
    if not text or len(text) > MAX_QUERY_CHARS:
        raise _refuse(f"the search text must be 1 to {MAX_QUERY_CHARS} characters")
    if not _ALLOWED.fullmatch(text) or _COMMENT.search(text):
        raise _refuse(
            "the search text may hold only what domains, IP addresses and registrar names hold: letters,"
            " digits, spaces and . , & ' ( ) + : @ -"
        )
    if kind in (SearchKind.AUTO, SearchKind.IP):
        try:
            return SearchTerm(SearchKind.IP, ipaddress.ip_address(text).compressed)
        except ValueError:
            if kind is SearchKind.IP:
                raise _refuse(f"{text!r} is not an IPv4 or IPv6 address") from None
    if kind in (SearchKind.AUTO, SearchKind.DOMAIN) and (kind is SearchKind.DOMAIN or "." in text.strip(".")):
        domain = _domain(text)
        if domain is not None:
            return SearchTerm(SearchKind.DOMAIN, domain)
        if kind is SearchKind.DOMAIN:
            raise _refuse(f"{text!r} is not a domain name")
    return SearchTerm(SearchKind.REGISTRAR, text)


def _rows(runner: SqlRunner, sql: str, params: list[object]) -> list[dict[str, Any]]:
    """Rows of a section query whose last `?` is its row limit."""
    rows: list[dict[str, Any]] = runner.arrow(sql, [*params, SECTION_ROWS]).to_pylist()
    return rows


def _iso(expression: str, alias: str) -> str:
    return f"strftime({expression}, '{_ISO}') AS {alias}"


def _domain_sections(runner: SqlRunner, domain: str) -> dict[str, Any]:
    registrations = _rows(
        runner,
        f"SELECT {_iso('r.observed', 'observed')}, r.domain, CAST(r.tld AS VARCHAR) AS tld,"
        " r.registrar_iana_id, coalesce(r.registrar_name, g.name) AS registrar_name,"
        f" {_iso('r.created', 'created')}, {_iso('r.expires', 'expires')}, {_iso('r.updated', 'updated')},"
        " r.status, r.on_hold, r.nameservers, r.abuse_email"
        " FROM registrations r LEFT JOIN registrars g ON g.iana_id = r.registrar_iana_id"
        " WHERE r.domain = ? ORDER BY r.observed DESC LIMIT ?",
        [domain],
    )
    zone = _rows(
        runner,
        "SELECT CAST(tld AS VARCHAR) AS tld, min(day) AS first_day, max(day) AS last_day,"
        " count(DISTINCT day) AS snapshots FROM zone_domains WHERE domain = ? GROUP BY ALL ORDER BY tld"
        " LIMIT ?",
        [domain],
    )
    listings = _rows(
        runner,
        "SELECT observed, CAST(threat AS VARCHAR) AS threat, CAST(feed AS VARCHAR) AS feed, url,"
        f" {_iso('first_seen', 'first_seen')}, {_iso('last_seen', 'last_seen')}, online, target"
        " FROM abuse_listings WHERE domain = ? ORDER BY observed DESC, feed, url LIMIT ?",
        [domain],
    )
    (traffic,) = runner.arrow(
        "SELECT count(*) FILTER (WHERE NOT qr) AS queries,"
        " count(*) FILTER (WHERE qr AND rcode = 3) AS nxdomain_responses,"
        " count(DISTINCT src_addr) FILTER (WHERE NOT qr) AS clients, count(DISTINCT qname) AS names,"
        f" {_iso('min(ts)', 'first_seen')}, {_iso('max(ts)', 'last_seen')}"
        " FROM dns_messages WHERE qname = ? OR ends_with(qname, ?)",
        [domain, "." + domain],
    ).to_pylist()
    return {"registrations": registrations, "zone": zone, "abuse_listings": listings, "traffic": traffic}


def _address_sections(runner: SqlRunner, address: str) -> dict[str, Any]:
    (traffic,) = runner.arrow(
        "SELECT count(*) FILTER (WHERE NOT qr AND src_addr = ?) AS queries_sent,"
        " count(*) FILTER (WHERE qr AND dst_addr = ? AND rcode = 3) AS nxdomain_received,"
        " count(*) FILTER (WHERE NOT qr AND dst_addr = ?) AS queries_received,"
        " count(DISTINCT qname) FILTER (WHERE NOT qr AND src_addr = ?) AS names_asked,"
        f" {_iso('min(ts)', 'first_seen')}, {_iso('max(ts)', 'last_seen')}"
        " FROM dns_messages WHERE src_addr = ? OR dst_addr = ?",
        [address] * 6,
    ).to_pylist()
    top_names = _rows(
        runner,
        "SELECT qname, count(*) AS queries FROM dns_messages WHERE NOT qr AND src_addr = ?"
        " AND qname IS NOT NULL GROUP BY qname ORDER BY queries DESC, qname LIMIT ?",
        [address],
    )
    return {"traffic": {**traffic, "top_names": top_names}}


def _registrar_sections(runner: SqlRunner, text: str) -> tuple[dict[str, Any], tuple[str, ...]]:
    """The registrar sections, and the subjects findings about these registrars carry (ids, names)."""
    by_id = text.isascii() and text.isdigit() and len(text) <= 18
    registrars = _rows(
        runner,
        "SELECT g.iana_id, g.name, CAST(g.status AS VARCHAR) AS status, g.rdap_base_url, g.real_registrar,"
        " (SELECT count(DISTINCT domain) FROM registrations r WHERE r.registrar_iana_id = g.iana_id)"
        " AS domains_seen FROM registrars g"
        f" WHERE {'g.iana_id = ?' if by_id else 'contains(lower(g.name), lower(?))'}"
        " ORDER BY g.iana_id LIMIT ?",
        [int(text) if by_id else text],
    )
    ids = tuple(str(row["iana_id"]) for row in registrars) or ((text,) if by_id else ())
    rates: list[dict[str, Any]] = []
    if ids:
        rates = _rows(
            runner,
            "SELECT period_kind::VARCHAR AS period_kind, period_start, entity, entity_name,"
            " denominator::VARCHAR AS denominator, threat::VARCHAR AS threat, abused, population,"
            ' rate_per_10k, low_per_10k, high_per_10k, "rank" FROM abuse_rates'
            f" WHERE entity_type = 'registrar' AND entity IN ({', '.join('?' for _ in ids)})"
            " ORDER BY period_start DESC, period_kind, denominator, threat, entity LIMIT ?",
            list(ids),
        )
    subjects = (*ids, *(row["name"] for row in registrars)) or (text,)
    return {"registrars": registrars, "abuse_rates": rates}, subjects


def search(runner: SqlRunner, term: SearchTerm) -> dict[str, Any]:
    """Every section the warehouse has about `term`, each at most `SECTION_ROWS` rows."""
    sections: dict[str, Any]
    subjects: tuple[str, ...]
    if term.kind is SearchKind.DOMAIN:
        sections, subjects = _domain_sections(runner, term.text), (term.text,)
    elif term.kind is SearchKind.IP:
        sections, subjects = _address_sections(runner, term.text), (term.text,)
    else:
        sections, subjects = _registrar_sections(runner, term.text)
    findings = findings_about(runner, subjects, limit=SECTION_ROWS)
    return {"kind": term.kind, "subject": term.text, "findings": findings, **sections}
