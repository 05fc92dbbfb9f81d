"""dnstap: DNS messages logged by name servers as Protocol Buffers in Frame Streams, read without a copy.

Each data frame holds one `Dnstap` message (dnstap.proto, https://dnstap.info) wrapping a `Message` that
carries the wire-format DNS query and/or response with the addresses, ports and times around them. A compiled
kernel walks the protobuf fields of every frame and emits one `MessageSlices` row per embedded DNS message,
pointing into the frame buffer itself.

`dnstap_stream` reads files and live streams with this module's `decode_frames`; a listener that has
already separated data frames hands them to `decode_frames` / `decode_payloads` directly.

Rows, in frame order, the query before the response of the same frame:
- query_message: from query_address:query_port to response_address:response_port, at query_time;
- response_message: from response_address:response_port to query_address:query_port, at response_time.
A missing time falls back to the other one of the frame, then to 0; a missing address or port reads as zeros.
ip_version comes from socket_family; when it is absent (or a value proto2 would drop as unknown) it is
inferred from the address length, defaulting to 4 as proto2's default INET does.
Transport is 17 (UDP) for UDP, DNSCryptUDP, DOQ (QUIC runs over UDP), DoH over HTTP/3, and an absent or
unknown socket_protocol (proto2's default, UDP); 6 (TCP) for TCP, DOT, DNSCryptTCP and DOH over HTTP/1 or
HTTP/2 or with no http_protocol.

A frame that is not a decodable `Dnstap` (cut-off field, wrong wire type for a known field, address of the
wrong length, port above 65535, time past year 2262) counts as `Reason.DNSTAP_BAD_MESSAGE`; a frame that is a
valid `Dnstap` without a DNS message (or of a type other than MESSAGE) yields no row and counts as
`Reason.DNSTAP_NO_DNS_MESSAGE`, a skip rather than damage.
"""

from __future__ import annotations

import enum
from collections.abc import Callable, Sequence
from typing import Any, TypeVar, cast

import numba
import numpy as np
import numpy.typing as npt

from dnsvigil.errors import UsageError
from dnsvigil.ingest.protobuf_wire import (
    WIRE_FIXED32,
    WIRE_LENGTH_DELIMITED,
    WIRE_VARINT,
    read_fixed32,
    read_key,
    read_length_delimited,
    read_varint_clamped,
    skip_field,
)
from dnsvigil.ingest.reasons import Reason, new_counts
from dnsvigil.ingest.slices import TRANSPORT_TCP, TRANSPORT_UDP, CaptureBatch, MessageSlices

CONTENT_TYPE = b"protobuf:dnstap.Dnstap"
DNSTAP_TYPE_MESSAGE = 1


class MessageType(enum.IntEnum):
    """dnstap `Message.Type`: which end of which exchange logged the message."""

    AUTH_QUERY = 1
    AUTH_RESPONSE = 2
    RESOLVER_QUERY = 3
    RESOLVER_RESPONSE = 4
    CLIENT_QUERY = 5
    CLIENT_RESPONSE = 6
    FORWARDER_QUERY = 7
    FORWARDER_RESPONSE = 8
    STUB_QUERY = 9
    STUB_RESPONSE = 10
    TOOL_QUERY = 11
    TOOL_RESPONSE = 12
    UPDATE_QUERY = 13
    UPDATE_RESPONSE = 14


class SocketFamily(enum.IntEnum):
    """dnstap `SocketFamily`."""

    INET = 1
    INET6 = 2


class SocketProtocol(enum.IntEnum):
    """dnstap `SocketProtocol`."""

    UDP = 1
    TCP = 2
    DOT = 3
    DOH = 4
    DNSCRYPT_UDP = 5
    DNSCRYPT_TCP = 6
    DOQ = 7


HTTP3 = 3
# IP protocol carrying each SocketProtocol, indexed by its value; 0 stands for an absent field.
_TRANSPORT_BY_PROTOCOL = np.array(
    [TRANSPORT_UDP, TRANSPORT_UDP, TRANSPORT_TCP, TRANSPORT_TCP, TRANSPORT_TCP, TRANSPORT_UDP, TRANSPORT_TCP,
     TRANSPORT_UDP],
    dtype=np.uint8,
)  # fmt: skip

