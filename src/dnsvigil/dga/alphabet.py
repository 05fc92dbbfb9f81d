"""Labels as one flat array of small character codes, the form every compiled feature loop reads.

Registrable labels are ASCII after IDNA (punycode), so 39 codes cover them: 0 marks the label boundary
(used by n-gram models), 1-26 are `a`-`z`, 27-36 the digits, 37 the hyphen and 38 anything else.
Encoding a whole batch at once keeps Python out of the per-character work.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

ALPHABET_SIZE = 39
BOUNDARY = 0
HYPHEN = 37
OTHER = 38

_CODE_OF_BYTE = np.full(256, OTHER, dtype=np.uint8)
_CODE_OF_BYTE[np.frombuffer(b"abcdefghijklmnopqrstuvwxyz", dtype=np.uint8)] = np.arange(1, 27)
_CODE_OF_BYTE[np.frombuffer(b"ABCDEFGHIJKLMNOPQRSTUVWXYZ", dtype=np.uint8)] = np.arange(1, 27)
_CODE_OF_BYTE[np.frombuffer(b"0123456789", dtype=np.uint8)] = np.arange(27, 37)
_CODE_OF_BYTE[ord("-")] = HYPHEN


@dataclass(frozen=True, slots=True)
class EncodedLabels:
    """A batch of labels: label `i` is `codes[offsets[i]:offsets[i + 1]]`."""

    codes: npt.NDArray[np.uint8]
    offsets: npt.NDArray[np.int64]

    def __post_init__(self) -> None:
        if self.offsets.ndim != 1 or len(self.offsets) == 0 or self.offsets[-1] != len(self.codes):
            raise ValueError("offsets must start a label at each index and end at len(codes)")

    def __len__(self) -> int:
        return len(self.offsets) - 1

    @classmethod
    def concat(cls, *batches: EncodedLabels) -> EncodedLabels:
        """The labels of all `batches`, in order."""
        lengths = np.concatenate([np.diff(batch.offsets) for batch in batches])
        offsets = np.zeros(len(lengths) + 1, dtype=np.int64)
        np.cumsum(lengths, out=offsets[1:])
        return cls(np.concatenate([batch.codes for batch in batches]), offsets)

    def select(self, rows: npt.NDArray[np.int64]) -> EncodedLabels:
        """The labels at `rows`, in that order, without decoding and encoding them again."""
        starts, lengths = self.offsets[rows], np.diff(self.offsets)[rows]
        offsets = np.zeros(len(rows) + 1, dtype=np.int64)
        np.cumsum(lengths, out=offsets[1:])
        positions = np.arange(offsets[-1], dtype=np.int64) + np.repeat(starts - offsets[:-1], lengths)
        return EncodedLabels(self.codes[positions], offsets)


def encode_labels(labels: Sequence[str]) -> EncodedLabels:
    """Encode a batch of labels; characters outside the DNS letter-digit-hyphen set become `OTHER`."""
    raw = "".join(labels).encode("ascii", errors="replace")  # one byte per character, '?' if not ASCII
    lengths = np.fromiter((len(label) for label in labels), dtype=np.int64, count=len(labels))
    offsets = np.zeros(len(labels) + 1, dtype=np.int64)
    np.cumsum(lengths, out=offsets[1:])
    return EncodedLabels(_CODE_OF_BYTE[np.frombuffer(raw, dtype=np.uint8)], offsets)
