"""Read a zone file (RFC 1035 master format, plain or compressed) into the delegated domains of its TLD.

The file is read in chunks into one reused buffer; an entry cut by a chunk's end is carried over to the
next, so memory stays bounded (the chunk, plus 16 bytes per delegation for the set that makes each owner
count once). `zone_scan.scan_zone` does the reading; this module feeds it and turns its output into Arrow.
"""

from __future__ import annotations

import zlib
from collections.abc import Iterator
from datetime import date
from pathlib import Path

import numpy as np
import pyarrow as pa
import zstandard

from dnsvigil.errors import InputError
from dnsvigil.ingest.read_ahead import read_ahead
from dnsvigil.ingest.slices import DEFAULT_CHUNK_BYTES
from dnsvigil.ingest.source_file import open_source
from dnsvigil.ingest.table_ingest import LineTally, Rows, Source
from dnsvigil.ingest.zone_scan import (
    HAVE_OWNER,
    MAX_ENTRY_BYTES,
    NAME_CAPACITY,
    NS_RECORDS,
    ORIGIN_LEN,
    ORIGIN_WIRE,
    OUTPUT_FULL,
    PREVIOUS_LEN,
    RECORDS,
    STATE_SLOTS,
    TABLE_FULL,
    TOKEN_SLOTS,
    ZONE_REASON_COUNT,
    ZoneReason,
    rehash,
    scan_zone,
)
from dnsvigil.store.schema import ZONE_DOMAINS

ZONE_FORMAT = "RFC 1035 master files (as ICANN CZDS delivers <tld>.txt.gz)"
NAMES_PER_BATCH = 1 << 19
_FIRST_TABLE_SLOTS = 1 << 16


class ZoneReader:
    """The delegations of one zone file, in batches of names; what it could not read is counted.

    Args:
        path: the zone file, optionally compressed with gzip, xz or zstd.
        tld: the zone's apex (one label, lower case); the initial `$ORIGIN`.
        chunk_bytes: about how many (decompressed) bytes each call of the kernel reads.
    """

    def __init__(self, path: Path, tld: str, *, chunk_bytes: int = DEFAULT_CHUNK_BYTES) -> None:
        self.path = path
        self.apex = np.frombuffer(tld.encode("ascii"), np.uint8).copy()
        self.chunk_bytes = chunk_bytes
        self.counts = np.zeros(ZONE_REASON_COUNT, np.int64)
        self.first_line = np.zeros(ZONE_REASON_COUNT, np.int64)
        self.state = np.zeros(STATE_SLOTS, np.int64)
        self.table = np.zeros(_FIRST_TABLE_SLOTS, np.int64)

    @property
    def records(self) -> int:
        """Resource records read (of any type)."""
        return int(self.state[RECORDS])

    @property
    def ns_records(self) -> int:
        return int(self.state[NS_RECORDS])

    def malformed(self) -> dict[str, int]:
        """Entries that gave nothing, by reason."""
        return {reason.label: int(self.counts[reason]) for reason in ZoneReason if self.counts[reason]}

    def first_lines(self) -> dict[str, int]:
        """The line of the first entry counted under each reason."""
        return {reason.label: int(self.first_line[reason]) for reason in ZoneReason if self.counts[reason]}

    def batches(self) -> Iterator[tuple[pa.StringArray, int]]:
        """Yield (new delegations, compressed input bytes consumed since the previous batch).

        Raises:
            InputError: the file cannot be opened, or its compressed stream is damaged or cut short (a
                partial snapshot would understate the zone, so nothing of it should be stored).
        """
        stream, counter = open_source(self.path)
        capacity = self.chunk_bytes + MAX_ENTRY_BYTES
        buffer = np.empty(capacity, np.uint8)
        origin = np.zeros(NAME_CAPACITY, np.uint8)
        origin[: len(self.apex)] = self.apex
        self.state[ORIGIN_LEN] = len(self.apex)
        self.state[ORIGIN_WIRE] = len(self.apex) + 2
        self.state[HAVE_OWNER] = 0
        self.state[PREVIOUS_LEN] = -1
        owner = np.zeros(NAME_CAPACITY, np.uint8)
        previous = np.zeros(NAME_CAPACITY, np.uint8)
        scratch = np.zeros(NAME_CAPACITY, np.uint8)
        spans = np.zeros((TOKEN_SLOTS, 2), np.int64)
        out = np.empty(self.chunk_bytes + NAME_CAPACITY, np.uint8)
        out_ends = np.empty(NAMES_PER_BATCH, np.int32)
        pending = np.empty(NAMES_PER_BATCH, np.int64)
        carry, final, reported = 0, False, 0
        chunks = read_ahead(iter(lambda: stream.read(self.chunk_bytes), b""))
        try:
            while not final:
                data = next(chunks, b"")
                final = not data
                filled = carry + len(data)
                buffer[carry:filled] = np.frombuffer(data, np.uint8)
                position, status = 0, OUTPUT_FULL
                while status != 0:
                    position, names, used, status = scan_zone(
                        buffer, position, filled, final, self.state, origin, owner, previous, self.apex,
                        scratch, spans, self.table, pending, out, out_ends, self.counts, self.first_line,
                    )  # fmt: skip
                    if status == TABLE_FULL:
                        self._grow()
                    if names:
                        yield _string_array(out, out_ends, names, used), 0
                carry = filled - position
                buffer[:carry] = buffer[position:filled]
                yield pa.array([], pa.string()), counter.consumed - reported
                reported = counter.consumed
        except (OSError, EOFError, zlib.error, zstandard.ZstdError) as error:
            raise InputError(
                f"{self.path}: cannot read the zone file ({error})",
                hint="the download may be cut short or damaged; fetch it again",
            ) from error
        finally:
            chunks.close()
            stream.close()

    def _grow(self) -> None:
        larger = np.zeros(len(self.table) * 2, np.int64)
        rehash(self.table, larger)
        self.table = larger


def _string_array(
    out: np.ndarray[tuple[int], np.dtype[np.uint8]],
    out_ends: np.ndarray[tuple[int], np.dtype[np.int32]],
    names: int,
    used: int,
) -> pa.StringArray:
    offsets = np.empty(names + 1, np.int32)
    offsets[0] = 0
    offsets[1:] = out_ends[:names]
    return pa.StringArray.from_buffers(names, pa.py_buffer(offsets), pa.py_buffer(out[:used].copy()))


def zone_source(path: Path, *, tld: str, day: date, chunk_bytes: int = DEFAULT_CHUNK_BYTES) -> Source:
    """The `zone_domains` source of the zone file of `tld` on `day`: one snapshot per (TLD, day), whichever
    copy of it comes first."""

    def read(tally: LineTally) -> Iterator[Rows]:
        reader = ZoneReader(path, tld, chunk_bytes=chunk_bytes)
        day_value = pa.scalar(day, pa.date32())
        tld_value = pa.scalar(tld, pa.string())
        origin = pa.scalar(str(path), pa.string())
        for names, bytes_read in reader.batches():
            count = len(names)
            batch = pa.RecordBatch.from_arrays(
                [
                    pa.repeat(day_value, count),
                    pa.repeat(tld_value, count).dictionary_encode(),
                    names,
                    pa.repeat(origin, count).dictionary_encode(),
                ],
                schema=ZONE_DOMAINS.schema,
            )
            yield Rows(day.isoformat(), batch, bytes_read)
        tally.records = reader.records
        for reason, count in reader.malformed().items():
            tally.malformed[reason] += count
        tally.first_line.update(reader.first_lines())

    return Source(path, ZONE_DOMAINS.name, f"zone:{tld}:{day.isoformat()}", read)