# Seconds past which seconds * 1e9 + a fixed32 of nanoseconds no longer fits an int64.
_MAX_SECONDS = 9_223_372_035
_BAD_MESSAGE = int(Reason.DNSTAP_BAD_MESSAGE)
_NO_DNS_MESSAGE = int(Reason.DNSTAP_NO_DNS_MESSAGE)

# Slots of the per-frame state array: positions and values read from one Dnstap; -1 when absent.
_S_TYPE = 0
_S_FAMILY = 1
_S_PROTOCOL = 2
_S_QUERY_ADDRESS = 3  # start; stop in the next slot
_S_RESPONSE_ADDRESS = 5
_S_QUERY_PORT = 7
_S_RESPONSE_PORT = 8
_S_QUERY_SEC = 9
_S_QUERY_NSEC = 10
_S_RESPONSE_SEC = 11
_S_RESPONSE_NSEC = 12
_S_QUERY_MESSAGE = 13  # start; stop in the next slot
_S_RESPONSE_MESSAGE = 15
_S_HTTP_PROTOCOL = 17
_S_DNSTAP_TYPE = 18
_S_HAS_MESSAGE = 19
_SLOTS = 20

# Per `Message` field number 0..16: how it is encoded and where it goes.
_SKIP, _VARINT, _FIXED32, _BYTES = 0, 1, 2, 3
_FIELD_KIND = np.array(
    [_SKIP, _VARINT, _VARINT, _VARINT, _BYTES, _BYTES, _VARINT, _VARINT, _VARINT, _FIXED32, _BYTES, _SKIP,
     _VARINT, _FIXED32, _BYTES, _SKIP, _VARINT],
    dtype=np.int64,
)  # fmt: skip
_FIELD_SLOT = np.array(
    [-1, _S_TYPE, _S_FAMILY, _S_PROTOCOL, _S_QUERY_ADDRESS, _S_RESPONSE_ADDRESS, _S_QUERY_PORT,
     _S_RESPONSE_PORT, _S_QUERY_SEC, _S_QUERY_NSEC, _S_QUERY_MESSAGE, -1, _S_RESPONSE_SEC, _S_RESPONSE_NSEC,
     _S_RESPONSE_MESSAGE, -1, _S_HTTP_PROTOCOL],
    dtype=np.int64,
)  # fmt: skip

_Function = TypeVar("_Function", bound=Callable[..., Any])
# A private numba option, absent from its type stubs; numba rejects unknown options at import time.
_NO_REFCOUNTING: dict[str, Any] = {"_nrt": False}


def _kernel(function: _Function) -> _Function:
    # Without the runtime's reference counting (_nrt=False): otherwise every inlined helper taking the buffer
    # increments and decrements its count atomically, which made decoding five times slower. The kernel
    # allocates nothing, so it needs none.
    return cast(_Function, numba.njit(cache=True, nogil=True, **_NO_REFCOUNTING)(function))


def _inlined(function: _Function) -> _Function:
    # Inlined where they are called: a call between compiled functions costs more than these bodies.
    return cast(_Function, numba.njit(cache=True, nogil=True, inline="always")(function))


@_inlined
def _parse_message(buffer: Any, pos: int, end: int, state: Any) -> bool:
    """Read the fields of one `Message` in buffer[pos:end] into `state`; False when it is malformed."""
    while pos < end:
        field, wire_type, pos = read_key(buffer, pos, end)
        if pos < 0:
            return False
        kind = _FIELD_KIND[field] if field < len(_FIELD_KIND) else _SKIP
        if kind == _VARINT:
            if wire_type != WIRE_VARINT:
                return False
            value, pos = read_varint_clamped(buffer, pos, end)
            state[_FIELD_SLOT[field]] = value
        elif kind == _FIXED32:
            if wire_type != WIRE_FIXED32:
                return False
            value, pos = read_fixed32(buffer, pos, end)
            state[_FIELD_SLOT[field]] = value
        elif kind == _BYTES:
            if wire_type != WIRE_LENGTH_DELIMITED:
                return False
            start, pos = read_length_delimited(buffer, pos, end)
            state[_FIELD_SLOT[field]] = start
            state[_FIELD_SLOT[field] + 1] = pos
        else:
            pos = skip_field(buffer, pos, end, wire_type)
        if pos < 0:
            return False
    return True


