"""RSSAC002v5 traffic metrics: dnscap's golden output, bin edges, RCODEs, sources, selection and days."""

from __future__ import annotations

import ipaddress
from collections.abc import Mapping
from datetime import date, datetime
from pathlib import Path

import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

from dnsvigil.errors import UsageError
from dnsvigil.traffic.rssac002 import (
    Metric,
    MetricDocument,
    RcodeVolume,
    SizeHistogram,
    TrafficSizes,
    TrafficVolume,
    UniqueSources,
    compute_traffic_metrics,
    ipv6_prefix64_sql,
    server_address_forms,
)
from dnsvigil.traffic.rssac002_yaml import document_to_mapping
from tests.traffic.capture_rows import rows_from_pcap
from tests.traffic.message_table import TableRunner, message_table

DAY = date(2025, 1, 1)
DAY_NS = 1_735_689_600_000_000_000  # 2025-01-01T00:00:00Z
NS_PER_DAY = 86_400 * 10**9
HEADER_KEYS = {"version", "service", "start-period", "metric"}


def metrics(rows: list[Mapping[str, object]], **options: object) -> list[MetricDocument]:
    table = message_table([{"ts": DAY_NS, "qname": "example.", "src_port": 40000, **row} for row in rows])
    return compute_traffic_metrics(TableRunner(table), service="test1", **options)  # type: ignore[arg-type]


def body_of(documents: list[MetricDocument], metric: Metric, day: date = DAY) -> object:
    [document] = [doc for doc in documents if doc.metric is metric and doc.day == day]
    return document.body


def values(document: MetricDocument) -> dict[str, object]:
    """The document's metric keys and values as its YAML holds them, keys as text."""
    mapping = document_to_mapping(document)
    return {key: value for key, value in mapping.items() if key not in HEADER_KEYS}


def golden_values(path: Path) -> dict[str, dict[str, object]]:
    documents = yaml.safe_load_all(path.read_text(encoding="utf-8"))
    return {
        doc["metric"]: {
            str(key): {str(k): v for k, v in value.items()} if isinstance(value, dict) else value
            for key, value in doc.items()
            if key not in HEADER_KEYS
        }
        for doc in documents
        if doc["metric"] in {metric.value for metric in Metric}
    }


# --- published vectors -------------------------------------------------------------------------------


def test_dns_pcap_equals_dnscap_rssm_golden_output(pcaps_dir: Path) -> None:
    documents = compute_traffic_metrics(
        TableRunner(rows_from_pcap(pcaps_dir / "dnscap__dns.pcap")), service="test1"
    )
    golden = golden_values(pcaps_dir / "dnscap__rssm_test1.gold.yaml")

    # dnscap's period starts at the first packet (2016-10-20T15:23:01Z); ours is the whole UTC day.
    assert {doc.day for doc in documents} == {date(2016, 10, 20)}
    assert [doc.metric.value for doc in documents] == [metric.value for metric in Metric]
    assert {doc.metric.value: values(doc) for doc in documents} == golden
    assert all(doc.version == "rssac002v5" and doc.service == "test1" for doc in documents)


def test_ipv6_capture_counts_one_source_and_one_prefix(pcaps_dir: Path) -> None:
    documents = compute_traffic_metrics(
        TableRunner(rows_from_pcap(pcaps_dir / "dnscap__dns6.pcap")), service="test1"
    )
    day = documents[0].day
    assert body_of(documents, Metric.UNIQUE_SOURCES, day) == UniqueSources(0, 1, 1)
    volume = body_of(documents, Metric.TRAFFIC_VOLUME, day)
    assert volume == TrafficVolume(dns_udp_queries_received_ipv6=1, dns_udp_responses_sent_ipv6=1)


def test_edns_capture_counts_its_servfail(pcaps_dir: Path) -> None:
    documents = compute_traffic_metrics(
        TableRunner(rows_from_pcap(pcaps_dir / "dnscap__edns.pcap")), service="test1"
    )
    assert body_of(documents, Metric.RCODE_VOLUME, documents[0].day) == RcodeVolume(((0, 6), (2, 1)))


