"""The query engine seam: DuckDB, embedded, over the committed Parquet files of the warehouse.

Analyzers talk to an engine only through `arrow(sql, params)` (see `store.sql.SqlRunner`), so the same
queries can later run on a distributed engine. User SQL goes through `read_only_query`, which accepts
only statements that read. Each query runs on a DuckDB cursor of its own, so threads can share one engine
and their queries run side by side (the web app's requests do).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping

import duckdb
import pyarrow as pa

from dnsvigil.config import find_setting
from dnsvigil.errors import QueryError, UsageError
from dnsvigil.store.schema import TABLES
from dnsvigil.store.warehouse import StoredFile, Warehouse

_READING_STATEMENTS = frozenset({duckdb.StatementType.SELECT, duckdb.StatementType.EXPLAIN})


def _quoted(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


class DuckDBEngine:
    """An in-memory DuckDB database with one view per warehouse table; safe to share between threads."""

    def __init__(
        self,
        warehouse: Warehouse,
        *,
        threads: int | None = None,
        wanted: Callable[[StoredFile], bool] | None = None,
    ) -> None:
        """Views over `warehouse`'s committed files, or over those `wanted` keeps (a live detection run reads
        only the files that may hold its span: a warehouse fed all day holds thousands, and DuckDB reads
        every listed file's footer on every query)."""
        self.warehouse = warehouse
        self.connection = duckdb.connect(":memory:")
        # Global, not per session: every query runs on a cursor, a session of its own. A file's footer is
        # cached once read: committed files never change under their names.
        self.connection.execute("SET GLOBAL TimeZone = 'UTC'")
        self.connection.execute("SET GLOBAL parquet_metadata_cache = true")
        if threads:
            self.connection.execute(f"SET threads = {int(threads)}")
        self._limit_memory(find_setting("query_memory_limit").read())
        committed = warehouse.listing()
        for name, table in TABLES.items():
            files = [
                str(warehouse.home / stored.path)
                for stored in committed[name]
                if wanted is None or wanted(stored)
            ]
            if files:
                listing = ", ".join(_quoted(path) for path in files)
                source = f"read_parquet([{listing}])"
            else:
                # A table, not the registered Arrow table itself: registrations are seen by one session only.
                self.connection.register("_schema", table.schema.empty_table())
                self.connection.execute(f"CREATE TABLE _empty_{name} AS SELECT * FROM _schema")
                self.connection.unregister("_schema")
                source = f"_empty_{name}"
            latest = ""
            if table.latest_by is not None:
                key, order = table.latest_by
                latest = f" QUALIFY row_number() OVER (PARTITION BY {key} ORDER BY {order} DESC) = 1"
            self.connection.execute(f"CREATE VIEW {name} AS SELECT * FROM {source}{latest}")

    def _limit_memory(self, limit: str) -> None:
        if not limit.strip():
            return
        try:
            self.connection.execute("SET GLOBAL memory_limit = ?", [limit.strip()])
        except duckdb.Error as error:
            self.connection.close()
            setting = find_setting("query_memory_limit")
            raise UsageError(
                f"setting query_memory_limit ({setting.env}): {limit!r} is not a memory size ({error})",
                hint="write it like 8GB or 512MB",
            ) from None

    def arrow(
        self, sql: str, params: list[object] | None = None, *, tables: Mapping[str, pa.Table] | None = None
    ) -> pa.Table:
        """Run trusted SQL (an analyzer's), seeing `tables` by name, and return the result as Arrow."""
        with self.connection.cursor() as cursor:
            try:
                for name, own in (tables or {}).items():
                    cursor.register(name, own)  # the cursor's session only: other threads never see it
                relation = cursor.sql(sql, params=params or None)
                table: pa.Table = relation.to_arrow_table() if relation is not None else pa.table({})
            except duckdb.Error as error:
                raise QueryError(f"query failed: {error}") from error
        return table

    def read_only_query(self, sql: str) -> pa.Table:
        """Run one user statement that only reads; reject anything that could write.

        Raises:
            QueryError: the SQL does not parse, is not a single reading statement, or fails.
        """
        try:
            statements = duckdb.extract_statements(sql)
        except duckdb.Error as error:
            raise QueryError(f"cannot parse the SQL: {error}", hint="check the syntax") from error
        if len(statements) != 1:
            raise QueryError(
                f"expected exactly one SQL statement, got {len(statements)}",
                hint="run statements one at a time",
            )
        if statements[0].type not in _READING_STATEMENTS:
            raise QueryError(
                f"only SELECT queries are allowed, got {statements[0].type.name}",
                hint=f"the warehouse is read-only here; tables: {', '.join(TABLES)}",
            )
        return self.arrow(sql)

    def close(self) -> None:
        """Release the connection."""
        self.connection.close()
