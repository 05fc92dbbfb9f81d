"""Following a rotating capture directory: finished files only, each stored once, across restarts too."""

from __future__ import annotations

import os
import threading
import time
from pathlib import Path

from dnsvigil.watch.pcap_state import PcapState
from tests.ingest.dns_builder import query
from tests.ingest.pcap_builder import NS, Record, ethernet, ipv4, pcap_file, udp
from tests.watch.support import Watcher, pcap_watcher, settings, stored_rows, wait_for

START = 1_700_000_000


def packets(first: int, count: int) -> list[Record]:
    """`count` DNS queries for host<first>..example.com, one a second from START + first."""
    return [
        Record(
            ethernet(ipv4("192.0.2.1", "198.51.100.53", udp(40000, 53, query(f"host{index}.example.com")))),
            ts_ns=(START + index) * NS,
        )
        for index in range(first, first + count)
    ]


def write_capture(path: Path, first: int, count: int, *, mtime: float | None = None) -> bytes:
    data = pcap_file(packets(first, count))
    path.write_bytes(data)
    if mtime is not None:
        os.utime(path, (mtime, mtime))
    return data


def stored_from(watcher: Watcher, name: str) -> bool:
    return any(line.startswith(f"{name}: ") and "stored" in line for line in watcher.events.infos)


def test_a_file_still_being_written_waits_until_it_is_finished(home: Path, tmp_path: Path) -> None:
    captures = tmp_path / "captures"
    captures.mkdir()
    write_capture(captures / "dns_001.pcap", 0, 30, mtime=time.time() - 60)
    whole = pcap_file(packets(30, 25))
    growing = captures / "dns_002.pcap"
    growing.write_bytes(whole[:200])  # header and a few records, the last one cut: being written
    with pcap_watcher(home, captures, settings(settle_seconds=2)) as watcher:
        # dns_001 has a newer file beside it: finished once seen unchanged.
        wait_for(lambda: stored_from(watcher, "dns_001.pcap"), what="dns_001 stored")
        assert stored_rows(home) == 30
        # dns_002 keeps growing for longer than the settle time: never read meanwhile.
        position = 200
        for _ in range(10):
            position += (len(whole) - 200) // 12
            with growing.open("ab") as handle:
                handle.write(whole[len(growing.read_bytes()) : position])
            time.sleep(0.3)
            assert not stored_from(watcher, "dns_002.pcap")
        with growing.open("ab") as handle:
            handle.write(whole[len(growing.read_bytes()) :])
        # Finished writing: read after the settle time, whole.
        wait_for(lambda: stored_from(watcher, "dns_002.pcap"), what="dns_002 stored")
    assert watcher.summary is not None
    assert (watcher.summary.stored, watcher.summary.files) == (55, {"ingested": 2})
    assert watcher.summary.longest_receive_pause_ms is None  # files are read, nothing waits on a socket
    assert stored_rows(home) == 55
    assert stored_rows(home, "qname = 'host54.example.com'") == 1


def test_a_restart_stores_nothing_twice(home: Path, tmp_path: Path) -> None:
    captures = tmp_path / "captures"
    captures.mkdir()
    write_capture(captures / "a.pcap", 0, 10, mtime=time.time() - 60)
    write_capture(captures / "b.pcap", 10, 15, mtime=time.time() - 30)
    quick = settings(settle_seconds=1)
    with pcap_watcher(home, captures, quick) as first:
        wait_for(lambda: stored_from(first, "a.pcap") and stored_from(first, "b.pcap"), what="both stored")
    assert stored_rows(home) == 25
    state = PcapState.location(home, captures)
    assert state.is_file()
    # Restarted: the state says both are done; nothing is read.
    with pcap_watcher(home, captures, quick) as second:
        time.sleep(2.5)
    assert second.summary is not None and second.summary.files == {} and second.summary.stored == 0
    # Restarted after a crash between a commit and its record: read again, stored by nobody twice.
    state.unlink()
    with pcap_watcher(home, captures, quick) as third:
        wait_for(lambda: stored_from(third, "b.pcap"), what="b read again")
        wait_for(lambda: stored_from(third, "a.pcap"), what="a read again")
    assert third.summary is not None and third.summary.files == {"already-ingested": 2}
    assert stored_rows(home) == 25


def test_a_file_that_grows_after_storing_is_told_and_a_reused_name_is_read_again(
    home: Path, tmp_path: Path
) -> None:
    captures = tmp_path / "captures"
    captures.mkdir()
    slow = captures / "slow.pcap"
    data = write_capture(slow, 0, 5, mtime=time.time() - 60)
    ring = captures / "ring0.pcap"
    write_capture(ring, 100, 4, mtime=time.time() - 30)
    with pcap_watcher(home, captures, settings(settle_seconds=1)) as watcher:
        wait_for(
            lambda: stored_from(watcher, "slow.pcap") and stored_from(watcher, "ring0.pcap"), what="both"
        )
        slow.write_bytes(data + pcap_file(packets(5, 3))[24:])  # the same capture, three more records
        write_capture(ring, 200, 6)  # a ring buffer's next capture under the same name
        wait_for(lambda: watcher.warned("grew after it was stored"), what="grew")
        wait_for(lambda: stored_rows(home) == 15, what="the new ring0 stored")
    assert stored_rows(home, "qname = 'host5.example.com'") == 0  # not stored: its head was stored already
    assert stored_rows(home, "qname LIKE 'host1__.example.com'") == 4
    assert stored_rows(home, "qname LIKE 'host2__.example.com'") == 6


def test_a_full_disk_leaves_the_file_for_later(
    home: Path, tmp_path: Path, disk_full: threading.Event
) -> None:
    captures = tmp_path / "captures"
    captures.mkdir()
    write_capture(captures / "a.pcap", 0, 12, mtime=time.time() - 60)
    disk_full.set()
    with pcap_watcher(home, captures, settings(settle_seconds=1)) as watcher:
        wait_for(lambda: watcher.warned("disk is full"), what="disk full")
        disk_full.clear()
        wait_for(lambda: stored_from(watcher, "a.pcap"), what="a stored")
    assert watcher.summary is not None
    assert watcher.summary.store_failures >= 1 and watcher.summary.stored == 12
    assert stored_rows(home) == 12
    assert "it stays in the directory and is tried again" in watcher.events.warnings[0]


def test_max_messages_stops_after_the_file_that_reaches_it(home: Path, tmp_path: Path) -> None:
    captures = tmp_path / "captures"
    captures.mkdir()
    write_capture(captures / "a.pcap", 0, 10, mtime=time.time() - 60)
    with pcap_watcher(home, captures, settings(settle_seconds=1, max_messages=5)) as watcher:
        wait_for(watcher.stop.is_set, what="the stop")
    assert watcher.summary is not None and watcher.summary.stored == 10
