"""Turn a day of traffic into a capture file: truncation and TCP retries, TCP sessions, packets in time order.

A UDP answer larger than the client's EDNS buffer (512 bytes without EDNS, RFC 6891 6.2.5) or the server's
limit goes out truncated (TC=1, no records) and the client asks again over TCP (RFC 7766). A TCP exchange
is a whole connection: handshake, the query and the answer each in one segment after their 2-byte length,
then both FINs, with consistent sequence numbers so that stream reassembly works.
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from dnsvigil.demo import packets as k
from dnsvigil.demo import plan as p
from dnsvigil.demo.messages import encode_messages, measure_messages
from dnsvigil.demo.names import NameTables
from dnsvigil.demo.traffic import Traffic

# One TCP exchange, packet by packet: who sends it, its flags, the message it carries (0 none, 1 query,
# 2 response), and the sequence and acknowledgement numbers as (ISN, bytes) offsets from each side's ISN.
_TCP_FROM_SERVER = np.array([0, 1, 0, 0, 1, 0, 1, 0], dtype=np.uint8)
_PUSH = k.TCP_PSH | k.TCP_ACK
_FINISH = k.TCP_FIN | k.TCP_ACK
_TCP_FLAGS = np.array(
    [k.TCP_SYN, k.TCP_SYN | k.TCP_ACK, k.TCP_ACK, _PUSH, _PUSH, _FINISH, _FINISH, k.TCP_ACK], dtype=np.uint8
)
_TCP_CARRIES = np.array([0, 0, 0, 1, 2, 0, 0, 0])
# Sequence (or acknowledgement) number = ISN + constant + query bytes * q + response bytes * r.
_CLIENT_CONSTANT = np.array([0, 1, 1, 1, 1, 1, 2, 2])
_CLIENT_QUERY = np.array([0, 0, 0, 0, 1, 1, 1, 1])
_SERVER_CONSTANT = np.array([0, 0, 1, 1, 1, 1, 1, 2])
_SERVER_RESPONSE = np.array([0, 0, 0, 0, 0, 1, 1, 1])
_HAS_ACK = np.array([0, 1, 1, 1, 1, 1, 1, 1], dtype=bool)
_SERVER_TURNAROUND_US = 15
_EPHEMERAL_FIRST, _EPHEMERAL_END = 32768, 61000  # Linux's default ip_local_port_range

Int64s = npt.NDArray[np.int64]
Bools = npt.NDArray[np.bool_]


@dataclass(frozen=True, slots=True)
class CaptureContent:
    """A capture file's bytes and what each DNS message in it is, for the ground truth.

    Attributes:
        data: the file's bytes.
        packets: packets (records) in the file.
        tcp_connections: TCP connections in the file.
        is_response: per message, QR.
        transport: per message, 17 (UDP) or 6 (TCP).
        ip_version: per message, 4 or 6.
        client_address: per message, uint8 (n, 16), the client's address (the query's source).
        flags: per message, the header's flags word (RCODE in the low 4 bits).
        qtype: per message.
        length: per message, the DNS message length without any TCP length prefix.
        edns: per message, the plan's `edns` bits.
    """

    data: bytes
    packets: int
    tcp_connections: int
    is_response: Bools
    transport: npt.NDArray[np.uint8]
    ip_version: npt.NDArray[np.uint8]
    client_address: npt.NDArray[np.uint8]
    flags: Int64s
    qtype: Int64s
    length: Int64s
    edns: Int64s


def build_capture(
    traffic: Traffic, tables: NameTables, day_start_us: int, rng: np.random.Generator, *, pcapng: bool
) -> CaptureContent:
    """Decide transports, encode every message and frame every packet of `traffic` into a capture file.

    Args:
        traffic: the day's queries and planned answers.
        tables: the names the plans refer to.
        day_start_us: the capture day's midnight UTC, microseconds since the Unix epoch.
        rng: the world's random generator (ports, sequence numbers, flow labels).
        pcapng: write pcapng instead of pcap.
    """
    now = day_start_us // 1_000_000
    service = traffic.service
    full_lengths = measure_messages(traffic.responses, tables, now)
    query_edns = (traffic.queries["edns"] & p.EDNS_PRESENT) != 0
    limit = np.where(query_edns, np.clip(traffic.queries["udp_size"], 512, service.max_udp), 512)
    truncated = traffic.answered & ~traffic.tcp & (full_lengths > limit)
    responses = traffic.responses.copy()
    responses["mode"][truncated] = p.MODE_EMPTY
    responses["flags"][truncated] |= p.FLAG_TC

    retry = np.flatnonzero(truncated)
    source = np.concatenate([np.arange(len(traffic)), retry])
    client = traffic.client[source]
    rtt = traffic.clients.rtt_us[client]
    retry_time = traffic.time_us[retry] + traffic.latency_us[retry] + rtt[len(traffic) :]
    time_us = np.concatenate([traffic.time_us, retry_time + rng.integers(100, 2_000, len(retry))])
    tcp = np.concatenate([traffic.tcp, np.ones(len(retry), dtype=bool)])
    latency = np.concatenate([traffic.latency_us, rng.integers(40, 400, len(retry))])
    # A server may drop a UDP query; a TCP connection it accepted gets its answer.
    answered = np.concatenate([traffic.answered | traffic.tcp, np.ones(len(retry), dtype=bool)])
    response_plans = np.concatenate([responses, traffic.responses[retry]])
    exchanges = len(source)
    ipv6 = traffic.ipv6[source]

    plans = np.concatenate([traffic.queries[source], response_plans[answered]])
    messages, offsets, lengths = encode_messages(plans, tables, now)
    response_index = np.full(exchanges, -1, dtype=np.int64)
    response_index[answered] = exchanges + np.arange(int(answered.sum()))

    packets = _packets(rng, time_us + day_start_us, tcp, answered, latency, rtt, response_index, lengths)
    endpoints = k.Endpoints(
        client_address=np.where(
            ipv6[:, None], traffic.clients.ipv6[client], traffic.clients.ipv4[client]
        ).astype(np.uint8),
        ip_version=np.where(ipv6, 6, 4).astype(np.uint8),
        transport=np.where(tcp, 6, 17).astype(np.uint8),
        client_port=_client_ports(rng, client, time_us, tcp, len(traffic.clients)),
        client_ttl=traffic.clients.ttl[client],
        flow_label=np.where(ipv6, rng.integers(1, 1 << 20, exchanges), 0).astype(np.int64),
        server_ipv4=_address_row(service.ipv4),
        server_ipv6=_address_row(service.ipv6),
    )
    data = k.write_capture(packets, endpoints, messages, offsets, lengths, pcapng=pcapng)
    exchange_of_message = np.concatenate([np.arange(exchanges), np.flatnonzero(answered)])
    return CaptureContent(
        data=data,
        packets=len(packets),
        tcp_connections=int(tcp.sum()),
        is_response=(plans["flags"] & p.FLAG_QR) != 0,
        transport=endpoints.transport[exchange_of_message],
        ip_version=endpoints.ip_version[exchange_of_message],
        client_address=endpoints.client_address[exchange_of_message],
        flags=plans["flags"].astype(np.int64),
        qtype=plans["qtype"].astype(np.int64),
        length=lengths,
        edns=plans["edns"].astype(np.int64),
    )


def _client_ports(
    rng: np.random.Generator, client: Int64s, time_us: Int64s, tcp: Bools, clients: int
) -> npt.NDArray[np.uint16]:
    """Source ports: random per UDP query (RFC 5452); for TCP, each client counts up through the
    ephemeral range from a random start, so no connection reuses a port of an earlier one."""
    ports = rng.integers(1024, 65536, len(client))
    connections = np.flatnonzero(tcp)
    order = connections[np.lexsort((time_us[connections], client[connections]))]
    owner = client[order]
    first_of_client = np.r_[True, owner[1:] != owner[:-1]]
    group_start = np.maximum.accumulate(np.where(first_of_client, np.arange(len(order)), 0))
    rank = np.arange(len(order)) - group_start
    first_port = rng.integers(_EPHEMERAL_FIRST, _EPHEMERAL_END, clients)
    span = _EPHEMERAL_END - _EPHEMERAL_FIRST
    ports[order] = _EPHEMERAL_FIRST + (first_port[owner] - _EPHEMERAL_FIRST + rank) % span
    return ports.astype(np.uint16)


def _address_row(text: str) -> npt.NDArray[np.uint8]:
    row = np.zeros(16, dtype=np.uint8)
    packed = ipaddress.ip_address(text).packed
    row[: len(packed)] = np.frombuffer(packed, dtype=np.uint8)
    return row


def _packets(
    rng: np.random.Generator,
    time_us: Int64s,
    tcp: Bools,
    answered: Bools,
    latency: Int64s,
    rtt: Int64s,
    response_index: Int64s,
    lengths: Int64s,
) -> npt.NDArray[np.void]:
    """Every packet of every exchange, sorted by capture time (ties keep their order within an exchange)."""
    udp = np.flatnonzero(~tcp)
    udp_answered = udp[answered[udp]]
    connections = np.flatnonzero(tcp)
    rows = len(udp) + len(udp_answered) + 8 * len(connections)
    packets = np.zeros(rows, dtype=k.PACKET_DTYPE)
    order_key = np.zeros(rows, dtype=np.int64)

    first, second = len(udp), len(udp) + len(udp_answered)
    packets["ts_us"][:first] = time_us[udp]
    packets["exchange"][:first] = udp
    packets["message"][:first] = udp
    packets["ts_us"][first:second] = time_us[udp_answered] + latency[udp_answered]
    packets["exchange"][first:second] = udp_answered
    packets["message"][first:second] = response_index[udp_answered]
    packets["from_server"][first:second] = 1
    packets["role"][first:second] = 1
    order_key[:second] = 2 * np.concatenate([udp, udp_answered]) * 8 + packets["role"][:second]

    start = time_us[connections][:, None]
    trip = rtt[connections][:, None]
    answer = start + trip + 20 + latency[connections][:, None]
    times = np.hstack(
        [
            start,
            start + _SERVER_TURNAROUND_US,
            start + trip,
            start + trip + 20,
            answer,
            answer + trip,
            answer + trip + _SERVER_TURNAROUND_US,
            answer + 2 * trip + _SERVER_TURNAROUND_US,
        ]
    )
    query_bytes = (lengths[connections] + 2)[:, None]
    if np.any(response_index[connections] < 0):
        raise ValueError("every TCP exchange must be answered")
    response_bytes = (lengths[response_index[connections]] + 2)[:, None]
    client_isn = rng.integers(0, 1 << 32, len(connections))[:, None]
    server_isn = rng.integers(0, 1 << 32, len(connections))[:, None]
    client_number = client_isn + _CLIENT_CONSTANT + _CLIENT_QUERY * query_bytes
    server_number = server_isn + _SERVER_CONSTANT + _SERVER_RESPONSE * response_bytes
    from_server = _TCP_FROM_SERVER.astype(bool)
    sequence = np.where(from_server, server_number, client_number)
    acknowledgement = np.where(_HAS_ACK, np.where(from_server, client_number, server_number), 0)
    carried = np.select(
        [_TCP_CARRIES == 1, _TCP_CARRIES == 2],
        [connections[:, None], response_index[connections][:, None]],
        -1,
    )
    tail = packets[second:]
    tail["ts_us"] = times.ravel()
    tail["exchange"] = np.repeat(connections, 8)
    tail["message"] = carried.ravel()
    tail["seq"] = (sequence & 0xFFFFFFFF).ravel()
    tail["ack"] = (acknowledgement & 0xFFFFFFFF).ravel()
    tail["from_server"] = np.tile(_TCP_FROM_SERVER, len(connections))
    tail["tcp_flags"] = np.tile(_TCP_FLAGS, len(connections))
    tail["role"] = np.tile(np.arange(8, dtype=np.uint8), len(connections))
    order_key[second:] = (2 * np.repeat(connections, 8) + 1) * 8 + tail["role"]
    return packets[np.lexsort((order_key, packets["ts_us"]))]
