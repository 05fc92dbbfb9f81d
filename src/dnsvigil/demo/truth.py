"""The ground truth of a demo capture: what ingest, the RSSAC002 metrics and a DGA detector must find in it.

Counts come from the messages as they were encoded, so a test can hold readers and metrics to them exactly.
Keys follow RSSAC002 v5 (traffic-volume, traffic-sizes, rcode-volume, unique-sources).
"""

from __future__ import annotations

import datetime
import ipaddress
from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType

import numpy as np
import numpy.typing as npt

from dnsvigil.demo.capture import CaptureContent
from dnsvigil.demo.plan import EDNS_DO, EDNS_PRESENT, FLAG_TC
from dnsvigil.demo.traffic import Service

_TRANSPORTS = (("udp", 17), ("tcp", 6))
_SIZE_BIN = 16
_REQUEST_SIZES_OPEN_FROM = 288
_RESPONSE_SIZES_OPEN_FROM = 4096


@dataclass(frozen=True, slots=True)
class CaptureTruth:
    """What one demo capture holds, counted from the messages written into it.

    Attributes:
        file_name: the capture's file name.
        role: "resolver" or "authoritative".
        server_name: the server's host name.
        server_ipv4, server_ipv6: the server's addresses; every query goes to one of them.
        packets: records in the file (DNS messages and TCP control segments).
        messages: DNS messages in the file.
        tcp_connections: TCP connections, each carrying one query and its answer.
        truncated_responses: UDP responses with TC=1, each followed by the same query over TCP.
        traffic_volume: RSSAC002 traffic-volume: `dns-{udp,tcp}-queries-received-ipv{4,6}` and
            `dns-{udp,tcp}-responses-sent-ipv{4,6}`.
        rcode_volume: responses by RCODE.
        unique_sources: `num-sources-ipv4`, `num-sources-ipv6`, `num-sources-ipv6-aggregate` (/64s).
        traffic_sizes: `{udp,tcp}-{request,response}-sizes`, each `{"lo-hi": count}` in 16-byte bins.
        qtype_volume: queries by QTYPE.
        edns_queries: queries with an OPT record.
        do_queries: queries with the DO bit.
    """

    file_name: str
    role: str
    server_name: str
    server_ipv4: str
    server_ipv6: str
    packets: int
    messages: int
    tcp_connections: int
    truncated_responses: int
    traffic_volume: Mapping[str, int]
    rcode_volume: Mapping[int, int]
    unique_sources: Mapping[str, int]
    traffic_sizes: Mapping[str, Mapping[str, int]]
    qtype_volume: Mapping[int, int]
    edns_queries: int
    do_queries: int

    def queries(self, transport: str, ip_version: int) -> int:
        """Queries received over `transport` ("udp" or "tcp") and IP version 4 or 6."""
        return self.traffic_volume[f"dns-{transport}-queries-received-ipv{ip_version}"]

    def responses(self, transport: str, ip_version: int) -> int:
        """Responses sent over `transport` ("udp" or "tcp") and IP version 4 or 6."""
        return self.traffic_volume[f"dns-{transport}-responses-sent-ipv{ip_version}"]

    @property
    def server_addrs(self) -> tuple[str, str]:
        """The server's addresses, IPv4 then IPv6: RSSAC002 counts queries to them, responses from them."""
        return (self.server_ipv4, self.server_ipv6)

    @property
    def total_queries(self) -> int:
        """All queries in the capture."""
        return sum(self.queries(transport, version) for transport, _ in _TRANSPORTS for version in (4, 6))

    @property
    def total_responses(self) -> int:
        """All responses in the capture."""
        return sum(self.responses(transport, version) for transport, _ in _TRANSPORTS for version in (4, 6))


