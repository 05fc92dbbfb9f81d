"""The warehouse on disk: Parquet files per table and UTC day, committed through one catalog file.

A write stages its files in a private directory, then, holding the catalog lock, renames them into place
and rewrites `catalog.json` atomically. The catalog is the commit point: readers see only files it
lists, so an interrupted ingest leaves nothing visible, and a source already committed is never
committed twice (re-ingesting the same bytes is a no-op). Concurrent writers serialise on the lock.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import shutil
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

from dnsvigil.errors import SchemaVersionError, WarehouseError
from dnsvigil.store.schema import TABLES, TableSchema

CATALOG_FORMAT = 1
_ROWS_PER_FILE = 4_000_000


@dataclass(frozen=True, slots=True)
class StoredFile:
    """One committed Parquet file of a table."""

    table: str
    path: str
    day: str
    rows: int
    source_id: str


@dataclass(frozen=True, slots=True)
class SourceRecord:
    """A committed source (an input file, or one analyzer run) and what it added."""

    source_id: str
    table: str
    origin: str
    rows: int
    committed_at: str


def _write_json_atomically(path: Path, document: dict[str, Any]) -> None:
    temporary = path.with_name(f".{path.name}.{uuid.uuid4().hex}.tmp")
    with temporary.open("w", encoding="utf-8") as handle:
        # Compact: only then does `json` use its C encoder (an indented catalog of thousands of files
        # took 80 ms a commit to write).
        handle.write(json.dumps(document, sort_keys=True, separators=(",", ":")))
        handle.flush()
        os.fsync(handle.fileno())
    temporary.replace(path)


class Warehouse:
    """A warehouse directory: tables of Parquet files and the catalog that commits them."""

    def __init__(self, home: Path) -> None:
        self.home = home
        self._catalog_path = home / "catalog.json"
        self._lock_path = home / "catalog.lock"

    @classmethod
    def open(cls, home: Path, *, create: bool = False) -> Warehouse:
        """Open the warehouse at `home`, creating it when asked.

        Raises:
            WarehouseError: `home` is not a warehouse (and `create` is false) or cannot be created.
        """
        warehouse = cls(home)
        if not warehouse._catalog_path.exists():
            if not create:
                raise WarehouseError(
                    f"{home}: no dnsvigil warehouse here",
                    hint="ingest data first (dnsvigil ingest pcap ...) or pass --home / set DNSVIGIL_HOME",
                )
            try:
                home.mkdir(parents=True, exist_ok=True)
                with warehouse._locked():
                    if not warehouse._catalog_path.exists():
                        _write_json_atomically(warehouse._catalog_path, warehouse._empty_catalog())
            except OSError as error:
                raise WarehouseError(
                    f"{home}: cannot create the warehouse ({error.strerror})",
                    hint="choose a writable directory with --home",
                ) from error
        warehouse._read_catalog()
        return warehouse

    @staticmethod
    def _empty_catalog() -> dict[str, Any]:
        return {
            "format": CATALOG_FORMAT,
            "tables": {
                name: {"version": table.version, "files": [], "sources": {}} for name, table in TABLES.items()
            },
        }

    def _read_catalog(self) -> dict[str, Any]:
        try:
            catalog: dict[str, Any] = json.loads(self._catalog_path.read_text(encoding="utf-8"))
        except (OSError, ValueError) as error:
            raise WarehouseError(
                f"{self._catalog_path}: cannot read the catalog ({error})",
                hint="restore it from a backup, or start a new warehouse with --home",
            ) from error
        if catalog.get("format") != CATALOG_FORMAT:
            raise SchemaVersionError(
                f"{self._catalog_path}: catalog format {catalog.get('format')} is not {CATALOG_FORMAT}",
                hint="use the dnsvigil version that wrote it",
            )
        for name, table in TABLES.items():
            entry = catalog["tables"].setdefault(name, {"version": table.version, "files": [], "sources": {}})
            if entry["version"] != table.version:
                raise SchemaVersionError(
                    f"{self.home}: table {name} has schema version {entry['version']}, "
                    f"this dnsvigil reads version {table.version}",
                    hint="use the dnsvigil version that wrote it, or start a new warehouse with --home",
                )
        return catalog

    @contextlib.contextmanager
    def _locked(self) -> Iterator[None]:
        with self._lock_path.open("a") as lock_file:
            fcntl.flock(lock_file, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(lock_file, fcntl.LOCK_UN)

    def files(self, table: str) -> list[StoredFile]:
        """The committed files of `table`, in commit order."""
        entry = self._read_catalog()["tables"][table]
        return [StoredFile(table=table, **record) for record in entry["files"]]

    def sources(self, table: str) -> list[SourceRecord]:
        """The committed sources of `table`, in commit order."""
        entry = self._read_catalog()["tables"][table]
        return [SourceRecord(source_id=key, table=table, **value) for key, value in entry["sources"].items()]

    def has_source(self, table: str, source_id: str) -> bool:
        """Whether `source_id` is already committed to `table`."""
        return source_id in self._read_catalog()["tables"][table]["sources"]

    def begin(self, table: str) -> TableWrite:
        """Start a staged write to `table`; commit it with `TableWrite.commit`."""
        return TableWrite(self, TABLES[table])

    def _commit(self, write: TableWrite, source_id: str, origin: str) -> bool:
        with self._locked():
            catalog = self._read_catalog()
            entry = catalog["tables"][write.table.name]
            if source_id in entry["sources"]:
                return False
            self._remove_orphans(catalog)
            marker = self._commit_marker(os.getpid())
            marker.parent.mkdir(parents=True, exist_ok=True)
            marker.touch()
            records = []
            for staged in write.staged:
                final = self.home / "tables" / write.table.name / f"day={staged.day}" / staged.path.name
                final.parent.mkdir(parents=True, exist_ok=True)
                staged.path.replace(final)
                records.append(
                    {
                        "path": str(final.relative_to(self.home)),
                        "day": staged.day,
                        "rows": staged.rows,
                        "source_id": source_id,
                    }
                )
            entry["files"].extend(records)
            entry["sources"][source_id] = {
                "origin": origin,
                "rows": sum(staged.rows for staged in write.staged),
                "committed_at": datetime.now(UTC).isoformat(timespec="seconds"),
            }
            _write_json_atomically(self._catalog_path, catalog)
            marker.unlink()
            return True

    def _commit_marker(self, pid: int) -> Path:
        return self.home / "staging" / f".commit-{pid}"

    def _remove_orphans(self, catalog: dict[str, Any]) -> None:
        # Under the lock, a table file the catalog does not list can only be left by a commit that died
        # between its renames and its catalog write: it was never visible, so removing it loses nothing.
        # Such a commit leaves its marker behind, so the tables are searched only after one did.
        staging_dir = self.home / "staging"
        crashed = [
            marker
            for marker in (staging_dir.glob(".commit-*") if staging_dir.is_dir() else [])
            if marker.name.removeprefix(".commit-") == str(os.getpid())
            or not _process_alive(int(marker.name.removeprefix(".commit-")))
        ]
        tables_dir = self.home / "tables"
        if crashed and tables_dir.is_dir():
            listed = {record["path"] for entry in catalog["tables"].values() for record in entry["files"]}
            for path in tables_dir.glob("*/day=*/*.parquet"):
                if str(path.relative_to(self.home)) not in listed:
                    path.unlink(missing_ok=True)
        for marker in crashed:
            marker.unlink(missing_ok=True)
        if staging_dir.is_dir():
            for stale in staging_dir.iterdir():
                pid = stale.name.split("-", 1)[0]  # staged writes are named <pid>-...; markers start with .
                if pid.isdigit() and not _process_alive(int(pid)):
                    shutil.rmtree(stale, ignore_errors=True)


def _process_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _dictionary_columns(schema: pa.Schema) -> list[str]:
    """The columns worth dictionary-encoding in Parquet: text. Numbers and flags compress as well without,
    and dictionary-encoding them costs a quarter of ingest's writing time."""
    return [
        field.name for field in schema if pa.types.is_string(field.type) or pa.types.is_dictionary(field.type)
    ]