# --- traffic-sizes -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("msg_len", "request_bin", "response_bin"),
    [
        (0, "0-15", "0-15"),
        (12, "0-15", "0-15"),
        (15, "0-15", "0-15"),
        (16, "16-31", "16-31"),
        (31, "16-31", "16-31"),
        (32, "32-47", "32-47"),
        (287, "272-287", "272-287"),
        (288, "288-", "288-303"),
        (289, "288-", "288-303"),
        (4095, "288-", "4080-4095"),
        (4096, "288-", "4096-"),
        (65535, "288-", "4096-"),
    ],
)
@pytest.mark.parametrize("transport", ["udp", "tcp"])
def test_each_length_falls_in_its_16_byte_bin(
    msg_len: int, request_bin: str, response_bin: str, transport: str
) -> None:
    documents = metrics(
        [
            {"msg_len": msg_len, "transport": transport},
            {"msg_len": msg_len, "transport": transport, "qr": True},
        ]
    )
    sizes = values(next(doc for doc in documents if doc.metric is Metric.TRAFFIC_SIZES))
    other = "tcp" if transport == "udp" else "udp"
    assert sizes == {
        f"{transport}-request-sizes": {request_bin: 1},
        f"{transport}-response-sizes": {response_bin: 1},
        f"{other}-request-sizes": {},
        f"{other}-response-sizes": {},
    }


def test_bins_are_ordered_by_start_and_empty_bins_left_out() -> None:
    lengths = [300, 16, 4096, 15, 5000, 100, 15]
    documents = metrics([{"msg_len": n} for n in lengths] + [{"msg_len": n, "qr": True} for n in lengths])
    sizes = body_of(documents, Metric.TRAFFIC_SIZES)
    assert isinstance(sizes, TrafficSizes)
    assert sizes.udp_request_sizes.bins == ((0, 2), (16, 1), (96, 1), (288, 3))
    assert sizes.udp_response_sizes.bins == ((0, 2), (16, 1), (96, 1), (288, 1), (4096, 2))
    assert list(
        values(next(d for d in documents if d.metric is Metric.TRAFFIC_SIZES))["udp-response-sizes"]
    ) == [
        "0-15",
        "16-31",
        "96-111",
        "288-303",
        "4096-",
    ]


# --- traffic-volume and rcode-volume -----------------------------------------------------------------


def test_volume_splits_queries_and_responses_by_transport_and_ip_version() -> None:
    v6 = {"ip_version": 6, "src_addr": "2001:db8::1", "dst_addr": "2001:db8::53"}
    rows: list[Mapping[str, object]] = [
        {},
        {},
        {"transport": "tcp"},
        v6,
        {**v6, "transport": "TCP"},
        {**v6, "transport": "tcp"},
        {"qr": True},
        {"qr": True, "transport": "tcp", **v6},
        {"transport": "doh"},  # not UDP or TCP: RSSAC002 has no key for it
    ]
    assert body_of(metrics(rows), Metric.TRAFFIC_VOLUME) == TrafficVolume(2, 1, 1, 2, 1, 0, 0, 1)


def test_rcode_volume_counts_extended_rcodes_of_responses_only() -> None:
    rcodes = [0, 0, 3, 16, 23, 3, 0, 4095]
    rows = [{"qr": True, "rcode": rcode} for rcode in rcodes] + [{"qr": False, "rcode": 5}]
    body = body_of(metrics(rows), Metric.RCODE_VOLUME)
    assert body == RcodeVolume(((0, 3), (3, 2), (16, 1), (23, 1), (4095, 1)))


