"""Random base-36 labels that stand, in training, for generated-name families nobody has collected yet.

A DGA is a random-string generator, but the families in the reference data cover only some alphabets and
lengths: long random labels mixing letters and digits come from one family, while benign CDN and cloud
labels of that shape are many. Trees trained on that alone learn that long alphanumeric labels are benign,
and miss the next family that writes them (gameover left out of training: recall 0.04 at FPR 1e-3).
Uniformly random labels of 10 or more characters over `a-z0-9` fill that gap without copying any family.
Shorter ones are left out: short random-looking labels are as common among benign names as among DGA ones.
"""

from __future__ import annotations

import numpy as np

from dnsvigil.dga.alphabet import EncodedLabels

BASE36_CODES = np.arange(1, 37, dtype=np.uint8)  # `a`-`z` then `0`-`9` (see `alphabet`)


def random_labels(
    count: int, *, rng: np.random.Generator, min_length: int = 10, max_length: int = 32
) -> EncodedLabels:
    """`count` labels of uniformly random base-36 characters, of lengths uniform in the given range."""
    if not 1 <= min_length <= max_length:
        raise ValueError(f"need 1 <= min_length <= max_length, got {min_length} and {max_length}")
    lengths = rng.integers(min_length, max_length + 1, count)
    offsets = np.zeros(count + 1, dtype=np.int64)
    np.cumsum(lengths, out=offsets[1:])
    codes = BASE36_CODES[rng.integers(0, len(BASE36_CODES), int(offsets[-1]))]
    return EncodedLabels(codes, offsets)
