"""Why a record was not read as a DNS message: integer codes that compiled kernels count into arrays.

Malformed reasons are problems in the input that a user should hear about; skip reasons are ordinary
traffic that is not DNS. Both are counted, never dropped silently.
"""

from __future__ import annotations

import enum

import numpy as np
import numpy.typing as npt


class Reason(enum.IntEnum):
    """A counted outcome of reading one record; the value indexes a counts array."""

    # Skipped: not DNS, nothing wrong with the input.
    NOT_IP = 0
    NOT_UDP_OR_TCP = 1
    NOT_DNS_PORT = 2
    TCP_NO_PAYLOAD = 3
    # Malformed at the capture or packet level: no row can be made.
    TRUNCATED_RECORD = 4
    BAD_RECORD_HEADER = 5
    UNSUPPORTED_LINKTYPE = 6
    TRUNCATED_LINK_HEADER = 7
    BAD_IP_HEADER = 8
    TRUNCATED_IP_PACKET = 9
    TRUNCATED_TRANSPORT_HEADER = 10
    CAPTURE_SNAPLEN_CUT = 11
    FRAGMENT_INCOMPLETE = 12
    TCP_STREAM_GAP = 13
    TCP_BAD_LENGTH = 14
    DNS_TOO_SHORT = 15
    # Malformed DNS with a readable header: kept as a row flagged malformed.
    DNS_TRUNCATED_QUESTION = 16
    DNS_BAD_NAME = 17
    DNS_TRUNCATED_RECORD = 18
    DNS_BAD_OPT = 19
    DNS_TRAILING_BYTES = 20
    DNSTAP_BAD_FRAME = 21
    DNSTAP_BAD_MESSAGE = 22
    # Skipped too (numbered last so that the numbers above, compiled into kernels, stay as they were).
    DNSTAP_NO_DNS_MESSAGE = 23  # a valid dnstap frame that carries no DNS message (or is not a MESSAGE)

    @property
    def label(self) -> str:
        """The reason as the summary and the `malformed_reason` column spell it."""
        return self.name.lower()

    @property
    def is_malformed(self) -> bool:
        """True when the input was damaged, false when the record just was not DNS."""
        return self.value >= Reason.TRUNCATED_RECORD and self is not Reason.DNSTAP_NO_DNS_MESSAGE


REASON_COUNT = len(Reason)


def new_counts() -> npt.NDArray[np.int64]:
    """A zeroed counts array, one slot per reason, for kernels to add into."""
    return np.zeros(REASON_COUNT, dtype=np.int64)


def counts_to_dict(counts: npt.NDArray[np.int64], *, malformed: bool) -> dict[str, int]:
    """The non-zero counts of either the malformed or the skip reasons, by label."""
    return {
        reason.label: int(counts[reason])
        for reason in Reason
        if reason.is_malformed == malformed and counts[reason] > 0
    }
