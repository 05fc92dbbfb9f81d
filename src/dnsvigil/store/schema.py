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


def _metadata(name: str, version: int) -> dict[str, str]:
    return {"dnsvigil.table": name, "dnsvigil.version": str(version)}


ZONE_DOMAINS = TableSchema(
    name="zone_domains",
    version=1,
    time_column="day",
    # One snapshot per (tld, day): the distinct owners of NS records below the TLD's apex.
    schema=pa.schema(
        [
            pa.field("day", pa.date32(), nullable=False),
            pa.field("tld", _LOW_CARDINALITY, nullable=False),
            pa.field("domain", pa.string(), nullable=False),
            pa.field("source_file", _LOW_CARDINALITY, nullable=False),
        ],
        metadata=_metadata("zone_domains", 1),
    ),
)

REGISTRATIONS = TableSchema(
    name="registrations",
    version=1,
    time_column="observed",
    # Every observation is kept (no latest_by): a status that turns to a hold is how mitigation is timed.
    schema=pa.schema(
        [
            pa.field("observed", _UTC_NS, nullable=False),
            pa.field("domain", pa.string(), nullable=False),
            pa.field("tld", _LOW_CARDINALITY, nullable=False),
            pa.field("registrar_iana_id", pa.int64(), nullable=True),
            pa.field("registrar_name", pa.string(), nullable=True),
            pa.field("created", _UTC_NS, nullable=True),
            pa.field("expires", _UTC_NS, nullable=True),
            pa.field("updated", _UTC_NS, nullable=True),
            pa.field("status", pa.list_(pa.string()), nullable=False),
            pa.field("on_hold", pa.bool_(), nullable=False),
            pa.field("nameservers", pa.list_(pa.string()), nullable=False),
            pa.field("abuse_email", pa.string(), nullable=True),
            pa.field("source_format", _LOW_CARDINALITY, nullable=False),
            pa.field("source_file", _LOW_CARDINALITY, nullable=False),
        ],
        metadata=_metadata("registrations", 1),
    ),
)

REGISTRARS = TableSchema(
    name="registrars",
    version=1,
    time_column="observed",
    latest_by=("iana_id", "observed"),
    schema=pa.schema(
        [
            pa.field("observed", pa.date32(), nullable=False),
            pa.field("iana_id", pa.int64(), nullable=False),
            pa.field("name", pa.string(), nullable=False),
            pa.field("status", _LOW_CARDINALITY, nullable=False),
            pa.field("rdap_base_url", pa.string(), nullable=True),
            pa.field("real_registrar", pa.bool_(), nullable=False),
            pa.field("source_file", _LOW_CARDINALITY, nullable=False),
        ],
        metadata=_metadata("registrars", 1),
    ),
)

DOMAINS_UNDER_MANAGEMENT = TableSchema(
    name="domains_under_management",
    version=1,
    time_column="month",
    # From registry monthly transaction reports; a counter the report lacks is null, never zero.
    schema=pa.schema(
        [
            pa.field("month", pa.date32(), nullable=False),
            pa.field("tld", _LOW_CARDINALITY, nullable=False),
            pa.field("registrar_iana_id", pa.int64(), nullable=False),
            pa.field("registrar_name", pa.string(), nullable=False),
            pa.field("total_domains", pa.int64(), nullable=False),
            pa.field("net_adds", pa.int64(), nullable=True),
            pa.field("net_renews", pa.int64(), nullable=True),
            pa.field("transfers_gained", pa.int64(), nullable=True),
            pa.field("transfers_lost", pa.int64(), nullable=True),
            pa.field("deleted_in_grace", pa.int64(), nullable=True),
            pa.field("deleted_after_grace", pa.int64(), nullable=True),
            pa.field("restored", pa.int64(), nullable=True),
            pa.field("source_file", _LOW_CARDINALITY, nullable=False),
        ],
        metadata=_metadata("domains_under_management", 1),
    ),
)

