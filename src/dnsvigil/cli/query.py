"""`dnsvigil query`: read-only SQL over the warehouse tables."""

from __future__ import annotations

import csv
import enum
import json
import sys
from datetime import date, datetime
from typing import Annotated, Any

import pyarrow as pa
import typer
from rich.table import Table

from dnsvigil.cli.context import HomeOption, common, stdout
from dnsvigil.store.warehouse import Warehouse


class OutputFormat(enum.StrEnum):
    """How query results are printed."""

    TABLE = "table"
    CSV = "csv"
    JSON = "json"


def _json_value(value: Any) -> Any:
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, bytes):
        return value.hex()
    return value


def _printable(result: pa.Table) -> pa.Table:
    """Nanosecond timestamps as ISO text: Python's datetime would drop (or refuse) the nanoseconds."""
    for index, field in enumerate(result.schema):
        if pa.types.is_timestamp(field.type) and field.type.unit == "ns":
            result = result.set_column(index, field.name, result.column(index).cast(pa.string()))
    return result


def print_table(result: pa.Table, output: OutputFormat) -> None:
    """Print an Arrow table as a Rich table, CSV or a JSON array of objects."""
    result = _printable(result)
    rows = result.to_pylist()
    if output is OutputFormat.JSON:
        json.dump([{key: _json_value(value) for key, value in row.items()} for row in rows], sys.stdout)
        sys.stdout.write("\n")
    elif output is OutputFormat.CSV:
        writer = csv.writer(sys.stdout, lineterminator="\n")
        writer.writerow(result.column_names)
        writer.writerows([_json_value(value) for value in row.values()] for row in rows)
    else:
        table = Table(*result.column_names)
        for row in rows:
            table.add_row(*("" if value is None else str(_json_value(value)) for value in row.values()))
        stdout.print(table)


def query(
    context: typer.Context,
    sql: Annotated[str, typer.Argument(help="One SELECT statement.")],
    output: Annotated[
        OutputFormat, typer.Option("--format", "-f", help="Output format.", case_sensitive=False)
    ] = OutputFormat.TABLE,
    home: HomeOption = None,
) -> None:
    """Run read-only SQL (DuckDB dialect) over the warehouse tables `dns_messages` and `findings`.

    Examples:

    `dnsvigil query "SELECT qtype, count(*) AS n FROM dns_messages GROUP BY ALL ORDER BY n DESC"`

    `dnsvigil query "SELECT * FROM dns_messages WHERE malformed LIMIT 10" --format json`
    """
    from dnsvigil.store.engine import DuckDBEngine  # here: DuckDB takes a while to load

    options = common(context, home=home)
    engine = DuckDBEngine(Warehouse.open(options.home_path))
    try:
        print_table(engine.read_only_query(sql), output)
    finally:
        engine.close()
