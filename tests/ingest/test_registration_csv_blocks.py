"""The registration CSV's block reader gives exactly what reading it line by line gives: the same rows, the
same counts, the same first bad line, whatever mix of plain and odd values a file holds."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pyarrow as pa
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from dnsvigil.ingest.registration_csv import _lines_table, csv_rows
from dnsvigil.ingest.table_ingest import LineTally
from dnsvigil.ingest.text_lines import line_blocks
from dnsvigil.store.schema import REGISTRATIONS

DAY = date(2024, 1, 15)

PLAIN_DOMAINS = st.from_regex(r"[a-z0-9]{1,12}\.(com|net|org|co\.uk)", fullmatch=True)
ODD_DOMAINS = st.sampled_from(
    [
        "Example.COM",
        " spaced.org ",
        "trailing.dot.net.",
        "xn--bcher-kva.de",
        "bücher.de",
        "-bad-.com",
        "com",
        "",
    ]
)
PLAIN_TIMES = st.datetimes().map(lambda moment: moment.strftime("%Y-%m-%dT%H:%M:%SZ"))
ODD_TIMES = st.sampled_from(
    ["", "2024-01-02", "2024-01-02 03:04:05", "2024-01-02T03:04:05+02:00", "2024-13-45T00:00:00Z", "soon"]
)
IDS = st.one_of(st.integers(1, 10_000).map(str), st.sampled_from(["", " 42 ", "1_000", "x9"]))
STATUSES = st.sampled_from(["ok", "clientHold", "serverHold|clientTransferProhibited", "", "client hold;ok"])
LINES = st.one_of(
    st.tuples(PLAIN_DOMAINS, IDS, PLAIN_TIMES, PLAIN_TIMES, STATUSES).map(",".join),
    st.tuples(
        st.one_of(PLAIN_DOMAINS, ODD_DOMAINS), IDS, st.one_of(PLAIN_TIMES, ODD_TIMES), ODD_TIMES, STATUSES
    ).map(",".join),
    st.sampled_from(["", "a.com,1,,,ok,extra", '"quoted.com",1,,,ok', "only,three,fields"]),
)


def both_ways(path: Path) -> tuple[tuple[pa.Table, LineTally], tuple[pa.Table, LineTally]]:
    blocks, by_blocks = LineTally(), []
    for part in csv_rows(path, blocks, DAY):
        if part.rows is not None:
            by_blocks.append(part.rows)
    lines = LineTally()
    by_lines = [_lines_table(block, lines, DAY, str(path)) for block in line_blocks(path)]
    empty = REGISTRATIONS.schema.empty_table()
    return (pa.concat_tables([empty, *by_blocks]), blocks), (pa.concat_tables([empty, *by_lines]), lines)


@settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(lines=st.lists(LINES, max_size=40), header=st.booleans(), crlf=st.booleans())
def test_blocks_read_as_lines_do(tmp_path: Path, lines: list[str], header: bool, crlf: bool) -> None:
    end = "\r\n" if crlf else "\n"
    text = end.join((["domain,registrar_iana_id,created,expires,status"] if header else []) + lines)
    path = tmp_path / "registrations.csv"
    path.write_text(text, encoding="utf-8")
    (by_blocks, blocks), (by_lines, lines_tally) = both_ways(path)
    assert by_blocks.equals(by_lines)
    assert (blocks.records, blocks.malformed, blocks.first_line) == (
        lines_tally.records,
        lines_tally.malformed,
        lines_tally.first_line,
    )


def test_plain_file_is_read_without_the_line_reader(tmp_path: Path) -> None:
    path = tmp_path / "registrations.csv"
    rows = [
        f"name{number}.com,{number % 7 + 1},2023-12-0{number % 9 + 1}T10:00:00Z,,ok" for number in range(500)
    ]
    path.write_text("domain,registrar_iana_id,created,expires,status\n" + "\n".join(rows) + "\n")
    (by_blocks, blocks), (by_lines, _) = both_ways(path)
    assert by_blocks.equals(by_lines)
    assert blocks.records == 500
    assert by_blocks.column("tld").to_pylist() == ["com"] * 500
    assert by_blocks.column("created")[0].as_py().isoformat() == "2023-12-01T10:00:00+00:00"


def test_a_bad_line_is_counted_with_its_number_among_plain_ones(tmp_path: Path) -> None:
    path = tmp_path / "registrations.csv"
    rows = [f"name{number}.com,9,2023-12-01T10:00:00Z,,ok" for number in range(100)]
    rows[41] = "name41.com,9,2023-12-01T10:00:00Z,,ok,surplus"
    rows[70] = "name70.com,nine,2023-12-01T10:00:00Z,,ok"
    path.write_text("\n".join(rows) + "\n")
    tally = LineTally()
    stored = sum(part.rows.num_rows for part in csv_rows(path, tally, DAY) if part.rows is not None)
    assert stored == 98
    assert tally.records == 100
    assert tally.malformed == {"wrong_field_count": 1, "bad_registrar_id": 1}
    assert tally.first_line == {"wrong_field_count": 42, "bad_registrar_id": 71}
