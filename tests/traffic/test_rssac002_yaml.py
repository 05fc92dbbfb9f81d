"""RSSAC002 YAML: published text form, file layout, atomic writes, and reading documents back."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pytest
import yaml

from dnsvigil.errors import InputError, OutputError, UsageError
from dnsvigil.traffic.rssac002 import (
    Metric,
    MetricDocument,
    RcodeVolume,
    SizeHistogram,
    TrafficSizes,
    TrafficVolume,
    UniqueSources,
    compute_traffic_metrics,
)
from dnsvigil.traffic.rssac002_yaml import (
    bin_label,
    bin_start,
    document_from_yaml,
    document_path,
    document_to_mapping,
    document_to_yaml,
    file_label,
    write_documents,
)
from tests.traffic.capture_rows import rows_from_pcap
from tests.traffic.message_table import TableRunner

DAY = date(2025, 1, 1)
SERVICE = "a.root-servers.net"


def document(body: TrafficVolume | TrafficSizes | RcodeVolume | UniqueSources) -> MetricDocument:
    return MetricDocument(service=SERVICE, day=DAY, body=body)


SIZES = TrafficSizes(
    udp_request_sizes=SizeHistogram(288, ((16, 658), (32, 2550), (288, 19))),
    udp_response_sizes=SizeHistogram(4096, ((16, 6), (1456, 35), (4096, 2))),
    tcp_request_sizes=SizeHistogram(288),
    tcp_response_sizes=SizeHistogram(4096, ((0, 1),)),
)
EXAMPLES = [
    document(
        TrafficVolume(9539089221, 1993425468, 372921104, 47298011, 9375117839, 1972218734, 348039942, 0)
    ),
    document(SIZES),
    document(RcodeVolume(((0, 6049585245), (3, 5668400519), (16, 71), (23, 2)))),
    document(UniqueSources(6990954, 1145204, 432861)),
]


# --- text form, as A-root publishes rssac002v5 -------------------------------------------------------


def test_traffic_volume_text_is_as_published() -> None:
    assert document_to_yaml(EXAMPLES[0]) == (
        "---\n"
        "version: rssac002v5\n"
        "service: a.root-servers.net\n"
        "start-period: '2025-01-01T00:00:00Z'\n"
        "metric: traffic-volume\n"
        "dns-udp-queries-received-ipv4: 9539089221\n"
        "dns-udp-queries-received-ipv6: 1993425468\n"
        "dns-tcp-queries-received-ipv4: 372921104\n"
        "dns-tcp-queries-received-ipv6: 47298011\n"
        "dns-udp-responses-sent-ipv4: 9375117839\n"
        "dns-udp-responses-sent-ipv6: 1972218734\n"
        "dns-tcp-responses-sent-ipv4: 348039942\n"
        "dns-tcp-responses-sent-ipv6: 0\n"
    )


def test_traffic_sizes_text_has_plain_bins_and_empty_maps() -> None:
    assert document_to_yaml(EXAMPLES[1]).splitlines()[5:] == [
        "udp-request-sizes:",
        "  16-31: 658",
        "  32-47: 2550",
        "  288-: 19",
        "udp-response-sizes:",
        "  16-31: 6",
        "  1456-1471: 35",
        "  4096-: 2",
        "tcp-request-sizes: {}",
        "tcp-response-sizes:",
        "  0-15: 1",
    ]


def test_rcode_volume_text_quotes_rcodes() -> None:
    assert document_to_yaml(EXAMPLES[2]).splitlines()[4:] == [
        "metric: rcode-volume",
        "'0': 6049585245",
        "'3': 5668400519",
        "'16': 71",
        "'23': 2",
    ]


def test_unique_sources_text_is_as_published() -> None:
    assert document_to_yaml(EXAMPLES[3]).splitlines()[4:] == [
        "metric: unique-sources",
        "num-sources-ipv4: 6990954",
        "num-sources-ipv6: 1145204",
        "num-sources-ipv6-aggregate: 432861",
    ]


def test_an_empty_rcode_volume_is_an_empty_document_body() -> None:
    loaded = yaml.safe_load(document_to_yaml(document(RcodeVolume())))
    assert loaded == {
        "version": "rssac002v5",
        "service": SERVICE,
        "start-period": "2025-01-01T00:00:00Z",
        "metric": "rcode-volume",
    }


@pytest.mark.parametrize(
    ("start", "open_bin", "label"),
    [
        (0, 288, "0-15"),
        (272, 288, "272-287"),
        (288, 288, "288-"),
        (288, 4096, "288-303"),
        (4096, 4096, "4096-"),
    ],
)
def test_bin_labels_and_back(start: int, open_bin: int, label: str) -> None:
    assert bin_label(start, open_bin) == label
    assert bin_start(label) == start


@pytest.mark.parametrize("label", ["16-32", "17-32", "16", "-16", "a-b", "16-31-"])
def test_bin_start_refuses_what_is_no_bin(label: str) -> None:
    with pytest.raises(ValueError, match="not a 16-byte size bin"):
        bin_start(label)


# --- layout ------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("service", "label"),
    [
        ("a.root-servers.net", "a-root"),
        ("M.ROOT-SERVERS.NET.", "m-root"),
        ("test1", "test1"),
        ("ns1.example.net", "ns1-example-net"),
        ("a.nic.fr", "a-nic-fr"),
        ("root-servers.net", "root-servers-net"),
    ],
)
def test_file_label(service: str, label: str) -> None:
    assert file_label(service) == label


def test_files_are_laid_out_as_published(tmp_path: Path) -> None:
    paths = write_documents(EXAMPLES, tmp_path)
    relative = [path.relative_to(tmp_path).as_posix() for path in paths]
    assert relative == [
        "2025/01/traffic-volume/a-root-20250101-traffic-volume.yaml",
        "2025/01/traffic-sizes/a-root-20250101-traffic-sizes.yaml",
        "2025/01/rcode-volume/a-root-20250101-rcode-volume.yaml",
        "2025/01/unique-sources/a-root-20250101-unique-sources.yaml",
    ]
    other = MetricDocument(service="ns1.example.net", day=date(2024, 12, 9), body=UniqueSources())
    assert (
        document_path(other).as_posix()
        == "2024/12/unique-sources/ns1-example-net-20241209-unique-sources.yaml"
    )


# --- writing and reading back ------------------------------------------------------------------------


def test_written_files_load_back_to_the_document(tmp_path: Path) -> None:
    for path, written in zip(write_documents(EXAMPLES, tmp_path), EXAMPLES, strict=True):
        text = path.read_text(encoding="utf-8")
        assert text.startswith("---\n")
        assert yaml.safe_load(text) == document_to_mapping(written)
        assert list(yaml.safe_load(text))[:4] == ["version", "service", "start-period", "metric"]
        assert document_from_yaml(text, source=str(path)) == written


def test_computed_golden_documents_round_trip(tmp_path: Path, pcaps_dir: Path) -> None:
    documents = compute_traffic_metrics(
        TableRunner(rows_from_pcap(pcaps_dir / "dnscap__dns.pcap")), service="test1"
    )
    for path, written in zip(write_documents(documents, tmp_path), documents, strict=True):
        assert path.name == f"test1-20161020-{written.metric.value}.yaml"
        assert document_from_yaml(path.read_text(encoding="utf-8")) == written


def test_writing_replaces_older_files_and_leaves_no_temporary_file(tmp_path: Path) -> None:
    first = document(UniqueSources(1, 0, 0))
    [path] = write_documents([first], tmp_path)
    [again] = write_documents([document(UniqueSources(2, 0, 0))], tmp_path)
    assert again == path
    assert document_from_yaml(path.read_text(encoding="utf-8")).body == UniqueSources(2, 0, 0)
    assert [entry.name for entry in path.parent.iterdir()] == [path.name]
    assert path.stat().st_mode & 0o777 == 0o644


def test_an_unwritable_output_folder_is_a_warehouse_error(tmp_path: Path) -> None:
    blocker = tmp_path / "out"
    blocker.write_text("a file where the folder should be", encoding="utf-8")
    with pytest.raises(OutputError, match="cannot write") as caught:
        write_documents(EXAMPLES[:1], blocker)
    assert isinstance(caught.value, OSError)
    assert caught.value.hint


def test_two_documents_for_one_file_are_refused_before_writing(tmp_path: Path) -> None:
    with pytest.raises(UsageError, match="both be written"):
        write_documents([EXAMPLES[0], EXAMPLES[1], EXAMPLES[0]], tmp_path)
    assert list(tmp_path.iterdir()) == []


# --- reading operators' files ------------------------------------------------------------------------


def test_reads_a_v4_file_with_unquoted_timestamp_and_integer_rcodes() -> None:
    text = (
        "---\nversion: rssac002v4\nservice: c.root-servers.net\nstart-period: 2025-01-01T00:00:00Z\n"
        "metric: rcode-volume\n0: 4324385622\n3: 2852851033\n16: 71\n"
    )
    read = document_from_yaml(text)
    assert read.version == "rssac002v4"
    assert read.metric is Metric.RCODE_VOLUME
    assert read.body == RcodeVolume(((0, 4324385622), (3, 2852851033), (16, 71)))
    assert read.day == DAY


@pytest.mark.parametrize(
    ("replace", "by", "message"),
    [
        ("'2025-01-01T00:00:00Z'", "'2025-01-01T15:23:01Z'", "not midnight UTC"),
        ("'2025-01-01T00:00:00Z'", "yesterday", "not a timestamp"),
        ("metric: unique-sources", "metric: load-time", "not one of"),
        ("num-sources-ipv4: 6990954", "num-sources-ipv4: -1", "must be a count"),
        ("num-sources-ipv4: 6990954", "num-sources-v4: 1", "unknown key"),
        ("version: rssac002v5\n", "", "missing key"),
        ("num-sources-ipv4: 6990954", "num-sources-ipv4: [", "not YAML"),
    ],
)
def test_reading_a_wrong_document_says_what_and_where(replace: str, by: str, message: str) -> None:
    text = document_to_yaml(EXAMPLES[3]).replace(replace, by)
    with pytest.raises(InputError, match=message) as caught:
        document_from_yaml(text, source="x/a-root-20250101-unique-sources.yaml")
    assert "x/a-root-20250101-unique-sources.yaml" in str(caught.value)


def test_reading_a_bad_size_bin_is_an_input_error() -> None:
    text = document_to_yaml(EXAMPLES[1]).replace("16-31: 658", "16-30: 658")
    with pytest.raises(InputError, match="not a 16-byte size bin"):
        document_from_yaml(text)
