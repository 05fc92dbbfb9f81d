"""Link layers of captured frames: where the IP packet starts, and which IP version it claims.

Ethernet with any stack of 802.1Q / 802.1ad tags, Linux cooked captures (SLL, SLL2), raw IP (LINKTYPE_RAW and
the DLT_RAW values 12 and 14 some systems wrote into files), raw IPv4 and IPv6, the BSD null header (address
family in the capturing host's byte order) and OpenBSD's loop header (network byte order). Link type numbers
are tcpdump.org's LINKTYPE_ values.
"""

from __future__ import annotations

from typing import Any

from dnsvigil.ingest.compiled import inlined
from dnsvigil.ingest.pcap_format import byte_at
from dnsvigil.ingest.reasons import Reason

LINKTYPE_NULL = 0
LINKTYPE_ETHERNET = 1
LINKTYPE_RAW = 101
LINKTYPE_LOOP = 108
LINKTYPE_LINUX_SLL = 113
LINKTYPE_IPV4 = 228
LINKTYPE_IPV6 = 229
LINKTYPE_LINUX_SLL2 = 276
# DLT_RAW as some systems wrote it into files: 12 on most, 14 on OpenBSD (where 12 is DLT_LOOP).
LINKTYPE_RAW_12 = 12
LINKTYPE_RAW_14 = 14

LINK_OK = -1
"""`link_to_ip`'s status when an IP header was found."""

_NOT_IP = int(Reason.NOT_IP)
_UNSUPPORTED_LINKTYPE = int(Reason.UNSUPPORTED_LINKTYPE)
_TRUNCATED_LINK_HEADER = int(Reason.TRUNCATED_LINK_HEADER)
_ETHERTYPE_IPV4 = 0x0800
_ETHERTYPE_IPV6 = 0x86DD
# 802.1Q, 802.1ad and the pre-standard QinQ tag types.
_VLAN_ETHERTYPES = (0x8100, 0x88A8, 0x9100, 0x9200, 0x9300)
_AF_INET = 2
# AF_INET6 on NetBSD/OpenBSD, FreeBSD/DragonFly and Darwin; Windows' 23 is also IPX on BSDs, so it is
# taken only when an IPv6 header follows.
_AF_INET6_BSD = (24, 28, 30)
_AF_INET6_WINDOWS = 23


@inlined
def be16(buffer: Any, pos: int) -> int:
    """The big-endian unsigned 16-bit integer at `buffer[pos]`."""
    return (byte_at(buffer, pos) << 8) | byte_at(buffer, pos + 1)


@inlined
def be32(buffer: Any, pos: int) -> int:
    """The big-endian unsigned 32-bit integer at `buffer[pos]`."""
    return (
        (byte_at(buffer, pos) << 24)
        | (byte_at(buffer, pos + 1) << 16)
        | (byte_at(buffer, pos + 2) << 8)
        | byte_at(buffer, pos + 3)
    )


@inlined
def _after_ethertype(buffer: Any, pos: int, end: int, ethertype: int) -> tuple[int, int, int]:
    while ethertype in _VLAN_ETHERTYPES:
        if end - pos < 4:
            return _TRUNCATED_LINK_HEADER, 0, pos
        ethertype = be16(buffer, pos + 2)
        pos += 4
    if ethertype == _ETHERTYPE_IPV4:
        return LINK_OK, 4, pos
    if ethertype == _ETHERTYPE_IPV6:
        return LINK_OK, 6, pos
    return _NOT_IP, 0, pos


@inlined
def _address_family(buffer: Any, pos: int, end: int, either_order: bool) -> tuple[int, int, int]:
    """Read a 4-byte BSD address family header at `buffer[pos]`, in network or, if allowed, either order."""
    if end - pos < 4:
        return _TRUNCATED_LINK_HEADER, 0, 0
    family = be32(buffer, pos)
    if either_order and family > 0xFFFF:
        family = byte_at(buffer, pos) | (byte_at(buffer, pos + 1) << 8)
    pos += 4
    if family == _AF_INET:
        return LINK_OK, 4, pos
    if family in _AF_INET6_BSD:
        return LINK_OK, 6, pos
    if family == _AF_INET6_WINDOWS and end > pos and buffer[pos] >> 4 == 6:
        return LINK_OK, 6, pos
    return _NOT_IP, 0, pos


@inlined
def link_to_ip(buffer: Any, pos: int, end: int, linktype: int) -> tuple[int, int, int]:
    """Skip the link header of the frame at `buffer[pos:end]`.

    Returns:
        (-1, IP version (0: read it from the packet), position of the IP header), or (reason, 0, 0).
    """
    if linktype == LINKTYPE_ETHERNET:
        if end - pos < 14:
            return _TRUNCATED_LINK_HEADER, 0, 0
        return _after_ethertype(buffer, pos + 14, end, be16(buffer, pos + 12))
    if linktype == LINKTYPE_LINUX_SLL:
        if end - pos < 16:
            return _TRUNCATED_LINK_HEADER, 0, 0
        return _after_ethertype(buffer, pos + 16, end, be16(buffer, pos + 14))
    if linktype == LINKTYPE_LINUX_SLL2:
        if end - pos < 20:
            return _TRUNCATED_LINK_HEADER, 0, 0
        return _after_ethertype(buffer, pos + 20, end, be16(buffer, pos))
    if linktype == LINKTYPE_RAW:
        return LINK_OK, 0, pos
    if linktype == LINKTYPE_IPV4:
        return LINK_OK, 4, pos
    if linktype == LINKTYPE_IPV6:
        return LINK_OK, 6, pos
    if linktype in (LINKTYPE_RAW_12, LINKTYPE_RAW_14):
        # Raw IP as most systems wrote these values, or a loop header where OpenBSD's 12 meant DLT_LOOP.
        if end - pos >= 1 and (buffer[pos] >> 4 == 4 or buffer[pos] >> 4 == 6):
            return LINK_OK, 0, pos
        return _address_family(buffer, pos, end, True)
    if linktype == LINKTYPE_NULL:
        # The family is in the capturing host's byte order, which the file does not record: try both.
        return _address_family(buffer, pos, end, True)
    if linktype == LINKTYPE_LOOP:
        return _address_family(buffer, pos, end, False)
    return _UNSUPPORTED_LINKTYPE, 0, 0
