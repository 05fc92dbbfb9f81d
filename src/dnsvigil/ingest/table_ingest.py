"""Ingest snapshot files (zone files, registration data, registrar lists, reports, abuse feeds) into a table.

Each file is one commit under a source id its reader chooses: the file's bytes for most, the (TLD, day)
of a zone snapshot or the (TLD, month) of a monthly report, so a snapshot is stored once whichever copy
comes first. A line a reader cannot use is counted by reason with the line of the first such; a file that
gives no row at all is a failure, and a run where every file failed raises `NothingReadError`.
"""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

import pyarrow as pa

from dnsvigil.errors import InputError, NothingReadError
from dnsvigil.ingest.field_values import SkippedLineError
from dnsvigil.ingest.pipeline import ProgressCallback, expand_paths
from dnsvigil.ingest.read_ahead import read_ahead
from dnsvigil.store.warehouse import Warehouse


class LineTally:
    """What a reader could not use, by reason: malformed input, and input skipped on purpose."""

    def __init__(self) -> None:
        self.records = 0
        self.malformed: Counter[str] = Counter()
        self.skipped: Counter[str] = Counter()
        self.first_line: dict[str, int] = {}

    def bad(self, reason: str, line: int) -> None:
        """Count a damaged line (or record) `line` under `reason`."""
        self.malformed[reason] += 1
        self.first_line.setdefault(reason, line)

    def skip(self, reason: str, line: int) -> None:
        """Count a sound line that gives no row (an IP address where a domain is needed, ...)."""
        self.skipped[reason] += 1
        self.first_line.setdefault(reason, line)


@dataclass(frozen=True, slots=True)
class Rows:
    """What a reader yields: rows of one partition day, and the input bytes consumed since the last."""

    day: str
    rows: pa.Table | pa.RecordBatch | None
    bytes_read: int = 0


@dataclass(frozen=True, slots=True)
class Source:
    """One input file, ready to be read into `table`.

    Attributes:
        source_id: its identity in the warehouse; a source already committed is not read again.
        read: yields its rows, counting what it cannot use into the tally.
    """

    path: Path
    table: str
    source_id: str
    read: Callable[[LineTally], Iterator[Rows]]


@dataclass(frozen=True, slots=True)
class SourceSummary:
    """What happened to one input file."""

    path: str
    status: Literal["ingested", "already-ingested", "nothing-usable", "failed"]
    rows: int = 0
    records: int = 0
    malformed: dict[str, int] = field(default_factory=dict)
    skipped: dict[str, int] = field(default_factory=dict)
    first_line: dict[str, int] = field(default_factory=dict)
    error: str = ""


@dataclass(frozen=True, slots=True)
class TableIngestSummary:
    """What an ingest run stored and could not read, for people and for `--json`."""

    table: str
    files: tuple[SourceSummary, ...]
    seconds: float

    @property
    def rows(self) -> int:
        return sum(file.rows for file in self.files)

    @property
    def malformed(self) -> dict[str, int]:
        return dict(sorted(sum((Counter(file.malformed) for file in self.files), Counter()).items()))

    @property
    def skipped(self) -> dict[str, int]:
        return dict(sorted(sum((Counter(file.skipped) for file in self.files), Counter()).items()))

    @property
    def rate(self) -> float:
        return self.rows / self.seconds if self.seconds > 0 else 0.0

    def to_json(self) -> dict[str, object]:
        """The summary as one JSON object."""
        return {
            "table": self.table,
            "rows": self.rows,
            "malformed": self.malformed,
            "malformed_total": sum(self.malformed.values()),
            "skipped": self.skipped,
            "seconds": round(self.seconds, 3),
            "rows_per_second": round(self.rate, 1),
            "files": [
                {
                    "path": file.path,
                    "status": file.status,
                    "rows": file.rows,
                    "records": file.records,
                    "malformed": file.malformed,
                    "skipped": file.skipped,
                    "first_line": file.first_line,
                    "error": file.error,
                }
                for file in self.files
            ],
        }


