"""How a watcher talks to whoever runs it: progress, warnings, and alerts, one call each."""

from __future__ import annotations

from typing import Protocol

from dnsvigil.findings import Finding


class WatchEvents(Protocol):
    """Where a watcher's messages go; the command line prints them, tests collect them."""

    def info(self, message: str) -> None:
        """Progress worth a line (a peer connected, a file stored); `--quiet` hides it."""
        ...

    def warning(self, message: str) -> None:
        """Something went wrong and the watcher goes on (dropped input, a full disk, a broken peer)."""
        ...

    def alert(self, finding: Finding) -> None:
        """A finding that begins a new incident."""
        ...
