"""Compaction: a table's many small files of one day rewritten as few large ones.

Every commit adds a file per UTC day it touches, so a warehouse fed by many small sources (a live capture
committing every few seconds, a feed file a day per feed) gathers thousands of files, and DuckDB pays for
each file on every query. Compaction merges the files of a day that are not full into as few files as
`ROWS_PER_FILE` allows, rows sorted by the table's time column (then by domain, where a table has one),
which Parquet's statistics turn into skipped row groups; a domain column also gets a Bloom filter, so a
lookup of one domain skips the files without it. This module plans and writes the merged files;
`Warehouse.compact` swaps them in under the catalog lock.
"""

from __future__ import annotations

import hashlib
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import pyarrow.parquet as pq

from dnsvigil.errors import WarehouseError
from dnsvigil.store.parquet import ROWS_PER_FILE, open_writer, sync_file
from dnsvigil.store.schema import TableSchema

if TYPE_CHECKING:
    from dnsvigil.store.warehouse import StoredFile

MERGED_ROWS_PER_GROUP = 122_880
"""Row groups of merged files, DuckDB's own size: DuckDB scans a file's row groups in parallel and skips
those whose statistics rule a filter out, so one group per file (ingest's size) would scan on one thread."""


@dataclass(frozen=True, slots=True)
class TableCompaction:
    """What compacting one table did: its file count before and after, and the rows those files hold."""

    table: str
    files_before: int
    files_after: int
    rows: int

    def __post_init__(self) -> None:
        if not 0 <= self.files_after <= self.files_before or self.rows < 0:
            raise ValueError(f"impossible compaction of {self.table}: {self}")


@dataclass(frozen=True, slots=True)
class Merge:
    """Committed files of one table and day, to be rewritten as one file of `rows` rows."""

    day: str
    paths: tuple[str, ...]
    rows: int

    def __post_init__(self) -> None:
        if len(self.paths) < 2:
            raise ValueError(f"a merge needs two files or more, got {self.paths}")

    @property
    def source_id(self) -> str:
        """What the catalog records as the merged file's source: its rows come from several sources (whose
        records stay as they were), so it is named after the files it replaces."""
        digest = hashlib.sha256("\0".join(self.paths).encode()).hexdigest()
        return f"compaction:{digest}"


def plan_merges(files: Sequence[StoredFile], *, rows_per_file: int = ROWS_PER_FILE) -> list[Merge]:
    """The merges that leave each day of a table with as few files as `rows_per_file` allows.

    Files are taken in commit order and gathered while they fit, so a second plan over the result finds
    nothing to merge. Full files are left alone: rewriting them would gain nothing.
    """
    by_day: dict[str, list[StoredFile]] = defaultdict(list)
    for stored in files:
        if stored.rows < rows_per_file:
            by_day[stored.day].append(stored)
    merges: list[Merge] = []
    for day, candidates in by_day.items():
        group: list[StoredFile] = []
        rows = 0
        for stored in candidates:
            if group and rows + stored.rows > rows_per_file:
                merges += _merge_of(day, group)
                group, rows = [], 0
            group.append(stored)
            rows += stored.rows
        merges += _merge_of(day, group)
    return merges


def _merge_of(day: str, group: list[StoredFile]) -> list[Merge]:
    if len(group) < 2:
        return []
    return [Merge(day, tuple(stored.path for stored in group), sum(stored.rows for stored in group))]


def _lookup_columns(table: TableSchema) -> list[str]:
    """The columns searched for one value (the web app's search looks domains up)."""
    return ["domain"] if "domain" in table.schema.names else []


def _sort_keys(table: TableSchema) -> list[tuple[str, str]]:
    return [(column, "ascending") for column in (table.time_column, *_lookup_columns(table))]


def write_merged(merge: Merge, table: TableSchema, home: Path, destination: Path) -> None:
    """Write the rows of `merge`'s files, sorted, to one new file at `destination`.

    The rows are held in memory to be sorted: at most `ROWS_PER_FILE` of them.

    Raises:
        WarehouseError: the files hold another number of rows than the catalog says.
        OSError: a file cannot be read or written.
    """
    # The sort is stable: rows that tie keep their commit order.
    rows = pq.read_table([home / path for path in merge.paths], schema=table.schema).sort_by(
        _sort_keys(table)
    )
    if rows.num_rows != merge.rows:
        raise WarehouseError(
            f"{home}: files of table {table.name} on {merge.day} hold {rows.num_rows} rows, "
            f"the catalog says {merge.rows}",
            hint="the warehouse was changed by hand; restore it from a backup",
        )
    destination.parent.mkdir(parents=True, exist_ok=True)
    distinct = min(rows.num_rows, MERGED_ROWS_PER_GROUP)
    writer = open_writer(
        destination, table.schema, bloom_filters=dict.fromkeys(_lookup_columns(table), distinct)
    )
    try:
        writer.write_table(rows, row_group_size=MERGED_ROWS_PER_GROUP)
    finally:
        writer.close()
    sync_file(destination)
