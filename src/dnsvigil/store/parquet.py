"""How the warehouse writes Parquet: one configuration for every table file, whether ingested or compacted."""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

ROWS_PER_FILE = 4_000_000
"""A file is closed once it holds this many rows: large enough to scan fast, small enough to rewrite."""
ROWS_PER_GROUP = 1 << 20
"""The most rows of a row group as ingest writes it: each batch it writes, smaller than this, is a group."""


def _dictionary_columns(schema: pa.Schema) -> list[str]:
    """The columns worth dictionary-encoding in Parquet: text. Numbers and flags compress as well without,
    and dictionary-encoding them costs a quarter of ingest's writing time."""
    return [
        field.name for field in schema if pa.types.is_string(field.type) or pa.types.is_dictionary(field.type)
    ]


def open_writer(
    path: Path, schema: pa.Schema, *, bloom_filters: Mapping[str, int] | None = None
) -> pq.ParquetWriter:
    """A Parquet writer of a table file at `path`, compressed and encoded the warehouse's way.

    Args:
        bloom_filters: columns to give a Bloom filter, each with the most distinct values a row group of it
            holds. An equality lookup (`domain = ?`) then skips row groups, and files, without the value.
    """
    return pq.ParquetWriter(
        path,
        schema,
        compression="zstd",
        compression_level=1,
        use_dictionary=_dictionary_columns(schema),
        bloom_filter_options={
            column: {"ndv": max(1, distinct), "fpp": 0.01}
            for column, distinct in (bloom_filters or {}).items()
        }
        or None,
    )


def sync_file(path: Path) -> None:
    """Flush a written file to disk, so that a commit never lists a file a crash could truncate."""
    with path.open("rb") as handle:
        os.fsync(handle.fileno())
