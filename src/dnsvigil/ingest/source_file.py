"""Open a source file for streaming, decompressing gzip, xz or Zstandard by their magic bytes."""

from __future__ import annotations

import gzip
import lzma
from pathlib import Path
from typing import BinaryIO, cast

import zstandard

from dnsvigil.errors import InputError

_GZIP_MAGIC = b"\x1f\x8b"
_XZ_MAGIC = b"\xfd7zXZ\x00"
_ZSTD_MAGIC = b"\x28\xb5\x2f\xfd"


class CountingReader:
    """A binary stream that counts the bytes taken from the file underneath, for progress bars."""

    def __init__(self, raw: BinaryIO) -> None:
        self._raw = raw
        self.consumed = 0

    def read(self, size: int = -1) -> bytes:
        data = self._raw.read(size)
        self.consumed += len(data)
        return data

    def readinto(self, buffer: memoryview | bytearray) -> int:
        count = self._raw.readinto(buffer)  # type: ignore[attr-defined]
        self.consumed += count or 0
        return int(count or 0)

    def close(self) -> None:
        self._raw.close()


def compression_of(head: bytes) -> str:
    """The compression a file's first bytes announce: 'gzip', 'xz', 'zstd' or ''."""
    if head.startswith(_GZIP_MAGIC):
        return "gzip"
    if head.startswith(_XZ_MAGIC):
        return "xz"
    if head.startswith(_ZSTD_MAGIC):
        return "zstd"
    return ""


def open_source(path: Path) -> tuple[BinaryIO, CountingReader]:
    """Open `path` for reading its decompressed bytes.

    Returns:
        The decompressed stream, and the counter of raw file bytes consumed (for progress).

    Raises:
        InputError: the file cannot be opened or read.
    """
    try:
        raw_file = path.open("rb")
    except OSError as error:
        raise InputError(
            f"{path}: cannot open ({error.strerror})", hint="check the path and its permissions"
        ) from error
    head = raw_file.read(8)
    raw_file.seek(0)
    counter = CountingReader(raw_file)
    counted = cast(BinaryIO, counter)  # duck-typed: read, readinto and close are all the decoders use
    kind = compression_of(head)
    if kind == "gzip":
        return cast(BinaryIO, gzip.GzipFile(fileobj=counted, mode="rb")), counter
    if kind == "xz":
        return cast(BinaryIO, lzma.LZMAFile(counted, mode="rb")), counter
    if kind == "zstd":
        return cast(BinaryIO, zstandard.ZstdDecompressor().stream_reader(counted, closefd=True)), counter
    return counted, counter
