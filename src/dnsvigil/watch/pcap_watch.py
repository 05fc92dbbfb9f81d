"""`watch_pcap`: follow a directory where a capture tool rotates files; store each finished file, judge it.

Each finished file (`FileTracker`) is ingested as `dnsvigil ingest pcap` ingests it: one commit, known to
the warehouse by its content, so a file is never stored twice, across restarts too. It is recorded done
(`PcapState`) only after its commit. Files wait on disk while the watcher is busy: nothing is dropped. A
failing store (a full disk) is told, and the file is tried again after a growing wait.
"""

from __future__ import annotations

import fnmatch
import math
import os
import threading
import time
from pathlib import Path

from dnsvigil.config import read_int
from dnsvigil.errors import InputError, NothingReadError, UsageError
from dnsvigil.ingest.pipeline import ingest_files
from dnsvigil.store.warehouse import Warehouse
from dnsvigil.watch.batcher import Backoff
from dnsvigil.watch.events import WatchEvents
from dnsvigil.watch.file_tracker import FileEntry, FileTracker
from dnsvigil.watch.message_processor import describe_os_error
from dnsvigil.watch.pcap_state import FileRecord, PcapState, head_digest
from dnsvigil.watch.settings import WatchSettings
from dnsvigil.watch.stats import WatchSummary
from dnsvigil.watch.watcher import WatchRun


def watch_pcap(
    warehouse: Warehouse,
    directory: Path,
    *,
    settings: WatchSettings,
    events: WatchEvents,
    stop: threading.Event,
    pattern: str = "*",
    ports: tuple[int, ...] = (53,),
    webhook_url: str | None = None,
) -> WatchSummary:
    """Store every finished capture file of `directory` until `stop` is set or a stop condition is met.

    Args:
        warehouse: where messages and findings are stored.
        directory: where the capture tool writes its files (not searched recursively).
        settings: settle time, detection span and stop conditions (`max_messages` counts stored messages).
        events: where progress, warnings and alerts go.
        stop: set it to stop; it is set when `max_seconds` or `max_messages` is reached.
        pattern: which file names to take (shell wildcards), e.g. `dns_*.pcap*`.
        ports: UDP and TCP ports whose traffic is DNS.
        webhook_url: where each new finding is posted as JSON, if anywhere.

    Returns:
        What was stored and found, and what became of the files.

    Raises:
        UsageError: the directory does not exist, or a setting cannot be used.
    """
    if not directory.is_dir():
        raise UsageError(
            f"{directory}: no such directory to watch", hint="name the capture tool's output folder"
        )
    run = WatchRun(
        warehouse,
        source=f"captures in {directory}",
        settings=settings,
        events=events,
        stop=stop,
        webhook_url=webhook_url,
    )
    state, problem = PcapState.load(run.home, directory)
    if problem:
        events.warning(problem)
    follower = _Follower(run, directory, pattern=pattern, ports=ports, state=state)
    events.info(f"watching {directory} for finished capture files ({pattern}); storing in {run.home}")
    follower.follow()
    return run.finish()


def list_files(directory: Path, pattern: str) -> list[FileEntry]:
    """The regular, visible files of `directory` (not its subdirectories) whose names match `pattern`.

    Raises:
        OSError: the directory cannot be listed.
    """
    entries = []
    with os.scandir(directory) as listing:
        for item in listing:
            if item.name.startswith(".") or not fnmatch.fnmatch(item.name, pattern):
                continue
            try:
                if not item.is_file(follow_symlinks=False):
                    continue
                status = item.stat(follow_symlinks=False)
            except FileNotFoundError:
                continue  # removed since listed (a ring buffer's oldest file)
            entries.append(FileEntry(item.name, status.st_size, status.st_mtime_ns))
    return entries


