"""Score a list of domain names, one per line, into CSV: the streaming path behind `dnsvigil dga score`.

Lines are read and scored in batches, so memory stays bounded whatever the list's length and rows come
out in input order. A line that holds no name (blank) or no valid name is reported through a callback
and skipped; a valid name excluded by rule (reverse DNS, service labels, a bare public suffix) is not
DGA by definition and gets score 0.
"""

from __future__ import annotations

import csv
import io
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from itertools import islice
from typing import IO

from dnsvigil.dga.model import DgaModel
from dnsvigil.dga.names import Rejection

CSV_HEADER = ("domain", "score", "is_dga", "family", "family_confidence")
BATCH_LINES = 8192

SkipReport = Callable[[int, str, str], None]  # line number, text, reason


@dataclass(frozen=True, slots=True)
class ScoreSummary:
    """What a scoring run did: names scored (and how many were DGA), lines skipped by cause, time."""

    scored: int
    dga: int
    excluded: int
    blank: int
    invalid: int
    seconds: float

    @property
    def skipped(self) -> int:
        return self.blank + self.invalid

    def text(self) -> str:
        """One line for a person."""
        rate = self.scored / self.seconds if self.seconds > 0 else 0.0
        return (
            f"scored {self.scored:,} names in {self.seconds:.2f} s ({rate:,.0f}/s): {self.dga:,} DGA; "
            f"{self.excluded:,} excluded by rule (score 0); skipped {self.blank:,} blank and "
            f"{self.invalid:,} invalid line(s)"
        )


def score_lines(
    lines: Iterable[bytes],
    sink: IO[bytes],
    model: DgaModel,
    *,
    on_skip: SkipReport,
    on_bytes: Callable[[int], None] | None = None,
) -> ScoreSummary:
    """Write the CSV header and one row per name of `lines` to `sink`; return the counts.

    Args:
        lines: the input, as raw lines (UTF-8; other bytes make the name invalid).
        sink: where the CSV goes.
        model: the DGA model.
        on_skip: told of each skipped line: its number (from 1), its text, and why.
        on_bytes: told how many input bytes each batch consumed, for a progress bar.
    """
    started = time.perf_counter()
    text = io.TextIOWrapper(sink, encoding="utf-8", newline="", write_through=True)
    writer = csv.writer(text, lineterminator="\n")
    writer.writerow(CSV_HEADER)
    scored = dga = excluded = blank = invalid = 0
    for numbered, consumed in _batches(lines):
        names = [(number, line) for number, line in numbered if line]
        for number, line in numbered:
            if not line:
                blank += 1
                on_skip(number, line, "blank line")
        verdicts = model.score_names([line for _, line in names])
        rows = []
        for (number, line), verdict in zip(names, verdicts, strict=True):
            if isinstance(verdict, Rejection) and not verdict.excluded:
                invalid += 1
                on_skip(number, line, verdict.reason)
            elif isinstance(verdict, Rejection):
                excluded += 1
                rows.append((line, "0.000000", "false", "", "0.0000"))
            else:
                dga += verdict.is_dga
                rows.append(
                    (
                        line,
                        f"{verdict.score:.6f}",
                        "true" if verdict.is_dga else "false",
                        verdict.family,
                        f"{verdict.family_confidence:.4f}",
                    )
                )
        writer.writerows(rows)
        scored += len(rows)
        if on_bytes is not None:
            on_bytes(consumed)
    text.flush()
    text.detach()
    return ScoreSummary(scored, dga, excluded, blank, invalid, time.perf_counter() - started)


def _batches(lines: Iterable[bytes]) -> Iterator[tuple[list[tuple[int, str]], int]]:
    """Numbered, decoded, stripped lines in batches, with the bytes each batch took."""
    numbered = enumerate(lines, start=1)
    while batch := list(islice(numbered, BATCH_LINES)):
        consumed = sum(len(raw) for _, raw in batch)
        yield [(number, raw.decode("utf-8", errors="replace").strip()) for number, raw in batch], consumed
