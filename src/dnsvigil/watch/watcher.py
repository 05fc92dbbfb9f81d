"""What both watchers share: the counts, the detectors and alert outputs, and when to stop."""

from __future__ import annotations

import threading
import time
from pathlib import Path

from dnsvigil.findings import Finding
from dnsvigil.store.warehouse import Warehouse
from dnsvigil.traffic.detect import detectors_from_settings
from dnsvigil.watch.events import WatchEvents
from dnsvigil.watch.live_detection import LiveDetection
from dnsvigil.watch.settings import WatchSettings
from dnsvigil.watch.stats import WatchStats, WatchSummary
from dnsvigil.watch.webhook import WebhookSender


class WatchRun:
    """One run of a watcher, from start to summary.

    Args:
        warehouse: where messages and findings are stored.
        source: what is watched, as the summary names it.
        settings: batching, queueing and stop conditions.
        events: where messages and alerts go.
        stop: set (by a signal handler, a test) to stop the watcher; the watcher sets it too when a stop
            condition is met.
        webhook_url: where each new finding is posted as JSON, if anywhere.

    Raises:
        UsageError: a detector setting or the webhook URL cannot be used.
    """

    def __init__(
        self,
        warehouse: Warehouse,
        *,
        source: str,
        settings: WatchSettings,
        events: WatchEvents,
        stop: threading.Event,
        webhook_url: str | None = None,
    ) -> None:
        detectors = detectors_from_settings()
        self.warehouse = warehouse
        self.settings = settings
        self.events = events
        self.stop = stop
        self.stats = WatchStats(source)
        self._webhook = (
            WebhookSender(webhook_url, notice=events.warning, counted=self._count_post)
            if webhook_url
            else None
        )
        self.detection = LiveDetection(
            warehouse,
            detectors,
            span_seconds=settings.detection_window_seconds,
            window_seconds=settings.traffic_window_seconds,
            stats=self.stats,
            alert=self._alert,
            notice=events.warning,
        )
        self._deadline = None if settings.max_seconds is None else time.monotonic() + settings.max_seconds

    @property
    def home(self) -> Path:
        return self.warehouse.home

    def _alert(self, finding: Finding) -> None:
        self.events.alert(finding)
        if self._webhook is not None:
            self._webhook.send(finding)

    def _count_post(self, delivered: bool) -> None:
        self.stats.add(webhook_sent=int(delivered), webhook_failed=int(not delivered))

    def should_stop(self, messages: int) -> bool:
        """True (and `stop` set) once stopped, out of time, or `messages` reached `max_messages`."""
        if self._deadline is not None and time.monotonic() >= self._deadline:
            self.stop.set()
        if self.settings.max_messages is not None and messages >= self.settings.max_messages:
            self.stop.set()
        return self.stop.is_set()

    def finish(self) -> WatchSummary:
        """Post what waits for the webhook (bounded) and freeze the counts."""
        if self._webhook is not None:
            self._webhook.close()
        return self.stats.summary()
