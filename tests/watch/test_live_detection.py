"""Live detection over stored traffic: an attack alerted once, not again on later runs or after a restart."""

from __future__ import annotations

import struct
from dataclasses import replace
from pathlib import Path

from dnsvigil.findings import Finding
from dnsvigil.store.schema import DNS_MESSAGES
from dnsvigil.store.sql import SqlRunner
from dnsvigil.store.warehouse import Warehouse
from dnsvigil.traffic.detection import NS_PER_SECOND
from dnsvigil.traffic.random_subdomain import RandomSubdomainDetector
from dnsvigil.watch.batcher import PendingBatch
from dnsvigil.watch.live_detection import LiveDetection, StoredTimeline
from dnsvigil.watch.message_processor import store_batch
from dnsvigil.watch.stats import WatchStats
from tests.ingest import dnstap_builder as b
from tests.watch.support import decoded_rows

START = 1_700_000_040
DETECTOR = RandomSubdomainDetector(
    window_seconds=1, min_qps=10, min_children=5, min_failure_share=0.8, max_queries_per_child=2
)


def nxdomain(name: str) -> bytes:
    return struct.pack(">HHHHHH", 7, 0x8183, 1, 0, 0, 0) + b.dns_name(name) + struct.pack(">HH", 1, 1)


def flood(first_second: int, seconds: int, zone: str = "victim.example") -> list[bytes]:
    """40 NXDOMAIN answers a second for unique labels under `zone`."""
    return [
        b.TapMessage(
            message_type=b.AUTH_RESPONSE,
            query_time=None,
            response_time=(START + first_second + index // 40, (index % 40) * 1000),
            response_message=nxdomain(f"r{first_second}x{index}.{zone}"),
        ).encode()
        for index in range(40 * seconds)
    ]


def detection(warehouse: Warehouse, alerts: list[Finding]) -> LiveDetection:
    return LiveDetection(
        warehouse,
        [DETECTOR],
        span_seconds=30,
        window_seconds=1,
        stats=WatchStats("test"),
        alert=alerts.append,
        notice=lambda message: None,
    )


def store(warehouse: Warehouse, payloads: list[bytes]) -> None:
    assert store_batch(warehouse, PendingBatch.of(decoded_rows(payloads), origin="test"), origin="test")


def test_an_attack_is_alerted_once_even_across_a_restart(home: Path) -> None:
    warehouse = Warehouse.open(home, create=True)
    alerts: list[Finding] = []
    live = detection(warehouse, alerts)
    assert live.run() == []  # nothing stored yet
    store(warehouse, flood(0, 2))
    (news,) = live.run()
    assert (news.code, news.subject) == ("DDOS.RANDOM_SUBDOMAIN", "victim.example") and alerts == [news]
    # The flood goes on: found again, longer, stored updated, not alerted again.
    store(warehouse, flood(2, 3))
    assert live.run() == []
    # Restarted: what was stored is remembered.
    restarted: list[Finding] = []
    assert detection(warehouse, restarted).run() == [] and restarted == []
    # Quiet for longer than the span, then a new flood: a new incident.
    store(warehouse, flood(60, 2))
    (again,) = live.run()
    assert again.first_seen > news.last_seen


def test_a_flood_stored_late_into_windows_already_judged_is_found(home: Path) -> None:
    """Rows of closed windows are kept between runs; a capture stored late reopens its windows."""
    warehouse = Warehouse.open(home, create=True)
    alerts: list[Finding] = []
    live = detection(warehouse, alerts)
    store(warehouse, flood(0, 8))
    (first,) = live.run()
    assert first.subject == "victim.example"
    store(warehouse, flood(1, 3, zone="late.example"))  # seconds 1-3: windows closed at the last run
    (late,) = live.run()
    assert (late.subject, late.evidence["windows"]) == ("late.example", 3)


def test_a_run_reads_only_the_message_files_that_may_hold_its_span(home: Path) -> None:
    warehouse = Warehouse.open(home, create=True)
    store(warehouse, flood(0, 2))  # seconds 0-1
    store(warehouse, flood(100, 2))  # seconds 100-101
    timeline = StoredTimeline(warehouse)
    timeline.refresh()
    early, late = warehouse.files(DNS_MESSAGES.name)
    since_ns = (START + 50) * NS_PER_SECOND
    files = timeline.stored_files(since_ns, _no_reader)
    assert files.readable == {late.path} and files.committed == {early.path, late.path}
    assert timeline.stored_files(START * NS_PER_SECOND, _no_reader).readable == {early.path, late.path}
    # A file whose footer was not read is kept, unless it is of an earlier day than the span.
    unread = replace(early, path="tables/dns_messages/unread.parquet")
    timeline.files += [unread, replace(unread, path="tables/dns_messages/old.parquet", day="2000-01-01")]
    assert timeline.stored_files(since_ns, _no_reader).readable == {late.path, unread.path}


def _no_reader(paths: frozenset[str]) -> SqlRunner:
    raise AssertionError(f"nothing should be read: {paths}")
