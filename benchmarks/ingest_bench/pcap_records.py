"""Classic pcap records for the benchmark: read, count DNS messages, repeat in time, sample for warm-ups."""

from __future__ import annotations

import struct
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from ingest_bench.capture_plan import CaptureBuildError

PCAP_MAGIC_US = 0xA1B2C3D4
PCAP_MAGIC_NS = 0xA1B23C4D
LINKTYPE_ETHERNET = 1
PCAP_HEADER = struct.Struct("<IHHiIII")
_RECORD_HEADER = struct.Struct("<IIII")


@dataclass(frozen=True, slots=True)
class PcapRecords:
    """A classic pcap file's records held in memory: the global header and (seconds, fraction, body)."""

    header: bytes
    fraction_per_second: int
    records: list[tuple[int, int, bytes]]


def read_pcap(path: Path) -> PcapRecords:
    """Every record of a little-endian classic pcap file (as dumpcap -P writes on x86)."""
    data = path.read_bytes()
    if len(data) < PCAP_HEADER.size:
        raise CaptureBuildError(f"{path}: shorter than a pcap header")
    magic, _, _, _, _, _, linktype = PCAP_HEADER.unpack_from(data)
    if magic not in (PCAP_MAGIC_US, PCAP_MAGIC_NS):
        raise CaptureBuildError(f"{path}: not a little-endian classic pcap (magic {magic:#x})")
    if linktype != LINKTYPE_ETHERNET:
        raise CaptureBuildError(f"{path}: link type {linktype}, expected Ethernet (1) as Linux 'lo' gives")
    records: list[tuple[int, int, bytes]] = []
    position = PCAP_HEADER.size
    while position + _RECORD_HEADER.size <= len(data):
        seconds, fraction, caplen, _ = _RECORD_HEADER.unpack_from(data, position)
        start = position + _RECORD_HEADER.size
        records.append((seconds, fraction, data[position : start + caplen]))
        position = start + caplen
    return PcapRecords(
        data[: PCAP_HEADER.size], 1_000_000_000 if magic == PCAP_MAGIC_NS else 1_000_000, records
    )


def dns_messages_in_frame(frame: bytes, port: int) -> tuple[int, int]:
    """(UDP messages, TCP messages) in one Ethernet frame to or from `port`, counted without reassembly.

    A TCP segment counts the whole length-prefixed messages it holds; on loopback, messages are not split
    across segments in practice, so this matches what a reassembling reader finds.
    """
    ethertype = struct.unpack_from("!H", frame, 12)[0]
    offset = 14
    if ethertype == 0x0800:
        header_len = (frame[offset] & 0x0F) * 4
        protocol = frame[offset + 9]
        end = offset + struct.unpack_from("!H", frame, offset + 2)[0]
        offset += header_len
    elif ethertype == 0x86DD:
        protocol = frame[offset + 6]
        end = offset + 40 + struct.unpack_from("!H", frame, offset + 4)[0]
        offset += 40
    else:
        return 0, 0
    sport, dport = struct.unpack_from("!HH", frame, offset)
    if port not in (sport, dport):
        return 0, 0
    if protocol == 17:
        return (1, 0) if end - offset > 8 + 12 else (0, 0)
    if protocol != 6:
        return 0, 0
    position = offset + (frame[offset + 12] >> 4) * 4
    messages = 0
    while position + 2 <= end:
        length = struct.unpack_from("!H", frame, position)[0]
        if position + 2 + length > end:
            break
        messages += 1
        position += 2 + length
    return 0, messages


def write_repeated(raw: PcapRecords, output: Path, repeats: int, gap_s: float = 1.0) -> None:
    """Write `raw`'s records `repeats` times, each copy moved past the previous by its span + `gap_s`."""
    if not raw.records:
        raise CaptureBuildError("the live capture holds no records")
    scale = raw.fraction_per_second
    first = raw.records[0][0] * scale + raw.records[0][1]
    last = raw.records[-1][0] * scale + raw.records[-1][1]
    shift = last - first + int(gap_s * scale)
    temporary = output.with_suffix(".partial")
    with temporary.open("wb") as sink:
        sink.write(raw.header)
        for copy in range(repeats):
            moved = copy * shift
            for seconds, fraction, record in raw.records:
                stamp = seconds * scale + fraction + moved
                sink.write(struct.pack("<II", stamp // scale, stamp % scale))
                sink.write(memoryview(record)[8:])
    temporary.replace(output)


def iter_frames(raw: PcapRecords) -> Iterator[bytes]:
    """The frame bytes of each record."""
    for _, _, record in raw.records:
        yield memoryview(record)[_RECORD_HEADER.size :].tobytes()


def write_sample(source: Path, output: Path, port: int, *, first: int = 4000, tcp: int = 1000) -> int:
    """Copy a small, ordered sample of pcap `source` into `output`, for warm-ups; return its record count.

    The sample holds the first `first` records and, wherever they lie, the first `tcp` TCP records on
    `port`, so that a warm-up compiles the TCP paths as well as the UDP ones.
    """
    copied = tcp_copied = index = 0
    with source.open("rb") as stream, output.open("wb") as sink:
        sink.write(stream.read(PCAP_HEADER.size))
        while index < first or tcp_copied < tcp:
            header = stream.read(_RECORD_HEADER.size)
            if len(header) < _RECORD_HEADER.size:
                break
            body = stream.read(_RECORD_HEADER.unpack(header)[2])
            is_tcp = _is_tcp_on_port(body, port)
            if index < first or (is_tcp and tcp_copied < tcp):
                sink.write(header + body)
                copied += 1
                tcp_copied += is_tcp
            index += 1
    return copied


def _is_tcp_on_port(frame: bytes, port: int) -> bool:
    """True when an Ethernet frame carries TCP to or from `port` (IPv4 or IPv6)."""
    if len(frame) < 14 + 40 + 4:
        return False
    ethertype = struct.unpack_from("!H", frame, 12)[0]
    if ethertype == 0x0800:
        protocol, offset = frame[23], 14 + (frame[14] & 0x0F) * 4
    elif ethertype == 0x86DD:
        protocol, offset = frame[20], 14 + 40
    else:
        return False
    return protocol == 6 and port in struct.unpack_from("!HH", frame, offset)
