"""When a capture file in a rotating directory is finished, so that it is never read while being written.

A capture tool rotating its output (`tcpdump -G/-C`, `dumpcap -b`) writes one file at a time and moves on
to a new one. A file is finished when a newer file exists and it has not changed since the last look (the
tool has moved on), or when it has not changed for `settle_seconds` (the tool stopped, or writes slowly).
"Changed" means a different size or modification time. Pure logic: listings in, decisions out.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class FileEntry:
    """A file as one directory listing saw it."""

    name: str
    size: int
    mtime_ns: int


class FileTracker:
    """Remembers how each file looked and since when, to tell finished files from growing ones.

    Args:
        settle_seconds: how long an unchanged file counts as finished even without a newer one.
    """

    def __init__(self, *, settle_seconds: float) -> None:
        self._settle = settle_seconds
        self._seen: dict[str, tuple[FileEntry, float]] = {}  # as last seen, and since when unchanged

    def finished(self, listing: Sequence[FileEntry], now: float) -> list[FileEntry]:
        """The finished files of `listing`, a listing taken at `now`, oldest first.

        A file is finished once seen unchanged on an earlier look with a newer file beside it, or unchanged
        for `settle_seconds`. A file seen for the first time is never finished: it may have just appeared.
        """
        current = {entry.name: entry for entry in listing}
        for name in set(self._seen) - set(current):
            del self._seen[name]
        for entry in listing:
            previous = self._seen.get(entry.name)
            if previous is None or previous[0] != entry:
                self._seen[entry.name] = (entry, now)
        ordered = sorted(listing, key=lambda entry: (entry.mtime_ns, entry.name))
        done = []
        for position, entry in enumerate(ordered):
            unchanged_for = now - self._seen[entry.name][1]
            newer_exists = position < len(ordered) - 1
            if (newer_exists and unchanged_for > 0) or unchanged_for >= self._settle:
                done.append(entry)
        return done
