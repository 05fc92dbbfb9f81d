"""TCP stream reassembly: segmentation, order, retransmission, gaps, flow ends and limits."""

from __future__ import annotations

import itertools
import random

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from dnsvigil.ingest.packets import PacketRows
from dnsvigil.ingest.reasons import Reason, new_counts
from dnsvigil.ingest.tcp_streams import ReassembledMessages, TcpReassembler, flow_key, flow_keys
from tests.ingest import pcap_builder as b

CLIENT = flow_key(4, b.address16("192.0.2.1"), b.address16("198.51.100.53"), 40000, 53)
OTHER = flow_key(4, b.address16("192.0.2.2"), b.address16("198.51.100.53"), 40001, 53)
ISN = 5000
M1, M2, M3 = (
    b.dns_message(1, "one.example"),
    b.dns_message(2, "two.example"),
    b.dns_message(3, "three.example"),
)
STREAM = b.length_prefixed(M1, M2, M3)


class Feed:
    """A reassembler, its counts, and a clock: each segment gets the next time and record number."""

    def __init__(self, **limits: int) -> None:
        self.reassembler = TcpReassembler(**limits)
        self.counts = new_counts()
        self.clock = 0

    def segment(self, seq: int, payload: bytes = b"", flags: int = b.ACK, flow: bytes = CLIENT) -> int:
        self.clock += 1
        self.reassembler.add_segment(flow, seq, flags, payload, self.clock * 1000, self.clock, self.counts)
        return self.clock

    def data(self, start: int, end: int, *, flow: bytes = CLIENT, base: int = ISN + 1) -> int:
        """Send STREAM[start:end] at its place in the stream."""
        return self.segment((base + start) & 0xFFFFFFFF, STREAM[start:end], b.ACK | b.PSH, flow)

    def messages(self) -> list[tuple[bytes, int, int]]:
        """(message, ts_ns, record) of the messages completed so far."""
        taken = self.reassembler.take_messages()
        assert set(taken.flow) <= {CLIENT, OTHER}
        lengths = taken.lengths().tolist()
        return [
            (bytes(taken.data[offset : offset + length]), ts, record)
            for offset, length, ts, record in zip(
                taken.offset, lengths, taken.ts_ns, taken.record, strict=True
            )
        ]

    def reasons(self) -> dict[Reason, int]:
        return {Reason(index): int(value) for index, value in enumerate(self.counts) if value}


def test_flow_keys_of_rows_and_their_columns() -> None:
    rows = PacketRows(2)
    rows.ip_version[:] = [4, 6]
    rows.src_addr[:] = [list(b.address16("192.0.2.1")), list(b.address16("2001:db8::1"))]
    rows.dst_addr[:] = [list(b.address16("198.51.100.53")), list(b.address16("2001:db8::53"))]
    rows.src_port[:] = [40000, 53]
    rows.dst_port[:] = [53, 65535]
    keys = flow_keys(rows)
    assert keys[0] == CLIENT
    assert keys[1] == flow_key(6, b.address16("2001:db8::1"), b.address16("2001:db8::53"), 53, 65535)
    messages = ReassembledMessages()
    for key in keys:
        messages.add(memoryview(M1), 0, 0, key)
    versions, sources, destinations, src_ports, dst_ports = messages.flow_columns()
    assert versions.tolist() == [4, 6]
    assert sources.tobytes() == rows.src_addr.tobytes()
    assert destinations.tobytes() == rows.dst_addr.tobytes()
    assert src_ports.tolist() == [40000, 53]
    assert dst_ports.tolist() == [53, 65535]
    assert messages.lengths().tolist() == [len(M1), len(M1)]


def cut(*points: int) -> list[tuple[int, int]]:
    edges = [0, *points, len(STREAM)]
    return list(itertools.pairwise(edges))


def test_several_messages_in_one_segment() -> None:
    feed = Feed()
    feed.segment(ISN, flags=b.SYN)
    record = feed.data(0, len(STREAM))
    assert feed.messages() == [
        (M1, record * 1000, record),
        (M2, record * 1000, record),
        (M3, record * 1000, record),
    ]
    assert feed.reasons() == {}


def test_one_message_over_three_segments_takes_the_last_ones_time() -> None:
    feed = Feed()
    feed.segment(ISN, flags=b.SYN)
    first_end = 2 + len(M1)
    feed.data(0, 1)
    assert feed.messages() == []
    feed.data(1, 10)
    assert feed.messages() == []
    record = feed.data(10, first_end)
    assert feed.messages() == [(M1, record * 1000, record)]


