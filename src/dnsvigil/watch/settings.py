"""How a watcher batches, queues, waits and looks back, and when it stops by itself."""

from __future__ import annotations

from dataclasses import dataclass

from dnsvigil.config import read_int
from dnsvigil.errors import UsageError


@dataclass(frozen=True, slots=True, kw_only=True)
class WatchSettings:
    """The knobs of one watcher; `from_settings` reads them from the settings table.

    Attributes:
        batch_messages: most messages stored as one commit.
        batch_seconds: longest a received message waits before it is stored; the detectors run at most
            this often.
        queue_messages: messages held between receiving and storing; more are dropped and counted.
        settle_seconds: how long a capture file must stay unchanged to count as finished.
        detection_window_seconds: span of recent stored traffic the detectors read.
        traffic_window_seconds: width of the detectors' counting windows (`traffic_window_seconds`).
        max_seconds: stop after this many seconds; None runs until stopped.
        max_messages: stop after this many messages; None runs until stopped.

    Raises:
        UsageError: a count or a span is not positive.
    """

    batch_messages: int
    batch_seconds: float
    queue_messages: int
    settle_seconds: float
    detection_window_seconds: int
    traffic_window_seconds: int
    max_seconds: float | None = None
    max_messages: int | None = None

    def __post_init__(self) -> None:
        for name in (
            "batch_messages",
            "batch_seconds",
            "queue_messages",
            "settle_seconds",
            "detection_window_seconds",
            "traffic_window_seconds",
        ):
            if getattr(self, name) <= 0:
                raise UsageError(f"{name} must be positive, got {getattr(self, name)}")
        if self.max_seconds is not None and self.max_seconds <= 0:
            raise UsageError(f"--max-seconds must be positive, got {self.max_seconds}")
        if self.max_messages is not None and self.max_messages < 1:
            raise UsageError(f"--max-messages must be at least 1, got {self.max_messages}")

    @staticmethod
    def from_settings(*, max_seconds: float | None = None, max_messages: int | None = None) -> WatchSettings:
        """The settings in force (environment, else the documented defaults), with the stop conditions given.

        Raises:
            UsageError: a setting is not a number in its range, or a stop condition is not positive.
        """
        return WatchSettings(
            batch_messages=read_int("watch_batch_messages", minimum=1),
            batch_seconds=read_int("watch_batch_seconds", minimum=1),
            queue_messages=read_int("watch_queue_messages", minimum=1),
            settle_seconds=read_int("watch_settle_seconds", minimum=1),
            detection_window_seconds=read_int("watch_detection_window_seconds", minimum=1),
            traffic_window_seconds=read_int("traffic_window_seconds", minimum=1),
            max_seconds=max_seconds,
            max_messages=max_messages,
        )
