"""The one exception root of dnsvigil and its tree.

Every error a user can cause says what was wrong, where, and what to do::

    DnsvigilError
    ├── UsageError (ValueError)           a bad option or argument value
    ├── InputError (ValueError)           a source file dnsvigil cannot read
    │   ├── UnsupportedFormatError        not a format dnsvigil knows (wrong magic)
    │   └── NothingReadError              no DNS message could be read at all
    ├── WarehouseError (OSError)          the warehouse cannot be read or written
    │   └── SchemaVersionError            stored data of a schema this version cannot read
    ├── OutputError (OSError)             a report or export cannot be written where asked
    └── QueryError (ValueError)           a rejected or failing SQL query
"""

from __future__ import annotations


class DnsvigilError(Exception):
    """Root of every error dnsvigil raises on purpose.

    Args:
        message: what was wrong and where.
        hint: what the user can do about it.
    """

    exit_code = 1

    def __init__(self, message: str, *, hint: str = "") -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint

    def __str__(self) -> str:
        return f"{self.message}; {self.hint}" if self.hint else self.message


class UsageError(DnsvigilError, ValueError):
    """A command-line option or argument has a value dnsvigil cannot use."""

    exit_code = 2


class InputError(DnsvigilError, ValueError):
    """A source file cannot be read."""


class UnsupportedFormatError(InputError):
    """A file is not in any format dnsvigil reads."""


class NothingReadError(InputError):
    """An input held no DNS message at all."""


class WarehouseError(DnsvigilError, OSError):
    """The warehouse directory cannot be read or written."""


class SchemaVersionError(WarehouseError):
    """The warehouse holds data of a schema version this dnsvigil cannot read."""


class OutputError(DnsvigilError, OSError):
    """An output (report, metric files, export) cannot be written where asked."""


class QueryError(DnsvigilError, ValueError):
    """A SQL query was rejected or failed."""