def test_malformed_messages_with_a_readable_header_count() -> None:
    malformed = {"malformed": True, "malformed_reason": "dns_bad_name", "qname": None, "msg_len": 20}
    documents = metrics([malformed, {**malformed, "qr": True, "rcode": 1}])
    assert body_of(documents, Metric.TRAFFIC_VOLUME) == TrafficVolume(1, 0, 0, 0, 1, 0, 0, 0)
    assert body_of(documents, Metric.RCODE_VOLUME) == RcodeVolume(((1, 1),))
    assert body_of(documents, Metric.UNIQUE_SOURCES) == UniqueSources(1, 0, 0)


# --- unique-sources ----------------------------------------------------------------------------------


def v6_queries(addresses: list[str]) -> list[Mapping[str, object]]:
    return [{"ip_version": 6, "src_addr": address, "dst_addr": "2001:db8::53"} for address in addresses]


@pytest.mark.parametrize(
    ("addresses", "sources", "prefixes"),
    [
        (["2001:db8::1", "2001:db8:0:0:1::"], 2, 1),
        (["2001:db8::1", "2001:db8:0:1::1"], 2, 2),
        (["::", "::1", "::ffff:192.0.2.1"], 3, 1),
        (["2001:db8:1:2::", "2001:db8:1:2:3:4:5:6", "2001:db8:1:3::"], 3, 2),
        (["fe80::1", "fe80::2%eth0", "fe80:0:0:1::1"], 3, 2),
        (["2001:DB8::1", "2001:0db8:0000:0000:0000:0000:0000:0002"], 2, 1),
        (["1::", "1:0:0:0:1::", "0:1::"], 3, 2),
        (["64:ff9b::192.0.2.1", "64:ff9b::1"], 2, 1),
    ],
)
def test_ipv6_aggregate_counts_distinct_64_prefixes(
    addresses: list[str], sources: int, prefixes: int
) -> None:
    rows = [*v6_queries(addresses), {"src_addr": "192.0.2.7"}, {"src_addr": "192.0.2.7"}]
    body = body_of(metrics(rows), Metric.UNIQUE_SOURCES)
    assert body == UniqueSources(
        num_sources_ipv4=1, num_sources_ipv6=sources, num_sources_ipv6_aggregate=prefixes
    )


def test_unique_sources_count_query_sources_only() -> None:
    rows = [{"src_addr": "192.0.2.1"}, {"src_addr": "192.0.2.2"}, {"src_addr": "192.0.2.3", "qr": True}]
    assert body_of(metrics(rows), Metric.UNIQUE_SOURCES) == UniqueSources(2, 0, 0)


@pytest.mark.parametrize(
    ("address", "prefix"),
    [
        ("2001:db8::1", "2001:db8:0:0"),
        ("2001:db8:0:0:1::", "2001:db8:0:0"),
        ("::", "0:0:0:0"),
        ("::1", "0:0:0:0"),
        ("1::", "1:0:0:0"),
        ("::ffff:192.0.2.1", "0:0:0:0"),
        ("2001:db8:a:b:c:d:e:f", "2001:db8:a:b"),
        ("2001:0DB8:000a::", "2001:db8:a:0"),
        ("fe80::1%eth0", "fe80:0:0:0"),
        ("1:2:3::4", "1:2:3:0"),
        ("1:2:3:4:5::", "1:2:3:4"),
    ],
)
def test_prefix64_sql_expands_compressed_forms(address: str, prefix: str) -> None:
    runner = TableRunner(message_table([]))
    result = runner.arrow(f"SELECT {ipv6_prefix64_sql('a')} AS p FROM (SELECT ? AS a)", [address])
    assert result.column("p").to_pylist() == [prefix]


_GROUP = st.one_of(st.just(0), st.just(0), st.integers(0, 0xFFFF))
_ADDRESS = st.lists(_GROUP, min_size=8, max_size=8).map(
    lambda groups: ipaddress.IPv6Address(sum(group << (16 * (7 - i)) for i, group in enumerate(groups)))
)
_PREFIX_RUNNER = TableRunner(message_table([]))


