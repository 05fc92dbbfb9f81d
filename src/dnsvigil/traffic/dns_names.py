"""Mnemonic names of DNS RCODEs and RR types (QTYPEs), from the IANA "Domain Name System (DNS) Parameters".

Reports show `NXDOMAIN` and `AAAA`, not `3` and `28`. Values IANA has not assigned are written the way
RFC 3597 writes unknown types (`TYPE65280`), and `RCODE<n>` for unknown response codes, so every value
has a name and no two values share one.
"""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType

RCODE_NAMES: Mapping[int, str] = MappingProxyType(
    {
        0: "NOERROR",
        1: "FORMERR",
        2: "SERVFAIL",
        3: "NXDOMAIN",
        4: "NOTIMP",
        5: "REFUSED",
        6: "YXDOMAIN",
        7: "YXRRSET",
        8: "NXRRSET",
        9: "NOTAUTH",
        10: "NOTZONE",
        11: "DSOTYPENI",
        # 16 is BADVERS in a message's (EDNS-extended) RCODE and BADSIG only in a TSIG error field, which
        # `dns_messages.rcode` never holds.
        16: "BADVERS",
        17: "BADKEY",
        18: "BADTIME",
        19: "BADMODE",
        20: "BADNAME",
        21: "BADALG",
        22: "BADTRUNC",
        23: "BADCOOKIE",
    }
)
"""IANA DNS RCODEs by value (RFC 1035, 2136, 6891, 8490, 2845, 2930, 4635, 7873)."""

QTYPE_NAMES: Mapping[int, str] = MappingProxyType(
    {
        1: "A",
        2: "NS",
        3: "MD",
        4: "MF",
        5: "CNAME",
        6: "SOA",
        7: "MB",
        8: "MG",
        9: "MR",
        10: "NULL",
        11: "WKS",
        12: "PTR",
        13: "HINFO",
        14: "MINFO",
        15: "MX",
        16: "TXT",
        17: "RP",
        18: "AFSDB",
        19: "X25",
        20: "ISDN",
        21: "RT",
        22: "NSAP",
        23: "NSAP-PTR",
        24: "SIG",
        25: "KEY",
        26: "PX",
        27: "GPOS",
        28: "AAAA",
        29: "LOC",
        30: "NXT",
        31: "EID",
        32: "NIMLOC",
        33: "SRV",
        34: "ATMA",
        35: "NAPTR",
        36: "KX",
        37: "CERT",
        38: "A6",
        39: "DNAME",
        40: "SINK",
        41: "OPT",
        42: "APL",
        43: "DS",
        44: "SSHFP",
        45: "IPSECKEY",
        46: "RRSIG",
        47: "NSEC",
        48: "DNSKEY",
        49: "DHCID",
        50: "NSEC3",
        51: "NSEC3PARAM",
        52: "TLSA",
        53: "SMIMEA",
        55: "HIP",
        56: "NINFO",
        57: "RKEY",
        58: "TALINK",
        59: "CDS",
        60: "CDNSKEY",
        61: "OPENPGPKEY",
        62: "CSYNC",
        63: "ZONEMD",
        64: "SVCB",
        65: "HTTPS",
        66: "DSYNC",
        99: "SPF",
        100: "UINFO",
        101: "UID",
        102: "GID",
        103: "UNSPEC",
        104: "NID",
        105: "L32",
        106: "L64",
        107: "LP",
        108: "EUI48",
        109: "EUI64",
        128: "NXNAME",
        249: "TKEY",
        250: "TSIG",
        251: "IXFR",
        252: "AXFR",
        253: "MAILB",
        254: "MAILA",
        # IANA's mnemonic is "*"; every DNS tool prints ANY, and so do operators.
        255: "ANY",
        256: "URI",
        257: "CAA",
        258: "AVC",
        259: "DOA",
        260: "AMTRELAY",
        261: "RESINFO",
        262: "WALLET",
        32768: "TA",
        32769: "DLV",
    }
)
"""IANA resource record types by value; as a QTYPE also AXFR, IXFR, MAILA, MAILB and ANY."""


def rcode_to_text(rcode: int) -> str:
    """The mnemonic of an RCODE, or `RCODE<n>` for a value IANA has not named.

    Raises:
        ValueError: `rcode` is outside 0..4095, the 12 bits an EDNS-extended RCODE has.
    """
    if not 0 <= rcode <= 0xFFF:
        raise ValueError(f"RCODE {rcode} is outside 0..4095")
    return RCODE_NAMES.get(rcode, f"RCODE{rcode}")


def qtype_to_text(qtype: int) -> str:
    """The mnemonic of an RR type or QTYPE, or `TYPE<n>` (RFC 3597) for a value IANA has not named.

    Raises:
        ValueError: `qtype` is outside 0..65535.
    """
    if not 0 <= qtype <= 0xFFFF:
        raise ValueError(f"QTYPE {qtype} is outside 0..65535")
    return QTYPE_NAMES.get(qtype, f"TYPE{qtype}")
