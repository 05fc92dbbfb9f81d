"""The demo world: the same bytes for the same seed, valid captures, and ground truth that matches them.

Captures are read back two independent ways: dpkt for the link, IP and transport layers plus a strict DNS
wire walker written here from RFC 1035/6891, and Debian's tshark where it is installed. The infected
clients are checked in `test_infection`.
"""

from __future__ import annotations

import collections
import datetime
import gzip
import hashlib
import struct
import subprocess
from dataclasses import dataclass
from pathlib import Path

import dpkt
import numpy as np
import pytest

from dnsvigil.demo.traffic import diurnal_times
from dnsvigil.demo.world import DemoWorld, demo_truth, generate_demo, write_demo_captures
from dnsvigil.errors import UsageError
from tests.conftest import required_tool

# Seed 9: its small captures hold truncated answers for the TCP retry tests.
SMALL = DemoWorld(
    seed=9, day=datetime.date(2024, 3, 10), resolver_queries=2500, authoritative_queries=2500, domains=400
)
DAY_START = int(datetime.datetime(2024, 3, 10, tzinfo=datetime.UTC).timestamp())


@dataclass(frozen=True)
class Packet:
    time: float
    ip_version: int
    transport: str
    client: bytes  # the non-server address
    client_port: int
    from_server: bool
    tcp_flags: int
    seq: int
    ack: int
    payload: bytes  # the transport payload


@dataclass(frozen=True)
class Message:
    packet: Packet
    qr: bool
    rcode: int
    tc: bool
    qtype: int
    question: bytes
    dns_id: int
    length: int


def _internet_sum(data: bytes) -> int:
    data += b"\x00" * (len(data) % 2)
    total = sum(struct.unpack(f"!{len(data) // 2}H", data))
    while total >> 16:
        total = (total & 0xFFFF) + (total >> 16)
    return total


def _read_packets(path: Path) -> list[Packet]:
    opener = gzip.open if path.suffix == ".gz" else open
    with opener(path, "rb") as stream:
        reader = dpkt.pcapng.Reader(stream) if path.suffix == ".pcapng" else dpkt.pcap.Reader(stream)
        records = list(reader)
    packets = []
    for time, frame in records:
        ip = dpkt.ethernet.Ethernet(frame).data
        segment = ip.data
        if ip.v == 4:
            assert _internet_sum(frame[14:34]) == 0xFFFF, "IPv4 header checksum"
            assert ip.len == len(frame) - 14
            raw_segment = frame[34:]
            pseudo = ip.src + ip.dst + struct.pack("!BBH", 0, ip.p, len(raw_segment))
        else:
            assert ip.plen == len(frame) - 54
            raw_segment = frame[54:]
            pseudo = ip.src + ip.dst + struct.pack("!IxxxB", len(raw_segment), ip.nxt)
        assert _internet_sum(pseudo + raw_segment) == 0xFFFF, "UDP/TCP checksum"
        tcp = isinstance(segment, dpkt.tcp.TCP)
        from_server = segment.sport == 53
        assert (segment.dport == 53) != from_server
        packets.append(
            Packet(
                time=time,
                ip_version=ip.v,
                transport="tcp" if tcp else "udp",
                client=ip.dst if from_server else ip.src,
                client_port=segment.dport if from_server else segment.sport,
                from_server=from_server,
                tcp_flags=segment.flags if tcp else 0,
                seq=segment.seq if tcp else 0,
                ack=segment.ack if tcp else 0,
                payload=bytes(segment.data),
            )
        )
    return packets


def _skip_name(data: bytes, position: int, *, compressible: bool = True) -> int:
    """The end of the name at `position`; asserts RFC 1035 rules and backward-only pointers."""
    end, length = None, 0
    for _ in range(128):
        byte = data[position]
        if byte >= 0xC0:
            assert compressible, "compression where RFC 4034 forbids it"
            target = ((byte & 0x3F) << 8) | data[position + 1]
            assert target < position, "compression pointer must point backwards"
            end = position + 2 if end is None else end
            position = target
            continue
        assert byte < 64, "label type"
        length += byte + 1
        assert length <= 255, "name longer than 255 octets"
        if byte == 0:
            return position + 1 if end is None else end
        position += byte + 1
    raise AssertionError("compression loop")


