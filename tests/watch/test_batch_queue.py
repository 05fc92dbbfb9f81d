"""Back-pressure: the bounded queue keeps what fits and says how much; drops are told, rate-limited."""

from __future__ import annotations

import threading
import time

import pytest

from dnsvigil.errors import UsageError
from dnsvigil.ingest.dnstap import decode_payloads
from dnsvigil.ingest.slices import MessageSlices
from dnsvigil.watch.batch_queue import BatchQueue, DropNotice
from tests.watch.support import frames


def messages(count: int, start: int = 0) -> MessageSlices:
    """`count` received queries, numbered by their source port from 1024 + `start`."""
    return decode_payloads(frames(count, first=start)).slices


def ports(piece: MessageSlices | None) -> list[int]:
    assert piece is not None
    return [int(port) - 1024 for port in piece.src_port]


def test_a_tiny_queue_keeps_what_fits_and_counts_the_rest() -> None:
    queue = BatchQueue(5)
    assert queue.put(messages(3)) == 3
    assert queue.put(messages(4, start=3)) == 2  # the first two messages of the piece fit
    assert queue.put(messages(1, start=7)) == 0
    assert queue.messages == 5
    assert ports(queue.get(0)) == [0, 1, 2]
    assert ports(queue.get(0)) == [3, 4]
    assert queue.get(0.01) is None and queue.messages == 0
    assert queue.put(messages(5)) == 5  # room again once taken


def test_close_wakes_a_waiting_reader_and_refuses_more() -> None:
    queue = BatchQueue(10)
    queue.put(messages(2))
    got: list[object] = []
    reader = threading.Thread(target=lambda: got.extend([queue.get(5), queue.get(5)]))
    started = time.monotonic()
    reader.start()
    time.sleep(0.05)
    queue.close()
    reader.join(5)
    assert time.monotonic() - started < 2  # woken by close, not by the timeout
    assert isinstance(got[0], MessageSlices) and got[1] is None
    assert queue.put(messages(1)) == 0 and queue.closed and queue.wait_closed(0)


def test_a_queue_must_hold_something() -> None:
    with pytest.raises(UsageError):
        BatchQueue(0)


def test_drop_notices_are_rate_limited_and_lose_no_count() -> None:
    notice = DropNotice(10.0, hint="raise the queue")
    assert notice.add(0, now=0.0) is None
    first = notice.add(7, now=1.0)
    assert first is not None and "dropped 7 message(s)" in first and first.endswith("raise the queue")
    assert notice.add(5, now=2.0) is None
    assert notice.add(6, now=10.9) is None
    later = notice.add(1, now=11.0)
    assert later is not None and "dropped 12 message(s) in the last 10 s" in later
    assert notice.add(3, now=15.0) is None
    last = notice.flush(now=16.0)  # input ends: what was not told yet is told
    assert last is not None and "dropped 3 message(s) in the last 5 s" in last
    assert notice.flush(now=17.0) is None and notice.add(0, now=30.0) is None
