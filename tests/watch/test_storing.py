"""Storing under stress: a full disk, input outrunning it, a batch stored again, a stop on a full disk,
what is queued at a stop."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest

from dnsvigil.ingest.dnstap import decode_payloads
from dnsvigil.store.warehouse import Warehouse
from dnsvigil.watch import message_processor
from dnsvigil.watch.batch_queue import BatchQueue
from dnsvigil.watch.batcher import PendingBatch
from dnsvigil.watch.message_processor import MessageProcessor, store_batch
from dnsvigil.watch.watcher import WatchRun
from tests.ingest import dnstap_builder as b
from tests.watch.support import (
    Collected,
    connect,
    decoded_rows,
    dnstap_watcher,
    frames,
    settings,
    stored_rows,
    wait_for,
)


def test_a_full_disk_keeps_the_batch_drops_new_input_counted_and_loses_nothing_kept(
    home: Path, socket_path: Path, disk_full: threading.Event
) -> None:
    disk_full.set()
    with (
        dnstap_watcher(home, socket_path, settings(queue_messages=20)) as watcher,
        connect(socket_path) as sender,
    ):
        sender.sendall(b.control_frame(b.START) + b"".join(b.data_frame(p) for p in frames(10)))
        wait_for(lambda: watcher.warned("disk is full"), what="disk full")
        # The first batch is held for another try; the queue (20) takes what it can of 100 more.
        sender.sendall(b"".join(b.data_frame(p) for p in frames(100, first=10)))
        wait_for(lambda: watcher.warned("input outruns storing"), what="drops")
        disk_full.clear()
        wait_for(lambda: (home / "catalog.json").exists() and stored_rows(home) == 30, what="30 rows stored")
    summary = watcher.summary
    assert summary is not None
    assert (summary.received, summary.stored, summary.dropped, summary.lost) == (110, 30, 80, 0)
    assert summary.store_failures >= 1
    assert stored_rows(home) == 30
    # The held batch and the queued rows, each once: hosts 0-9 and the first 20 of the second send.
    assert stored_rows(home, "qname IN ('host0.example.com', 'host9.example.com', 'host29.example.com')") == 3
    assert stored_rows(home, "qname = 'host30.example.com'") == 0
    warning = next(line for line in watcher.events.warnings if "disk is full" in line)
    assert "10 message(s)" in warning and "kept and tried again" in warning


def test_a_batch_stored_again_is_not_stored_twice(home: Path) -> None:
    warehouse = Warehouse.open(home, create=True)
    batch = PendingBatch.of(decoded_rows(frames(12)), origin="unix:/x")
    assert store_batch(warehouse, batch, origin="unix:/x") is True
    assert (
        store_batch(warehouse, batch, origin="unix:/x") is False
    )  # a retry after a commit that went through
    assert stored_rows(home) == 12


def test_stopping_with_a_full_disk_counts_what_is_lost(
    home: Path, socket_path: Path, disk_full: threading.Event, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(message_processor, "TRIES_WHEN_STOPPING", 1)
    disk_full.set()
    stop_after_five = settings(batch_seconds=30, max_messages=5)
    with dnstap_watcher(home, socket_path, stop_after_five) as watcher, connect(socket_path) as sender:
        sender.sendall(b.control_frame(b.START) + b"".join(b.data_frame(p) for p in frames(5)))
        wait_for(watcher.stop.is_set, what="the stop after 5 messages")
    summary = watcher.summary
    assert summary is not None and (summary.received, summary.stored, summary.lost) == (5, 0, 5)
    assert any("5 received message(s) could not be stored" in line for line in watcher.events.warnings)


def test_what_is_queued_when_stopping_is_stored_in_full_batches(home: Path) -> None:
    warehouse = Warehouse.open(home, create=True)
    run = WatchRun(
        warehouse,
        source="test",
        settings=settings(batch_messages=25, batch_seconds=30),
        events=Collected(),
        stop=threading.Event(),
    )
    queue = BatchQueue(1_000)
    for first in range(0, 100, 10):
        queue.put(decode_payloads(frames(10, first=first)).slices)
    queue.close()  # as a stop does: the ten pieces are still to be stored
    MessageProcessor(run, queue, origin="unix:/x").run()
    assert stored_rows(home) == 100
    # Pieces of 10 gathered to at least 25: 30, 30, 30 and 10, not a file per piece.
    assert [stored.rows for stored in Warehouse.open(home).listing()["dns_messages"]] == [30, 30, 30, 10]