@dataclass(frozen=True, slots=True)
class _StagedFile:
    path: Path
    day: str
    rows: int


class TableWrite:
    """Rows staged for one table, written per UTC day, invisible until committed."""

    def __init__(self, warehouse: Warehouse, table: TableSchema) -> None:
        self.warehouse = warehouse
        self.table = table
        self.staged: list[_StagedFile] = []
        self._staging = warehouse.home / "staging" / f"{os.getpid()}-{uuid.uuid4().hex[:12]}"
        self._writers: dict[str, tuple[pq.ParquetWriter, Path, int]] = {}
        self._sequence = 0
        self._closed = False

    def __enter__(self) -> TableWrite:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.abort()

    def write(self, batch: pa.RecordBatch | pa.Table, day: str) -> None:
        """Stage rows that all fall on the UTC day `day` (YYYY-MM-DD)."""
        if batch.num_rows == 0:
            return
        if not batch.schema.equals(self.table.schema, check_metadata=False):
            raise WarehouseError(
                f"rows for table {self.table.name} do not match its schema version {self.table.version}",
                hint="this is a bug in the reader that produced them; please report it",
            )
        current = self._writers.get(day)
        if current is not None and current[2] >= _ROWS_PER_FILE:
            self._close_writer(day)
            current = None
        if current is None:
            self._staging.mkdir(parents=True, exist_ok=True)
            self._sequence += 1
            path = self._staging / f"{self._staging.name}-{self._sequence:05d}.parquet"
            writer = pq.ParquetWriter(
                path,
                self.table.schema,
                compression="zstd",
                compression_level=1,
                use_dictionary=_dictionary_columns(self.table.schema),
            )
            current = (writer, path, 0)
        writer, path, rows = current
        if isinstance(batch, pa.RecordBatch):
            writer.write_batch(batch, row_group_size=1 << 20)
        else:
            writer.write_table(batch, row_group_size=1 << 20)
        self._writers[day] = (writer, path, rows + batch.num_rows)

    def _close_writer(self, day: str) -> None:
        writer, path, rows = self._writers.pop(day)
        writer.close()
        with path.open("rb") as handle:
            os.fsync(handle.fileno())
        self.staged.append(_StagedFile(path=path, day=day, rows=rows))

    def commit(self, source_id: str, origin: str) -> bool:
        """Make the staged rows visible, unless `source_id` is already committed.

        Returns:
            True when committed, False when the source was already in the warehouse (nothing changes).
        """
        for day in list(self._writers):
            self._close_writer(day)
        try:
            committed = self.warehouse._commit(self, source_id, origin)
        except OSError as error:
            raise WarehouseError(
                f"{self.warehouse.home}: cannot commit to table {self.table.name} ({error})",
                hint="check free disk space and permissions; nothing was committed",
            ) from error
        finally:
            self.abort()
        return committed

    def abort(self) -> None:
        """Drop everything staged and not committed; safe to call more than once."""
        if self._closed:
            return
        self._closed = True
        for writer, _, _ in self._writers.values():
            with contextlib.suppress(Exception):
                writer.close()
        self._writers.clear()
        shutil.rmtree(self._staging, ignore_errors=True)
