"""The labelled names a DGA model learns from and is judged on, read from the shared reference data.

Three files, each reduced to registrable labels through `names.parse_names`: DGA domains with their
malware family, and two benign lists (Alexa's 2015 top 100k, Umbrella's top 100k with the day each name
was first seen). Names that have no registrable label (reverse DNS, service labels, public suffixes,
invalid text) are dropped and counted per file, so that an evaluation can say what it left out.
"""

from __future__ import annotations

import csv
from collections import Counter
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Final, Literal

from dnsvigil.dga.names import NameParts, Rejection, RejectionCode, parse_names
from dnsvigil.errors import InputError

Source = Literal["dga", "alexa", "umbrella"]

DGA_FILE: Final = Path("dga/dga_domains.csv")
ALEXA_FILE: Final = Path("benign/alexa_top100k_2015.csv")
UMBRELLA_FILE: Final = Path("benign/umbrella_top100k_firstseen.tsv")


@dataclass(frozen=True, slots=True)
class LabelledName:
    """One name of the reference data, reduced to its registrable label.

    Attributes:
        name: the whole name, normalised (lower case, A-labels, no trailing dot).
        label: its registrable label, what a model scores.
        suffix: its public suffix (private ones included: `dyndns.org`).
        family: the malware family for a DGA name, None for a benign one.
        source: the file it comes from.
        first_seen: the day Umbrella first listed it; None for the other sources.
    """

    name: str
    label: str
    suffix: str
    family: str | None
    source: Source
    first_seen: date | None

    @property
    def is_dga(self) -> bool:
        """True for a name of a DGA family."""
        return self.family is not None


@dataclass(frozen=True, slots=True)
class SourceReport:
    """What one file gave: its rows, the names kept and the names dropped with why.

    Attributes:
        source: which file.
        path: where it was read.
        rows: data rows read (header excluded).
        kept: names with a registrable label.
        rejections: the dropped names, in file order.
    """

    source: Source
    path: Path
    rows: int
    kept: int
    rejections: tuple[Rejection, ...]

    def rejection_counts(self) -> dict[RejectionCode, int]:
        """Dropped names per rejection code, most frequent first."""
        return dict(Counter(rejection.code for rejection in self.rejections).most_common())


@dataclass(frozen=True, slots=True)
class LabelledData:
    """Labelled names from one or more files, with a report per file."""

    names: tuple[LabelledName, ...]
    reports: tuple[SourceReport, ...]


def load_labelled_names(data_dir: Path) -> LabelledData:
    """All three reference files under `data_dir` (the shared `data` folder), DGA first, not de-duplicated.

    Raises:
        InputError: a file is missing or has a malformed header or row.
    """
    parts = (
        read_dga_domains(data_dir / DGA_FILE),
        read_alexa(data_dir / ALEXA_FILE),
        read_umbrella(data_dir / UMBRELLA_FILE),
    )
    return LabelledData(
        tuple(name for part in parts for name in part.names),
        tuple(report for part in parts for report in part.reports),
    )


def read_dga_domains(path: Path) -> LabelledData:
    """DGA domains from a `domain,family` CSV with that header.

    Raises:
        InputError: the file is missing, or its header or a row is malformed.
    """
    rows = _read_rows(path, delimiter=",", header=("domain", "family"))
    domains: list[str] = []
    families: list[str] = []
    for line_number, row in rows:
        domain, family = _fields(path, line_number, row, "domain,family")
        if not family:
            raise InputError(
                f"{path}:{line_number}: the domain {domain!r} has no family",
                hint="every row of the DGA file needs the malware family in its second column",
            )
        domains.append(domain)
        families.append(family)
    return _labelled(path, "dga", domains, families, [None] * len(domains))