class _Follower:
    def __init__(
        self, run: WatchRun, directory: Path, *, pattern: str, ports: tuple[int, ...], state: PcapState
    ) -> None:
        self._run = run
        self._directory = directory
        self._pattern = pattern
        self._ports = ports
        self._state = state
        self._chunk_bytes = read_int("chunk_mib", minimum=1) << 20
        self._tracker = FileTracker(settle_seconds=run.settings.settle_seconds)
        self._poll = min(max(run.settings.settle_seconds / 4, 0.1), 1.0)
        self._backoff = Backoff()
        self._retry_at = 0.0
        self._listing_problem = ""

    def follow(self) -> None:
        """Look, store, judge, wait; until stopped. The detectors run a last time before returning."""
        detected_at = -math.inf
        undetected = False
        waiting = 0
        while not self._run.should_stop(self._run.stats.total("stored")):
            now = time.monotonic()
            stored, waiting = self._look(now)
            undetected = undetected or stored
            if undetected and now - detected_at >= self._run.settings.batch_seconds:
                detected_at, undetected = now, False
                self._run.detection.run()
            self._run.stop.wait(self._poll)
        if undetected:
            self._run.detection.run()
        if waiting:
            self._run.events.info(
                f"stopping with {waiting} file(s) not finished yet; they are read next time"
            )

    def _look(self, now: float) -> tuple[bool, int]:
        """Store the finished files not done yet; return whether any was stored, and how many wait."""
        try:
            listing = list_files(self._directory, self._pattern)
        except OSError as error:
            problem = f"{self._directory}: cannot list the directory ({error.strerror}); trying again"
            if problem != self._listing_problem:
                self._run.events.warning(problem)
            self._listing_problem = problem
            return False, 0
        self._listing_problem = ""
        self._state.forget_except(entry.name for entry in listing)
        finished = self._tracker.finished(listing, now)
        stored = False
        for entry in finished:
            if self._run.stop.is_set() or now < self._retry_at:
                break
            record = self._state.record(entry.name)
            if record is None or not record.matches(entry):
                stored = self._take(entry, record) or stored
        return stored, len(listing) - len(finished)

    def _take(self, entry: FileEntry, record: FileRecord | None) -> bool:
        """Store one finished file; true when rows were stored."""
        path = self._directory / entry.name
        try:
            head = head_digest(path, entry.size)
            grew = record is not None and entry.size > record.size
            if grew and record is not None and head_digest(path, record.size) == record.head_sha256:
                self._grew(path, entry, record)
                return False
        except OSError:
            return False  # rotated away since it was listed
        try:
            summary = ingest_files(
                self._run.warehouse, [path], kind="pcap", ports=self._ports, chunk_bytes=self._chunk_bytes
            )
        except NothingReadError as error:
            self._run.events.warning(f"{error}; the file is skipped")
            self._done(entry, FileRecord(entry.size, entry.mtime_ns, head, "nothing-read"))
            return False
        except InputError:
            return False  # removed while being read: nothing was committed
        except OSError as error:  # WarehouseError too: a full disk, a warehouse it cannot write
            wait = self._backoff.failed()
            self._retry_at = time.monotonic() + wait
            self._run.stats.add(store_failures=1)
            self._run.events.warning(
                f"cannot store {path} in {self._run.home}: {describe_os_error(error)}; "
                f"it stays in the directory and is tried again in {wait:.0f} s"
            )
            return False
        self._backoff.succeeded()
        (file,) = summary.files
        self._run.stats.add(received=file.messages, stored=file.messages)
        self._run.stats.add_reasons(malformed=file.malformed, skipped=file.skipped)
        self._run.events.info(f"{path.name}: {file.messages:,} message(s) stored ({file.status})")
        self._done(entry, FileRecord(entry.size, entry.mtime_ns, head, file.status, file.messages))
        return file.messages > 0

    def _grew(self, path: Path, entry: FileEntry, record: FileRecord) -> None:
        self._run.events.warning(
            f"{path} grew after it was stored (it had stopped growing for "
            f"{self._run.settings.settle_seconds:.0f} s); its new part is not stored, to store nothing "
            "twice: raise DNSVIGIL_WATCH_SETTLE_SECONDS above the capture tool's longest pause"
        )
        self._done(
            entry,
            FileRecord(entry.size, entry.mtime_ns, record.head_sha256, "grew-after-storing", record.messages),
        )

    def _done(self, entry: FileEntry, record: FileRecord) -> None:
        self._run.stats.add_file(record.status)
        try:
            self._state.mark(entry.name, record)
        except OSError as error:
            self._run.events.warning(
                f"cannot save the watch state in {self._state.path} ({describe_os_error(error)}); "
                "after a restart the file is read again, and the warehouse does not store it twice"
            )