def test_out_of_order_segments_wait_for_the_gap() -> None:
    feed = Feed()
    feed.segment(ISN, flags=b.SYN)
    pieces = cut(7, 30, 2 + len(M1) + 5)
    feed.data(*pieces[2])
    feed.data(*pieces[1])
    assert feed.messages() == []
    record = feed.data(*pieces[0])  # fills the gap: the first message completes now
    assert feed.messages() == [(M1, record * 1000, record)]
    last = feed.data(*pieces[3])
    assert feed.messages() == [(M2, last * 1000, last), (M3, last * 1000, last)]
    assert feed.reasons() == {}


def test_retransmitted_and_overlapping_segments_are_read_once() -> None:
    feed = Feed()
    feed.segment(ISN, flags=b.SYN)
    feed.data(0, 20)
    feed.data(0, 20)  # retransmission
    feed.data(10, 40)  # overlaps what is in place
    feed.data(5, 15)  # wholly old
    feed.data(40, len(STREAM))
    feed.data(30, len(STREAM))  # late duplicate of the end
    assert [message for message, _, _ in feed.messages()] == [M1, M2, M3]
    assert feed.reasons() == {}


def test_syn_data_and_sequence_wraparound() -> None:
    feed = Feed()
    isn = 0xFFFFFFF0
    feed.segment(isn, STREAM[:30], flags=b.SYN)  # TCP Fast Open: data in the SYN
    feed.data(30, len(STREAM), base=isn + 1)
    assert [message for message, _, _ in feed.messages()] == [M1, M2, M3]


def test_a_flow_seen_without_its_syn_starts_at_its_first_data() -> None:
    feed = Feed()
    feed.data(0, 25, base=123)
    feed.data(25, len(STREAM), base=123)
    assert [message for message, _, _ in feed.messages()] == [M1, M2, M3]


def test_fin_ends_the_flow_once_everything_before_it_arrived() -> None:
    feed = Feed()
    feed.segment(ISN, flags=b.SYN)
    feed.data(30, len(STREAM))
    feed.segment(ISN + 1 + len(STREAM), flags=b.FIN | b.ACK)
    assert feed.reassembler.open_flows == 1  # bytes before the FIN are still missing
    feed.data(0, 30)
    assert feed.reassembler.open_flows == 0
    assert [message for message, _, _ in feed.messages()] == [M1, M2, M3]
    assert feed.reasons() == {}


def test_rst_ends_the_flow_and_counts_an_unfinished_message() -> None:
    feed = Feed()
    feed.segment(ISN, flags=b.SYN)
    feed.data(0, 2 + len(M1) + 4)
    feed.segment(ISN + 1, flags=b.RST)
    assert feed.reassembler.open_flows == 0
    assert [message for message, _, _ in feed.messages()] == [M1]
    assert feed.reasons() == {Reason.TCP_STREAM_GAP: 1}


def test_a_gap_that_never_fills_is_counted_and_reading_resumes_after_it() -> None:
    feed = Feed()
    feed.segment(ISN, flags=b.SYN)
    m2_start = 2 + len(M1)
    feed.data(0, 10)  # M1 starts, its rest never comes
    feed.data(m2_start, len(STREAM))
    feed.segment(ISN + 1 + len(STREAM), flags=b.FIN | b.ACK)
    assert feed.messages() == []
    feed.reassembler.finish(feed.counts)
    assert [message for message, _, _ in feed.messages()] == [M2, M3]
    assert feed.reasons() == {Reason.TCP_STREAM_GAP: 1}
    assert feed.reassembler.open_flows == 0


def test_too_many_bytes_behind_a_gap_give_it_up() -> None:
    feed = Feed(max_waiting_bytes=40)
    feed.segment(ISN, flags=b.SYN)
    m2_start = 2 + len(M1)
    feed.data(m2_start, m2_start + 20)
    assert feed.messages() == []
    record = feed.data(m2_start + 20, len(STREAM))
    assert [(message, seen) for message, _, seen in feed.messages()] == [(M2, record), (M3, record)]
    assert feed.reasons() == {Reason.TCP_STREAM_GAP: 1}


def test_bad_lengths() -> None:
    feed = Feed()
    feed.segment(ISN, flags=b.SYN)
    stream = b"\x00\x00" + b"\x00\x05hello" + b.length_prefixed(M1) + b"\x01\x00" + b"partial"
    feed.segment(ISN + 1, stream)
    feed.segment(ISN + 1 + len(stream), flags=b.FIN | b.ACK)
    assert [message for message, _, _ in feed.messages()] == [M1]
    # The stream was whole up to its FIN, so the last message's length was wrong rather than cut by a gap.
    assert feed.reasons() == {Reason.TCP_BAD_LENGTH: 2, Reason.DNS_TOO_SHORT: 1}


