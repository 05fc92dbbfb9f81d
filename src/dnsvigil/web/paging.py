"""Paging by cursor (keyset): stable, complete and without duplicates, whatever is added meanwhile.

A list is ordered by sort keys that are never null and end in a unique column. A page's cursor holds the
keys of its last row, so the next page starts strictly after it: rows committed since do not shift the
pages, as an offset would. The cursor also carries a digest of the filters it was made for; reused
with other filters it is refused, since it would skip or repeat rows.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from dnsvigil.store.sql import SqlRunner
from dnsvigil.web.errors import ApiError

MAX_PAGE_SIZE = 1000
DEFAULT_PAGE_SIZE = 50
MAX_CURSOR_CHARS = 2048

CursorValue = int | str


@dataclass(frozen=True, slots=True)
class SortKey:
    """One sort key: a SQL expression that is never null, whether it yields integers (else text), and its
    order."""

    sql: str
    numeric: bool = False
    descending: bool = False


@dataclass(frozen=True, slots=True)
class PageQuery:
    """What to page through: `SELECT columns FROM source WHERE conditions`, ordered by `keys`.

    `params` bind the `?` marks of `conditions`, in order; `scope` names the filters, for the cursor.
    """

    columns: str
    source: str
    conditions: tuple[str, ...]
    params: tuple[object, ...]
    keys: tuple[SortKey, ...]
    scope: Mapping[str, Any]


@dataclass(frozen=True, slots=True)
class Page:
    """One page of rows, and the cursor of the next page (None on the last)."""

    rows: list[dict[str, Any]]
    next_cursor: str | None


def _invalid(message: str) -> ApiError:
    return ApiError(
        400, "invalid_cursor", message + "; start again without `cursor`", detail={"parameter": "cursor"}
    )


def _scope_digest(scope: Mapping[str, Any]) -> str:
    text = json.dumps(scope, sort_keys=True, default=str)
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def encode_cursor(values: Sequence[CursorValue], scope: Mapping[str, Any]) -> str:
    """The opaque cursor of the row whose sort keys are `values`, for lists filtered by `scope`."""
    document = json.dumps({"after": list(values), "scope": _scope_digest(scope)}, separators=(",", ":"))
    return base64.urlsafe_b64encode(document.encode()).decode().rstrip("=")


def _fits(value: object, key: SortKey) -> bool:
    if key.numeric:
        return isinstance(value, int) and not isinstance(value, bool) and -(2**63) <= value < 2**63
    return isinstance(value, str)


def decode_cursor(cursor: str, scope: Mapping[str, Any], keys: Sequence[SortKey]) -> list[CursorValue]:
    """The sort keys a cursor holds.

    Raises:
        ApiError: 400 when it is not a cursor of this list with these filters.
    """
    if len(cursor) > MAX_CURSOR_CHARS:
        raise _invalid("the cursor is too long to be one of ours")
    try:
        document = json.loads(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
    except (binascii.Error, ValueError):
        raise _invalid("the cursor is not one this API gave") from None
    after = document.get("after") if isinstance(document, dict) else None
    if (
        not isinstance(after, list)
        or len(after) != len(keys)
        or not all(_fits(value, key) for value, key in zip(after, keys, strict=False))
    ):
        raise _invalid("the cursor is not one this API gave")
    if document.get("scope") != _scope_digest(scope):
        raise _invalid("the cursor was made for other filters")
    return after


def _after_condition(keys: Sequence[SortKey], values: Sequence[CursorValue]) -> tuple[str, list[object]]:
    """SQL selecting the rows that sort strictly after `values`: a lexicographic comparison."""
    alternatives, params = [], list[object]()
    for index, key in enumerate(keys):
        equal = [f"{earlier.sql} = ?" for earlier in keys[:index]]
        beyond = f"{key.sql} {'<' if key.descending else '>'} ?"
        alternatives.append("(" + " AND ".join([*equal, beyond]) + ")")
        params += [*values[:index], values[index]]
    return "(" + " OR ".join(alternatives) + ")", params


def fetch_page(runner: SqlRunner, query: PageQuery, *, limit: int, cursor: str | None) -> Page:
    """The page of `query` after `cursor` (from the start without one), at most `limit` rows."""
    conditions, params = list(query.conditions), list(query.params)
    if cursor is not None:
        condition, after_params = _after_condition(query.keys, decode_cursor(cursor, query.scope, query.keys))
        conditions.append(condition)
        params += after_params
    key_columns = ", ".join(f"{key.sql} AS _key{index}" for index, key in enumerate(query.keys))
    order = ", ".join(
        f"_key{index}{' DESC' if key.descending else ''}" for index, key in enumerate(query.keys)
    )
    sql = (
        f"SELECT {query.columns}, {key_columns} FROM {query.source}"
        f" WHERE {' AND '.join(conditions) or 'TRUE'} ORDER BY {order} LIMIT ?"
    )
    rows: list[dict[str, Any]] = runner.arrow(sql, [*params, limit + 1]).to_pylist()
    more = len(rows) > limit
    rows = rows[:limit]
    next_cursor = None
    if more:
        next_cursor = encode_cursor(
            [rows[-1][f"_key{index}"] for index in range(len(query.keys))], query.scope
        )
    for row in rows:
        for index in range(len(query.keys)):
            del row[f"_key{index}"]
    return Page(rows, next_cursor)
