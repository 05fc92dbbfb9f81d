"""The traffic overview: every figure checked against small hand-made `dns_messages` tables."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from dnsvigil.errors import UsageError
from dnsvigil.store.engine import DuckDBEngine
from dnsvigil.store.schema import DNS_MESSAGES
from dnsvigil.store.sql import SqlRunner
from dnsvigil.store.warehouse import Warehouse
from dnsvigil.traffic.dns_names import QTYPE_NAMES, RCODE_NAMES, qtype_to_text, rcode_to_text
from dnsvigil.traffic.overview import (
    QtypeCount,
    RankedCount,
    RcodeCount,
    SizeBin,
    TrafficOverview,
    TransportCount,
    VolumePoint,
    compute_overview,
)
from tests.traffic.message_table import T0, TableRunner, at, message_table, query, response

V6_CLIENT = "2001:db8::1"
V6_SERVER = "2001:db8::53"


def _minutes(minutes: int, seconds: int = 0) -> datetime:
    return T0 + timedelta(minutes=minutes, seconds=seconds)


@pytest.fixture(scope="module")
def traffic() -> TableRunner:
    """Eleven messages over three 5-minute buckets: UDP and TCP, IPv4 and IPv6, one malformed query."""
    rows = [
        # 10:00 bucket, UDP/IPv4; T0 plus 123456789 ns checks that times truncate to microseconds.
        query(ts=at(0, nanoseconds=123_456_789), msg_len=29, edns_do=True),
        response(ts=at(0.5), msg_len=45),
        query(ts=at(10), msg_len=40, qtype=28, edns_do=False),
        response(ts=at(10.5), msg_len=100, rcode=3),
        # 10:05 bucket, IPv6 over TCP and UDP.
        query(
            ts=at(400),
            transport="tcp",
            ip_version=6,
            src_addr=V6_CLIENT,
            dst_addr=V6_SERVER,
            qname="www.example.org.",
            msg_len=45,
        ),
        response(
            ts=at(400.5),
            transport="tcp",
            ip_version=6,
            src_addr=V6_SERVER,
            dst_addr=V6_CLIENT,
            msg_len=1500,
        ),
        query(
            ts=at(400),
            ip_version=6,
            src_addr=V6_CLIENT,
            dst_addr=V6_SERVER,
            qtype=65280,
            msg_len=16,
            edns_do=True,
        ),
        response(ts=at(401), ip_version=6, src_addr=V6_SERVER, dst_addr=V6_CLIENT, msg_len=31, rcode=2),
        # 10:10 bucket: a malformed query with no question, and two odd responses.
        query(
            ts=at(700),
            src_addr="192.0.2.2",
            msg_len=12,
            qdcount=0,
            qname=None,
            qname_mixed_case=None,
            qtype=None,
            qclass=None,
            malformed=True,
            malformed_reason="dns_truncated_question",
        ),
        response(ts=at(700.1), msg_len=23, rcode=16),
        response(ts=at(700.1, nanoseconds=1), msg_len=60, rcode=42),
    ]
    return TableRunner(message_table(rows))


@pytest.fixture(scope="module")
def overview(traffic: TableRunner) -> TrafficOverview:
    return compute_overview(traffic)


def test_same_figures_through_the_warehouse_engine(home: Path, traffic: TableRunner) -> None:
    warehouse = Warehouse.open(home, create=True)
    with warehouse.begin(DNS_MESSAGES.name) as write:
        write.write(traffic.table, "2024-05-01")
        write.commit("overview-test", "test")
    engine = DuckDBEngine(warehouse)
    try:
        assert compute_overview(engine) == compute_overview(traffic)
    finally:
        engine.close()


def test_empty_warehouse_gives_an_empty_overview(home: Path) -> None:
    engine = DuckDBEngine(Warehouse.open(home, create=True))
    try:
        assert compute_overview(engine).messages == 0
    finally:
        engine.close()


def test_runner_double_satisfies_the_protocol(traffic: TableRunner) -> None:
    runner: SqlRunner = traffic
    assert runner.arrow("SELECT count(*) AS n FROM dns_messages").to_pylist() == [{"n": 11}]


def test_totals_and_span(overview: TrafficOverview) -> None:
    assert (overview.messages, overview.queries, overview.responses) == (11, 5, 6)
    assert overview.malformed == 1
    assert (overview.edns_queries, overview.do_queries) == (3, 2)
    assert overview.first_seen == datetime(2024, 5, 1, 10, 0, 0, 123_456, tzinfo=UTC)
    assert overview.last_seen == datetime(2024, 5, 1, 10, 11, 40, 100_000, tzinfo=UTC)
    assert overview.duration == timedelta(minutes=11, seconds=39, microseconds=976_544)


def test_shares(overview: TrafficOverview) -> None:
    assert (overview.tcp_messages, overview.ipv6_messages, overview.nxdomain_responses) == (2, 4, 1)
    assert overview.tcp_share == pytest.approx(2 / 11)
    assert overview.ipv6_share == pytest.approx(4 / 11)
    assert overview.nxdomain_share == pytest.approx(1 / 6)
    assert overview.edns_share == pytest.approx(3 / 5)
    assert overview.do_share == pytest.approx(2 / 5)
    assert overview.malformed_share == pytest.approx(1 / 11)


def test_transport_breakdown_is_sorted_by_volume(overview: TrafficOverview) -> None:
    assert overview.transports == (
        TransportCount("udp", 4, 3, 4),
        TransportCount("tcp", 6, 1, 1),
        TransportCount("udp", 6, 1, 1),
    )
    assert [entry.series for entry in overview.transports] == ["UDP/IPv4", "TCP/IPv6", "UDP/IPv6"]


def test_volume_per_five_minutes(overview: TrafficOverview) -> None:
    assert overview.bucket_seconds == 300
    assert overview.volume == (
        VolumePoint(_minutes(0), "udp", 4, 2, 2),
        VolumePoint(_minutes(5), "tcp", 6, 1, 1),
        VolumePoint(_minutes(5), "udp", 6, 1, 1),
        VolumePoint(_minutes(10), "udp", 4, 1, 2),
    )


def test_size_histograms_use_16_byte_bins(overview: TrafficOverview) -> None:
    assert overview.request_sizes == (
        SizeBin("tcp", 32, 1),
        SizeBin("udp", 0, 1),
        SizeBin("udp", 16, 2),
        SizeBin("udp", 32, 1),
    )
    assert overview.response_sizes == (
        SizeBin("tcp", 1488, 1),
        SizeBin("udp", 16, 2),
        SizeBin("udp", 32, 1),
        SizeBin("udp", 48, 1),
        SizeBin("udp", 96, 1),
    )
    assert overview.response_sizes[0].high == 1503


def test_rcode_mix_names_and_orders_by_count(overview: TrafficOverview) -> None:
    assert overview.rcodes == (
        RcodeCount(0, "NOERROR", 2, 2 / 6),
        RcodeCount(2, "SERVFAIL", 1, 1 / 6),
        RcodeCount(3, "NXDOMAIN", 1, 1 / 6),
        RcodeCount(16, "BADVERS", 1, 1 / 6),
        RcodeCount(42, "RCODE42", 1, 1 / 6),
    )


def test_qtype_mix_skips_queries_without_a_question(overview: TrafficOverview) -> None:
    assert overview.qtypes == (
        QtypeCount(1, "A", 2, 2 / 5),
        QtypeCount(28, "AAAA", 1, 1 / 5),
        QtypeCount(65280, "TYPE65280", 1, 1 / 5),
    )


def test_top_names_and_sources_count_queries_only(overview: TrafficOverview) -> None:
    assert overview.top_names == (
        RankedCount("example.com.", 3, 3 / 5),
        RankedCount("www.example.org.", 1, 1 / 5),
    )
    # Ties go to the smaller value; the server's address, the source of every response, is absent.
    assert overview.top_sources == (
        RankedCount("192.0.2.1", 2, 2 / 5),
        RankedCount(V6_CLIENT, 2, 2 / 5),
        RankedCount("192.0.2.2", 1, 1 / 5),
    )


def test_top_limits_the_lists(traffic: TableRunner) -> None:
    limited = compute_overview(traffic, top=1)
    assert limited.top_names == (RankedCount("example.com.", 3, 3 / 5),)
    assert limited.top_sources == (RankedCount("192.0.2.1", 2, 2 / 5),)


def test_window_is_half_open(traffic: TableRunner) -> None:
    window = compute_overview(traffic, start=_minutes(5), end=_minutes(6, 41))
    # 10:06:40 and 10:06:40.5 are in, 10:06:41 (the SERVFAIL) is not.
    assert (window.messages, window.queries, window.responses) == (3, 2, 1)
    assert window.rcodes == (RcodeCount(0, "NOERROR", 1, 1.0),)
    assert window.first_seen == _minutes(6, 40)


def test_explicit_bucket_width(traffic: TableRunner) -> None:
    hourly = compute_overview(traffic, bucket_seconds=3600)
    assert hourly.bucket_seconds == 3600
    assert {point.start for point in hourly.volume} == {T0}
    assert sum(point.queries + point.responses for point in hourly.volume) == 11


def test_long_spans_get_hourly_buckets_aligned_to_the_hour() -> None:
    runner = TableRunner(message_table([query(ts=at(90)), query(ts=at(3 * 86_400 + 1_000))]))
    long = compute_overview(runner)
    assert long.bucket_seconds == 3600
    assert [point.start for point in long.volume] == [T0, T0 + timedelta(days=3)]


def test_empty_table_gives_an_empty_overview() -> None:
    empty = compute_overview(TableRunner(message_table([])))
    assert (empty.messages, empty.first_seen, empty.last_seen) == (0, None, None)
    assert not (empty.volume or empty.rcodes or empty.qtypes or empty.top_names or empty.request_sizes)
    assert (empty.tcp_share, empty.nxdomain_share, empty.do_share, empty.duration) == (0, 0, 0, timedelta(0))


@pytest.mark.parametrize(
    ("arguments", "complaint"),
    [
        ({"top": 0}, "top must be at least 1"),
        ({"bucket_seconds": 0}, "bucket_seconds"),
        ({"start": datetime(2024, 5, 1)}, "no time zone"),
        ({"start": T0, "end": T0}, "at or after"),
    ],
)
def test_bad_arguments_are_usage_errors(
    traffic: TableRunner, arguments: dict[str, object], complaint: str
) -> None:
    with pytest.raises(UsageError, match=complaint):
        compute_overview(traffic, **arguments)  # type: ignore[arg-type]


def test_analyzer_binds_values_instead_of_formatting_them(traffic: TableRunner) -> None:
    before = len(traffic.statements)
    compute_overview(traffic, start=T0)
    assert all("2024" not in sql for sql in traffic.statements[before:])


def test_value_objects_validate(overview: TrafficOverview) -> None:
    with pytest.raises(ValueError, match="queries"):
        replace(overview, queries=overview.queries + 1)
    with pytest.raises(ValueError, match="DO queries"):
        replace(overview, do_queries=overview.edns_queries + 1)
    with pytest.raises(ValueError, match="transport breakdown"):
        replace(overview, transports=overview.transports[1:])
    with pytest.raises(ValueError, match="first_seen"):
        replace(overview, first_seen=None)
    with pytest.raises(ValueError, match="multiple of 16"):
        SizeBin("udp", 17, 1)
    with pytest.raises(ValueError, match="share"):
        RankedCount("example.", 1, 1.5)
    with pytest.raises(ValueError, match="negative"):
        QtypeCount(1, "A", -1, 0.0)
    with pytest.raises(ValueError, match="timezone"):
        VolumePoint(datetime(2024, 5, 1), "udp", 4, 1, 0)


_messages = st.lists(
    st.builds(
        lambda is_response, seconds, length, tcp, v6, rcode, qtype: (
            (
                response(ts=at(seconds), msg_len=length, rcode=rcode)
                if is_response
                else query(ts=at(seconds), msg_len=length, qtype=qtype)
            )
            | {"transport": "tcp" if tcp else "udp", "ip_version": 6 if v6 else 4}
        ),
        st.booleans(),
        st.integers(0, 3 * 86_400),
        st.integers(12, 4096),
        st.booleans(),
        st.booleans(),
        st.sampled_from([0, 2, 3, 5]),
        st.sampled_from([1, 28, 255]),
    ),
    max_size=40,
)


@settings(max_examples=40, deadline=None)
@given(_messages)
def test_breakdowns_add_up_to_the_totals(rows: list[dict[str, object]]) -> None:
    result = compute_overview(TableRunner(message_table(rows)))
    assert sum(point.queries for point in result.volume) == result.queries
    assert sum(point.responses for point in result.volume) == result.responses
    assert sum(size_bin.count for size_bin in result.request_sizes) == result.queries
    assert sum(size_bin.count for size_bin in result.response_sizes) == result.responses
    assert sum(entry.count for entry in result.rcodes) == result.responses
    assert sum(entry.count for entry in result.qtypes) == result.queries
    assert all(point.start.timestamp() % result.bucket_seconds == 0 for point in result.volume)


@pytest.mark.parametrize(
    ("value", "name"),
    [(1, "A"), (2, "NS"), (5, "CNAME"), (6, "SOA"), (12, "PTR"), (15, "MX"), (16, "TXT"), (28, "AAAA"),
     (33, "SRV"), (35, "NAPTR"), (43, "DS"), (46, "RRSIG"), (47, "NSEC"), (48, "DNSKEY"), (50, "NSEC3"),
     (64, "SVCB"), (65, "HTTPS"), (252, "AXFR"), (255, "ANY"), (257, "CAA"), (54, "TYPE54"),
     (65535, "TYPE65535")],
)  # fmt: skip
def test_qtype_names(value: int, name: str) -> None:
    assert qtype_to_text(value) == name


@pytest.mark.parametrize(
    ("value", "name"),
    [(0, "NOERROR"), (1, "FORMERR"), (2, "SERVFAIL"), (3, "NXDOMAIN"), (4, "NOTIMP"), (5, "REFUSED"),
     (6, "YXDOMAIN"), (7, "YXRRSET"), (8, "NXRRSET"), (9, "NOTAUTH"), (10, "NOTZONE"), (11, "DSOTYPENI"),
     (16, "BADVERS"), (23, "BADCOOKIE"), (12, "RCODE12"), (4095, "RCODE4095")],
)  # fmt: skip
def test_rcode_names(value: int, name: str) -> None:
    assert rcode_to_text(value) == name


def test_names_are_unique_and_ranges_checked() -> None:
    assert len(set(QTYPE_NAMES.values())) == len(QTYPE_NAMES)
    assert len(set(RCODE_NAMES.values())) == len(RCODE_NAMES)
    with pytest.raises(ValueError, match="outside"):
        qtype_to_text(65536)
    with pytest.raises(ValueError, match="outside"):
        rcode_to_text(4096)
