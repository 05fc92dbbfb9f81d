"""What a watcher counts: messages received, stored, dropped; peers and their errors; files; findings.

Receiving and storing run in different threads, so every count goes through one lock. `summary` freezes
the counts into a `WatchSummary`, the value printed when the watcher stops (as text or as one JSON object).
"""

from __future__ import annotations

import threading
import time
from collections import Counter, OrderedDict
from collections.abc import Callable
from dataclasses import dataclass, field

MAX_PEERS_KEPT = 256
"""Peers whose counts the summary keeps; older disconnected peers are forgotten (their totals stay)."""
MAX_ERRORS_PER_PEER = 5
"""Error messages kept per peer; later ones are counted only."""
TOTALS = frozenset(
    {
        "received", "stored", "dropped", "lost", "store_failures", "findings", "findings_stored",
        "detection_runs", "detection_errors", "webhook_sent", "webhook_failed",
    }
)  # fmt: skip


@dataclass(frozen=True, slots=True)
class PeerSummary:
    """One sender that connected: what it sent and how its connection ended.

    Attributes:
        peer: how notices name it, e.g. `peer 3 (pid 812)`.
        messages: DNS messages received from it.
        bytes: stream bytes received from it.
        state: `connected`, `finished` (STOP received), `disconnected` (closed without STOP) or `broken`
            (a frame could not be read; the connection was closed).
        errors: how many errors it caused.
        messages_of_errors: the first few error messages.
    """

    peer: str
    messages: int
    bytes: int
    state: str
    errors: int
    messages_of_errors: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class WatchSummary:
    """What a watcher did from start to stop, for people and for `--json`."""

    source: str
    seconds: float
    received: int
    stored: int
    dropped: int
    lost: int
    store_failures: int
    findings: int
    findings_stored: int
    detection_runs: int
    detection_errors: int
    webhook_sent: int
    webhook_failed: int
    malformed: dict[str, int] = field(default_factory=dict)
    skipped: dict[str, int] = field(default_factory=dict)
    peers: tuple[PeerSummary, ...] = ()
    files: dict[str, int] = field(default_factory=dict)
    longest_receive_pause_ms: float | None = None

    @property
    def rate(self) -> float:
        """Messages stored per second of watching."""
        return self.stored / self.seconds if self.seconds > 0 else 0.0

    @property
    def peer_errors(self) -> int:
        return sum(peer.errors for peer in self.peers)

    def to_json(self) -> dict[str, object]:
        """The summary as one JSON object."""
        return {
            "event": "summary",
            "source": self.source,
            "seconds": round(self.seconds, 3),
            "received": self.received,
            "stored": self.stored,
            "stored_per_second": round(self.rate, 1),
            "dropped": self.dropped,
            "lost": self.lost,
            "store_failures": self.store_failures,
            "findings": self.findings,
            "findings_stored": self.findings_stored,
            "detection_runs": self.detection_runs,
            "detection_errors": self.detection_errors,
            "webhook_sent": self.webhook_sent,
            "webhook_failed": self.webhook_failed,
            "malformed": self.malformed,
            "skipped": self.skipped,
            "peer_errors": self.peer_errors,
            "peers": [
                {
                    "peer": peer.peer,
                    "messages": peer.messages,
                    "bytes": peer.bytes,
                    "state": peer.state,
                    "errors": peer.errors,
                    "error_messages": list(peer.messages_of_errors),
                }
                for peer in self.peers
            ],
            "files": self.files,
            "longest_receive_pause_ms": (
                None if self.longest_receive_pause_ms is None else round(self.longest_receive_pause_ms, 1)
            ),
        }

    def to_text(self) -> list[str]:
        """The summary as a few lines a person reads."""
        lines = [
            f"watched {self.source} for {self.seconds:.1f} s: {self.received:,} message(s) received, "
            f"{self.stored:,} stored ({self.rate:,.0f}/s), {self.dropped:,} dropped, {self.lost:,} lost",
            f"findings: {self.findings} new alert(s), {self.findings_stored} finding row(s) stored, "
            f"{self.detection_runs} detection run(s), {self.detection_errors} failed",
        ]
        if self.longest_receive_pause_ms is not None:
            lines.append(f"receiving paused at most {self.longest_receive_pause_ms:,.1f} ms")
        if self.store_failures:
            lines.append(f"storing failed {self.store_failures} time(s) and was retried")
        if self.webhook_sent or self.webhook_failed:
            lines.append(f"webhook: {self.webhook_sent} posted, {self.webhook_failed} failed")
        for label, counts in (("malformed", self.malformed), ("not DNS", self.skipped)):
            if counts:
                lines.append(
                    f"{label}: " + ", ".join(f"{reason} {count:,}" for reason, count in counts.items())
                )
        if self.files:
            lines.append("files: " + ", ".join(f"{status} {count}" for status, count in self.files.items()))
        for peer in self.peers:
            detail = f"; {'; '.join(peer.messages_of_errors)}" if peer.messages_of_errors else ""
            lines.append(
                f"{peer.peer}: {peer.messages:,} message(s), {peer.state}, {peer.errors} error(s){detail}"
            )
        return lines


