"""Registration data as plain CSV, `domain,registrar_iana_id,created,expires,status`, read a block at a time.

A registry's export holds millions of rows of a few shapes: a lower-case ASCII name, a decimal IANA ID, ISO
times in UTC, a handful of distinct status fields. Arrow splits a block's fields and checks those shapes in
bulk; a value of any other shape goes through the line reader's own parser (`csv_record`'s), so both give the
same row. A block that Arrow cannot split as plain CSV (quotes, a wrong field count, bytes that are not UTF-8)
or that holds a value the parsers refuse is read line by line instead, so that every bad line is counted with
its number, as the other readers do.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import date
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pa_csv

from dnsvigil.ingest.field_values import (
    EARLIEST_TIME,
    HOLD_STATUSES,
    LATEST_TIME,
    parse_count,
    parse_time,
    registered_domain,
    split_statuses,
    start_of,
    tld_of,
)
from dnsvigil.ingest.table_ingest import LineTally, Record, Rows, tallied
from dnsvigil.ingest.text_lines import LineBlock, csv_fields, line_blocks
from dnsvigil.store.schema import REGISTRATIONS

CSV_FORMAT = "CSV lines domain,registrar_iana_id,created,expires,status"
_HEADER = ["domain", "registrar_iana_id", "created", "expires", "status"]
_BLOCK_BYTES = 8 << 20
_PLAIN_NAME = r"(?i)^(?:[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z]{2,63}$"
"""Names `registered_domain` returns unchanged: LDH labels, an alphabetic TLD (no IDN, no `_`)."""
_DECIMAL = r"^[0-9]{1,18}$"
_UTC_SECOND = r"^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}Z$"
_TIME_TYPE = REGISTRATIONS.schema.field("created").type


class _ReadByLinesError(Exception):
    """This block must be read line by line (a value the parsers refuse, or not plain CSV)."""


def csv_record(text: str, observed: date) -> Record | None:
    """One CSV line as a row, None for the header line.

    Raises:
        ValueError: the line is not a registration (the message is the reason counted).
    """
    fields = csv_fields(text)
    if fields is None:
        raise ValueError("bad_csv")
    if _is_header(fields):
        return None
    if len(fields) != len(_HEADER):
        raise ValueError("wrong_field_count")
    domain = registered_domain(fields[0])
    statuses = split_statuses(fields[4])
    return {
        "observed": start_of(observed),
        "domain": domain,
        "tld": tld_of(domain),
        "registrar_iana_id": parse_count(fields[1], "bad_registrar_id"),
        "registrar_name": None,
        "created": parse_time(fields[2]),
        "expires": parse_time(fields[3]),
        "updated": None,
        "status": statuses,
        "on_hold": any(status in HOLD_STATUSES for status in statuses),
        "nameservers": [],
        "abuse_email": None,
        "source_format": "csv",
    }


def _is_header(fields: list[str]) -> bool:
    return len(fields) == len(_HEADER) and [field.strip().lower() for field in fields] == _HEADER


def csv_rows(path: Path, tally: LineTally, observed: date) -> Iterator[Rows]:
    """The rows of the registration CSV at `path` (plain or compressed), all of the partition `observed`.

    Raises:
        InputError: the file cannot be opened, or its compressed stream is damaged.
    """
    day = observed.isoformat()
    origin = str(path)
    for block in line_blocks(path, _BLOCK_BYTES):
        try:
            table, records = _block_table(block, observed, origin)
        except _ReadByLinesError:
            table, records = _lines_table(block, tally, observed, origin), 0
        tally.records += records
        yield Rows(day, table if table.num_rows else None, block.consumed)


def _lines_table(block: LineBlock, tally: LineTally, observed: date, origin: str) -> pa.Table:
    rows = []
    for number, text in block.lines():
        record = tallied(lambda line: csv_record(line, observed), number, text, tally)
        if record is not None:
            record["source_file"] = origin
            rows.append(record)
    return pa.Table.from_pylist(rows, schema=REGISTRATIONS.schema)


def _block_table(block: LineBlock, observed: date, origin: str) -> tuple[pa.Table, int]:
    """The block's rows and how many lines were records, without the line-by-line reader."""
    data = block.data
    if block.first_line == 1:
        first, _, rest = data.partition(b"\n")
        if _is_header(first.decode("utf-8", "replace").split(",")):
            data = rest
    if b'"' in data or data.count(b"\r") != data.count(b"\r\n"):
        raise _ReadByLinesError
    try:
        fields = pa_csv.read_csv(
            pa.py_buffer(data),
            read_options=pa_csv.ReadOptions(column_names=_HEADER, use_threads=False),
            parse_options=pa_csv.ParseOptions(quote_char=False),
            convert_options=pa_csv.ConvertOptions(column_types=dict.fromkeys(_HEADER, pa.string())),
        ).combine_chunks()
    except (pa.ArrowInvalid, pa.ArrowTypeError):
        raise _ReadByLinesError from None
    count = fields.num_rows
    domains = _column(fields["domain"], _PLAIN_NAME, registered_domain, pc.ascii_lower)
    statuses, on_hold = _statuses(fields["status"])
    columns = {
        "observed": pa.repeat(pa.scalar(start_of(observed), _TIME_TYPE), count),
        "domain": domains,
        "tld": pc.struct_field(pc.extract_regex(domains, r"\.(?P<tld>[^.]+)$"), "tld"),
        "registrar_iana_id": _column(
            fields["registrar_iana_id"],
            _DECIMAL,
            lambda text: parse_count(text, "bad_registrar_id"),
            lambda plain: pc.cast(plain, pa.int64()),
        ),
        "registrar_name": pa.nulls(count, pa.string()),
        "created": _times(fields["created"]),
        "expires": _times(fields["expires"]),
        "updated": pa.nulls(count, _TIME_TYPE),
        "status": statuses,
        "on_hold": on_hold,
        "nameservers": pa.ListArray.from_arrays(np.zeros(count + 1, np.int32), pa.array([], pa.string())),
        "abuse_email": pa.nulls(count, pa.string()),
        "source_format": pa.repeat("csv", count),
        "source_file": pa.repeat(origin, count),
    }
    return pa.Table.from_pydict(columns).cast(REGISTRATIONS.schema), count