@settings(max_examples=200, deadline=None)
@given(st.lists(_ADDRESS, min_size=1, max_size=20), st.data())
def test_prefix64_sql_matches_ipaddress_in_any_text_form(
    addresses: list[ipaddress.IPv6Address], data: st.DataObject
) -> None:
    forms = [
        data.draw(st.sampled_from([a.compressed, a.exploded, a.compressed.upper(), a.exploded.upper()]))
        for a in addresses
    ]
    sql = f"SELECT a, {ipv6_prefix64_sql('a')} AS p FROM (SELECT unnest(?::VARCHAR[]) AS a)"
    prefixes = dict(zip(*_PREFIX_RUNNER.arrow(sql, [forms]).to_pydict().values(), strict=True))
    for form, address in zip(forms, addresses, strict=True):
        assert prefixes[form] == ":".join(
            f"{address.packed[i] << 8 | address.packed[i + 1]:x}" for i in range(0, 8, 2)
        )


def test_ipv6_aggregate_of_many_random_sources() -> None:
    addresses = [ipaddress.IPv6Address(0x20010DB8 << 96 | (n % 37) << 64 | n * 7919) for n in range(500)]
    body = body_of(metrics(v6_queries([a.compressed for a in addresses])), Metric.UNIQUE_SOURCES)
    assert body == UniqueSources(0, 500, 37)


# --- service selection -------------------------------------------------------------------------------


def test_server_addrs_select_queries_to_and_responses_from_the_service() -> None:
    server4, server6, other = "198.51.100.53", "2001:db8::53", "203.0.113.9"
    v6 = {"ip_version": 6, "src_addr": "2001:db8::1"}
    rows: list[Mapping[str, object]] = [
        {"dst_addr": server4},
        {"dst_addr": other},
        {"qr": True, "src_addr": server4, "dst_addr": "192.0.2.1"},
        {"qr": True, "src_addr": other, "dst_addr": "192.0.2.1"},
        {"qr": True, "src_addr": "192.0.2.1", "dst_addr": server4},  # a response sent *to* the server
        {**v6, "dst_addr": server6},
        {"qr": True, "ip_version": 6, "src_addr": server6, "dst_addr": "2001:db8::1"},
    ]
    given_forms = ("198.51.100.53", "2001:0DB8:0:0:0:0:0:0053")
    documents = metrics(rows, server_addrs=given_forms)
    assert body_of(documents, Metric.TRAFFIC_VOLUME) == TrafficVolume(1, 1, 0, 0, 1, 1, 0, 0)
    assert body_of(documents, Metric.UNIQUE_SOURCES) == UniqueSources(1, 1, 1)
    everything = metrics(rows)
    assert body_of(everything, Metric.TRAFFIC_VOLUME) == TrafficVolume(2, 1, 0, 0, 3, 1, 0, 0)


def test_server_address_forms_normalise_and_add_the_dotted_mapped_form() -> None:
    assert server_address_forms([" 2001:DB8::0:53 ", "198.51.100.53", "2001:db8::53"]) == (
        "2001:db8::53",
        "198.51.100.53",
    )
    assert server_address_forms(["::FFFF:c000:0201"]) == ("::ffff:c000:201", "::ffff:192.0.2.1")


@pytest.mark.parametrize("bad", [["ns1.example.net"], ["300.1.1.1"], ["2001:db8::/64"]])
def test_a_server_address_that_is_not_an_address_is_a_usage_error(bad: list[str]) -> None:
    with pytest.raises(UsageError, match="not an IPv4 or IPv6 address"):
        metrics([{}], server_addrs=tuple(bad))


def test_an_empty_server_address_list_is_a_usage_error() -> None:
    with pytest.raises(UsageError, match="no server address"):
        metrics([{}], server_addrs=())


# --- days ---------------------------------------------------------------------------------------------


