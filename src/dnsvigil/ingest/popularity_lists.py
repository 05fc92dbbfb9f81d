"""Read domain popularity top lists into `domain_popularity`: Tranco, Umbrella, Alexa-style `rank,domain`.

All three publish a CSV of `rank,domain` lines (no header, though a `rank,domain` header is accepted), one
snapshot a day. Umbrella ranks host names (`www.example.com`), so each name is also reduced to its
registrable domain with the Public Suffix List; a name that is a public suffix or an IP address has none and
is counted as skipped. Popularity is what tells a hacked popular site from a domain registered to abuse.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date
from pathlib import Path

from dnsvigil.ingest.field_values import parse_count, registrable_parts
from dnsvigil.ingest.pipeline import source_id_of
from dnsvigil.ingest.table_ingest import LineTally, Record, Rows, Source, batched, tallied
from dnsvigil.ingest.text_lines import csv_fields, numbered_lines
from dnsvigil.store.schema import DOMAIN_POPULARITY

POPULARITY_FORMAT = "a top list of rank,domain lines (Tranco, Umbrella, Alexa top-1M CSV)"


def popularity_source(path: Path, *, list_name: str, observed: date) -> Source:
    """The `domain_popularity` source of one snapshot of top list `list_name`, published on `observed`."""
    day = observed.isoformat()
    origin = str(path)

    def read(tally: LineTally) -> Iterator[Rows]:
        def records() -> Iterator[tuple[Record | None, int]]:
            for number, text, consumed in numbered_lines(path):
                record = tallied(_entry, number, text, tally)
                if record is not None:
                    record.update(observed=observed, list_name=list_name, source_file=origin)
                yield record, consumed

        return batched(records(), DOMAIN_POPULARITY.schema, day)

    return Source(path, DOMAIN_POPULARITY.name, source_id_of(path, f"popularity-{list_name}:{day}"), read)


def _entry(text: str) -> Record | None:
    fields = csv_fields(text)
    if fields is None:
        raise ValueError("bad_csv")
    if fields and fields[0].strip().lower() == "rank":
        return None  # a header
    if len(fields) != 2:
        raise ValueError("wrong_field_count")
    rank = parse_count(fields[0], "bad_rank")
    parts = registrable_parts(fields[1].strip())
    if not rank:
        raise ValueError("bad_rank")
    return {"rank": rank, "name": parts.name, "domain": parts.registrable}