def _column(
    texts: pa.ChunkedArray | pa.Array,
    plain_shape: str,
    parse: Callable[[str], object],
    convert: Callable[[pa.Array], pa.Array],
) -> pa.Array:
    """`convert` over the values of the plain shape, `parse` (the line reader's) over the others.

    A plain-shaped value `convert` gives null for (an impossible date: 2024-13-45T..., or a year beyond the
    warehouse's) is the line reader's to judge: the block is read line by line.
    """
    texts = texts.chunk(0) if isinstance(texts, pa.ChunkedArray) else texts
    plain = pc.match_substring_regex(texts, plain_shape)
    converted = convert(pc.if_else(plain, texts, pa.scalar(None, pa.string())))
    if pc.any(pc.and_(plain, pc.is_null(converted))).as_py():
        raise _ReadByLinesError
    if pc.all(plain).as_py() is not False:
        return converted
    others = pc.invert(plain)
    try:
        parsed = [parse(text) for text in texts.filter(others).to_pylist()]
    except ValueError:
        raise _ReadByLinesError from None
    return pc.replace_with_mask(converted, others, pa.array(parsed, converted.type))


def _times(texts: pa.ChunkedArray) -> pa.Array:
    def convert(plain: pa.Array) -> pa.Array:
        moments = pc.cast(
            pc.strptime(plain, format="%Y-%m-%dT%H:%M:%SZ", unit="us", error_is_null=True),
            pa.timestamp("us", tz="UTC"),
        )
        within = pc.and_(pc.greater_equal(moments, EARLIEST_TIME), pc.less_equal(moments, LATEST_TIME))
        return pc.if_else(within, moments, None).cast(_TIME_TYPE)

    return _column(texts, _UTC_SECOND, parse_time, convert)


def _statuses(texts: pa.ChunkedArray) -> tuple[pa.Array, pa.Array]:
    """Status lists and hold flags; a registry's status fields take few distinct values, each parsed once."""
    encoded = pc.dictionary_encode(texts.chunk(0))
    parsed = [split_statuses(text) for text in encoded.dictionary.to_pylist()]
    held = [any(status in HOLD_STATUSES for status in statuses) for statuses in parsed]
    return (
        pa.array(parsed, pa.list_(pa.string())).take(encoded.indices),
        pa.array(held, pa.bool_()).take(encoded.indices),
    )
