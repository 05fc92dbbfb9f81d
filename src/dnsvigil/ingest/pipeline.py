"""Ingest captures into the warehouse: read, decode, split by UTC day, stage, commit.

Three threads share the work of a file, so every core is busy and memory stays bounded whatever the input
size: one hashes the file (its identity in the warehouse), one reads and decodes it (compiled kernels that
release the GIL), and the calling thread writes Parquet (Arrow's C++ encoder, also without the GIL), taking
decoded batches from a bounded queue.
"""

from __future__ import annotations

import hashlib
import queue
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

import numpy as np
import pyarrow as pa

from dnsvigil.errors import InputError, NothingReadError
from dnsvigil.ingest.reasons import counts_to_dict, new_counts
from dnsvigil.ingest.slices import DEFAULT_CHUNK_BYTES, CaptureBatch
from dnsvigil.store.warehouse import Warehouse

SourceKind = Literal["pcap", "dnstap"]
ProgressCallback = Callable[[int], None]

NS_PER_DAY = 86_400 * 1_000_000_000
_QUEUE_DEPTH = 2
_HASH_BLOCK_BYTES = 8 << 20


@dataclass(frozen=True, slots=True)
class FileSummary:
    """What happened to one input file."""

    path: str
    status: Literal["ingested", "already-ingested", "no-dns", "failed"]
    messages: int = 0
    records: int = 0
    malformed: dict[str, int] = field(default_factory=dict)
    skipped: dict[str, int] = field(default_factory=dict)
    error: str = ""


@dataclass(frozen=True, slots=True)
class IngestSummary:
    """What an ingest run read, stored and could not read, for people and for `--json`."""

    files: tuple[FileSummary, ...]
    seconds: float

    @property
    def messages(self) -> int:
        return sum(file.messages for file in self.files)

    @property
    def malformed(self) -> dict[str, int]:
        return _sum_counts(file.malformed for file in self.files)

    @property
    def skipped(self) -> dict[str, int]:
        return _sum_counts(file.skipped for file in self.files)

    @property
    def rate(self) -> float:
        return self.messages / self.seconds if self.seconds > 0 else 0.0

    def to_json(self) -> dict[str, object]:
        """The summary as one JSON object."""
        return {
            "messages": self.messages,
            "malformed": self.malformed,
            "malformed_total": sum(self.malformed.values()),
            "skipped": self.skipped,
            "seconds": round(self.seconds, 3),
            "messages_per_second": round(self.rate, 1),
            "files": [
                {
                    "path": file.path,
                    "status": file.status,
                    "messages": file.messages,
                    "records": file.records,
                    "malformed": file.malformed,
                    "skipped": file.skipped,
                    "error": file.error,
                }
                for file in self.files
            ],
        }


def _sum_counts(parts: Iterable[dict[str, int]]) -> dict[str, int]:
    total: dict[str, int] = {}
    for part in parts:
        for key, value in part.items():
            total[key] = total.get(key, 0) + value
    return dict(sorted(total.items()))


def expand_paths(paths: Iterable[Path]) -> list[Path]:
    """Files named, plus the files under directories named (recursively, sorted, hidden ones skipped).

    Raises:
        InputError: a named path does not exist.
    """
    files: list[Path] = []
    for path in paths:
        if path.is_dir():
            visible = (
                child
                for child in path.rglob("*")
                if not any(part.startswith(".") for part in child.relative_to(path).parts)
            )
            files.extend(sorted(child for child in visible if child.is_file()))
        elif path.exists():
            files.append(path)
        else:
            raise InputError(f"{path}: no such file or directory", hint="check the path")
    return files


def source_id_of(path: Path, kind: str, ports: tuple[int, ...] = ()) -> str:
    """Identity of an input: its bytes and how they are read, so the same capture is stored once."""
    digest = hashlib.sha256()
    digest.update(f"{kind}:{','.join(map(str, ports))}:".encode())
    # Big blocks: reading and hashing release the GIL, and each block takes it back once, which costs up to
    # a switch interval (5 ms) while another thread runs Python.
    block = bytearray(_HASH_BLOCK_BYTES)
    try:
        with path.open("rb", buffering=0) as handle, memoryview(block) as view:
            while count := handle.readinto(block):
                digest.update(view[:count])
    except OSError as error:
        raise InputError(
            f"{path}: cannot read ({error.strerror})", hint="check the file's permissions"
        ) from error
    return digest.hexdigest()


def _reader(kind: SourceKind, path: Path, ports: tuple[int, ...], chunk_bytes: int) -> Iterator[CaptureBatch]:
    if kind == "pcap":
        from dnsvigil.ingest.capture_file import read_capture

        return read_capture(path, ports=ports, chunk_bytes=chunk_bytes)
    from dnsvigil.ingest.dnstap_stream import read_dnstap

    return read_dnstap(path, chunk_bytes=chunk_bytes)


def day_label(day: int) -> str:
    """`YYYY-MM-DD` of UTC day number `day` (days since the epoch): the day a stored file is filed under."""
    return str(np.datetime64(day, "D"))