def _ingest_one(warehouse: Warehouse, source: Source, progress: ProgressCallback | None) -> SourceSummary:
    path = str(source.path)
    if warehouse.has_source(source.table, source.source_id):
        if progress:
            progress(source.path.stat().st_size)
        return SourceSummary(path=path, status="already-ingested")
    tally = LineTally()
    rows = 0
    with warehouse.begin(source.table) as write:
        for part in read_ahead(source.read(tally)):
            if part.rows is not None and part.rows.num_rows:
                write.write(part.rows, part.day)
                rows += part.rows.num_rows
            if progress and part.bytes_read:
                progress(part.bytes_read)
        committed = rows > 0 and write.commit(source.source_id, path)
    if rows == 0:
        return _summary(path, "nothing-usable", 0, tally, _why_empty(path, tally))
    return _summary(path, "ingested" if committed else "already-ingested", rows if committed else 0, tally)


def _summary(
    path: str,
    status: Literal["ingested", "already-ingested", "nothing-usable"],
    rows: int,
    tally: LineTally,
    error: str = "",
) -> SourceSummary:
    return SourceSummary(
        path=path,
        status=status,
        rows=rows,
        records=tally.records,
        malformed=dict(sorted(tally.malformed.items())),
        skipped=dict(sorted(tally.skipped.items())),
        first_line=dict(sorted(tally.first_line.items())),
        error=error,
    )


def _why_empty(path: str, tally: LineTally) -> str:
    reasons = tally.malformed + tally.skipped
    if not reasons:
        return f"{path}: no data line"
    common = ", ".join(f"{reason} {count:,}" for reason, count in reasons.most_common(3))
    first = min(tally.first_line.values())
    return f"{path}: no usable line ({common}; first at line {first})"


def ingest_sources(
    warehouse: Warehouse,
    paths: Iterable[Path],
    *,
    table: str,
    plan: Callable[[Path], Source],
    hint: str,
    progress: ProgressCallback | None = None,
) -> TableIngestSummary:
    """Ingest every file in `paths` (directories expanded) into `table`, one commit per file.

    Args:
        plan: makes the `Source` of a path (its identity and reader); may raise `InputError`.
        hint: what to do when nothing at all could be read (which format the command expects).

    Raises:
        NothingReadError: no file gave a row.
    """
    started = time.perf_counter()
    summaries: list[SourceSummary] = []
    for path in expand_paths(paths):
        try:
            summaries.append(_ingest_one(warehouse, plan(path), progress))
        except InputError as error:
            summaries.append(SourceSummary(path=str(path), status="failed", error=str(error)))
    if not summaries:
        raise NothingReadError("no input files found", hint="name files or directories holding them")
    if all(file.status in ("failed", "nothing-usable") for file in summaries):
        details = "; ".join(file.error for file in summaries[:3])
        raise NothingReadError(f"nothing could be read from {len(summaries)} file(s): {details}", hint=hint)
    return TableIngestSummary(table=table, files=tuple(summaries), seconds=time.perf_counter() - started)


Record = dict[str, object]
"""One row of a table as a reader builds it, column name to value."""


def tallied(
    parse: Callable[[str], Record | None], number: int, text: str | None, tally: LineTally
) -> Record | None:
    """The row `parse` makes of line `number`, counting in `tally` what it cannot use.

    `text` None (not UTF-8) and what `parse` raises, `SkippedLineError` (skipped on purpose) or `ValueError`
    (damaged; the message is the reason), are counted; a blank line is no record, nor a line `parse` returns
    None for (a header).
    """
    if text is None:
        tally.bad("not_utf8", number)
        return None
    if not text.strip():
        return None
    try:
        record = parse(text)
    except SkippedLineError as skip:
        tally.records += 1
        tally.skip(str(skip), number)
        return None
    except ValueError as error:
        tally.records += 1
        tally.bad(str(error), number)
        return None
    if record is not None:
        tally.records += 1
    return record


_ROWS_PER_BATCH = 1 << 16


def batched(records: Iterable[tuple[Record | None, int]], schema: pa.Schema, day: str) -> Iterator[Rows]:
    """Rows of one partition day in Arrow batches, from (record or None, bytes read) pairs."""
    pending: list[Record] = []
    consumed = 0
    for record, bytes_read in records:
        consumed += bytes_read
        if record is not None:
            pending.append(record)
        if len(pending) >= _ROWS_PER_BATCH:
            yield Rows(day, pa.Table.from_pylist(pending, schema=schema), consumed)
            pending, consumed = [], 0
    yield Rows(day, pa.Table.from_pylist(pending, schema=schema) if pending else None, consumed)
