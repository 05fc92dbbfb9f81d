"""read_capture on real public captures, cross-checked with Debian's tshark."""

from __future__ import annotations

import subprocess
from collections import Counter
from decimal import Decimal
from pathlib import Path

import pytest

from dnsvigil.ingest.capture_file import read_capture
from dnsvigil.ingest.reasons import new_counts
from tests.conftest import required_tool

# file: (messages, UDP, TCP, IPv6)
EXPECTED = {
    "dnscap__dns.pcap": (82, 82, 0, 0),
    "dnscap__vlan11.pcap": (82, 82, 0, 0),
    "dnscap__dnso1tcp.pcap": (82, 0, 82, 0),
    "dnscap__dns6.pcap": (2, 2, 0, 2),
    "dnscap__sll2.pcap": (2, 2, 0, 0),
    "dnscap__edns.pcap": (14, 14, 0, 0),
    "dsc__1458044657.pcap": (8, 8, 0, 0),
    "dsc__pid.pcap": (4, 4, 0, 0),
    "ithitools__smalltest.pcap": (18, 18, 0, 0),
}


def messages_of(path: Path, **options) -> list[tuple[int, bytes, int, int, int]]:
    """(ts_ns, message, transport, IP version, source port) of every message, in order."""
    found = []
    for batch in read_capture(path, **options):
        slices = batch.slices
        for i in range(len(slices)):
            start = int(slices.offset[i])
            wire = slices.buffer[start : start + int(slices.length[i])].tobytes()
            found.append(
                (
                    int(slices.ts_ns[i]),
                    wire,
                    int(slices.transport[i]),
                    int(slices.ip_version[i]),
                    int(slices.src_port[i]),
                )
            )
    return found


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_message_counts(pcaps_dir: Path, name: str) -> None:
    path = pcaps_dir / name
    found = messages_of(path)
    total, udp, tcp, ipv6 = EXPECTED[name]
    assert len(found) == total
    assert sum(transport == 17 for _, _, transport, _, _ in found) == udp
    assert sum(transport == 6 for _, _, transport, _, _ in found) == tcp
    assert sum(version == 6 for _, _, _, version, _ in found) == ipv6
    assert all(len(wire) >= 12 for _, wire, _, _, _ in found)
    assert messages_of(path, chunk_bytes=300) == found


def test_queries_and_responses_over_udp_and_tcp(pcaps_dir: Path) -> None:
    for name in ("dnscap__dns.pcap", "dnscap__dnso1tcp.pcap"):
        found = messages_of(pcaps_dir / name)
        responses = [wire[2] & 0x80 != 0 for _, wire, _, _, _ in found]
        assert responses.count(False) == responses.count(True) == 41
        # Each response comes from port 53 and each query goes to it.
        assert all(
            (port == 53) == response for (_, _, _, _, port), response in zip(found, responses, strict=True)
        )


def test_the_vlan_capture_holds_the_same_messages(pcaps_dir: Path) -> None:
    plain = messages_of(pcaps_dir / "dnscap__dns.pcap")
    tagged = messages_of(pcaps_dir / "dnscap__vlan11.pcap")
    assert [wire for _, wire, _, _, _ in tagged] == [wire for _, wire, _, _, _ in plain]


def test_real_captures_have_nothing_malformed(pcaps_dir: Path) -> None:
    for path in sorted(pcaps_dir.glob("*.pcap")):
        counts = new_counts()
        for batch in read_capture(path):
            counts += batch.counts
        assert counts[4:].sum() == 0, path.name


def tshark_messages(path: Path) -> Counter[tuple[int, int, bool]]:
    """(frame time in ns, DNS id, is response) of each DNS message tshark finds, several per frame for TCP."""
    run = subprocess.run(
        [
            required_tool("tshark"),
            "-r",
            str(path),
            "-Y",
            "dns && !icmp && !icmpv6",
            "-T",
            "fields",
            "-E",
            "occurrence=a",
            "-E",
            "aggregator=,",
            "-e",
            "frame.time_epoch",
            "-e",
            "dns.id",
            "-e",
            "dns.flags.response",
        ],
        capture_output=True,
        text=True,
        check=True,
        timeout=120,
    )
    found: Counter[tuple[int, int, bool]] = Counter()
    for line in run.stdout.splitlines():
        epoch, dns_ids, responses = line.split("\t")
        ts_ns = int(Decimal(epoch) * 1_000_000_000)
        for dns_id, response in zip(dns_ids.split(","), responses.split(","), strict=True):
            found[(ts_ns, int(dns_id, 16), response in ("1", "True"))] += 1
    return found


@pytest.mark.tshark
def test_messages_agree_with_tshark(pcaps_dir: Path) -> None:
    paths = sorted(pcaps_dir.glob("*.pcap"))
    assert paths
    for path in paths:
        ours = Counter(
            (ts_ns, int.from_bytes(wire[:2], "big"), wire[2] & 0x80 != 0)
            for ts_ns, wire, _, _, _ in messages_of(path)
        )
        theirs = tshark_messages(path)
        assert sum(theirs.values()) > 0, path.name
        assert ours == theirs, path.name
