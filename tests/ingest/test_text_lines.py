"""Text line helpers: `csv_fields` splits a line exactly as the csv module does, quoted or not."""

from __future__ import annotations

import csv

from hypothesis import given
from hypothesis import strategies as st

from dnsvigil.ingest.text_lines import csv_fields


def csv_module(text: str) -> list[str] | None:
    try:
        rows = list(csv.reader((text,), strict=True))
    except csv.Error:
        return None
    return rows[0] if len(rows) == 1 else []


@given(st.text(alphabet=st.sampled_from('ab ,"\t;|\r\n.-é'), max_size=30))
def test_same_fields_as_the_csv_module(text: str) -> None:
    assert csv_fields(text) == csv_module(text)


def test_quoted_commas_and_empty_fields() -> None:
    assert csv_fields('a,"b,c",,d') == ["a", "b,c", "", "d"]
    assert csv_fields("a,,") == ["a", "", ""]
    assert csv_fields("") == []
    assert csv_fields('a,"b') is None