def read_alexa(path: Path) -> LabelledData:
    """Benign names from Alexa's `rank,domain` CSV (no header); a URL path after the domain is cut off.

    Raises:
        InputError: the file is missing, or a row is not a rank and a domain.
    """
    domains: list[str] = []
    for line_number, row in _read_rows(path, delimiter=",", header=None):
        rank, domain = _fields(path, line_number, row, "rank,domain")
        if not rank.isdigit():
            raise InputError(
                f"{path}:{line_number}: the rank {rank!r} is not a whole number",
                hint="the Alexa file has no header: each row is `rank,domain`",
            )
        # 463 rows of the 2015 list are URLs (`wenku.baidu.com/user/reg`): the host is what was ranked.
        domains.append(domain.partition("/")[0])
    return _labelled(path, "alexa", domains, [None] * len(domains), [None] * len(domains))


def read_umbrella(path: Path) -> LabelledData:
    """Benign names from Umbrella's `fqdn<TAB>first_seen` file with that header (ISO dates).

    Raises:
        InputError: the file is missing, or its header or a row is malformed.
    """
    domains: list[str] = []
    days: list[date | None] = []
    for line_number, row in _read_rows(path, delimiter="\t", header=("fqdn", "first_seen")):
        domain, first_seen = _fields(path, line_number, row, "fqdn<TAB>first_seen")
        try:
            days.append(date.fromisoformat(first_seen))
        except ValueError:
            raise InputError(
                f"{path}:{line_number}: first_seen {first_seen!r} is not a date",
                hint="write the day as YYYY-MM-DD",
            ) from None
        domains.append(domain)
    return _labelled(path, "umbrella", domains, [None] * len(domains), days)


def deduplicate(names: Iterable[LabelledName]) -> list[LabelledName]:
    """The first name of each (label, family), in order.

    A model sees only the label, so `abc.com` and `abc.net` of one family are one example: kept twice,
    the copies could land on both sides of a train/test split and the test would score memorised
    labels. Benign names from Alexa and Umbrella share the family None, so a label in both is kept once
    (from the file read first). A label of a DGA family that is also benign is kept once for each.
    """
    seen: set[tuple[str, str | None]] = set()
    unique: list[LabelledName] = []
    for name in names:
        key = (name.label, name.family)
        if key not in seen:
            seen.add(key)
            unique.append(name)
    return unique


def _labelled(
    path: Path,
    source: Source,
    domains: list[str],
    families: Sequence[str | None],
    days: Sequence[date | None],
) -> LabelledData:
    kept: list[LabelledName] = []
    rejections: list[Rejection] = []
    for parts, family, day in zip(parse_names(domains), families, days, strict=True):
        if isinstance(parts, NameParts):
            kept.append(LabelledName(parts.name, parts.label, parts.suffix, family, source, day))
        else:
            rejections.append(parts)
    report = SourceReport(source, path, len(domains), len(kept), tuple(rejections))
    return LabelledData(tuple(kept), (report,))


def _read_rows(
    path: Path, *, delimiter: str, header: tuple[str, ...] | None
) -> Iterator[tuple[int, list[str]]]:
    """The data rows of a delimited text file with their line numbers, after checking its header."""
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except FileNotFoundError:
        raise InputError(
            f"{path}: no such file", hint="pass the folder of the shared reference data (`../shared/data`)"
        ) from None
    except (OSError, UnicodeDecodeError) as error:
        raise InputError(f"{path}: cannot be read as UTF-8 text ({error})") from None
    rows = enumerate(csv.reader(lines, delimiter=delimiter), start=1)
    if header is not None:
        found = next(rows, (1, []))[1]
        if tuple(found) != header:
            expected = delimiter.join(header).replace("\t", "<TAB>")
            raise InputError(
                f"{path}:1: the header is {delimiter.join(found)!r}, not {expected!r}",
                hint="is this the right file of the shared reference data?",
            )
    return ((number, row) for number, row in rows if row)


def _fields(path: Path, line_number: int, row: list[str], layout: str) -> tuple[str, str]:
    if len(row) != 2:
        raise InputError(
            f"{path}:{line_number}: {len(row)} fields where `{layout}` needs 2",
            hint="check the delimiter and quoting of that line",
        )
    return row[0].strip(), row[1].strip()