def _check_rdata(data: bytes, rtype: int, start: int, end: int) -> None:
    size = end - start
    fixed = {1: 4, 28: 16}
    if rtype in fixed:
        assert size == fixed[rtype]
    elif rtype in (2, 5, 12):
        assert _skip_name(data, start) == end
    elif rtype == 15:
        assert _skip_name(data, start + 2) == end
    elif rtype == 6:
        assert _skip_name(data, _skip_name(data, start)) + 20 == end
    elif rtype in (16, 13):
        position = start
        while position < end:
            position += 1 + data[position]
        assert position == end
    elif rtype == 46:
        signer_end = _skip_name(data, start + 18, compressible=False)
        assert end - signer_end in (64, 128, 256)
    elif rtype in (64, 65):
        position, last_key = _skip_name(data, start + 2), -1
        while position < end:
            key, length = struct.unpack_from("!HH", data, position)
            assert key > last_key, "SvcParams in increasing key order"
            position, last_key = position + 4 + length, key
        assert position == end
    elif rtype == 50:
        salt = data[start + 4]
        hash_length = data[start + 5 + salt]
        assert start + 6 + salt + hash_length < end
    elif rtype == 41:
        position = start
        while position < end:
            position += 4 + struct.unpack_from("!H", data, position + 2)[0]
        assert position == end


def _check_message(packet: Packet) -> Message:
    data = packet.payload
    if packet.transport == "tcp":
        assert struct.unpack_from("!H", data)[0] == len(data) - 2, "TCP length prefix"
        data = data[2:]
    dns_id, flags, qdcount, *counts = struct.unpack_from("!6H", data)
    assert qdcount == 1
    question_end = _skip_name(data, 12) + 4
    qtype = struct.unpack_from("!H", data, question_end - 4)[0]
    position, opt_records = question_end, 0
    for section, count in enumerate(counts):
        for _ in range(count):
            owner = position
            position = _skip_name(data, position)
            rtype, _, _, rdlength = struct.unpack_from("!HHIH", data, position)
            assert position + 10 + rdlength <= len(data)
            if rtype == 41:
                assert section == 2 and data[owner] == 0, "OPT: root owner, additional section"
                opt_records += 1
            _check_rdata(data, rtype, position + 10, position + 10 + rdlength)
            position += 10 + rdlength
    assert position == len(data), "no trailing bytes"
    assert opt_records <= 1
    return Message(
        packet, bool(flags & 0x8000), flags & 0xF, bool(flags & 0x200), qtype, data[12:question_end].lower(),
        dns_id, len(data),
    )  # fmt: skip


def _messages(packets: list[Packet]) -> list[Message]:
    return [_check_message(packet) for packet in packets if packet.payload]


@pytest.fixture(scope="module")
def paths(tmp_path_factory: pytest.TempPathFactory) -> list[Path]:
    return write_demo_captures(SMALL, tmp_path_factory.mktemp("demo"))


@pytest.fixture(scope="module")
def read(paths: list[Path]) -> dict[str, tuple[list[Packet], list[Message]]]:
    return {path.name: (packets, _messages(packets)) for path in paths for packets in [_read_packets(path)]}


def test_same_world_same_bytes_other_seed_other_bytes(tmp_path: Path) -> None:
    world = DemoWorld(seed=3, resolver_queries=1000, authoritative_queries=300, domains=100)
    assert len(demo_truth(world).infected_clients) == 2  # the bots' queries are in the bytes compared
    digests = []
    for folder, seeded in (("a", world), ("b", world), ("c", DemoWorld(4, world.day, 1000, 300, 100))):
        digests.append(
            [
                hashlib.sha256(path.read_bytes()).hexdigest()
                for path in write_demo_captures(seeded, tmp_path / folder)
            ]
        )
    assert digests[0] == digests[1]
    assert digests[0][0] != digests[2][0] and digests[0][1] != digests[2][1]


def test_files_are_named_by_day_in_both_formats(paths: list[Path]) -> None:
    assert [path.name for path in paths] == ["resolver-20240310.pcap", "authoritative-20240310.pcapng"]
    assert paths[0].read_bytes()[:4] == bytes.fromhex("d4c3b2a1")
    assert paths[1].read_bytes()[:4] == bytes.fromhex("0a0d0d0a")


def test_compressed_resolver_capture_holds_the_same_bytes(tmp_path: Path, paths: list[Path]) -> None:
    compressed = DemoWorld(
        SMALL.seed, SMALL.day, SMALL.resolver_queries, SMALL.authoritative_queries, 400, True
    )
    resolver = write_demo_captures(compressed, tmp_path)[0]
    assert resolver.name == "resolver-20240310.pcap.gz"
    assert gzip.decompress(resolver.read_bytes()) == paths[0].read_bytes()


