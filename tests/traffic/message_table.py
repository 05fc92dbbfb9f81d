"""Hand-made `dns_messages` tables for analyzer tests, and a DuckDB `SqlRunner` over them.

`query(...)` and `response(...)` give one row with sensible defaults, overridden by keyword;
`message_table(rows)` turns rows, full or partial (missing columns take the defaults), into a table of
exactly the canonical schema.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import UTC, datetime
from typing import Any

import duckdb
import pyarrow as pa

from dnsvigil.store.schema import DNS_MESSAGES

T0 = datetime(2024, 5, 1, 10, 0, 0, tzinfo=UTC)
"""A convenient start for test traffic, on a 5-minute and an hour boundary."""
T0_NS = int(T0.timestamp()) * 1_000_000_000

_DEFAULTS: dict[str, Any] = {
    "ts": T0_NS,
    "src_addr": "192.0.2.1",
    "dst_addr": "198.51.100.53",
    "src_port": 53000,
    "dst_port": 53,
    "ip_version": 4,
    "transport": "udp",
    "msg_len": 40,
    "dns_id": 1,
    "qr": False,
    "opcode": 0,
    "aa": False,
    "tc": False,
    "rd": False,
    "ra": False,
    "ad": False,
    "cd": False,
    "rcode": 0,
    "qdcount": 1,
    "ancount": 0,
    "nscount": 0,
    "arcount": 0,
    "qname": "example.com.",
    "qname_mixed_case": False,
    "qtype": 1,
    "qclass": 1,
    "edns_present": False,
    "edns_version": None,
    "edns_udp_size": None,
    "edns_do": None,
    "edns_nsid": None,
    "edns_ecs": None,
    "edns_cookie": None,
    "malformed": False,
    "malformed_reason": None,
    "source_file": "test.pcap",
}
assert set(_DEFAULTS) == set(DNS_MESSAGES.schema.names)


def at(seconds: float, *, nanoseconds: int = 0) -> int:
    """The `ts` value `seconds` (plus `nanoseconds`) after `T0`, in nanoseconds since the epoch."""
    return T0_NS + round(seconds * 1_000_000_000) + nanoseconds


def query(**fields: Any) -> dict[str, Any]:
    """A query row; `edns_do=...` implies EDNS present."""
    row = {**_DEFAULTS, **fields}
    if row["edns_do"] is not None and "edns_present" not in fields:
        row["edns_present"] = True
    if row["edns_present"] and row["edns_version"] is None:
        row.update(edns_version=0, edns_udp_size=1232, edns_nsid=False, edns_ecs=False, edns_cookie=False)
        if row["edns_do"] is None:
            row["edns_do"] = False
    return row


def response(**fields: Any) -> dict[str, Any]:
    """A response row from the server back to the default client."""
    defaults = {
        "qr": True,
        "src_addr": "198.51.100.53",
        "dst_addr": "192.0.2.1",
        "src_port": 53,
        "dst_port": 53000,
        "aa": True,
        "ancount": 1,
    }
    return query(**{**defaults, **fields})


def message_table(rows: Iterable[Mapping[str, Any]]) -> pa.Table:
    """A `dns_messages` table of exactly the canonical schema holding `rows`, defaults filling the gaps."""
    rows = list(rows)
    unknown = {key for row in rows for key in row} - _DEFAULTS.keys()
    if unknown:
        raise KeyError(f"not dns_messages columns: {sorted(unknown)}")
    return pa.Table.from_pylist([{**_DEFAULTS, **row} for row in rows], schema=DNS_MESSAGES.schema)


class TableRunner:
    """A `SqlRunner` over one in-memory `dns_messages` table, the way the DuckDB engine runs SQL."""

    def __init__(self, table: pa.Table, *, time_zone: str = "UTC") -> None:
        self.table = table
        self.connection = duckdb.connect(":memory:")
        self.connection.execute(f"SET TimeZone = '{time_zone}'")
        self.connection.register(DNS_MESSAGES.name, table)
        self.statements: list[str] = []

    def arrow(
        self, sql: str, params: list[object] | None = None, *, tables: Mapping[str, pa.Table] | None = None
    ) -> pa.Table:
        """Run `sql` and keep it, so tests can check what an analyzer asked."""
        self.statements.append(sql)
        for name, table in (tables or {}).items():
            self.connection.register(name, table)
        try:
            result: pa.Table = self.connection.sql(sql, params=params or None).to_arrow_table()
        finally:
            for name in tables or {}:
                self.connection.unregister(name)
        return result
