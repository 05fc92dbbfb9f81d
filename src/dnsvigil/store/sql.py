"""`SqlRunner`: the one interface analyzers use to query the warehouse, whatever engine runs the SQL."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Protocol

import pyarrow as pa


class SqlRunner(Protocol):
    """Runs an analyzer's SQL over the warehouse tables and returns the result as Arrow.

    The warehouse tables (`dns_messages`, `findings`, ...) are visible under their names from
    `store.schema.TABLES`. Analyzers depend on this protocol only, never on an engine, so the same
    analyzer runs on embedded DuckDB, on a distributed engine, or on a test double over a hand-made table.
    """

    def arrow(
        self, sql: str, params: list[object] | None = None, *, tables: Mapping[str, pa.Table] | None = None
    ) -> pa.Table:
        """Run trusted SQL with positional `?` parameters and return every result row.

        Args:
            sql: one SELECT statement written by an analyzer (never user input).
            params: values bound to the `?` placeholders, in order.
            tables: the analyzer's own in-memory tables, visible by name to this statement only (rows an
                analyzer kept from earlier statements, say).

        Returns:
            The result as one Arrow table.

        Raises:
            QueryError: the engine rejected the query or it failed.
        """
        ...
