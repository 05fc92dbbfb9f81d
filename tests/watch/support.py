"""What the watch tests share: a watcher run in a thread, dnstap senders, events collected, rows counted."""

from __future__ import annotations

import contextlib
import socket
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field, replace
from pathlib import Path

import pyarrow as pa

from dnsvigil.findings import Finding
from dnsvigil.ingest.dns_wire import decode_messages
from dnsvigil.ingest.dnstap import decode_payloads
from dnsvigil.store.engine import DuckDBEngine
from dnsvigil.store.warehouse import Warehouse
from dnsvigil.watch.dnstap_watch import watch_dnstap
from dnsvigil.watch.pcap_watch import watch_pcap
from dnsvigil.watch.settings import WatchSettings
from dnsvigil.watch.stats import WatchSummary
from tests.ingest import dnstap_builder as b
from tests.ingest.dnstap_rows import query

FAST = WatchSettings(
    batch_messages=1000,
    batch_seconds=1,
    queue_messages=10_000,
    settle_seconds=1,
    detection_window_seconds=600,
    traffic_window_seconds=60,
)


def settings(**changes: object) -> WatchSettings:
    """Settings for a quick test: one-second batches, unless changed."""
    return replace(FAST, **changes)  # type: ignore[arg-type]


@dataclass
class Collected:
    """A `WatchEvents` that keeps everything, safe to read from the test's thread."""

    infos: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    alerts: list[Finding] = field(default_factory=list)

    def info(self, message: str) -> None:
        self.infos.append(message)

    def warning(self, message: str) -> None:
        self.warnings.append(message)

    def alert(self, finding: Finding) -> None:
        self.alerts.append(finding)


def wait_for(condition: Callable[[], bool], *, seconds: float = 20.0, what: str = "the condition") -> None:
    """Poll `condition` until true; fail the test after `seconds`."""
    deadline = time.monotonic() + seconds
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {seconds} s waiting for {what}")
        time.sleep(0.02)


@dataclass
class Watcher:
    """A watcher running in a thread; `summary` is set once it has stopped."""

    source: Path
    home: Path
    events: Collected
    stop: threading.Event
    summary: WatchSummary | None = None
    error: BaseException | None = None

    def warned(self, text: str) -> bool:
        """Whether a warning so far holds `text`."""
        return any(text in line for line in self.events.warnings)


@contextlib.contextmanager
def _running(
    watcher: Watcher, watch: Callable[[Warehouse], WatchSummary], ready: Callable[[], bool]
) -> Iterator[Watcher]:
    def body() -> None:
        try:
            watcher.summary = watch(Warehouse.open(watcher.home, create=True))
        except BaseException as error:
            watcher.error = error

    thread = threading.Thread(target=body, name="watcher", daemon=True)
    thread.start()
    try:
        wait_for(lambda: ready() or not thread.is_alive(), what="the watcher to start")
        yield watcher
    finally:
        watcher.stop.set()
        thread.join(60)
    assert not thread.is_alive(), "the watcher did not stop"
    if watcher.error is not None:
        raise watcher.error


def dnstap_watcher(
    home: Path, socket_path: Path, watch_settings: WatchSettings = FAST
) -> contextlib.AbstractContextManager[Watcher]:
    """Run `watch_dnstap` in a thread until the block ends, then stop it and wait for its summary."""
    watcher = Watcher(socket_path, home, Collected(), threading.Event())

    def watch(warehouse: Warehouse) -> WatchSummary:
        return watch_dnstap(
            warehouse, socket_path, settings=watch_settings, events=watcher.events, stop=watcher.stop
        )

    return _running(watcher, watch, socket_path.is_socket)


def pcap_watcher(
    home: Path, directory: Path, watch_settings: WatchSettings = FAST
) -> contextlib.AbstractContextManager[Watcher]:
    """Run `watch_pcap` over `directory` in a thread until the block ends; then stop it and wait."""
    watcher = Watcher(directory, home, Collected(), threading.Event())

    def watch(warehouse: Warehouse) -> WatchSummary:
        return watch_pcap(
            warehouse, directory, settings=watch_settings, events=watcher.events, stop=watcher.stop
        )

    return _running(watcher, watch, lambda: bool(watcher.events.infos))


def frames(count: int, *, first: int = 0, seconds: int = 1_700_000_000) -> list[bytes]:
    """`count` dnstap payloads of one client query each, for names host<first>..example.com."""
    return [
        query(
            f"host{index}.example.com", query_port=1024 + index % 60000, query_time=(seconds, index)
        ).encode()
        for index in range(first, first + count)
    ]


def decoded_rows(payloads: list[bytes]) -> pa.RecordBatch:
    """The `dns_messages` rows of dnstap payloads, as the watcher decodes them."""
    batch = decode_payloads(payloads)
    return decode_messages(batch.slices, batch.counts, "test")


def connect(path: Path) -> socket.socket:
    sender = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    sender.settimeout(10)
    sender.connect(str(path))
    return sender


def receive_exactly(sender: socket.socket, size: int) -> bytes:
    data = b""
    while len(data) < size:
        piece = sender.recv(size - len(data))
        if not piece:
            break
        data += piece
    return data


def send_bidirectional(path: Path, payloads: list[bytes]) -> tuple[bytes, bytes, bytes]:
    """Speak the fstrm writer's side: READY, (ACCEPT), START, data, STOP, (FINISH); return the ACCEPT and
    FINISH received and what came after FINISH (empty when the receiver closed)."""
    with connect(path) as sender:
        sender.sendall(b.control_frame(b.READY, [b"protobuf:other.Thing", b.DNSTAP_CONTENT_TYPE]))
        accept = receive_exactly(sender, 8 + 4 + 8 + len(b.DNSTAP_CONTENT_TYPE))
        sender.sendall(b.control_frame(b.START, [b.DNSTAP_CONTENT_TYPE]))
        sender.sendall(b"".join(b.data_frame(payload) for payload in payloads))
        sender.sendall(b.control_frame(b.STOP))
        finish = receive_exactly(sender, 12)
        after = sender.recv(16)
    return accept, finish, after


def stored_rows(home: Path, where: str = "TRUE") -> int:
    """Rows of `dns_messages` in the warehouse at `home` matching `where`."""
    engine = DuckDBEngine(Warehouse.open(home))
    try:
        return int(
            engine.arrow(f"SELECT count(*) AS n FROM dns_messages WHERE {where}").column("n")[0].as_py()
        )
    finally:
        engine.close()