def test_directions_and_connections_are_separate_flows() -> None:
    feed = Feed()
    feed.segment(ISN, flags=b.SYN)
    feed.segment(77, flags=b.SYN, flow=OTHER)
    feed.data(0, 10)
    feed.data(0, 2 + len(M1), flow=OTHER, base=78)
    feed.data(10, 2 + len(M1))
    assert [message for message, _, _ in feed.messages()] == [M1, M1]
    # A new SYN on the same ports is a new connection: what the old one left unfinished is a gap.
    feed.data(2 + len(M1), 2 + len(M1) + 4)
    feed.segment(9000, flags=b.SYN)
    feed.data(0, 2 + len(M1), base=9001)
    assert [message for message, _, _ in feed.messages()] == [M1]
    assert feed.reasons() == {Reason.TCP_STREAM_GAP: 1}


def test_a_retransmitted_syn_changes_nothing() -> None:
    feed = Feed()
    feed.segment(ISN, flags=b.SYN)
    feed.data(0, 10)
    feed.segment(ISN, flags=b.SYN)
    feed.data(10, len(STREAM))
    assert [message for message, _, _ in feed.messages()] == [M1, M2, M3]


def test_flow_limits_and_idle_flows() -> None:
    feed = Feed(max_flows=1)
    feed.data(0, 5)
    feed.data(0, 5, flow=OTHER)  # pushes the first flow out: its unfinished message is a gap
    assert feed.reassembler.open_flows == 1
    assert feed.reasons() == {Reason.TCP_STREAM_GAP: 1}

    idle = Feed(idle_timeout_ns=10_000)
    idle.data(0, 5)
    idle.data(0, 5, flow=OTHER)
    assert idle.reassembler.open_flows == 2
    idle.clock += 100  # 100 µs later, a batch of rows from elsewhere: both flows have been idle too long
    idle.reassembler.add_rows([], idle.counts)
    assert idle.reassembler.open_flows == 2  # no rows, no time has passed for the reassembler
    idle.reassembler.expire_idle(idle.clock * 1000, idle.counts)
    assert idle.reassembler.open_flows == 0
    assert idle.reasons() == {Reason.TCP_STREAM_GAP: 2}


def test_the_bytes_all_flows_hold_are_bounded() -> None:
    feed = Feed(max_held_bytes=30)
    feed.data(0, 20)
    assert feed.reassembler.held_bytes == 20
    feed.data(0, 20, flow=OTHER)  # 40 bytes held: the least recently active flow is ended
    assert feed.reassembler.open_flows == 1
    assert feed.reassembler.held_bytes == 20
    assert feed.reasons() == {Reason.TCP_STREAM_GAP: 1}
    feed.data(20, len(STREAM), flow=OTHER)
    assert [message for message, _, _ in feed.messages()] == [M1, M2, M3]
    assert feed.reassembler.held_bytes == 0


@settings(max_examples=200, deadline=1000)
@given(
    sizes=st.lists(st.integers(1, 40), min_size=1, max_size=30),
    seed=st.integers(0, 2**32 - 1),
    duplicates=st.integers(0, 5),
    isn=st.integers(0, 2**32 - 1),
)
def test_any_segmentation_order_and_duplication_gives_the_messages_back(sizes, seed, duplicates, isn) -> None:
    feed = Feed()
    feed.segment(isn, flags=b.SYN)
    pieces: list[tuple[int, int]] = []
    start = 0
    for size in sizes:
        if start >= len(STREAM):
            break
        pieces.append((start, min(start + size, len(STREAM))))
        start += size
    if start < len(STREAM):
        pieces.append((start, len(STREAM)))
    shuffler = random.Random(seed)
    pieces += [shuffler.choice(pieces) for _ in range(duplicates)]
    shuffler.shuffle(pieces)
    covered = np.zeros(len(STREAM), bool)
    complete_at: list[int] = []  # after each segment, how many leading bytes are in place
    for piece in pieces:
        record = feed.data(*piece, base=isn + 1)
        covered[piece[0] : piece[1]] = True
        complete_at.append(int(np.argmin(covered)) if not covered.all() else len(STREAM))
        assert record == len(complete_at) + 1
    ends = np.cumsum([2 + len(M1), 2 + len(M2), 2 + len(M3)])
    # Each message takes the time and record of the segment after which all its bytes were in place.
    expected = [next(index for index, done in enumerate(complete_at) if done >= end) + 2 for end in ends]
    assert feed.messages() == [
        (message, at * 1000, at) for message, at in zip([M1, M2, M3], expected, strict=True)
    ]
    assert feed.reasons() == {}
    assert feed.reassembler.held_bytes == 0
