"""Fixtures of the watch tests: a socket path short enough for AF_UNIX (108 bytes at most), a full disk."""

from __future__ import annotations

import errno
import shutil
import tempfile
import threading
from collections.abc import Iterator
from pathlib import Path

import pyarrow as pa
import pytest

from dnsvigil.store.warehouse import TableWrite


@pytest.fixture
def socket_path() -> Iterator[Path]:
    """A path for a Unix socket in a fresh short-named temporary directory."""
    directory = Path(tempfile.mkdtemp(prefix="dv"))
    try:
        yield directory / "tap.sock"
    finally:
        shutil.rmtree(directory, ignore_errors=True)


@pytest.fixture
def disk_full(monkeypatch: pytest.MonkeyPatch) -> threading.Event:
    """While set, writing a warehouse table fails as a full disk makes it fail (ENOSPC)."""
    full = threading.Event()
    write = TableWrite.write

    def failing_write(self: TableWrite, batch: pa.RecordBatch | pa.Table, day: str) -> None:
        if full.is_set():
            raise OSError(errno.ENOSPC, "No space left on device")
        write(self, batch, day)

    monkeypatch.setattr(TableWrite, "write", failing_write)
    return full
