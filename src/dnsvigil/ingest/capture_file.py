"""Read pcap and pcapng captures, compressed or not, into batches of located DNS messages.

The file is read in chunks of about `chunk_bytes` into one reused buffer; a record cut by a chunk's end is
carried over to the next chunk, so memory stays bounded whatever the file's size. In each chunk, compiled
kernels locate the records (`pcap_format`) and decode their frames (`link_layer`, `packets`), up to
`RECORDS_PER_WALK` records at a time, one batch each: a UDP DNS payload becomes a message in place, pointing
into the chunk's buffer. IP fragments (`ip_fragments`) and TCP segments (`tcp_streams`) go through Python
reassemblers that keep their state from chunk to chunk; the messages they complete are copied after the
chunk's bytes in the same buffer (`capture_order`).

Order: the messages of a batch are in capture order, each at the place of the record that completed it (the
datagram itself, its last fragment, or the TCP segment that completed the message). Messages that TCP or
fragment reassembly still held at the end of the capture come in the last batch.

Lifetime: a batch's slices point into the reused buffer, so they are valid until the next batch is asked
for; decode a batch (`dns_wire.decode_messages` copies what it keeps) before taking the next.
"""

from __future__ import annotations

import lzma
import zlib
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import BinaryIO, Protocol, cast

import numpy as np
import numpy.typing as npt
import zstandard

from dnsvigil.errors import InputError, UnsupportedFormatError, UsageError
from dnsvigil.ingest.capture_order import Reassembled, in_capture_order
from dnsvigil.ingest.ip_fragments import FragmentReassembler
from dnsvigil.ingest.packets import KIND_FRAGMENT, KIND_TCP, KIND_UDP, PacketRows, decode_frames, port_table
from dnsvigil.ingest.pcap_format import (
    BAD_FRAMING,
    OUTPUT_FULL,
    PCAP_HEADER_BYTES,
    PCAPNG_MAGIC,
    PcapHeader,
    PcapngState,
    RecordIndex,
    pcap_magic,
    walk_pcap,
    walk_pcapng,
)
from dnsvigil.ingest.reasons import Reason, new_counts
from dnsvigil.ingest.slices import DEFAULT_CHUNK_BYTES, CaptureBatch
from dnsvigil.ingest.source_file import CountingReader, compression_of, open_source
from dnsvigil.ingest.tcp_streams import TcpReassembler

ACCEPTED_FORMATS = (
    "pcap (magic a1b2c3d4 or a1b23c4d, in either byte order) and pcapng (0a0d0d0a) captures, "
    "optionally compressed with gzip, xz or zstd"
)
RECORDS_PER_WALK = 1 << 17
"""Records located and decoded per kernel call, and so per batch at most; bounds the per-call arrays (about
16 MB). A default 8 MiB chunk of even the smallest DNS packets (about 70 bytes a record) is one batch."""


class _Readable(Protocol):
    def readinto(self, buffer: memoryview, /) -> int | None: ...


def read_capture(
    path: Path, *, ports: tuple[int, ...] = (53,), chunk_bytes: int = DEFAULT_CHUNK_BYTES
) -> Iterator[CaptureBatch]:
    """Read the DNS messages of a pcap or pcapng capture, chunk by chunk.

    Args:
        path: the capture, optionally compressed with gzip, xz or zstd.
        ports: UDP and TCP ports whose traffic is DNS.
        chunk_bytes: about how many bytes of (decompressed) capture each batch covers.

    Yields:
        One batch per chunk, or per `RECORDS_PER_WALK` records of a chunk: its messages, the reasons its
        other records made none, records and bytes read. A batch's slices are valid until the next batch is
        asked for: the buffer they point into is reused.

    Raises:
        UsageError: `ports` or `chunk_bytes` cannot be used.
        UnsupportedFormatError: the file is empty or neither pcap nor pcapng.
        InputError: the file cannot be read, its header is cut short or its compression is damaged.
    """
    if not ports or any(not 0 < port < 1 << 16 for port in ports):
        raise UsageError(f"ports must be within 1..65535, got {ports!r}")
    if chunk_bytes < 1:
        raise UsageError(f"chunk_bytes must be at least 1, got {chunk_bytes}")
    stream, counter = open_source(path)
    try:
        yield from _CaptureReader(path, stream, counter, ports, chunk_bytes).batches()
    finally:
        stream.close()


