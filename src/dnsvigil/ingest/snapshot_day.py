"""The day (or month) a snapshot file describes: from an option, from its name, or from its modification time.

Accepted in a file or folder name: `YYYYMMDD` or `YYYY-MM-DD` (`com-20240102.txt.gz`, `2024-01-02/com.zone`,
`urlhaus_2024-01-02.csv`), and for monthly reports `YYYYMM` or `YYYY-MM` (`com-transactions-202401-en.csv`).
The file's own name wins over its folder's.
"""

from __future__ import annotations

import re
from datetime import UTC, date, datetime
from pathlib import Path

from dnsvigil.errors import InputError, UsageError

_DAY = re.compile(r"(?<!\d)(\d{4})-?(\d{2})-?(\d{2})(?!\d)")
_MONTH = re.compile(r"(?<!\d)(\d{4})-?(\d{2})(?!\d)")
_LABEL = re.compile(r"^(?:[a-z0-9]|[a-z0-9][a-z0-9-]{0,61}[a-z0-9])$")


def parse_day_option(text: str | None, option: str = "--day") -> date | None:
    """A `YYYY-MM-DD` option as a date; None when absent.

    Raises:
        UsageError: the text is not a date.
    """
    if text is None:
        return None
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise UsageError(f"{option} must be YYYY-MM-DD, got {text!r}") from None


def day_in_name(path: Path) -> date | None:
    """The first valid `YYYYMMDD` / `YYYY-MM-DD` date in the file's name, else in its folder's name."""
    for name in (path.name, path.parent.name):
        for match in _DAY.finditer(name):
            try:
                return date(int(match[1]), int(match[2]), int(match[3]))
            except ValueError:
                continue
    return None


def month_in_name(path: Path) -> date | None:
    """The first day of the first valid `YYYYMM` / `YYYY-MM` month in the file's name."""
    for match in _MONTH.finditer(path.name):
        year, month = int(match[1]), int(match[2])
        if 1 <= month <= 12 and year >= 1985:
            return date(year, month, 1)
    return None


def snapshot_day(path: Path, given: date | None) -> date:
    """The day a snapshot was taken: the option, else a date in the name, else the file's modification day
    (UTC): a downloaded feed is written the day it is fetched."""
    if given is not None:
        return given
    named = day_in_name(path)
    if named is not None:
        return named
    try:
        return datetime.fromtimestamp(path.stat().st_mtime, UTC).date()
    except OSError as error:
        raise InputError(f"{path}: cannot read ({error.strerror})", hint="check the path") from error


def tld_in_name(path: Path) -> str | None:
    """The TLD a zone file is named after: the part of its name before the first dot, less any date
    (`com.txt.gz`, `com.zone`, `xn--p1ai-20240102.txt.gz`, `20240102_org.zone.gz`); None if not a label."""
    stem = path.name.split(".", 1)[0].lower()
    stem = _DAY.sub("", stem).strip("-_")
    return stem if _LABEL.match(stem) else None


def check_tld(text: str) -> str:
    """A TLD as given by the user, lower-cased, without dots.

    Raises:
        UsageError: it is not one DNS label.
    """
    tld = text.strip().strip(".").lower()
    if not _LABEL.match(tld):
        raise UsageError(f"--tld must be one DNS label such as com or xn--p1ai, got {text!r}")
    return tld
