"""`MessageSlices`: DNS messages located in a byte buffer, with the transport facts around each.

Every capture reader (pcap, pcapng, dnstap) produces slices; one compiled DNS decoder turns any slices
into rows of `dns_messages`. Arrays are column-parallel: element i of each describes message i.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from dnsvigil.config import find_setting

TRANSPORT_UDP = 17
TRANSPORT_TCP = 6
DEFAULT_CHUNK_BYTES = int(find_setting("chunk_mib").default) << 20
"""Input bytes a reader takes per chunk unless told otherwise: the `chunk_mib` setting's default."""


@dataclass(frozen=True, slots=True)
class MessageSlices:
    """Column arrays describing `len(offset)` DNS messages held in `buffer`.

    Attributes:
        buffer: uint8 bytes that hold every message (other bytes may lie between them).
        offset: int64 start of each DNS message in `buffer` (after any TCP length prefix).
        length: int32 length of each DNS message in bytes.
        ts_ns: int64 capture time, nanoseconds since the Unix epoch, UTC.
        ip_version: uint8, 4 or 6.
        src_addr: uint8 array of shape (n, 16); an IPv4 address fills the first 4 bytes, the rest zero.
        dst_addr: uint8 array of shape (n, 16), laid out as `src_addr`.
        src_port: uint16 source port.
        dst_port: uint16 destination port.
        transport: uint8 IP protocol number, 17 (UDP) or 6 (TCP).
    """

    buffer: npt.NDArray[np.uint8]
    offset: npt.NDArray[np.int64]
    length: npt.NDArray[np.int32]
    ts_ns: npt.NDArray[np.int64]
    ip_version: npt.NDArray[np.uint8]
    src_addr: npt.NDArray[np.uint8]
    dst_addr: npt.NDArray[np.uint8]
    src_port: npt.NDArray[np.uint16]
    dst_port: npt.NDArray[np.uint16]
    transport: npt.NDArray[np.uint8]

    def __post_init__(self) -> None:
        count = len(self.offset)
        for name in ("length", "ts_ns", "ip_version", "src_port", "dst_port", "transport"):
            if len(getattr(self, name)) != count:
                raise ValueError(
                    f"MessageSlices.{name} has {len(getattr(self, name))} rows, expected {count}"
                )
        for name in ("src_addr", "dst_addr"):
            if getattr(self, name).shape != (count, 16):
                raise ValueError(f"MessageSlices.{name} must have shape ({count}, 16)")

    def __len__(self) -> int:
        return len(self.offset)

    def select(self, rows: slice | npt.NDArray[np.bool_]) -> MessageSlices:
        """The messages picked by `rows` (a slice or a mask), in the same buffer."""
        return MessageSlices(
            buffer=self.buffer,
            offset=self.offset[rows],
            length=self.length[rows],
            ts_ns=self.ts_ns[rows],
            ip_version=self.ip_version[rows],
            src_addr=self.src_addr[rows],
            dst_addr=self.dst_addr[rows],
            src_port=self.src_port[rows],
            dst_port=self.dst_port[rows],
            transport=self.transport[rows],
        )

    @staticmethod
    def empty() -> MessageSlices:
        """Slices holding no message."""
        return MessageSlices.of_messages([])

    @staticmethod
    def of_messages(messages: Sequence[bytes]) -> MessageSlices:
        """Slices over DNS messages given as bytes, side by side in a new buffer: UDP over IPv4, with
        zero times, addresses and ports, for code that needs messages without a capture (warm-up runs)."""
        count = len(messages)
        length = np.fromiter(map(len, messages), np.int32, count)
        offset = np.zeros(count, np.int64)
        np.cumsum(length[:-1], out=offset[1:])
        return MessageSlices(
            buffer=np.frombuffer(b"".join(messages), np.uint8).copy(),
            offset=offset,
            length=length,
            ts_ns=np.zeros(count, np.int64),
            ip_version=np.full(count, 4, np.uint8),
            src_addr=np.zeros((count, 16), np.uint8),
            dst_addr=np.zeros((count, 16), np.uint8),
            src_port=np.zeros(count, np.uint16),
            dst_port=np.zeros(count, np.uint16),
            transport=np.full(count, 17, np.uint8),
        )


@dataclass(frozen=True, slots=True)
class CaptureBatch:
    """What a reader yields for one chunk of its input.

    A reader may reuse the buffer of its slices for the next chunk: a batch is valid until the next one is
    asked for, so consumers decode it first (`dns_wire.decode_messages` copies what it keeps).

    Attributes:
        slices: the DNS messages found in the chunk.
        counts: int64 counts indexed by `Reason` for records of this chunk that made no message.
        records: capture records (packets, frames) read in this chunk.
        bytes_read: input bytes consumed by this chunk (compressed bytes for compressed files), for progress.
    """

    slices: MessageSlices
    counts: npt.NDArray[np.int64]
    records: int
    bytes_read: int
