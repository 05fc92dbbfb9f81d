"""What a message plan is: one row per DNS message to encode, and the constants its fields take.

Traffic models fill plans with numpy array operations; `messages.encode_messages` turns them into wire format.
"""

from __future__ import annotations

import numpy as np

# How a response is shaped (`mode`).
MODE_QUERY = 0
MODE_ANSWER = 1
MODE_NODATA = 2
MODE_NXDOMAIN = 3
MODE_REFERRAL = 4
MODE_EMPTY = 5  # no records: SERVFAIL, REFUSED, or a response truncated to its header

# Bits of `edns`.
EDNS_PRESENT = 1
EDNS_DO = 2
EDNS_COOKIE = 4
EDNS_ECS = 8
EDNS_NSID = 16
EDNS_EDE = 32

# `random_label`: the low six bits are the length of a random first label; this bit adds digits.
RANDOM_ALNUM = 0x80

FLAG_QR = 0x8000
FLAG_AA = 0x0400
FLAG_TC = 0x0200
FLAG_RD = 0x0100
FLAG_RA = 0x0080
FLAG_AD = 0x0020
FLAG_CD = 0x0010

MESSAGE_DTYPE = np.dtype(
    [
        ("id", np.uint16),
        ("flags", np.uint16),  # the header's second 16 bits, RCODE included
        ("mode", np.uint8),
        ("qtype", np.uint16),
        ("name", np.int32),  # vocabulary index of the name asked (under `random_label` when set)
        ("random_label", np.uint8),
        ("parent_negative", np.uint8),  # 1: the SOA of a negative answer is the TLD's, not the zone's
        ("count", np.uint8),  # records in the answer RRset, or NS records of a referral
        ("cname", np.uint8),  # 1: the answer starts with a CNAME to a CDN name
        ("dnssec", np.uint8),  # 1: add RRSIG, NSEC3 and DS records as a DO=1 query gets them
        ("algorithm", np.uint8),  # DNSSEC algorithm of the zone that signs the records
        ("mixed_case", np.uint8),  # 1: the question name's letters have random case (0x20 encoding)
        ("edns", np.uint8),
        ("udp_size", np.uint16),
        ("serial", np.uint32),  # SOA serial of the zone in a SOA record
        ("client", np.int32),  # whose COOKIE and ECS options these are
        ("seed", np.int64),  # randomness a query shares with its response
    ]
)