def split_by_day(batch: pa.RecordBatch) -> Iterator[tuple[str, pa.RecordBatch]]:
    """The rows of `batch` by UTC day of `ts`, as (YYYY-MM-DD, rows) pairs: one warehouse write per day."""
    ts_ns = batch.column("ts").cast(pa.int64()).to_numpy(zero_copy_only=False)
    days = ts_ns // NS_PER_DAY
    first, last = int(days.min()), int(days.max())
    for day in range(first, last + 1):
        label = day_label(day)
        if first == last:
            yield label, batch
        else:
            mask = days == day
            if mask.any():
                yield label, batch.filter(pa.array(mask))


class _Stop:
    """Marks the end of the decoded stream in the queue."""


_Decoded = tuple[pa.RecordBatch, int] | _Stop | BaseException
"""What the decoding thread hands over: rows with the input bytes they came from, the end, or its error."""


def _ingest_one(
    warehouse: Warehouse,
    path: Path,
    kind: SourceKind,
    ports: tuple[int, ...],
    chunk_bytes: int,
    progress: ProgressCallback | None,
) -> FileSummary:
    counts = new_counts()
    decoded: queue.Queue[_Decoded] = queue.Queue(maxsize=_QUEUE_DEPTH)
    cancelled = threading.Event()
    records = 0

    def produce() -> None:
        nonlocal records
        try:
            from dnsvigil.ingest.dns_wire import decode_messages

            for batch in _reader(kind, path, ports, chunk_bytes):
                if cancelled.is_set():
                    return
                counts[:] += batch.counts
                records += batch.records
                # Decoded before the next batch is read: the reader reuses the buffer the slices point into.
                decoded.put((decode_messages(batch.slices, counts, str(path)), batch.bytes_read))
            decoded.put(_Stop())
        except BaseException as error:  # handed to the writing thread, which re-raises it
            decoded.put(error)

    # The file is hashed while reading starts (numba's start-up on the first file): hashing releases the GIL.
    # Nothing is written before the hash says whether the file is already in the warehouse.
    producer = threading.Thread(target=produce, name=f"decode {path.name}", daemon=True)
    messages = 0
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="hash") as hasher:
        hashing = hasher.submit(source_id_of, path, kind, ports)
        producer.start()
        try:
            source_id = hashing.result()
            if warehouse.has_source("dns_messages", source_id):
                if progress:
                    progress(path.stat().st_size)
                return FileSummary(path=str(path), status="already-ingested")
            with warehouse.begin("dns_messages") as write:
                while not isinstance(item := decoded.get(), _Stop):
                    if isinstance(item, BaseException):
                        raise item
                    rows, bytes_read = item
                    messages += rows.num_rows
                    for day, part in split_by_day(rows) if rows.num_rows else ():
                        write.write(part, day)
                    if progress:
                        progress(bytes_read)
                # A file with no DNS message is not recorded: it may be ingested later with other --ports.
                committed = messages > 0 and write.commit(source_id, str(path))
        finally:
            cancelled.set()
            _drain_until_stopped(decoded, producer)
    status: Literal["ingested", "already-ingested", "no-dns"] = "no-dns"
    if messages:
        status = "ingested" if committed else "already-ingested"
    return FileSummary(
        path=str(path),
        status=status,
        messages=messages if committed else 0,
        records=records,
        malformed=counts_to_dict(counts, malformed=True),
        skipped=counts_to_dict(counts, malformed=False),
    )


def _drain_until_stopped(pending: queue.Queue[_Decoded], producer: threading.Thread) -> None:
    # The producer blocks on a full queue; keep taking until it has finished so the thread ends.
    while producer.is_alive():
        try:
            pending.get(timeout=0.1)
        except queue.Empty:
            continue
    producer.join()


def ingest_files(
    warehouse: Warehouse,
    paths: Iterable[Path],
    *,
    kind: SourceKind,
    ports: tuple[int, ...] = (53,),
    chunk_bytes: int = DEFAULT_CHUNK_BYTES,
    progress: ProgressCallback | None = None,
) -> IngestSummary:
    """Ingest every file in `paths` (directories expanded), one commit per file.

    A file that cannot be read is reported in the summary and the others go on. `DNS_MESSAGES` rows are
    committed per file, so a failure never leaves part of a file in the warehouse.

    Raises:
        NothingReadError: no file could be read at all.
    """
    started = time.perf_counter()
    summaries: list[FileSummary] = []
    for path in expand_paths(paths):
        try:
            summaries.append(_ingest_one(warehouse, path, kind, ports, chunk_bytes, progress))
        except InputError as error:
            summaries.append(FileSummary(path=str(path), status="failed", error=str(error)))
    summary = IngestSummary(files=tuple(summaries), seconds=time.perf_counter() - started)
    if summaries and all(file.status in ("failed", "no-dns") for file in summaries):
        details = "; ".join(file.error or f"{file.path}: no DNS message" for file in summaries[:3])
        no_dns = any(file.status == "no-dns" for file in summaries)
        raise NothingReadError(
            f"nothing could be read from {len(summaries)} file(s): {details}",
            hint="if DNS runs on other ports there, name them with --ports" if no_dns else "",
        )
    if not summaries:
        raise NothingReadError("no input files found", hint="name capture files or directories holding them")
    return summary
