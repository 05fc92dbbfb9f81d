"""Field values shared by the text readers: times, counts, registered domain names and EPP/RDAP statuses.

Each parser raises `ValueError` with a reason code as its message, which the reader counts.
"""

from __future__ import annotations

import functools
import ipaddress
import re
from datetime import UTC, date, datetime, time

from dnsvigil.dga.names import NameParts, parse_name

_EPP_WORD = re.compile(r"(?<=[a-z])(?=[A-Z])")
_STATUS_SEPARATORS = re.compile(r"[|;,]")
HOLD_STATUSES = frozenset({"client hold", "server hold"})
"""RDAP statuses (RFC 8056) that take a domain out of the DNS: what a mitigated abusive domain shows."""


EARLIEST_TIME = datetime(1678, 1, 1, tzinfo=UTC)
LATEST_TIME = datetime(2261, 12, 31, 23, 59, 59, tzinfo=UTC)
"""The times the warehouse's nanosecond timestamps can hold, in whole years."""


class SkippedLineError(Exception):
    """A sound line that gives no row on purpose; the message is the reason counted as skipped."""


def registrable_parts(host: str) -> NameParts:
    """The name `host` split at its public suffix, for readers that store registrable domains.

    Raises:
        SkippedLineError: `host` is an IP address, or a valid name with no registrable domain.
        ValueError: `host` is not a valid name ("bad_domain").
    """
    try:
        ipaddress.ip_address(host.strip("[]"))
    except ValueError:
        pass
    else:
        raise SkippedLineError("ip_address")
    parts = parse_name(host)
    if isinstance(parts, NameParts):
        return parts
    if parts.excluded:
        raise SkippedLineError("not_registrable")
    raise ValueError("bad_domain")


def parse_time(text: str) -> datetime | None:
    """An ISO 8601 / RFC 3339 date or time (`2024-01-02`, `2024-01-02 03:04:05`, `...T03:04:05Z`) in UTC;
    None for an empty field; times without an offset are taken as UTC."""
    text = text.strip()
    if not text:
        return None
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        raise ValueError("bad_time") from None
    moment = moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)
    if not EARLIEST_TIME <= moment <= LATEST_TIME:
        raise ValueError("time_out_of_range")
    return moment


@functools.cache
def start_of(day: date) -> datetime:
    """Midnight UTC of `day`."""
    return datetime.combine(day, time(), tzinfo=UTC)


def parse_count(text: str, reason: str = "bad_number") -> int | None:
    """A non-negative integer (thousands separators allowed); None for an empty field."""
    text = text.strip().replace(",", "").replace("_", "")
    if not text:
        return None
    if not text.isdigit() or not text.isascii():
        raise ValueError(reason)
    return int(text)


def registered_domain(text: str) -> str:
    """A registered domain name normalised (lower case, A-labels, no trailing dot).

    A name that is itself a private public suffix (`blogspot.com`) is still a registration, so only
    invalid names are refused.
    """
    parts = parse_name(text)
    if isinstance(parts, NameParts):
        return parts.name
    if parts.code == "public-suffix" and "." in text.strip().rstrip(".") and text.isascii():
        return text.strip().rstrip(".").lower()
    raise ValueError("bad_domain")


def tld_of(domain: str) -> str:
    """The top-level label of a normalised domain name."""
    return domain.rsplit(".", 1)[-1]


def rdap_status(text: str) -> str:
    """A domain status in RDAP's form (RFC 8056: `client hold`), from RDAP or EPP (`clientHold`, `ok`)."""
    text = text.strip()
    if text == "ok":
        return "active"
    return _EPP_WORD.sub(" ", text).lower() if " " not in text else text.lower()


def split_statuses(text: str) -> list[str]:
    """Statuses of a CSV field, separated by `|`, `;` or `,`, each in RDAP's form."""
    return list(_split_statuses(text))


@functools.lru_cache(maxsize=4096)
def _split_statuses(text: str) -> tuple[str, ...]:
    # A registry's status fields take few distinct values: each is worked out once.
    return tuple(rdap_status(part) for part in _STATUS_SEPARATORS.split(text) if part.strip())