ABUSE_LISTINGS = TableSchema(
    name="abuse_listings",
    version=1,
    time_column="observed",
    # One row per listing per feed snapshot; analyses count a registrable domain once per period.
    schema=pa.schema(
        [
            pa.field("observed", pa.date32(), nullable=False),
            pa.field("domain", pa.string(), nullable=False),
            pa.field("tld", _LOW_CARDINALITY, nullable=False),
            pa.field("private_suffix", pa.bool_(), nullable=False),
            pa.field("url", pa.string(), nullable=True),
            pa.field("threat", _LOW_CARDINALITY, nullable=False),
            pa.field("abused_legitimate", pa.bool_(), nullable=True),
            pa.field("feed", _LOW_CARDINALITY, nullable=False),
            pa.field("feed_entry", pa.string(), nullable=True),
            pa.field("first_seen", _UTC_NS, nullable=True),
            pa.field("last_seen", _UTC_NS, nullable=True),
            pa.field("online", pa.bool_(), nullable=True),
            pa.field("target", pa.string(), nullable=True),
            pa.field("source_file", _LOW_CARDINALITY, nullable=False),
        ],
        metadata=_metadata("abuse_listings", 1),
    ),
)

DOMAIN_POPULARITY = TableSchema(
    name="domain_popularity",
    version=1,
    time_column="observed",
    # One row per entry of a top list (Tranco, Umbrella, ...) snapshot; `domain` is the registrable domain
    # of the listed `name`, so a list of host names (Umbrella) ranks domains too.
    schema=pa.schema(
        [
            pa.field("observed", pa.date32(), nullable=False),
            pa.field("list_name", _LOW_CARDINALITY, nullable=False),
            pa.field("rank", pa.int64(), nullable=False),
            pa.field("name", pa.string(), nullable=False),
            pa.field("domain", pa.string(), nullable=False),
            pa.field("source_file", _LOW_CARDINALITY, nullable=False),
        ],
        metadata=_metadata("domain_popularity", 1),
    ),
)

TABLES: dict[str, TableSchema] = {
    table.name: table
    for table in (
        DNS_MESSAGES,
        FINDINGS,
        ZONE_DOMAINS,
        REGISTRATIONS,
        REGISTRARS,
        DOMAINS_UNDER_MANAGEMENT,
        ABUSE_LISTINGS,
        DOMAIN_POPULARITY,
    )
}

ABUSE_RATES = TableSchema(
    name="abuse_rates",
    version=1,
    time_column="period_start",
    # A rerun on grown data (or with other settings) appends rows with the same rate_id, later computed_at.
    latest_by=("rate_id", "computed_at"),
    schema=pa.schema(
        [
            pa.field("rate_id", pa.string(), nullable=False),
            pa.field("computed_at", _UTC_NS, nullable=False),
            pa.field("period_kind", _LOW_CARDINALITY, nullable=False),
            pa.field("period_start", pa.date32(), nullable=False),
            pa.field("entity_type", _LOW_CARDINALITY, nullable=False),
            pa.field("entity", pa.string(), nullable=False),
            pa.field("entity_name", pa.string(), nullable=True),
            pa.field("denominator", _LOW_CARDINALITY, nullable=False),
            pa.field("threat", _LOW_CARDINALITY, nullable=False),
            pa.field("abused", pa.int64(), nullable=False),
            pa.field("population", pa.int64(), nullable=False),
            pa.field("rate_per_10k", pa.float64(), nullable=False),
            pa.field("low_per_10k", pa.float64(), nullable=False),
            pa.field("high_per_10k", pa.float64(), nullable=False),
            pa.field("interval", _LOW_CARDINALITY, nullable=False),
            pa.field("confidence", pa.float64(), nullable=False),
            pa.field("ranked", pa.bool_(), nullable=False),
            pa.field("rank", pa.int32(), nullable=True),
        ],
        metadata=_metadata("abuse_rates", 1),
    ),
)
TABLES[ABUSE_RATES.name] = ABUSE_RATES

DOMAIN_VERDICTS = TableSchema(
    name="domain_verdicts",
    version=1,
    time_column="computed_at",
    # Each classification appends a verdict per domain; the view shows the latest.
    latest_by=("domain", "computed_at"),
    schema=pa.schema(
        [
            pa.field("domain", pa.string(), nullable=False),
            pa.field("computed_at", _UTC_NS, nullable=False),
            pa.field("malicious", pa.bool_(), nullable=False),
            pa.field("malicious_probability", pa.float64(), nullable=False),
            pa.field("basis", _LOW_CARDINALITY, nullable=False),
            pa.field("age_days", pa.float64(), nullable=True),
            pa.field("similar_in_batch", pa.int64(), nullable=False),
        ],
        metadata=_metadata("domain_verdicts", 1),
    ),
)
TABLES[DOMAIN_VERDICTS.name] = DOMAIN_VERDICTS