def test_packets_fall_on_the_day_in_time_order(read: dict[str, tuple[list[Packet], list[Message]]]) -> None:
    for packets, _ in read.values():
        times = np.array([packet.time for packet in packets])
        assert np.all(np.diff(times) >= 0)
        assert times[0] >= DAY_START and times[-1] < DAY_START + 86400


def test_truth_matches_what_the_captures_hold(read: dict[str, tuple[list[Packet], list[Message]]]) -> None:
    truth = demo_truth(SMALL)
    for capture in truth.captures:
        packets, messages = read[capture.file_name]
        assert capture.packets == len(packets) and capture.messages == len(messages)
        volume: collections.Counter[str] = collections.Counter()
        sizes: collections.Counter[tuple[str, str]] = collections.Counter()
        for message in messages:
            transport, version = message.packet.transport, message.packet.ip_version
            direction = "responses-sent" if message.qr else "queries-received"
            volume[f"dns-{transport}-{direction}-ipv{version}"] += 1
            limit = 4096 if message.qr else 288
            bin_ = (
                f"{limit}-"
                if message.length >= limit
                else f"{message.length // 16 * 16}-{message.length // 16 * 16 + 15}"
            )
            sizes[(f"{transport}-{'response' if message.qr else 'request'}-sizes", bin_)] += 1
        assert {key: value for key, value in capture.traffic_volume.items() if value} == dict(volume)
        assert dict(capture.rcode_volume) == collections.Counter(m.rcode for m in messages if m.qr)
        assert dict(capture.qtype_volume) == collections.Counter(m.qtype for m in messages if not m.qr)
        assert capture.truncated_responses == sum(m.tc for m in messages)
        assert {
            (name, key): count for name, bins in capture.traffic_sizes.items() for key, count in bins.items()
        } == sizes
        sources = {m.packet.client for m in messages if not m.qr}
        assert capture.unique_sources == {
            "num-sources-ipv4": sum(len(source) == 4 for source in sources),
            "num-sources-ipv6": sum(len(source) == 16 for source in sources),
            "num-sources-ipv6-aggregate": len({source[:8] for source in sources if len(source) == 16}),
        }
        assert capture.tcp_connections == sum(p.tcp_flags == dpkt.tcp.TH_SYN for p in packets)


def test_every_truncated_answer_is_asked_again_over_tcp(
    read: dict[str, tuple[list[Packet], list[Message]]],
) -> None:
    retried = 0
    for _, messages in read.values():
        tcp_queries = {
            (m.packet.client, m.dns_id, m.question)
            for m in messages
            if m.packet.transport == "tcp" and not m.qr
        }
        for message in messages:
            if message.tc:
                assert message.packet.transport == "udp"
                assert (message.packet.client, message.dns_id, message.question) in tcp_queries
                retried += 1
    assert retried > 0


def test_tcp_connections_are_whole_and_in_sequence(
    read: dict[str, tuple[list[Packet], list[Message]]],
) -> None:
    for packets, _ in read.values():
        connections: dict[tuple[bytes, int], list[Packet]] = collections.defaultdict(list)
        for packet in packets:
            if packet.transport == "tcp":
                connections[(packet.client, packet.client_port)].append(packet)
        assert connections
        for segments in connections.values():
            assert [p.tcp_flags for p in segments] == [0x02, 0x12, 0x10, 0x18, 0x18, 0x11, 0x11, 0x10]
            syn, syn_ack, _, query, answer, client_fin, server_fin, _ = segments
            assert syn_ack.ack == syn.seq + 1 and query.seq == syn.seq + 1 and query.ack == syn_ack.seq + 1
            assert answer.seq == syn_ack.seq + 1 and answer.ack == (query.seq + len(query.payload)) % 2**32
            assert (
                client_fin.seq == answer.ack and server_fin.seq == (answer.seq + len(answer.payload)) % 2**32
            )


