"""The warehouse on disk: Parquet files per table and UTC day, committed through the catalog.

A write stages its files in a private directory, then, holding the catalog lock, renames them into place
and appends an entry to the catalog (`store.catalog`). The catalog is the commit point: readers see only
files it lists, so an interrupted ingest leaves nothing visible, and a source already committed is never
committed twice (re-ingesting the same bytes is a no-op). Concurrent writers serialise on the lock.

Compaction (`Warehouse.compact`) swaps merged files for the small ones they replace in one such commit.
The replaced files stay on disk a while, listed as retired, for readers that listed them before the swap.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import shutil
import uuid
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

from dnsvigil.errors import SchemaVersionError, UsageError, WarehouseError
from dnsvigil.store.catalog import CATALOG_FORMAT, Catalog, State
from dnsvigil.store.compaction import Merge, TableCompaction, plan_merges, write_merged
from dnsvigil.store.parquet import ROWS_PER_FILE, ROWS_PER_GROUP, open_writer, sync_file
from dnsvigil.store.schema import TABLES, TableSchema

REPLACED_FILES_KEPT = timedelta(hours=1)
"""How long compaction keeps the files it replaced: longer than any reader scans a list of files."""


@dataclass(frozen=True, slots=True)
class StoredFile:
    """One committed Parquet file of a table.

    `source_id` is the source whose commit wrote the file; a file compaction merged holds rows of several
    sources, and is named `compaction:<digest of the files it replaced>`. The sources themselves are
    recorded apart (`Warehouse.sources`), and compaction never changes them.
    """

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


class Warehouse:
    """A warehouse directory: tables of Parquet files and the catalog that commits them."""

    def __init__(self, home: Path) -> None:
        self.home = home
        self._catalog = Catalog(home, self._checked)
        self._lock_path = home / "catalog.lock"
        self._stored: dict[str, tuple[list[dict[str, Any]], list[StoredFile]]] = {}

    @classmethod
    def open(cls, home: Path, *, create: bool = False) -> Warehouse:
        """Open the warehouse at `home`, creating it when asked.

        Raises:
            WarehouseError: `home` is not a warehouse (and `create` is false) or cannot be created.
        """
        warehouse = cls(home)
        if not warehouse._catalog.checkpoint.exists():
            if not create:
                raise WarehouseError(
                    f"{home}: no dnsvigil warehouse here",
                    hint="ingest data first (dnsvigil ingest pcap ...) or pass --home / set DNSVIGIL_HOME",
                )
            try:
                home.mkdir(parents=True, exist_ok=True)
                with warehouse._locked():
                    if not warehouse._catalog.checkpoint.exists():
                        warehouse._catalog.create(warehouse._empty_catalog())
            except OSError as error:
                raise WarehouseError(
                    f"{home}: cannot create the warehouse ({error.strerror})",
                    hint="choose a writable directory with --home",
                ) from error
        warehouse._read_catalog()
        return warehouse

    @staticmethod
    def _empty_catalog() -> State:
        return {
            "format": CATALOG_FORMAT,
            "log_from": 0,
            "tables": {
                name: {"version": table.version, "files": [], "sources": {}} for name, table in TABLES.items()
            },
        }

    def _read_catalog(self) -> State:
        with self._catalog_errors():
            return self._catalog.read()

    @contextlib.contextmanager
    def _catalog_errors(self) -> Iterator[None]:
        try:
            yield
        except WarehouseError:
            raise
        except (OSError, ValueError) as error:
            raise WarehouseError(
                f"{self.home}: cannot read the catalog ({error})",
                hint="restore it from a backup, or start a new warehouse with --home",
            ) from error

    def _checked(self, catalog: State) -> State:
        """A checkpoint just read, refused unless this dnsvigil reads it, with tables it lacks added."""
        if catalog.get("format") not in (1, CATALOG_FORMAT):
            raise SchemaVersionError(
                f"{self._catalog.checkpoint}: catalog format {catalog.get('format')} is not {CATALOG_FORMAT}",
                hint="use the dnsvigil version that wrote it",
            )
        tables = dict(catalog["tables"])
        for name, table in TABLES.items():
            entry = tables.setdefault(name, {"version": table.version, "files": [], "sources": {}})
            if entry["version"] != table.version:
                raise SchemaVersionError(
                    f"{self.home}: table {name} has schema version {entry['version']}, "
                    f"this dnsvigil reads version {table.version}",
                    hint="use the dnsvigil version that wrote it, or start a new warehouse with --home",
                )
        return {**catalog, "format": CATALOG_FORMAT, "log_from": catalog.get("log_from", 0), "tables": tables}

    def generation(self) -> tuple[object, ...]:
        """A value that changes whenever a commit changes what the warehouse holds."""
        with self._catalog_errors():
            return self._catalog.generation()

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
        return self._stored_files(table, self._read_catalog()["tables"][table]["files"])

    def listing(self) -> dict[str, list[StoredFile]]:
        """The committed files of every table, in commit order, as of one commit."""
        tables = self._read_catalog()["tables"]
        return {name: self._stored_files(name, tables[name]["files"]) for name in TABLES}

    def _stored_files(self, table: str, records: list[dict[str, Any]]) -> list[StoredFile]:
        """`records` as `StoredFile`s, made once: a watcher's table lists a file for every second or so, and
        the catalog's states share their records, so a list that only grew is extended, not made again."""
        known_records, stored = self._stored.get(table, ([], []))
        if records is not known_records:
            known = len(known_records)
            # Commits append and compactions remove: the last record known still at its place means that
            # nothing before it changed.
            if known and len(records) >= known and records[known - 1] is known_records[-1]:
                stored = [*stored, *(StoredFile(table=table, **record) for record in records[known:])]
            else:
                stored = [StoredFile(table=table, **record) for record in records]
            self._stored[table] = (records, stored)
        return list(stored)

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
            if source_id in catalog["tables"][write.table.name]["sources"]:
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
            source = {
                "origin": origin,
                "rows": sum(staged.rows for staged in write.staged),
                "committed_at": datetime.now(UTC).isoformat(timespec="seconds"),
            }
            expired = _expired(catalog, datetime.now(UTC))
            self._catalog.append(
                {"table": write.table.name, "files": records, "source_id": source_id, "source": source,
                 "expired": expired}
            )  # fmt: skip
            self._delete(expired)
            marker.unlink()
            return True

    def compact(
        self,
        table: str | None = None,
        *,
        keep_replaced: timedelta = REPLACED_FILES_KEPT,
        on_table: Callable[[str], None] = lambda name: None,
    ) -> list[TableCompaction]:
        """Rewrite each table's small files of a day as few files; safe while others read or write.

        The rows stay the same; the merged files replace the small ones in one catalog commit, so a reader
        sees one set or the other, never both or neither. The sources stay as they were, so re-ingesting one
        is still a no-op. A crash leaves the old files committed and the new ones to the next commit's
        clean-up. The replaced files are deleted `keep_replaced` later, by a later commit or compaction:
        readers that listed them before the swap may still be reading them.

        Args:
            table: the table to compact; every table when None.
            keep_replaced: how long replaced files stay on disk (zero when nobody reads the warehouse).
            on_table: told the name of each table before it is compacted.

        Returns:
            One entry per table, in the order of `store.schema.TABLES`.

        Raises:
            UsageError: `table` is no table of the warehouse.
            WarehouseError: a file cannot be read or written; nothing was changed.
        """
        if table is not None and table not in TABLES:
            raise UsageError(f"no table {table!r} in the warehouse; tables: {', '.join(TABLES)}")
        results = []
        for name in [table] if table is not None else list(TABLES):
            on_table(name)
            files = self.files(name)
            merges = plan_merges(files)
            staging = self.home / "staging" / f"{os.getpid()}-compact-{uuid.uuid4().hex[:12]}"
            try:
                staged = []
                for number, merge in enumerate(merges, start=1):
                    path = staging / f"{staging.name}-{number:05d}.parquet"
                    write_merged(merge, TABLES[name], self.home, path)
                    staged.append((merge, path))
                applied = self._replace(name, staged, keep_replaced)
            except OSError as error:
                raise WarehouseError(
                    f"{self.home}: cannot compact table {name} ({error})",
                    hint="check free disk space and permissions; the table was left as it was",
                ) from error
            finally:
                shutil.rmtree(staging, ignore_errors=True)
            removed = sum(len(merge.paths) - 1 for merge in applied)
            rows = sum(stored.rows for stored in files)
            results.append(TableCompaction(name, len(files), len(files) - removed, rows))
        return results

    def _replace(self, table: str, staged: Sequence[tuple[Merge, Path]], keep: timedelta) -> list[Merge]:
        """Commit staged merged files in place of the files they merge; return the merges committed (those
        whose files are all still committed: a concurrent compaction may have merged some first)."""
        with self._locked():
            catalog = self._read_catalog()
            self._remove_orphans(catalog)
            listed = {record["path"] for record in catalog["tables"][table]["files"]}
            applied = [(merge, path) for merge, path in staged if listed.issuperset(merge.paths)]
            now = datetime.now(UTC)
            if not applied and not _expired(catalog, now):
                return []
            marker = self._commit_marker(os.getpid())
            marker.parent.mkdir(parents=True, exist_ok=True)
            marker.touch()
            merged: dict[str, dict[str, Any]] = {}
            for merge, path in applied:
                final = self.home / "tables" / table / f"day={merge.day}" / path.name
                final.parent.mkdir(parents=True, exist_ok=True)
                path.replace(final)
                merged[merge.paths[0]] = {
                    "path": str(final.relative_to(self.home)),
                    "day": merge.day,
                    "rows": merge.rows,
                    "source_id": merge.source_id,
                }
            # A merged file takes the place of its first file, so the list keeps its commit order.
            replaced = [path for merge, _ in applied for path in merge.paths]
            deadline = (now + keep).isoformat(timespec="seconds")
            retired = [{"path": path, "delete_after": deadline} for path in replaced]
            expired = _expired(catalog, now, also=retired)
            gone = sorted(set(replaced) - set(merged))
            self._catalog.append(
                {"table": table, "merged": merged, "gone": gone, "retired": retired, "expired": expired}
            )
            self._delete(expired)
            marker.unlink()
            return [merge for merge, _ in applied]

    def _delete(self, paths: list[str]) -> None:
        for path in paths:
            (self.home / path).unlink(missing_ok=True)

    def _commit_marker(self, pid: int) -> Path:
        return self.home / "staging" / f".commit-{pid}"

    def _remove_orphans(self, catalog: State) -> None:
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
            listed = {
                record["path"]
                for entry in catalog["tables"].values()
                for record in (*entry["files"], *entry.get("retired", ()))
            }
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


