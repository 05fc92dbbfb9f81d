"""Canonical, versioned Arrow schemas of the warehouse tables.

Every reader produces exactly these columns, so analyzers never care where a row came from. A change
that old files cannot satisfy bumps the table's version; the catalog refuses to mix versions.
"""

from __future__ import annotations

from dataclasses import dataclass

import pyarrow as pa


@dataclass(frozen=True, slots=True)
class TableSchema:
    """A warehouse table: its name, schema version, Arrow schema, and the column it is partitioned by.

    `latest_by` names (key, order) columns for tables whose rows are updated by appending: the table's view
    shows, per key, only the row that is last in that order.
    """

    name: str
    version: int
    schema: pa.Schema
    time_column: str
    latest_by: tuple[str, str] | None = None


_UTC_NS = pa.timestamp("ns", tz="UTC")
_LOW_CARDINALITY = pa.dictionary(pa.int32(), pa.string())

DNS_MESSAGES = TableSchema(
    name="dns_messages",
    version=1,
    time_column="ts",
    schema=pa.schema(
        [
            pa.field("ts", _UTC_NS, nullable=False),
            pa.field("src_addr", pa.string(), nullable=False),
            pa.field("dst_addr", pa.string(), nullable=False),
            pa.field("src_port", pa.uint16(), nullable=False),
            pa.field("dst_port", pa.uint16(), nullable=False),
            pa.field("ip_version", pa.uint8(), nullable=False),
            pa.field("transport", _LOW_CARDINALITY, nullable=False),
            pa.field("msg_len", pa.uint32(), nullable=False),
            pa.field("dns_id", pa.uint16(), nullable=False),
            pa.field("qr", pa.bool_(), nullable=False),
            pa.field("opcode", pa.uint8(), nullable=False),
            pa.field("aa", pa.bool_(), nullable=False),
            pa.field("tc", pa.bool_(), nullable=False),
            pa.field("rd", pa.bool_(), nullable=False),
            pa.field("ra", pa.bool_(), nullable=False),
            pa.field("ad", pa.bool_(), nullable=False),
            pa.field("cd", pa.bool_(), nullable=False),
            pa.field("rcode", pa.uint16(), nullable=False),
            pa.field("qdcount", pa.uint16(), nullable=False),
            pa.field("ancount", pa.uint16(), nullable=False),
            pa.field("nscount", pa.uint16(), nullable=False),
            pa.field("arcount", pa.uint16(), nullable=False),
            pa.field("qname", pa.string(), nullable=True),
            pa.field("qname_mixed_case", pa.bool_(), nullable=True),
            pa.field("qtype", pa.uint16(), nullable=True),
            pa.field("qclass", pa.uint16(), nullable=True),
            pa.field("edns_present", pa.bool_(), nullable=False),
            pa.field("edns_version", pa.uint8(), nullable=True),
            pa.field("edns_udp_size", pa.uint16(), nullable=True),
            pa.field("edns_do", pa.bool_(), nullable=True),
            pa.field("edns_nsid", pa.bool_(), nullable=True),
            pa.field("edns_ecs", pa.bool_(), nullable=True),
            pa.field("edns_cookie", pa.bool_(), nullable=True),
            pa.field("malformed", pa.bool_(), nullable=False),
            pa.field("malformed_reason", _LOW_CARDINALITY, nullable=True),
            pa.field("source_file", _LOW_CARDINALITY, nullable=False),
        ],
        metadata={"dnsvigil.table": "dns_messages", "dnsvigil.version": "1"},
    ),
)

FINDINGS = TableSchema(
    name="findings",
    version=1,
    time_column="first_seen",
    # A detector run over grown data finds the same finding (same id) with a later last_seen, more evidence.
    latest_by=("finding_id", "last_seen"),
    schema=pa.schema(
        [
            pa.field("finding_id", pa.string(), nullable=False),
            pa.field("code", pa.string(), nullable=False),
            pa.field("subject_type", pa.string(), nullable=False),
            pa.field("subject", pa.string(), nullable=False),
            pa.field("severity", pa.string(), nullable=False),
            pa.field("confidence", pa.float64(), nullable=False),
            pa.field("first_seen", _UTC_NS, nullable=False),
            pa.field("last_seen", _UTC_NS, nullable=False),
            pa.field("detector", pa.string(), nullable=False),
            pa.field("evidence", pa.string(), nullable=False),
            pa.field("references", pa.list_(pa.string()), nullable=False),
            pa.field("tlp", pa.string(), nullable=False),
            pa.field("message", pa.string(), nullable=False),
        ],
        metadata={"dnsvigil.table": "findings", "dnsvigil.version": "1"},
    ),
)

TABLES: dict[str, TableSchema] = {table.name: table for table in (DNS_MESSAGES, FINDINGS)}
