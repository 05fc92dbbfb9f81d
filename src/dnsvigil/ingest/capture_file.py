"""Read pcap and pcapng captures, compressed or not, into batches of located DNS messages.

The file is read in chunks of about `chunk_bytes`; a record cut by a chunk's end is carried over to the next
chunk, so memory stays bounded whatever the file's size. In each chunk, compiled kernels locate the records
(`pcap_format`) and decode their frames (`link_layer`, `packets`): a UDP DNS payload becomes a message in
place, pointing into the chunk's buffer. IP fragments (`ip_fragments`) and TCP segments (`tcp_streams`) go
through Python reassemblers that keep their state from chunk to chunk; the messages they produce are
copied after the chunk's bytes in the same buffer.

Order: the messages of a batch are in capture order, each at the place of the record that completed it (the
datagram itself, its last fragment, or the TCP segment that completed the message). Messages that TCP or
fragment reassembly still held at the end of the capture come in the last batch.
"""

from __future__ import annotations

import lzma
import zlib
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import BinaryIO, Protocol, TypeVar, cast

import numpy as np
import numpy.typing as npt
import zstandard

from dnsvigil.errors import InputError, UnsupportedFormatError, UsageError
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
from dnsvigil.ingest.slices import TRANSPORT_TCP, CaptureBatch, MessageSlices
from dnsvigil.ingest.source_file import CountingReader, compression_of, open_source
from dnsvigil.ingest.tcp_streams import ReassembledMessages, TcpReassembler

ACCEPTED_FORMATS = (
    "pcap (magic a1b2c3d4 or a1b23c4d, in either byte order) and pcapng (0a0d0d0a) captures, "
    "optionally compressed with gzip, xz or zstd"
)
RECORDS_PER_WALK = 1 << 16
"""Records located and decoded per kernel call: bounds the per-call arrays."""
_Item = TypeVar("_Item", bound=np.generic)


class _Readable(Protocol):
    def readinto(self, buffer: memoryview, /) -> int | None: ...


