"""Read abuse feeds into `abuse_listings`: URLhaus, PhishTank, OpenPhish, DBL-style lists and a generic CSV.

Formats, as published:
- urlhaus: the CSV export; `#` comment lines, then `id,dateadded,url,url_status,last_online,threat,tags,
  urlhaus_link,reporter` (the header may itself be a comment).
- phishtank: CSV with the header `phish_id,url,phish_detail_url,submission_time,verified,verification_time,
  online,target`; unverified entries are skipped, counted.
- openphish: one URL a line.
- dbl: `domain,return_code`, the code as `127.0.1.N` or `N` (Spamhaus DBL: 2 spam, 4 phishing, 5 malware,
  6 botnet C&C, 102-106 the same on abused legitimate domains).
- generic: `indicator,threat,first_seen,last_seen,source` (header optional), the indicator a URL or a domain;
  an empty source is called `generic`.

Every URL and domain is reduced to its registrable domain with the Public Suffix List (private section
included, flagged in `private_suffix`); a URL on an IP address, or a name that is a public suffix, has none
and is counted as skipped.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import date
from pathlib import Path
from typing import Final, Literal
from urllib.parse import urlsplit

from dnsvigil.abuse.threats import DBL_CODES, normalise_threat
from dnsvigil.dga.names import NameParts
from dnsvigil.ingest.field_values import SkippedLineError, parse_time, registrable_parts
from dnsvigil.ingest.pipeline import source_id_of
from dnsvigil.ingest.table_ingest import LineTally, Record, Rows, Source, batched, tallied
from dnsvigil.ingest.text_lines import csv_fields, numbered_lines
from dnsvigil.store.schema import ABUSE_LISTINGS

FeedFormat = Literal["urlhaus", "phishtank", "openphish", "dbl", "generic"]
FEED_FORMATS: Final[tuple[FeedFormat, ...]] = ("urlhaus", "phishtank", "openphish", "dbl", "generic")
_URLHAUS_COLUMNS = 9
_PHISHTANK_HEADER = [
    "phish_id", "url", "phish_detail_url", "submission_time", "verified", "verification_time", "online",
    "target",
]  # fmt: skip
_GENERIC_HEADER = ["indicator", "threat", "first_seen", "last_seen", "source"]

_Parser = Callable[[str], Record | None]


def feed_source(path: Path, *, fmt: FeedFormat, observed: date) -> Source:
    """The `abuse_listings` source of one feed file in format `fmt`, fetched on `observed`."""
    day = observed.isoformat()
    parse = _PARSERS[fmt]

    def listing(text: str) -> Record | None:
        return None if text.startswith("#") else parse(text)

    def read(tally: LineTally) -> Iterator[Rows]:
        def records() -> Iterator[tuple[Record | None, int]]:
            for number, text, consumed in numbered_lines(path):
                record = tallied(listing, number, text, tally)
                if record is not None:
                    record.update(observed=observed, source_file=str(path))
                yield record, consumed

        return batched(records(), ABUSE_LISTINGS.schema, day)

    return Source(path, ABUSE_LISTINGS.name, source_id_of(path, f"feed-{fmt}:{day}"), read)


def _fields(text: str, count: int) -> list[str]:
    fields = csv_fields(text)
    if fields is None:
        raise ValueError("bad_csv")
    if len(fields) != count:
        raise ValueError("wrong_field_count")
    return [field.strip() for field in fields]


def _url_parts(url: str) -> NameParts:
    try:
        host = urlsplit(url if "://" in url else "http://" + url).hostname
    except ValueError:
        raise ValueError("bad_url") from None
    if not host:
        raise ValueError("bad_url")
    return registrable_parts(host)


def _record(
    parts: NameParts,
    url: str | None,
    threat: str,
    feed: str,
    *,
    entry: str | None = None,
    first_seen: str = "",
    last_seen: str = "",
    online: bool | None = None,
    target: str | None = None,
    abused_legitimate: bool | None = None,
) -> Record:
    normalised = normalise_threat(threat)
    if normalised is None:
        raise ValueError("unknown_threat")
    return {
        "domain": parts.registrable,
        "tld": parts.suffix.rsplit(".", 1)[-1],
        "private_suffix": parts.private_suffix,
        "url": url,
        "threat": normalised,
        "abused_legitimate": abused_legitimate,
        "feed": feed,
        "feed_entry": entry or None,
        "first_seen": parse_time(first_seen),
        "last_seen": parse_time(last_seen),
        "online": online,
        "target": target or None,
    }


def _urlhaus(text: str) -> Record | None:
    fields = _fields(text, _URLHAUS_COLUMNS)
    if fields[0] == "id":
        return None
    entry, added, url, status, last_online, threat = fields[:6]
    online = {"online": True, "offline": False}.get(status.lower())
    return _record(
        _url_parts(url), url, threat, "urlhaus", entry=entry, first_seen=added, last_seen=last_online,
        online=online,
    )  # fmt: skip


def _phishtank(text: str) -> Record | None:
    fields = _fields(text, len(_PHISHTANK_HEADER))
    if fields == _PHISHTANK_HEADER:
        return None
    entry, url, _, submitted, verified, _, online, target = fields
    if verified.lower() == "no":
        raise SkippedLineError("unverified")
    return _record(
        _url_parts(url), url, "phishing", "phishtank", entry=entry, first_seen=submitted,
        online={"yes": True, "no": False}.get(online.lower()), target=target,
    )  # fmt: skip


def _openphish(text: str) -> Record | None:
    url = text.strip()
    if any(character.isspace() for character in url):
        raise ValueError("bad_url")
    return _record(_url_parts(url), url, "phishing", "openphish")


def _dbl(text: str) -> Record | None:
    domain, code = _fields(text, 2)
    if domain.lower() == "domain":
        return None
    number = code.rsplit(".", 1)[-1] if code.startswith("127.0.1.") or "." not in code else ""
    listed = DBL_CODES.get(int(number)) if number.isdigit() else None
    if listed is None:
        raise ValueError("bad_return_code")
    threat, abused_legitimate = listed
    return _record(registrable_parts(domain), None, threat, "dbl", abused_legitimate=abused_legitimate)


def _generic(text: str) -> Record | None:
    fields = _fields(text, len(_GENERIC_HEADER))
    if [field.lower() for field in fields] == _GENERIC_HEADER:
        return None
    indicator, threat, first_seen, last_seen, feed = fields
    is_url = "://" in indicator or "/" in indicator
    parts = _url_parts(indicator) if is_url else registrable_parts(indicator)
    return _record(
        parts, indicator if is_url else None, threat, feed or "generic", first_seen=first_seen,
        last_seen=last_seen,
    )  # fmt: skip


_PARSERS: Final[dict[FeedFormat, _Parser]] = {
    "urlhaus": _urlhaus,
    "phishtank": _phishtank,
    "openphish": _openphish,
    "dbl": _dbl,
    "generic": _generic,
}
