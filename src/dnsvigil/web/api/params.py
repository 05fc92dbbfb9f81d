"""Query parameters the API routes share, and the checks FastAPI's own validation cannot express."""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Annotated

from fastapi import Query

from dnsvigil.web.errors import bad_parameter
from dnsvigil.web.paging import MAX_CURSOR_CHARS, MAX_PAGE_SIZE

# Stored times are nanoseconds since 1970 in 64 bits: instants outside these bounds cannot be compared.
EARLIEST = datetime(1970, 1, 1, tzinfo=UTC)
LATEST = datetime(2262, 1, 1, tzinfo=UTC)

Limit = Annotated[int, Query(ge=1, le=MAX_PAGE_SIZE, description=f"Rows per page, 1 to {MAX_PAGE_SIZE}.")]
Cursor = Annotated[
    str | None,
    Query(
        max_length=MAX_CURSOR_CHARS, description="`next_cursor` of the previous page, with the same filters."
    ),
]
Since = Annotated[
    datetime | None,
    Query(description="Start of the time window, ISO 8601 (UTC when no offset is given), inclusive."),
]
Until = Annotated[
    datetime | None,
    Query(description="End of the time window, ISO 8601 (UTC when no offset is given), exclusive."),
]


def instant(name: str, value: datetime | None) -> datetime | None:
    """A window bound as an aware UTC datetime within what the warehouse stores.

    Raises:
        ApiError: 400 when it lies before 1970 or after 2261.
    """
    if value is None:
        return None
    moment = value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)
    if not EARLIEST <= moment < LATEST:
        raise bad_parameter(name, f"{name} must lie between {EARLIEST.year} and {LATEST.year - 1}")
    return moment


def stored_day(name: str, value: date) -> date:
    """A day the warehouse can hold traffic of; 400 otherwise."""
    if not EARLIEST.date() < value < LATEST.date():
        raise bad_parameter(name, f"{name} must lie between {EARLIEST.year} and {LATEST.year - 1}")
    return value
