"""Read a `Source` into one Arrow table and its tally, as the ingest pipeline would."""

from __future__ import annotations

import pyarrow as pa

from dnsvigil.ingest.table_ingest import LineTally, Source
from dnsvigil.store.schema import TABLES


def read_all(source: Source) -> tuple[pa.Table, LineTally]:
    tally = LineTally()
    parts = [part.rows for part in source.read(tally) if part.rows is not None]
    schema = TABLES[source.table].schema
    tables = [pa.Table.from_batches([p]) if isinstance(p, pa.RecordBatch) else p for p in parts]
    return (pa.concat_tables(tables) if tables else schema.empty_table()), tally