def read_capture(
    path: Path, *, ports: tuple[int, ...] = (53,), chunk_bytes: int = 64 << 20
) -> Iterator[CaptureBatch]:
    """Read the DNS messages of a pcap or pcapng capture, chunk by chunk.

    Args:
        path: the capture, optionally compressed with gzip, xz or zstd.
        ports: UDP and TCP ports whose traffic is DNS.
        chunk_bytes: about how many bytes of (decompressed) capture each batch covers.

    Yields:
        One batch per chunk: its messages, the reasons its other records made none, records and bytes read.

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
    """One pass over one capture: chunks in, batches out."""

    def __init__(
        self, path: Path, stream: BinaryIO, counter: CountingReader, ports: Sequence[int], chunk_bytes: int
    ) -> None:
        self._path = path
        self._stream = stream
        self._counter = counter
        self._chunk_bytes = chunk_bytes
        self._port_table = port_table(ports)
        self._index = RecordIndex(RECORDS_PER_WALK)
        self._pcap: PcapHeader | None = None
        self._pcapng = PcapngState()
        self._records = 0
        self._consumed = 0  # bytes of the file itself read so far
        self._end_of_input = False
        self._truncated_input = False
        self._tcp = TcpReassembler()
        self._fragments = FragmentReassembler()

    def batches(self) -> Iterator[CaptureBatch]:
        buffer, end = self._read(np.zeros(0, np.uint8), PCAP_HEADER_BYTES)
        pos = self._open_format(buffer, end)
        file_offset = 0  # of the buffer's first byte, in the decompressed stream
        while True:
            counts = new_counts()
            start_records, start_damaged = self._records, self._pcapng.damaged_packets
            pos, status, need, parts = self._decode_chunk(buffer, pos, end, counts)
            stopped = status == BAD_FRAMING
            finished = stopped or self._end_of_input
            if finished and file_offset + pos == 0:
                self._raise_for_section_header(stopped, end)
            if stopped:
                counts[Reason.BAD_RECORD_HEADER] += 1  # nothing after an unframeable record can be trusted
            if finished and not stopped and (pos < end or self._truncated_input):
                counts[Reason.TRUNCATED_RECORD] += 1
            if finished:
                self._fragments.finish(counts)
                self._tcp.finish(counts)
            slices = _assemble(buffer, end, parts, self._tcp.take_messages())
            records = self._records - start_records + self._pcapng.damaged_packets - start_damaged
            bytes_read = self._counter.consumed - self._consumed
            self._consumed = self._counter.consumed
            yield CaptureBatch(slices=slices, counts=counts, records=records, bytes_read=bytes_read)
            if finished:
                return
            file_offset += pos
            buffer, end = self._read(buffer[pos:end], need)
            pos = 0

    def _open_format(self, buffer: npt.NDArray[np.uint8], end: int) -> int:
        """Check the magic; return where the first record starts."""
        head = buffer[: min(end, PCAP_HEADER_BYTES)].tobytes()
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

    def _read(self, carry: npt.NDArray[np.uint8], need: int) -> tuple[npt.NDArray[np.uint8], int]:
        """A new buffer: `carry`, then at least `chunk_bytes` (and `need` in all) more bytes if the file has
        them, then spare room for the messages reassembly will add. Returns the buffer and its data's end."""
        want = max(self._chunk_bytes, need - len(carry))
        buffer = np.empty(len(carry) + want + want // 4 + (1 << 16), np.uint8)
        buffer[: len(carry)] = carry
        got = 0
        view = buffer.data[len(carry) : len(carry) + want]
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
        return buffer, len(carry) + got

    def _walk(
        self, buffer: npt.NDArray[np.uint8], pos: int, end: int, counts: npt.NDArray[np.int64]
    ) -> tuple[int, int, int, int]:
        out = self._index.arrays()
        if self._pcap is not None:
            header = self._pcap
            return walk_pcap(
                buffer,
                pos,
                end,
                header.big_endian,
                header.nanosecond,
                header.record_header_bytes,
                header.linktype,
                out,
            )
        return walk_pcapng(buffer, pos, end, self._pcapng.arrays(), counts, out)

    def _decode_chunk(
        self, buffer: npt.NDArray[np.uint8], pos: int, end: int, counts: npt.NDArray[np.int64]
    ) -> tuple[int, int, int, list[tuple[npt.NDArray[np.uint8], PacketRows]]]:
        """Locate and decode every complete record from `pos`; return (stop position, status, need, parts):
        parts are (buffer, UDP rows) pairs, the chunk's own and those of reassembled datagrams."""
        parts: list[tuple[npt.NDArray[np.uint8], PacketRows]] = []
        while True:
            count, pos, status, need = self._walk(buffer, pos, end, counts)
            if count:
                rows = PacketRows(count)
                produced = decode_frames(
                    buffer,
                    self._index.arrays(),
                    count,
                    self._records,
                    self._port_table,
                    counts,
                    rows.arrays(),
                )
                self._records += count
                self._sort_rows(buffer, rows.take(slice(0, produced)), parts, counts)
            if status != OUTPUT_FULL:
                return pos, status, need, parts

    def _sort_rows(
        self,
        buffer: npt.NDArray[np.uint8],
        rows: PacketRows,
        parts: list[tuple[npt.NDArray[np.uint8], PacketRows]],
        counts: npt.NDArray[np.int64],
    ) -> None:
        """Keep UDP rows as they are; send fragments and TCP segments to their reassemblers."""
        kinds = rows.kind
        udp = kinds == KIND_UDP
        if udp.all():
            parts.append((buffer, rows))
            return
        parts.append((buffer, rows.take(udp)))
        tcp_sources = [(buffer, rows.take(kinds == KIND_TCP))]
        fragments = kinds == KIND_FRAGMENT
        if fragments.any():
            datagrams = self._fragments.add_rows(buffer, rows.take(fragments), counts)
            if len(datagrams):
                decoded = datagrams.decode(self._port_table, counts)
                parts.append((datagrams.buffer, decoded.take(decoded.kind == KIND_UDP)))
                tcp_sources.append((datagrams.buffer, decoded.take(decoded.kind == KIND_TCP)))
        self._tcp.add_rows(tcp_sources, counts)


def _assemble(
    chunk: npt.NDArray[np.uint8],
    end: int,
    parts: list[tuple[npt.NDArray[np.uint8], PacketRows]],
    tcp: ReassembledMessages,
) -> MessageSlices:
    """One MessageSlices for a chunk: its own UDP payloads in place, reassembled bytes copied after `end`."""
    parts = [(part_buffer, rows) for part_buffer, rows in parts if len(rows)]
    foreign = sum(len(part_buffer) for part_buffer, _ in parts if part_buffer is not chunk)
    buffer = chunk
    if end + foreign + len(tcp.data) > len(chunk):
        buffer = np.empty(end + foreign + len(tcp.data), np.uint8)
        buffer[:end] = chunk[:end]
    base = end
    offsets: list[npt.NDArray[np.int64]] = []
    for part_buffer, rows in parts:
        if part_buffer is chunk:
            offsets.append(rows.offset)
        else:
            buffer[base : base + len(part_buffer)] = part_buffer
            offsets.append(rows.offset + base)
            base += len(part_buffer)
    udp = PacketRows.concatenate([rows for _, rows in parts]) if parts else PacketRows(0)
    if not len(udp) + len(tcp):
        return MessageSlices.empty()
    offsets.append(np.array(tcp.offset, np.int64) + base)
    if len(tcp):
        buffer[base : base + len(tcp.data)] = np.frombuffer(tcp.data, np.uint8)
        base += len(tcp.data)
        versions, sources, destinations, src_ports, dst_ports = tcp.flow_columns()
    else:
        versions, src_ports, dst_ports = (
            np.zeros(0, np.uint8),
            np.zeros(0, np.uint16),
            np.zeros(0, np.uint16),
        )
        sources = destinations = np.zeros((0, 16), np.uint8)
    slices = MessageSlices(
        buffer=buffer[:base],
        offset=_joined(offsets),
        length=_joined([udp.length, tcp.lengths()]),
        ts_ns=_joined([udp.ts_ns, np.array(tcp.ts_ns, np.int64)]),
        ip_version=_joined([udp.ip_version, versions]),
        src_addr=_joined([udp.src_addr, sources]),
        dst_addr=_joined([udp.dst_addr, destinations]),
        src_port=_joined([udp.src_port, src_ports]),
        dst_port=_joined([udp.dst_port, dst_ports]),
        transport=_joined([udp.protocol, np.full(len(tcp), TRANSPORT_TCP, np.uint8)]),
    )
    if not len(tcp) and all(part_buffer is chunk for part_buffer, _ in parts):
        return slices  # the chunk's own rows only: already in record order
    order = np.argsort(np.concatenate([udp.record, np.array(tcp.record, np.int64)]), kind="stable")
    return _reordered(slices, order)


def _joined(arrays: list[npt.NDArray[_Item]]) -> npt.NDArray[_Item]:
    """The arrays end to end; the first one itself when the others are empty."""
    if all(len(array) == 0 for array in arrays[1:]):
        return arrays[0]
    return np.concatenate(arrays)


def _reordered(slices: MessageSlices, order: npt.NDArray[np.intp]) -> MessageSlices:
    return MessageSlices(
        buffer=slices.buffer,
        offset=slices.offset[order],
        length=slices.length[order],
        ts_ns=slices.ts_ns[order],
        ip_version=slices.ip_version[order],
        src_addr=slices.src_addr[order],
        dst_addr=slices.dst_addr[order],
        src_port=slices.src_port[order],
        dst_port=slices.dst_port[order],
        transport=slices.transport[order],
    )
