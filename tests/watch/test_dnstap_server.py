"""The dnstap socket: the Frame Streams handshake, several senders, broken or vanishing ones, the file."""

from __future__ import annotations

import asyncio
import socket
import struct
import threading
import time
from pathlib import Path

import pytest

from dnsvigil.errors import UsageError
from dnsvigil.ingest.dnstap_stream import DnstapStreamDecoder
from dnsvigil.store.warehouse import Warehouse
from dnsvigil.watch.batch_queue import BatchQueue
from dnsvigil.watch.dnstap_server import GATHER_BELOW_BYTES, GATHER_SECONDS, DnstapListener, claim_socket_path
from dnsvigil.watch.dnstap_watch import warm_up
from dnsvigil.watch.watcher import WatchRun
from tests.ingest import dnstap_builder as b
from tests.watch.support import (
    Collected,
    connect,
    dnstap_watcher,
    frames,
    send_bidirectional,
    settings,
    stored_rows,
    wait_for,
)


def test_bidirectional_handshake_accepts_dnstap_and_finishes(home: Path, socket_path: Path) -> None:
    with dnstap_watcher(home, socket_path) as watcher:
        accept, finish, after = send_bidirectional(socket_path, frames(25))
        wait_for(lambda: any("sent STOP" in line for line in watcher.events.infos), what="STOP")
    # ACCEPT names the one content type taken, of the two READY offered; FINISH answers STOP; then close.
    assert accept == b.control_frame(b.ACCEPT, [b.DNSTAP_CONTENT_TYPE])
    assert finish == b.control_frame(b.FINISH)
    assert after == b""
    assert watcher.summary is not None
    assert (watcher.summary.received, watcher.summary.stored, watcher.summary.dropped) == (25, 25, 0)
    (peer,) = watcher.summary.peers
    assert (peer.state, peer.messages, peer.errors) == ("finished", 25, 0)
    assert stored_rows(home) == 25
    assert (
        stored_rows(home, "qname = 'host7.example.com' AND source_file = 'unix:" + str(socket_path) + "'")
        == 1
    )


def test_a_unidirectional_stream_gets_no_answer(home: Path, socket_path: Path) -> None:
    with dnstap_watcher(home, socket_path) as watcher, connect(socket_path) as sender:
        sender.sendall(b.dnstap_stream(frames(3)))
        sender.shutdown(socket.SHUT_WR)
        assert sender.recv(64) == b""  # no ACCEPT, no FINISH: a file-like stream is only read
        wait_for(lambda: watcher.events.infos and "sent STOP" in watcher.events.infos[-1], what="STOP")
    assert watcher.summary is not None and watcher.summary.stored == 3


def test_broken_and_vanishing_senders_are_told_and_the_others_go_on(home: Path, socket_path: Path) -> None:
    with dnstap_watcher(home, socket_path) as watcher:
        # Cut off in the middle of a data frame: the complete frames before are kept.
        with connect(socket_path) as cut:
            whole = b"".join(b.data_frame(payload) for payload in frames(4, first=100))
            cut.sendall(b.control_frame(b.START) + whole + struct.pack(">I", 500) + b"only part")
        # Not Frame Streams at all.
        with connect(socket_path) as garbage:
            garbage.sendall(b"GET / HTTP/1.1\r\n\r\n")
            assert garbage.recv(64) == b""  # closed by the watcher
        # A READY offering only another content type.
        with connect(socket_path) as other:
            other.sendall(b.control_frame(b.READY, [b"protobuf:other.Thing"]))
            assert other.recv(64) == b""
        # A frame longer than any dnstap frame: the stream is broken from there on.
        with connect(socket_path) as huge:
            huge.sendall(
                b.control_frame(b.START) + b.data_frame(frames(1, first=200)[0]) + struct.pack(">I", 1 << 30)
            )
            assert huge.recv(64) == b""
        # Connects and leaves without a byte.
        connect(socket_path).close()
        # A well-behaved sender afterwards is served as usual.
        accept, finish, _ = send_bidirectional(socket_path, frames(10, first=300))
        assert accept and finish == b.control_frame(b.FINISH)
        wait_for(lambda: len(watcher.events.warnings) >= 4, what="the warnings")
    summary = watcher.summary
    assert summary is not None
    by_state = sorted((peer.state, peer.messages, peer.errors) for peer in summary.peers)
    assert by_state == [
        ("broken", 0, 1),
        ("broken", 0, 1),
        ("broken", 1, 1),
        ("disconnected", 0, 0),
        ("disconnected", 4, 1),
        ("finished", 10, 0),
    ]
    assert summary.received == summary.stored == 15
    assert summary.malformed["dnstap_bad_frame"] == 2  # the cut frame and the overlong one
    warnings = "\n".join(watcher.events.warnings)
    assert "disconnected in the middle of a frame" in warnings
    assert "not a Frame Streams file" in warnings
    assert "READY names content type 'protobuf:other.Thing', expected 'protobuf:dnstap.Dnstap'" in warnings
    assert "a frame could not be read" in warnings
    assert stored_rows(home) == 15