def test_each_utc_day_gets_its_own_documents_split_at_midnight() -> None:
    last_ns_of_day = DAY_NS + NS_PER_DAY - 1
    rows = [
        {"ts": DAY_NS},
        {"ts": last_ns_of_day},
        {"ts": last_ns_of_day + 1},
        {"ts": DAY_NS + 3 * NS_PER_DAY},
    ]
    for time_zone in ("UTC", "Asia/Tokyo", "America/Los_Angeles"):
        runner = TableRunner(message_table(rows), time_zone=time_zone)
        documents = compute_traffic_metrics(runner, service="test1")
        days = [date(2025, 1, 1), date(2025, 1, 2), date(2025, 1, 4)]
        assert [doc.day for doc in documents] == [day for day in days for _ in Metric]
        counts = [body_of(documents, Metric.TRAFFIC_VOLUME, day) for day in days]
        assert [volume.dns_udp_queries_received_ipv4 for volume in counts] == [2, 1, 1]  # type: ignore[attr-defined]
        second = compute_traffic_metrics(runner, service="test1", days=[date(2025, 1, 2)])
        assert body_of(second, Metric.TRAFFIC_VOLUME, date(2025, 1, 2)) == TrafficVolume(1)


def test_days_asked_for_are_reported_even_without_traffic_and_others_left_out() -> None:
    rows = [{"ts": DAY_NS}, {"ts": DAY_NS + NS_PER_DAY, "qr": True, "rcode": 3}]
    quiet = date(2024, 12, 25)
    documents = metrics(rows, days=[date(2025, 1, 2), quiet, date(2025, 1, 2)])
    assert [doc.day for doc in documents] == [quiet] * 4 + [date(2025, 1, 2)] * 4
    assert body_of(documents, Metric.TRAFFIC_VOLUME, quiet) == TrafficVolume()
    assert body_of(documents, Metric.RCODE_VOLUME, date(2025, 1, 2)) == RcodeVolume(((3, 1),))
    assert values(documents[1]) == {
        "udp-request-sizes": {},
        "udp-response-sizes": {},
        "tcp-request-sizes": {},
        "tcp-response-sizes": {},
    }


def test_empty_input_gives_no_documents_unless_days_are_asked_for() -> None:
    assert metrics([]) == []
    assert metrics([{}], days=[]) == []
    documents = metrics([], days=[DAY])
    assert [doc.metric for doc in documents] == list(Metric)
    assert [doc.body for doc in documents] == [
        TrafficVolume(),
        TrafficSizes(),
        RcodeVolume(),
        UniqueSources(),
    ]


def test_a_datetime_is_not_a_day() -> None:
    with pytest.raises(UsageError, match="not a calendar date"):
        metrics([{}], days=[datetime(2025, 1, 1)])


# --- value objects -----------------------------------------------------------------------------------


def test_service_names_are_normalised_and_checked() -> None:
    document = MetricDocument(service="A.Root-Servers.NET.", day=DAY, body=UniqueSources())
    assert document.service == "a.root-servers.net"
    assert document.start_period == "2025-01-01T00:00:00Z"
    for bad in ("", "a root", "../etc", "a..b", "x" * 64 + ".net"):
        with pytest.raises(UsageError, match="not a host name"):
            MetricDocument(service=bad, day=DAY, body=UniqueSources())


@pytest.mark.parametrize(
    "build",
    [
        lambda: SizeHistogram(288, ((17, 1),)),
        lambda: SizeHistogram(288, ((32, 1), (16, 1))),
        lambda: SizeHistogram(288, ((304, 1),)),
        lambda: SizeHistogram(288, ((16, 0),)),
        lambda: TrafficSizes(udp_request_sizes=SizeHistogram(4096)),
        lambda: RcodeVolume(((3, 1), (0, 1))),
        lambda: RcodeVolume(((4096, 1),)),
        lambda: TrafficVolume(-1),
        lambda: UniqueSources(0, 1, 2),
        lambda: MetricDocument(service="test1", day=DAY, body=UniqueSources(), version="v5"),
    ],
)
def test_value_objects_refuse_impossible_values(build: object) -> None:
    with pytest.raises(ValueError):
        build()  # type: ignore[operator]