def test_default_sized_shares_look_like_real_traffic() -> None:
    truth = demo_truth(
        DemoWorld(seed=11, resolver_queries=20_000, authoritative_queries=20_000, domains=3000)
    )
    for capture in truth.captures:
        queries = capture.total_queries
        ipv6 = capture.queries("udp", 6) + capture.queries("tcp", 6)
        tcp = capture.queries("tcp", 4) + capture.queries("tcp", 6)
        assert 0.12 < ipv6 / queries < 0.22
        assert 0.02 < tcp / queries < 0.06
        assert 0.4 < capture.qtype_volume[1] / queries < 0.65  # A
        assert 0.1 < capture.qtype_volume[28] / queries < 0.3  # AAAA; QNAME minimisation turns some into NS
        assert capture.edns_queries / queries > 0.7
        assert 0.97 < capture.total_responses / queries <= 1.0
        assert capture.rcode_volume[0] > capture.rcode_volume[3] > capture.rcode_volume[2]
    assert 0.25 < truth.authoritative.rcode_volume[3] / truth.authoritative.total_responses < 0.5
    assert 0.05 < truth.resolver.rcode_volume[3] / truth.resolver.total_responses < 0.2
    assert truth.authoritative.do_queries / truth.authoritative.total_queries > 0.6
    assert truth.resolver.unique_sources["num-sources-ipv6-aggregate"] == 3
    bots = truth.infected_clients
    assert len(bots) == 5 and sorted(bot.ip_version for bot in bots) == [4, 4, 4, 4, 6]
    assert 0.01 < sum(bot.dga_queries for bot in bots) / truth.resolver.total_queries < 0.03
    assert sum(bot.nxdomain_responses for bot in bots) / sum(bot.dga_queries for bot in bots) > 0.85
    assert all(0.6 < bot.nxdomain_responses / bot.dga_queries < 1 for bot in bots)


def test_volume_follows_the_day() -> None:
    times = diurnal_times(np.random.default_rng(1), 200_000, amplitude=0.45, peak_hour=19.5)
    per_hour = np.bincount(times // 3_600_000_000, minlength=24)
    assert per_hour.argmax() in (18, 19, 20) and per_hour.argmin() in (6, 7, 8)
    assert per_hour.max() > 2 * per_hour.min()


@pytest.mark.parametrize("field", ["resolver_queries", "authoritative_queries", "domains"])
def test_out_of_range_sizes_are_refused(field: str) -> None:
    with pytest.raises(UsageError, match=field):
        DemoWorld(**{field: 0})  # type: ignore[arg-type]


def test_generation_matches_written_files(paths: list[Path]) -> None:
    assert [capture.data for capture in generate_demo(SMALL)] == [path.read_bytes() for path in paths]


def _tshark(path: Path, *arguments: str) -> str:
    checks = ("ip.check_checksum:TRUE", "udp.check_checksum:TRUE", "tcp.check_checksum:TRUE")
    options = [item for check in checks for item in ("-o", check)]
    command = [required_tool("tshark"), "-r", str(path), *options, *arguments]
    return subprocess.run(command, capture_output=True, text=True, check=True, timeout=120).stdout


@pytest.mark.tshark
def test_tshark_finds_nothing_malformed(paths: list[Path]) -> None:
    for path in paths:
        flagged = "_ws.malformed || _ws.expert.severity >= error || tcp.analysis.flags || dns.retransmission"
        assert _tshark(path, "-Y", flagged).strip() == ""
        assert int(_tshark(path, "-Y", "dns", "-T", "fields", "-e", "frame.number").count("\n")) > 1000


@pytest.mark.tshark
def test_tshark_counts_what_the_truth_says(paths: list[Path]) -> None:
    truth = demo_truth(SMALL)
    for path, capture in zip(paths, truth.captures, strict=True):
        fields = ["ip.dst", "ipv6.dst", "udp.port", "dns.flags.response", "dns.flags.rcode", "dns.qry.type"]
        arguments = [item for field in fields for item in ("-e", field)]
        rows = _tshark(path, "-Y", "dns", "-T", "fields", "-E", "separator=|", *arguments)
        volume: collections.Counter[str] = collections.Counter()
        rcodes: collections.Counter[int] = collections.Counter()
        qtypes: collections.Counter[int] = collections.Counter()
        for row in rows.splitlines():
            ipv4_dst, ipv6_dst, udp_ports, response, rcode, qtype = row.split("|")
            transport, version = ("udp" if udp_ports else "tcp"), (4 if ipv4_dst else 6)
            if response in ("1", "True"):
                volume[f"dns-{transport}-responses-sent-ipv{version}"] += 1
                rcodes[int(rcode)] += 1
            else:
                volume[f"dns-{transport}-queries-received-ipv{version}"] += 1
                qtypes[int(qtype)] += 1
                assert (ipv4_dst or ipv6_dst) in (capture.server_ipv4, capture.server_ipv6)
        assert {key: value for key, value in capture.traffic_volume.items() if value} == dict(volume)
        assert dict(capture.rcode_volume) == dict(rcodes)
        assert dict(capture.qtype_volume) == dict(qtypes)