@dataclass(frozen=True, slots=True)
class InfectedClient:
    """A stub client of the resolver that runs a DGA: what a DGA detector should find in the resolver capture.

    Each of its DGA lookups is one UDP query and one answer: NXDOMAIN, or NOERROR with one A record for a
    controller. Its ordinary queries (not counted here) go on as before.

    Attributes:
        address: the address its DGA queries come from, as ingest writes it (`192.0.2.7`, `2001:db8::1`).
        family: the DGA family it runs (`dga_families.FAMILIES`), e.g. "suppobox".
        scheme: the family's generation scheme: arithmetic, hash, wordlist or permutation.
        dga_queries: its queries for DGA names.
        nxdomain_responses: how many of them were answered NXDOMAIN.
        names: the distinct DGA names it asked for, sorted, lower case without the trailing dot.
        controllers: those of `names` that resolved (its botnet's live controllers), sorted.
        first_query, last_query: when its first and last DGA queries arrived (UTC).

    Raises:
        ValueError: the counts or names contradict each other, or the address is not an IP address.
    """

    address: str
    family: str
    scheme: str
    dga_queries: int
    nxdomain_responses: int
    names: tuple[str, ...]
    controllers: tuple[str, ...]
    first_query: datetime.datetime
    last_query: datetime.datetime

    def __post_init__(self) -> None:
        ipaddress.ip_address(self.address)
        answered = self.dga_queries - self.nxdomain_responses
        if not len(self.names) <= self.dga_queries or not 0 <= answered <= self.dga_queries:
            raise ValueError(f"InfectedClient {self.address}: inconsistent counts")
        if not set(self.controllers) <= set(self.names) or self.first_query > self.last_query:
            raise ValueError(f"InfectedClient {self.address}: controllers or times out of order")

    @property
    def ip_version(self) -> int:
        """4 or 6."""
        return ipaddress.ip_address(self.address).version


def capture_truth(content: CaptureContent, service: Service, file_name: str) -> CaptureTruth:
    """Count what `content` holds."""
    query = ~content.is_response
    volume: dict[str, int] = {}
    for direction, selected in (("queries-received", query), ("responses-sent", ~query)):
        for transport, number in _TRANSPORTS:
            for version in (4, 6):
                chosen = selected & (content.transport == number) & (content.ip_version == version)
                volume[f"dns-{transport}-{direction}-ipv{version}"] = int(chosen.sum())
    rcodes = content.flags[~query] & 0xF
    qtypes = content.qtype[query]
    sources_v4 = content.client_address[query & (content.ip_version == 4)]
    sources_v6 = content.client_address[query & (content.ip_version == 6)]
    sizes: dict[str, Mapping[str, int]] = {}
    for transport, number in _TRANSPORTS:
        on_transport = content.transport == number
        sizes[f"{transport}-request-sizes"] = _histogram(
            content.length[on_transport & query], _REQUEST_SIZES_OPEN_FROM
        )
        sizes[f"{transport}-response-sizes"] = _histogram(
            content.length[on_transport & ~query], _RESPONSE_SIZES_OPEN_FROM
        )
    return CaptureTruth(
        file_name=file_name,
        role=service.role,
        server_name=service.name,
        server_ipv4=service.ipv4,
        server_ipv6=service.ipv6,
        packets=content.packets,
        messages=len(content.flags),
        tcp_connections=content.tcp_connections,
        truncated_responses=int(((content.flags & FLAG_TC) != 0).sum()),
        traffic_volume=MappingProxyType(volume),
        rcode_volume=_counts(rcodes),
        unique_sources=MappingProxyType(
            {
                "num-sources-ipv4": _distinct(sources_v4[:, :4]),
                "num-sources-ipv6": _distinct(sources_v6),
                "num-sources-ipv6-aggregate": _distinct(sources_v6[:, :8]),
            }
        ),
        traffic_sizes=MappingProxyType(sizes),
        qtype_volume=_counts(qtypes),
        edns_queries=int(((content.edns[query] & EDNS_PRESENT) != 0).sum()),
        do_queries=int(((content.edns[query] & EDNS_DO) != 0).sum()),
    )


def _distinct(rows: npt.NDArray[np.uint8]) -> int:
    """How many distinct rows (addresses or prefixes) `rows` holds."""
    packed = np.ascontiguousarray(rows).view(np.dtype((np.void, rows.shape[1])))
    return len(np.unique(packed))


def _counts(values: npt.NDArray[np.int64]) -> Mapping[int, int]:
    keys, counts = np.unique(values, return_counts=True)
    return MappingProxyType({int(key): int(count) for key, count in zip(keys, counts, strict=True)})


def _histogram(lengths: npt.NDArray[np.int64], open_from: int) -> Mapping[str, int]:
    """RSSAC002 size bins: `lo-hi` 16 bytes wide, the last `open_from-` open-ended; empty bins left out."""
    last = open_from // _SIZE_BIN
    bins = np.minimum(lengths // _SIZE_BIN, last)
    keys, counts = np.unique(bins, return_counts=True)
    return MappingProxyType(
        {
            (f"{open_from}-" if key == last else f"{key * _SIZE_BIN}-{key * _SIZE_BIN + _SIZE_BIN - 1}"): int(
                count
            )
            for key, count in zip(keys, counts, strict=True)
        }
    )