@_inlined
def _parse_dnstap(buffer: Any, pos: int, end: int, state: Any) -> bool:
    """Read one `Dnstap` in buffer[pos:end] into `state`; repeated `message` fields merge, as in protobuf."""
    while pos < end:
        field, wire_type, pos = read_key(buffer, pos, end)
        if pos < 0:
            return False
        if field == 14:
            if wire_type != WIRE_LENGTH_DELIMITED:
                return False
            start, pos = read_length_delimited(buffer, pos, end)
            if start < 0 or not _parse_message(buffer, start, pos, state):
                return False
            state[_S_HAS_MESSAGE] = 1
        elif field == 15:
            if wire_type != WIRE_VARINT:
                return False
            value, pos = read_varint_clamped(buffer, pos, end)
            state[_S_DNSTAP_TYPE] = value
        elif field <= 3 and wire_type != WIRE_LENGTH_DELIMITED:
            return False
        else:
            pos = skip_field(buffer, pos, end, wire_type)
        if pos < 0:
            return False
    return True


@_inlined
def _time_ns(state: Any, sec_slot: int, other_sec_slot: int) -> int:
    """Nanoseconds of the time in `sec_slot` (and the nsec slot after it), else of the other time, else 0."""
    for slot in (sec_slot, other_sec_slot):
        if state[slot] >= 0 or state[slot + 1] >= 0:
            return int(max(state[slot], 0) * 1_000_000_000 + max(state[slot + 1], 0))
    return 0


@_inlined
def _copy_address(buffer: Any, state: Any, slot: int, out: Any, row: int) -> None:
    for i in range(state[slot + 1] - state[slot]):
        out[row, i] = buffer[state[slot] + i]


@_kernel
def _decode_kernel(
    buffer: Any,
    frame_offset: Any,
    frame_length: Any,
    out_offset: Any,
    out_length: Any,
    out_ts: Any,
    out_ip_version: Any,
    out_src: Any,
    out_dst: Any,
    out_src_port: Any,
    out_dst_port: Any,
    out_transport: Any,
    counts: Any,
    state: Any,
) -> int:
    """Fill the output rows from every frame; return the row count.

    Outputs hold 2 rows per frame; `state` is int64 scratch of `_SLOTS` values.
    """
    row = 0
    for frame in range(len(frame_offset)):
        state[:] = -1
        start = frame_offset[frame]
        if not _parse_dnstap(buffer, start, start + frame_length[frame], state):
            counts[_BAD_MESSAGE] += 1
            continue
        if (
            state[_S_HAS_MESSAGE] < 0
            or (state[_S_DNSTAP_TYPE] >= 0 and state[_S_DNSTAP_TYPE] != DNSTAP_TYPE_MESSAGE)
            or (state[_S_QUERY_MESSAGE] < 0 and state[_S_RESPONSE_MESSAGE] < 0)
        ):
            counts[_NO_DNS_MESSAGE] += 1
            continue
        query_address_length = max(state[_S_QUERY_ADDRESS + 1] - state[_S_QUERY_ADDRESS], 0)
        response_address_length = max(state[_S_RESPONSE_ADDRESS + 1] - state[_S_RESPONSE_ADDRESS], 0)
        if state[_S_FAMILY] == 1:
            ip_version = 4
        elif state[_S_FAMILY] == 2:
            ip_version = 6
        else:
            ip_version = 6 if max(query_address_length, response_address_length) == 16 else 4
        address_length = 4 if ip_version == 4 else 16
        if (
            (query_address_length != 0 and query_address_length != address_length)
            or (response_address_length != 0 and response_address_length != address_length)
            or state[_S_QUERY_PORT] > 65535
            or state[_S_RESPONSE_PORT] > 65535
            or state[_S_QUERY_SEC] > _MAX_SECONDS
            or state[_S_RESPONSE_SEC] > _MAX_SECONDS
        ):
            counts[_BAD_MESSAGE] += 1
            continue
        protocol = state[_S_PROTOCOL]
        if protocol == 4 and state[_S_HTTP_PROTOCOL] == HTTP3:
            transport = TRANSPORT_UDP
        elif 0 <= protocol < len(_TRANSPORT_BY_PROTOCOL):
            transport = _TRANSPORT_BY_PROTOCOL[protocol]
        else:
            transport = TRANSPORT_UDP
        query_port = max(state[_S_QUERY_PORT], 0)
        response_port = max(state[_S_RESPONSE_PORT], 0)
        for message_slot in (_S_QUERY_MESSAGE, _S_RESPONSE_MESSAGE):
            if state[message_slot] < 0:
                continue
            is_query = message_slot == _S_QUERY_MESSAGE
            out_offset[row] = state[message_slot]
            out_length[row] = state[message_slot + 1] - state[message_slot]
            if is_query:
                out_ts[row] = _time_ns(state, _S_QUERY_SEC, _S_RESPONSE_SEC)
            else:
                out_ts[row] = _time_ns(state, _S_RESPONSE_SEC, _S_QUERY_SEC)
            out_ip_version[row] = ip_version
            out_transport[row] = transport
            if query_address_length:
                _copy_address(buffer, state, _S_QUERY_ADDRESS, out_src if is_query else out_dst, row)
            if response_address_length:
                _copy_address(buffer, state, _S_RESPONSE_ADDRESS, out_dst if is_query else out_src, row)
            out_src_port[row] = query_port if is_query else response_port
            out_dst_port[row] = response_port if is_query else query_port
            row += 1
    return row