@dataclass(slots=True)
class _PeerCounts:
    messages: int = 0
    bytes: int = 0
    state: str = "connected"
    errors: int = 0
    messages_of_errors: list[str] = field(default_factory=list)


class WatchStats:
    """The running counts of one watcher, safe to update from several threads.

    Args:
        source: what is watched, as the summary names it (`unix:/run/dnstap.sock`, a directory).
        clock: seconds, monotonic; injected by tests.
    """

    def __init__(self, source: str, *, clock: Callable[[], float] = time.monotonic) -> None:
        self._source = source
        self._clock = clock
        self._started = clock()
        self._lock = threading.Lock()
        self._totals: Counter[str] = Counter()
        self._malformed: Counter[str] = Counter()
        self._skipped: Counter[str] = Counter()
        self._peers: OrderedDict[str, _PeerCounts] = OrderedDict()
        self._files: Counter[str] = Counter()
        self._longest_receive_pause_s: float | None = None

    def receive_paused(self, seconds: float) -> None:
        """Note that receiving could not run for `seconds` (only the longest is kept)."""
        with self._lock:
            if self._longest_receive_pause_s is None or seconds > self._longest_receive_pause_s:
                self._longest_receive_pause_s = max(seconds, 0.0)

    def add(self, **counts: int) -> None:
        """Add to totals named in `TOTALS`.

        Raises:
            ValueError: a name is not one of `TOTALS`.
        """
        unknown = set(counts) - TOTALS
        if unknown:
            raise ValueError(f"unknown watch totals: {', '.join(sorted(unknown))}")
        with self._lock:
            self._totals.update(counts)

    def total(self, name: str) -> int:
        """One named total so far."""
        with self._lock:
            return self._totals[name]

    def add_reasons(self, *, malformed: dict[str, int], skipped: dict[str, int]) -> None:
        """Add counts, by reason label, of damaged records and of records that were not DNS."""
        with self._lock:
            self._malformed.update(malformed)
            self._skipped.update(skipped)

    def add_file(self, status: str) -> None:
        """Count one capture file by what became of it."""
        with self._lock:
            self._files[status] += 1

    def peer_connected(self, peer: str) -> None:
        """Start counting for a new peer."""
        with self._lock:
            self._peers[peer] = _PeerCounts()
            while len(self._peers) > MAX_PEERS_KEPT:
                oldest = next(
                    (name for name, counts in self._peers.items() if counts.state != "connected"), None
                )
                if oldest is None:
                    break
                del self._peers[oldest]

    def peer_received(self, peer: str, *, messages: int, size: int) -> None:
        """Count what a peer sent."""
        with self._lock:
            counts = self._peers.get(peer)
            if counts is not None:
                counts.messages += messages
                counts.bytes += size

    def peer_error(self, peer: str, message: str) -> None:
        """Count an error a peer caused, keeping the first few messages."""
        with self._lock:
            counts = self._peers.get(peer)
            if counts is not None:
                counts.errors += 1
                if len(counts.messages_of_errors) < MAX_ERRORS_PER_PEER:
                    counts.messages_of_errors.append(message)

    def peer_ended(self, peer: str, state: str) -> None:
        """Record how a peer's connection ended: finished, disconnected or broken."""
        with self._lock:
            counts = self._peers.get(peer)
            if counts is not None:
                counts.state = state

    def summary(self) -> WatchSummary:
        """The counts so far, frozen."""
        with self._lock:
            totals = self._totals
            return WatchSummary(
                source=self._source,
                seconds=self._clock() - self._started,
                received=totals["received"],
                stored=totals["stored"],
                dropped=totals["dropped"],
                lost=totals["lost"],
                store_failures=totals["store_failures"],
                findings=totals["findings"],
                findings_stored=totals["findings_stored"],
                detection_runs=totals["detection_runs"],
                detection_errors=totals["detection_errors"],
                webhook_sent=totals["webhook_sent"],
                webhook_failed=totals["webhook_failed"],
                malformed=dict(sorted(self._malformed.items())),
                skipped=dict(sorted(self._skipped.items())),
                peers=tuple(
                    PeerSummary(
                        peer=name,
                        messages=counts.messages,
                        bytes=counts.bytes,
                        state=counts.state,
                        errors=counts.errors,
                        messages_of_errors=tuple(counts.messages_of_errors),
                    )
                    for name, counts in self._peers.items()
                ),
                files=dict(sorted(self._files.items())),
                longest_receive_pause_ms=(
                    None if self._longest_receive_pause_s is None else self._longest_receive_pause_s * 1000
                ),
            )
