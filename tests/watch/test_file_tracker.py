"""A capture file is finished when the tool moved on to a newer one, or it stopped changing long enough."""

from __future__ import annotations

from dnsvigil.watch.file_tracker import FileEntry, FileTracker


def entry(name: str, size: int, mtime: int) -> FileEntry:
    return FileEntry(name, size, mtime * 1_000_000_000)


def test_a_file_with_a_newer_one_beside_it_is_finished_once_seen_unchanged() -> None:
    tracker = FileTracker(settle_seconds=30)
    listing = [entry("a.pcap", 100, 1), entry("b.pcap", 10, 2)]
    assert tracker.finished(listing, now=0.0) == []  # first sight: it may have just appeared
    assert tracker.finished(listing, now=1.0) == [entry("a.pcap", 100, 1)]


def test_the_file_being_written_is_not_finished_while_it_grows() -> None:
    tracker = FileTracker(settle_seconds=5)
    for second in range(10):
        listing = [entry("a.pcap", 100, 1), entry("b.pcap", 10 + second, 2 + second)]
        assert entry("b.pcap", 10 + second, 2 + second) not in tracker.finished(listing, now=float(second))
    # It stopped growing: finished after the settle time, not before.
    still = [entry("a.pcap", 100, 1), entry("b.pcap", 19, 11)]
    assert tracker.finished(still, now=13.9) == [entry("a.pcap", 100, 1)]
    assert tracker.finished(still, now=14.0) == still


def test_a_finished_file_that_changes_is_not_finished_again_until_it_settles() -> None:
    tracker = FileTracker(settle_seconds=5)
    tracker.finished([entry("a.pcap", 100, 1)], now=0.0)
    assert tracker.finished([entry("a.pcap", 100, 1)], now=5.0) == [entry("a.pcap", 100, 1)]
    assert tracker.finished([entry("a.pcap", 150, 7)], now=6.0) == []
    assert tracker.finished([entry("a.pcap", 150, 7)], now=11.0) == [entry("a.pcap", 150, 7)]


def test_removed_files_are_forgotten_and_order_follows_modification_time() -> None:
    tracker = FileTracker(settle_seconds=1)
    listing = [entry("z.pcap", 1, 1), entry("a.pcap", 1, 2), entry("m.pcap", 1, 3)]
    tracker.finished(listing, now=0.0)
    assert [item.name for item in tracker.finished(listing, now=2.0)] == ["z.pcap", "a.pcap", "m.pcap"]
    assert tracker.finished([entry("m.pcap", 1, 3)], now=3.0) == [entry("m.pcap", 1, 3)]
    assert tracker.finished([entry("z.pcap", 1, 1)], now=3.5) == []  # back, so seen anew
