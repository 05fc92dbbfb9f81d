"""The receiving process: credit bounds what it sends, and its death stops the watcher with an error."""

from __future__ import annotations

import os
import signal
import threading
from pathlib import Path

import pytest

from dnsvigil.watch.batch_queue import BatchQueue
from dnsvigil.watch.receiver import Receiver, ReceiverError
from dnsvigil.watch.stats import WatchStats
from tests.ingest import dnstap_builder as b
from tests.watch.support import Collected, connect, dnstap_watcher, frames, settings, stored_rows, wait_for


@pytest.mark.parametrize(("storing_takes", "dropped"), [(True, 0), (False, 2)])
def test_the_receiver_sends_no_more_than_the_queue_bound_until_storing_takes_messages(
    socket_path: Path, storing_takes: bool, dropped: int
) -> None:
    receiver = Receiver(socket_path, mode=0o600, settings=settings(queue_messages=5))
    queue = BatchQueue(100, taken=receiver.acknowledge)
    stats, events, stop = WatchStats("test"), Collected(), threading.Event()
    forwarding = threading.Thread(target=receiver.forward, args=(queue, stats, events, stop.is_set))
    try:
        assert receiver.wait_listening(events, stop.is_set)
        forwarding.start()
        with connect(socket_path) as sender:
            sender.sendall(b.control_frame(b.START) + b"".join(map(b.data_frame, frames(3))))
            wait_for(lambda: queue.messages == 3, what="the first 3 messages")
            if storing_takes:
                assert queue.get(1) is not None  # the receiver may send 3 more
            sender.sendall(b"".join(map(b.data_frame, frames(4, first=3))) + b.control_frame(b.STOP))
            wait_for(lambda: any("sent STOP" in line for line in events.infos), what="STOP")
        stop.set()
        forwarding.join(30)
    finally:
        receiver.close()
    summary = stats.summary()
    assert (summary.received, summary.dropped) == (7, dropped)
    assert queue.messages == (4 if storing_takes else 5)
    assert [peer.messages for peer in summary.peers] == [7]
    assert any(f"dropped {dropped} message(s)" in line for line in events.warnings) == bool(dropped)


def _receiving_process() -> int:
    me = os.getpid()
    for child in Path(f"/proc/{me}/task").glob("*/children"):
        for pid in child.read_text().split():
            if b"dnsvigil.watch.receiver_process" in Path(f"/proc/{pid}/cmdline").read_bytes():
                return int(pid)
    raise AssertionError("no receiving process")


def test_a_receiver_that_dies_stops_the_watcher_with_an_error_after_what_it_sent_is_stored(
    home: Path, socket_path: Path
) -> None:
    with (
        pytest.raises(ReceiverError, match="ended without a word"),
        dnstap_watcher(home, socket_path) as watcher,
        connect(socket_path) as sender,
    ):
        sender.sendall(b.control_frame(b.START) + b"".join(map(b.data_frame, frames(10))))
        wait_for(lambda: stored_rows(home) == 10, what="the first messages stored")
        os.kill(_receiving_process(), signal.SIGKILL)
        wait_for(lambda: watcher.error is not None, what="the watcher to fail")
    assert stored_rows(home) == 10