def decode_frames(
    buffer: bytes | npt.NDArray[np.uint8],
    frame_offset: npt.NDArray[np.int64],
    frame_length: npt.NDArray[np.int32],
) -> CaptureBatch:
    """Decode the dnstap payloads of data frames lying in `buffer` into slices that point into it.

    Args:
        buffer: the bytes holding the frames; the slices keep a reference to it, so it must not change.
        frame_offset: position of each frame's payload (after its 4-byte length) in `buffer`.
        frame_length: payload length of each frame.

    Returns:
        A batch whose `records` is the number of frames and `bytes_read` the sum of their lengths.

    Raises:
        UsageError: a frame lies outside `buffer`, or the two arrays differ in length.
    """
    data = (
        np.frombuffer(buffer, np.uint8)
        if isinstance(buffer, bytes)
        else np.ascontiguousarray(buffer, np.uint8)
    )
    offsets = np.ascontiguousarray(frame_offset, np.int64)
    lengths = np.ascontiguousarray(frame_length, np.int32)
    frames = len(offsets)
    if len(lengths) != frames:
        raise UsageError(f"decode_frames: {frames} frame offsets but {len(lengths)} frame lengths")
    if frames and (
        offsets.min() < 0 or lengths.min() < 0 or (offsets + lengths.astype(np.int64)).max() > len(data)
    ):
        raise UsageError(f"decode_frames: a frame lies outside the {len(data)}-byte buffer")
    capacity = 2 * frames
    out_offset = np.empty(capacity, np.int64)
    out_length = np.empty(capacity, np.int32)
    out_ts = np.empty(capacity, np.int64)
    out_ip_version = np.empty(capacity, np.uint8)
    out_src = np.zeros((capacity, 16), np.uint8)
    out_dst = np.zeros((capacity, 16), np.uint8)
    out_src_port = np.empty(capacity, np.uint16)
    out_dst_port = np.empty(capacity, np.uint16)
    out_transport = np.empty(capacity, np.uint8)
    counts = new_counts()
    rows = _decode_kernel(
        data, offsets, lengths, out_offset, out_length, out_ts, out_ip_version, out_src, out_dst,
        out_src_port, out_dst_port, out_transport, counts, np.empty(_SLOTS, np.int64),
    )  # fmt: skip
    slices = MessageSlices(
        buffer=data,
        offset=out_offset[:rows],
        length=out_length[:rows],
        ts_ns=out_ts[:rows],
        ip_version=out_ip_version[:rows],
        src_addr=out_src[:rows],
        dst_addr=out_dst[:rows],
        src_port=out_src_port[:rows],
        dst_port=out_dst_port[:rows],
        transport=out_transport[:rows],
    )
    return CaptureBatch(slices=slices, counts=counts, records=frames, bytes_read=int(lengths.sum()))


def decode_payloads(payloads: Sequence[bytes]) -> CaptureBatch:
    """Decode data-frame payloads received one by one (a socket listener's frames) into one batch."""
    lengths = np.fromiter((len(payload) for payload in payloads), np.int32, len(payloads))
    offsets = np.zeros(len(payloads), np.int64)
    np.cumsum(lengths[:-1], out=offsets[1:])
    return decode_frames(b"".join(payloads), offsets, lengths)