class _CaptureReader:
    """One pass over one capture: chunks in, batches out.

    One buffer is reused from chunk to chunk, so its pages are not faulted in anew each time (glibc hands
    large allocations back to the kernel when they are freed): a batch's slices are valid until the next
    batch is asked for.
    """

    def __init__(
        self, path: Path, stream: BinaryIO, counter: CountingReader, ports: Sequence[int], chunk_bytes: int
    ) -> None:
        self._path = path
        self._stream = stream
        self._counter = counter
        self._chunk_bytes = chunk_bytes
        self._port_table = port_table(ports)
        self._index = RecordIndex(RECORDS_PER_WALK)
        self._rows = PacketRows(RECORDS_PER_WALK)
        self._buffer = np.zeros(0, np.uint8)
        self._pcap: PcapHeader | None = None
        self._pcapng = PcapngState()
        self._records = 0
        self._consumed = 0  # bytes of the file itself read so far
        self._end_of_input = False
        self._truncated_input = False
        self._tcp = TcpReassembler()
        self._fragments = FragmentReassembler()

    def batches(self) -> Iterator[CaptureBatch]:
        end = self._read(0, 0, PCAP_HEADER_BYTES)
        pos = self._open_format(end)
        file_offset = 0  # of the buffer's first byte, in the decompressed stream
        while True:
            status = OUTPUT_FULL
            while status == OUTPUT_FULL:  # one batch per walk: at most RECORDS_PER_WALK records
                counts = new_counts()
                damaged = self._pcapng.damaged_packets
                count, pos, status, need = self._walk(pos, end, counts)
                produced, datagrams = self._decode(count, counts)
                finished = status == BAD_FRAMING or (status != OUTPUT_FULL and self._end_of_input)
                if finished:
                    if file_offset + pos == 0:
                        self._raise_for_section_header(status == BAD_FRAMING, end)
                    self._finish(status == BAD_FRAMING, pos < end, counts)
                reassembled = Reassembled.joined([datagrams, self._tcp.take_messages().reassembled()])
                buffer = self._room(end, end + len(reassembled.slices.buffer))
                slices = in_capture_order(buffer, end, self._rows, produced, reassembled)
                bytes_read = self._counter.consumed - self._consumed
                self._consumed = self._counter.consumed
                records = count + self._pcapng.damaged_packets - damaged
                yield CaptureBatch(slices=slices, counts=counts, records=records, bytes_read=bytes_read)
            if finished:
                return
            file_offset += pos
            end = self._read(pos, end, need)
            pos = 0

    def _finish(self, stopped: bool, left_over: bool, counts: npt.NDArray[np.int64]) -> None:
        """The end of the capture: count why it ended there, and what reassembly still held."""
        if stopped:
            counts[Reason.BAD_RECORD_HEADER] += 1  # nothing after an unframeable record can be trusted
        elif left_over or self._truncated_input:
            counts[Reason.TRUNCATED_RECORD] += 1
        self._fragments.finish(counts)
        self._tcp.finish(counts)

    def _open_format(self, end: int) -> int:
        """Check the magic; return where the first record starts."""
        head = self._buffer[: min(end, PCAP_HEADER_BYTES)].tobytes()
        if head[:4] == PCAPNG_MAGIC:
            return 0
        if end >= 4 and pcap_magic(head) is not None:
            self._pcap = PcapHeader.from_bytes(head)
            if self._pcap is None:
                raise InputError(
                    f"{self._path}: pcap file header cut short: {end} of {PCAP_HEADER_BYTES} bytes",
                    hint="the file was truncated; nothing can be read from it",
                )
            return PCAP_HEADER_BYTES
        with self._path.open("rb") as raw:
            compression = compression_of(raw.read(8))
        if end == 0:
            what = (
                f"nothing came out of its {compression} decompression (cut short?)"
                if compression
                else "empty"
            )
            raise UnsupportedFormatError(
                f"{self._path}: {what}, not a capture", hint=f"dnsvigil reads {ACCEPTED_FORMATS}"
            )
        where = f" (after {compression} decompression)" if compression else ""
        guess = ""
        if head[:4] == b"\x00\x00\x00\x00":
            guess = "; it looks like a dnstap (Frame Streams) file: read it with `dnsvigil ingest dnstap`"
        raise UnsupportedFormatError(
            f"{self._path}: not a pcap or pcapng capture{where}: it starts with {head[:4].hex(' ')}{guess}",
            hint=f"dnsvigil reads {ACCEPTED_FORMATS}",
        )

    def _raise_for_section_header(self, damaged: bool, end: int) -> None:
        """The pcapng file's first block, its section header, cannot be read: the file cannot be either."""
        if damaged:
            raise UnsupportedFormatError(
                f"{self._path}: pcapng section header is damaged (bad byte-order magic or length)",
                hint=f"dnsvigil reads {ACCEPTED_FORMATS}",
            )
        raise InputError(
            f"{self._path}: pcapng section header cut short: the file holds {end} bytes",
            hint="the file was truncated; nothing can be read from it",
        )

    def _read(self, pos: int, end: int, need: int) -> int:
        """Move the bytes from `pos` to `end` to the buffer's start, then read at least `chunk_bytes` (and
        `need` in all) more bytes if the file has them; keep spare room for the messages reassembly will
        add. Returns where the data ends."""
        carry = end - pos
        want = max(self._chunk_bytes, need - carry)
        size = carry + want + want // 4 + (1 << 16)
        if size > len(self._buffer):
            bigger = np.empty(size, np.uint8)
            bigger[:carry] = self._buffer[pos:end]
            self._buffer = bigger
        else:
            self._buffer[:carry] = self._buffer[pos:end]
        got = 0
        view = self._buffer.data[carry : carry + want]
        # A decompressor's readinto1 decompresses one piece per call: when the compressed stream turns out to
        # be cut short, only a call that produced nothing raises, and no byte read before is lost.
        stream = cast(_Readable, self._stream)
        read_into = getattr(stream, "readinto1", stream.readinto)
        try:
            while got < want:
                count = read_into(view[got:])
                if not count:
                    break
                got += count
        except EOFError:
            self._truncated_input = True  # a compressed stream cut short: read what came before the cut
        except (OSError, zlib.error, lzma.LZMAError, zstandard.ZstdError) as error:
            raise InputError(
                f"{self._path}: cannot read past byte {self._counter.consumed}: {error}",
                hint="the file or its compression is damaged",
            ) from error
        finally:
            view.release()
        self._end_of_input = got < want
        return carry + got

    def _room(self, end: int, size: int) -> npt.NDArray[np.uint8]:
        """The buffer, grown to at least `size` bytes if it is smaller, its first `end` bytes kept."""
        if size > len(self._buffer):
            bigger = np.empty(size + size // 4, np.uint8)
            bigger[:end] = self._buffer[:end]
            self._buffer = bigger
        return self._buffer

    def _walk(self, pos: int, end: int, counts: npt.NDArray[np.int64]) -> tuple[int, int, int, int]:
        """Locate records from `pos`; return (count, stop position, status, need) as the walkers do."""
        out = self._index.arrays()
        if self._pcap is not None:
            header = self._pcap
            return walk_pcap(
                self._buffer,
                pos,
                end,
                header.big_endian,
                header.nanosecond,
                header.record_header_bytes,
                header.linktype,
                out,
            )
        return walk_pcapng(self._buffer, pos, end, self._pcapng.arrays(), counts, out)

    def _decode(self, count: int, counts: npt.NDArray[np.int64]) -> tuple[int, Reassembled]:
        """Decode the `count` records walked into the reused rows; send fragments and TCP segments to their
        reassemblers. Returns how many rows there are, and the UDP messages of datagrams completed."""
        if not count:
            return 0, Reassembled.empty()
        produced = decode_frames(
            self._buffer,
            self._index.arrays(),
            count,
            self._records,
            self._port_table,
            counts,
            self._rows.arrays(),
        )
        self._records += count
        rows = self._rows.take(slice(0, produced))
        kinds = rows.kind
        if np.count_nonzero(kinds != KIND_UDP) == 0:
            return produced, Reassembled.empty()
        tcp_sources = [(self._buffer, rows.take(kinds == KIND_TCP))]
        datagram_messages = Reassembled.empty()
        fragments = kinds == KIND_FRAGMENT
        if fragments.any():
            datagrams = self._fragments.add_rows(self._buffer, rows.take(fragments), counts)
            if len(datagrams):
                decoded = datagrams.decode(self._port_table, counts)
                datagram_messages = Reassembled.from_udp_rows(
                    datagrams.buffer, decoded.take(decoded.kind == KIND_UDP)
                )
                tcp_sources.append((datagrams.buffer, decoded.take(decoded.kind == KIND_TCP)))
        self._tcp.add_rows(tcp_sources, counts)
        return produced, datagram_messages