def test_several_senders_at_once(home: Path, socket_path: Path) -> None:
    with dnstap_watcher(home, socket_path) as watcher:
        senders = [connect(socket_path) for _ in range(3)]
        for number, sender in enumerate(senders):
            sender.sendall(b.control_frame(b.START))
            sender.sendall(b"".join(b.data_frame(payload) for payload in frames(20, first=number * 20)))
        for sender in senders:
            sender.sendall(b.control_frame(b.STOP))
            sender.close()
        wait_for(lambda: sum("sent STOP" in line for line in watcher.events.infos) == 3, what="three STOPs")
    assert watcher.summary is not None
    assert [peer.messages for peer in watcher.summary.peers] == [20, 20, 20]
    assert stored_rows(home) == 60 and stored_rows(home, "qname = 'host59.example.com'") == 1


def test_stopping_closes_open_connections_and_stores_what_came(home: Path, socket_path: Path) -> None:
    sender = None
    with dnstap_watcher(home, socket_path) as watcher:
        sender = connect(socket_path)
        sender.sendall(b.control_frame(b.START) + b"".join(b.data_frame(p) for p in frames(7)))
        wait_for(lambda: watcher.summary is None and stored_rows_or_zero(home) == 7, what="7 rows stored")
    assert sender.recv(64) == b""
    sender.close()
    assert watcher.summary is not None
    assert [peer.state for peer in watcher.summary.peers] == ["stopped"]
    assert not socket_path.exists()  # the socket file is removed


def stored_rows_or_zero(home: Path) -> int:
    return stored_rows(home) if (home / "catalog.json").exists() else 0


def test_max_messages_stops_the_watcher_after_exactly_that_many(home: Path, socket_path: Path) -> None:
    with (
        dnstap_watcher(home, socket_path, settings(max_messages=30)) as watcher,
        connect(socket_path) as sender,
    ):
        sender.sendall(b.control_frame(b.START) + b"".join(b.data_frame(p) for p in frames(50)))
        wait_for(lambda: watcher.stop.is_set(), what="the stop")
    assert watcher.summary is not None
    assert (watcher.summary.received, watcher.summary.stored) == (30, 30)
    assert stored_rows(home) == 30


def test_a_stale_socket_is_replaced_and_a_live_one_refused(tmp_path: Path, socket_path: Path) -> None:
    stale = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    stale.bind(str(socket_path))
    stale.close()  # the file stays, nobody listens
    claim_socket_path(socket_path)
    assert not socket_path.exists()
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as live:
        live.bind(str(socket_path))
        live.listen()
        with pytest.raises(UsageError, match="another process already listens"):
            claim_socket_path(socket_path)
    socket_path.unlink()
    socket_path.write_text("not a socket")
    with pytest.raises(UsageError, match="is not a socket"):
        claim_socket_path(socket_path)
    with pytest.raises(UsageError, match="no such directory"):
        claim_socket_path(tmp_path / "missing" / "tap.sock")


def test_a_control_frame_out_of_turn_closes_the_connection_keeping_what_came_before(
    home: Path, socket_path: Path
) -> None:
    with dnstap_watcher(home, socket_path) as watcher, connect(socket_path) as sender:
        data = b"".join(b.data_frame(payload) for payload in frames(6))
        sender.sendall(b.control_frame(b.START) + data + b.control_frame(b.START))
        assert sender.recv(64) == b""
        wait_for(lambda: watcher.warned("START frame while started"), what="the warning")
    assert watcher.summary is not None
    assert [(peer.state, peer.errors) for peer in watcher.summary.peers] == [("broken", 1)]
    assert watcher.summary.stored == 6


