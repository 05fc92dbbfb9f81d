"""DNS messages received but not decoded yet: cut to a count, rid of runts, and joined for one decode.

The receiver hands the storing thread `MessageSlices` straight from the dnstap layer, pointing into its
receive buffers; the DNS layer is decoded once per stored batch (`join_slices` then
`dns_wire.decode_messages`), because each decode call has a fixed cost worth hundreds of messages.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import numpy.typing as npt

from dnsvigil.ingest.compiled import compiled
from dnsvigil.ingest.dns_wire import HEADER_LENGTH
from dnsvigil.ingest.reasons import Reason
from dnsvigil.ingest.slices import MessageSlices


def first_messages(slices: MessageSlices, count: int) -> MessageSlices:
    """The first `count` messages of `slices` (all of them when there are fewer), in the same buffer."""
    if count >= len(slices):
        return slices
    return slices.select(slice(0, max(count, 0)))


def without_runts(slices: MessageSlices, counts: npt.NDArray[np.int64]) -> MessageSlices:
    """`slices` less the messages shorter than a DNS header, each counted as `Reason.DNS_TOO_SHORT`.

    The DNS decoder would leave them out and count them the same way; leaving them out on receipt keeps
    "received" what it always was, the messages that make a row.
    """
    runts = slices.length < HEADER_LENGTH
    dropped = int(np.count_nonzero(runts))
    if not dropped:
        return slices
    counts[Reason.DNS_TOO_SHORT] += dropped
    return slices.select(~runts)


@compiled
def _gather(
    buffer: npt.NDArray[np.uint8],
    offset: npt.NDArray[np.int64],
    length: npt.NDArray[np.int32],
    out: npt.NDArray[np.uint8],
    at: int,
) -> int:
    """Copy each message of `buffer` to `out` from `at` on, back to back; return the position after."""
    for message in range(len(offset)):
        # Unsigned indices: numba leaves out its check for negative ones, and the copy is vectorised
        # (four times faster).
        start = np.uint64(offset[message])
        base = np.uint64(at)
        for index in range(np.uint64(length[message])):
            out[base + index] = buffer[start + index]
        at += length[message]
    return at


def join_slices(parts: Sequence[MessageSlices]) -> MessageSlices:
    """The messages of every part, in order, copied back to back into one buffer.

    Raises:
        ValueError: a part has a message outside its buffer.
    """
    if len(parts) == 1:
        return parts[0]
    if not parts:
        return MessageSlices.empty()
    offsets = [np.ascontiguousarray(part.offset, np.int64) for part in parts]
    lengths = [np.ascontiguousarray(part.length, np.int32) for part in parts]
    for part, offset, length in zip(parts, offsets, lengths, strict=True):
        if len(offset) and (
            offset.min() < 0 or length.min() < 0 or int((offset + length).max()) > len(part.buffer)
        ):
            raise ValueError("MessageSlices has a message outside its buffer (negative or too far)")
    length = np.concatenate(lengths)
    buffer = np.empty(int(length.sum(dtype=np.int64)), np.uint8)
    at = 0
    for part, offset, part_length in zip(parts, offsets, lengths, strict=True):
        at = _gather(np.ascontiguousarray(part.buffer, np.uint8), offset, part_length, buffer, at)
    offset = np.zeros(len(length), np.int64)
    np.cumsum(length[:-1], out=offset[1:])
    return MessageSlices(
        buffer=buffer,
        offset=offset,
        length=length,
        ts_ns=np.concatenate([part.ts_ns for part in parts]),
        ip_version=np.concatenate([part.ip_version for part in parts]),
        src_addr=np.concatenate([part.src_addr for part in parts]),
        dst_addr=np.concatenate([part.dst_addr for part in parts]),
        src_port=np.concatenate([part.src_port for part in parts]),
        dst_port=np.concatenate([part.dst_port for part in parts]),
        transport=np.concatenate([part.transport for part in parts]),
    )