def _expired(catalog: State, now: datetime, also: Sequence[dict[str, str]] = ()) -> list[str]:
    """The retired files of `catalog` (and `also`) whose time is up: to take out of the catalog in the
    commit, and delete once it is written (a crash in between leaves them to the orphan clean-up)."""
    retired = [record for entry in catalog["tables"].values() for record in entry.get("retired", ())]
    return [
        record["path"]
        for record in (*retired, *also)
        if datetime.fromisoformat(record["delete_after"]) <= now
    ]


def _process_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


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
        if current is not None and current[2] >= ROWS_PER_FILE:
            self._close_writer(day)
            current = None
        if current is None:
            self._staging.mkdir(parents=True, exist_ok=True)
            self._sequence += 1
            path = self._staging / f"{self._staging.name}-{self._sequence:05d}.parquet"
            current = (open_writer(path, self.table.schema), path, 0)
        writer, path, rows = current
        if isinstance(batch, pa.RecordBatch):
            writer.write_batch(batch, row_group_size=ROWS_PER_GROUP)
        else:
            writer.write_table(batch, row_group_size=ROWS_PER_GROUP)
        self._writers[day] = (writer, path, rows + batch.num_rows)

    def _close_writer(self, day: str) -> None:
        writer, path, rows = self._writers.pop(day)
        writer.close()
        sync_file(path)
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
