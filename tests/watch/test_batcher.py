"""Batches close by size or by age; a batch's identity is its content; waits double after failures."""

from __future__ import annotations

import pyarrow as pa

from dnsvigil.watch.batcher import Backoff, Batcher, PendingBatch


def rows(*values: int) -> pa.RecordBatch:
    return pa.record_batch({"n": pa.array(values, pa.int64())})


def test_a_batch_closes_when_big_enough() -> None:
    batcher: Batcher[pa.RecordBatch] = Batcher(max_messages=5, max_seconds=10)
    batcher.add(rows(1, 2, 3), now=0.0)
    assert not batcher.due(0.5) and batcher.messages == 3
    batcher.add(rows(4, 5), now=1.0)
    assert batcher.due(1.0)
    assert [row for part in batcher.take() for row in part.column("n").to_pylist()] == [1, 2, 3, 4, 5]
    assert batcher.messages == 0 and not batcher.due(100.0)


def test_a_batch_closes_when_its_first_rows_waited_long_enough() -> None:
    batcher: Batcher[pa.RecordBatch] = Batcher(max_messages=1000, max_seconds=2)
    assert batcher.seconds_left(0.0) == 2
    batcher.add(rows(), now=0.0)  # nothing held: the clock does not start
    batcher.add(rows(1), now=5.0)
    batcher.add(rows(2), now=6.5)
    assert batcher.seconds_left(6.5) == 0.5 and not batcher.due(6.9)
    assert batcher.due(7.0)
    assert [part.num_rows for part in batcher.take()] == [1, 1]
    batcher.add(rows(3), now=8.0)  # a new batch starts its own clock
    assert not batcher.due(9.9) and batcher.due(10.0)


def test_a_batch_is_known_by_its_content() -> None:
    one = PendingBatch.of(rows(1, 2), origin="unix:/a")
    assert one.source_id == PendingBatch.of(rows(1, 2), origin="unix:/a").source_id
    assert one.source_id != PendingBatch.of(rows(1, 3), origin="unix:/a").source_id
    assert one.source_id != PendingBatch.of(rows(1, 2), origin="unix:/b").source_id


def test_backoff_doubles_up_to_its_longest_and_resets() -> None:
    backoff = Backoff(first=1, longest=5)
    assert [backoff.failed() for _ in range(5)] == [1, 2, 4, 5, 5]
    backoff.succeeded()
    assert backoff.failed() == 1
