"""The web app's read-only view of the warehouse: one DuckDB engine, renewed when the catalog changes.

Requests run on a thread pool and share the engine, whose queries each run on a DuckDB cursor of their
own: concurrent requests query side by side rather than in turn. An ingest (or a compaction) that
commits while the server runs changes the catalog's generation; the next request sees the new data through
a fresh engine, while requests already running finish on the one they started with.
"""

from __future__ import annotations

import threading
from collections.abc import Mapping
from pathlib import Path

import pyarrow as pa

from dnsvigil.store.engine import DuckDBEngine
from dnsvigil.store.warehouse import Warehouse


class Snapshot:
    """A `SqlRunner` over the warehouse as one request sees it."""

    def __init__(self, engine: DuckDBEngine) -> None:
        self._engine = engine

    def arrow(
        self, sql: str, params: list[object] | None = None, *, tables: Mapping[str, pa.Table] | None = None
    ) -> pa.Table:
        """Run trusted, parameterised SQL and return the result as Arrow."""
        return self._engine.arrow(sql, params, tables=tables)


class WarehouseData:
    """The warehouse at `home`, opened once and read through snapshots.

    Raises:
        WarehouseError: `home` holds no warehouse (when built).
    """

    def __init__(self, home: Path) -> None:
        self.warehouse = Warehouse.open(home)
        self._swap = threading.Lock()
        self._stamp = self.warehouse.generation()
        self._current = Snapshot(DuckDBEngine(self.warehouse))

    def snapshot(self) -> Snapshot:
        """A runner over the data committed now, for one request."""
        stamp = self.warehouse.generation()
        with self._swap:
            if stamp != self._stamp:
                # The old engine closes when the last request reading it lets go of it.
                self._current = Snapshot(DuckDBEngine(self.warehouse))
                self._stamp = stamp
            return self._current