def test_frames_cut_across_reads_and_thousands_in_one_read_are_all_stored(
    home: Path, socket_path: Path
) -> None:
    trickled = b"".join(b.data_frame(payload) for payload in frames(40))
    burst = b"".join(b.data_frame(payload) for payload in frames(5000, first=40))
    with dnstap_watcher(home, socket_path) as watcher, connect(socket_path) as sender:
        sender.sendall(b.control_frame(b.START))
        for start in range(0, len(trickled), 13):  # pieces of 13 bytes: most frames cut, some twice
            sender.sendall(trickled[start : start + 13])
            time.sleep(0.001)
        sender.sendall(burst)  # many frames per read
        sender.sendall(b.control_frame(b.STOP))
        wait_for(lambda: any("sent STOP" in line for line in watcher.events.infos), what="STOP")
    summary = watcher.summary
    assert summary is not None
    assert (summary.received, summary.stored, summary.dropped, summary.malformed) == (5040, 5040, 0, {})
    first, cut, last = "host0.example.com", "host39.example.com", "host5039.example.com"
    assert stored_rows(home, f"qname IN ('{first}', '{cut}', '{last}')") == 3
    assert stored_rows(home, "src_port = 1024 + 17") == 1


def listener(home: Path, socket_path: Path, queue: BatchQueue) -> tuple[DnstapListener, Collected]:
    """A listener that is not listening: the test hands it what a sender's reads gave."""
    events = Collected()
    run = WatchRun(
        Warehouse.open(home, create=True),
        source="test",
        settings=settings(),
        events=events,
        stop=threading.Event(),
    )
    return DnstapListener(socket_path, mode=0o600, run=run, queue=queue), events


def test_what_the_queue_cannot_hold_is_dropped_counted_and_told(home: Path, socket_path: Path) -> None:
    queue = BatchQueue(5)
    tap, events = listener(home, socket_path, queue)
    decoder = DnstapStreamDecoder()
    tap.deliver("peer 1", decoder.feed(b.control_frame(b.START) + b"".join(map(b.data_frame, frames(3)))))
    tap.deliver("peer 1", decoder.feed(b"".join(b.data_frame(p) for p in frames(4, first=3))))
    tap.deliver("peer 1", decoder.feed(b.data_frame(frames(1, first=7)[0])))
    summary = tap.run.stats.summary()
    assert (summary.received, summary.dropped) == (8, 3)  # 3 fit, then 2 of 4, then none
    assert queue.messages == 5
    (warning,) = events.warnings  # the first drop is told at once; the next wait for the interval
    assert "dropped 2 message(s)" in warning


def test_runts_and_frames_without_dns_are_counted_not_received(home: Path, socket_path: Path) -> None:
    queue = BatchQueue(100)
    tap, _ = listener(home, socket_path, queue)
    runt = b.TapMessage(query_message=b"\x00\x01\x00").encode()
    empty = b.TapMessage().encode()  # a Message without a DNS message
    stream = b.control_frame(b.START) + b"".join(map(b.data_frame, [*frames(2), runt, empty]))
    tap.deliver("peer 1", DnstapStreamDecoder().feed(stream))
    summary = tap.run.stats.summary()
    assert (summary.received, queue.messages) == (2, 2)
    assert summary.malformed == {"dns_too_short": 1}
    assert summary.skipped == {"dnstap_no_dns_message": 1}


def test_the_warm_up_runs_the_receiving_code_on_its_own_made_up_stream() -> None:
    # Twice: it holds no state, and a made-up stream it cannot decode must not raise.
    warm_up()
    warm_up()


class _Transport(asyncio.Transport):
    """Counts how often reading is paused and resumed."""

    def __init__(self) -> None:
        super().__init__()
        self.paused = self.resumed = 0

    def pause_reading(self) -> None:
        self.paused += 1

    def resume_reading(self) -> None:
        self.resumed += 1

    def get_extra_info(self, name: str, default: object = None) -> object:
        return default


def test_small_receives_pause_reading_briefly_so_that_the_next_gathers_more(
    home: Path, socket_path: Path
) -> None:
    tap, _ = listener(home, socket_path, BatchQueue(100_000))
    transport = _Transport()

    def receive(data: bytes) -> None:
        space = peer.get_buffer(len(data))
        space[: len(data)] = data
        peer.buffer_updated(len(data))

    async def scenario() -> tuple[int, int]:
        receive(b.control_frame(b.START) + b"".join(map(b.data_frame, frames(3))))
        paused_at_once = (transport.paused, transport.resumed)
        await asyncio.sleep(GATHER_SECONDS * 10)
        return paused_at_once

    peer = tap._new_peer()
    peer.connection_made(transport)
    assert asyncio.run(scenario()) == (1, 0)
    assert (transport.paused, transport.resumed) == (1, 1)  # resumed after the pause
    burst = b"".join(map(b.data_frame, frames(GATHER_BELOW_BYTES // 40, first=3)))
    assert len(burst) >= GATHER_BELOW_BYTES
    receive(burst)  # a large receive: no pause, reading goes on
    assert transport.paused == 1
    assert tap.run.stats.summary().received == 3 + GATHER_BELOW_BYTES // 40
