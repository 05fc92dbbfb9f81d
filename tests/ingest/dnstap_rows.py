"""Rows out of dnstap batches, and the addresses and times the dnstap tests share."""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from dnsvigil.ingest.dnstap_stream import read_dnstap
from dnsvigil.ingest.reasons import Reason, new_counts
from dnsvigil.ingest.slices import CaptureBatch
from tests.ingest import dnstap_builder as b

CLIENT = b"\xc0\x00\x02\x01"  # 192.0.2.1
SERVER = b"\xc6\x33\x64\x35"  # 198.51.100.53
CLIENT6 = bytes.fromhex("20010db8000000000000000000000001")
SERVER6 = bytes.fromhex("20010db8000000000000000000000053")
T0 = (1_700_000_000, 123_456_789)
T1 = (1_700_000_001, 5)


@dataclass(frozen=True)
class Row:
    message: bytes
    ts_ns: int
    ip_version: int
    src: str
    dst: str
    src_port: int
    dst_port: int
    transport: int


def rows_of(batches: Iterable[CaptureBatch]) -> list[Row]:
    out = []
    for batch in batches:
        s = batch.slices
        assert s.buffer.dtype == np.uint8
        for i in range(len(s)):
            start, length = int(s.offset[i]), int(s.length[i])
            assert start >= 0 and start + length <= len(s.buffer)
            version = int(s.ip_version[i])
            width = 4 if version == 4 else 16
            assert not s.src_addr[i, width:].any() and not s.dst_addr[i, width:].any()
            out.append(
                Row(
                    message=s.buffer[start : start + length].tobytes(),
                    ts_ns=int(s.ts_ns[i]),
                    ip_version=version,
                    src=str(ipaddress.ip_address(s.src_addr[i, :width].tobytes())),
                    dst=str(ipaddress.ip_address(s.dst_addr[i, :width].tobytes())),
                    src_port=int(s.src_port[i]),
                    dst_port=int(s.dst_port[i]),
                    transport=int(s.transport[i]),
                )
            )
    return out


def counts_of(batches: Iterable[CaptureBatch]) -> dict[str, int]:
    total = new_counts()
    for batch in batches:
        total += batch.counts
    return {reason.label: int(total[reason]) for reason in Reason if total[reason]}


def read_all(path: Path, **options: int) -> tuple[list[Row], dict[str, int], list[CaptureBatch]]:
    batches = list(read_dnstap(path, **options))
    return rows_of(batches), counts_of(batches), batches


def query(name: str = "example.com", **fields: object) -> b.TapMessage:
    return b.TapMessage(query_message=b.dns_query(name), **fields)  # type: ignore[arg-type]


def ns(time: tuple[int, int]) -> int:
    return time[0] * 1_000_000_000 + time[1]


def many_messages(count: int) -> list[bytes]:
    out = []
    for i in range(count):
        name = f"host{i}.{'x' * (i % 23)}.example"
        if i % 3 == 0:
            out.append(query(name, query_port=1024 + i).encode())
        else:
            out.append(
                b.TapMessage(
                    message_type=b.CLIENT_RESPONSE,
                    socket_family=b.INET6,
                    socket_protocol=b.TCP if i % 2 else b.UDP,
                    query_address=CLIENT6,
                    response_address=SERVER6,
                    query_port=1024 + i,
                    query_time=T0,
                    query_message=b.dns_query(name) if i % 3 == 1 else None,
                    response_time=(T1[0] + i, i),
                    response_message=b.dns_response(name, SERVER),
                ).encode()
            )
    return out
