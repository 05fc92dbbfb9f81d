"""Where generated names are registered: each public suffix's log-odds of DGA over benign training names.

A botnet must register the names its generator makes, so DGAs live under suffixes that sell names cheaply
(`.info`, `.biz`, `.ru`, dynamic-DNS providers such as `ddns.net`) and never under suffixes whose provider
assigns the label itself: `dgxwgnfhqnhlx.cloudfront.net` is random because CloudFront chose it. Without the
suffix the detector cannot tell those CDN and cloud names from a botnet's, and they set its operating
point. The odds are smoothed towards the overall DGA share by `SMOOTHING` pseudo-names, so a suffix seen a
few times says little and an unseen one says nothing (`unseen`, the overall log-odds).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Final

import numpy as np
import numpy.typing as npt

SMOOTHING: Final = 20.0
"""Pseudo-names, at the overall DGA share, added to each suffix's counts (chosen on validation names)."""


@dataclass(frozen=True, slots=True)
class SuffixOdds:
    """Smoothed log-odds that a name under each suffix is generated, from training names.

    Attributes:
        log_odds: suffix -> log((DGA names + s * share) / (benign names + s * (1 - share))).
        unseen: the log-odds of a suffix training never saw: log(share / (1 - share)).
    """

    log_odds: dict[str, float]
    unseen: float

    @classmethod
    def fit(cls, suffixes: Sequence[str], is_dga: npt.NDArray[np.bool_]) -> SuffixOdds:
        """Count `suffixes` of DGA (`is_dga`) and benign training names.

        Raises:
            ValueError: the names are not of both kinds, or the arrays differ in length.
        """
        if len(suffixes) != len(is_dga):
            raise ValueError(f"{len(suffixes)} suffixes for {len(is_dga)} labels")
        share = float(np.mean(is_dga)) if len(is_dga) else 0.0
        if not 0.0 < share < 1.0:
            raise ValueError("suffix odds need both DGA and benign training names")
        dga = Counter(suffix for suffix, flag in zip(suffixes, is_dga.tolist(), strict=True) if flag)
        benign = Counter(suffix for suffix, flag in zip(suffixes, is_dga.tolist(), strict=True) if not flag)
        pseudo_dga, pseudo_benign = SMOOTHING * share, SMOOTHING * (1.0 - share)
        log_odds = {
            suffix: float(np.log((dga[suffix] + pseudo_dga) / (benign[suffix] + pseudo_benign)))
            for suffix in sorted(dga.keys() | benign.keys())
        }
        return cls(log_odds, float(np.log(share / (1.0 - share))))

    def of(self, suffixes: Sequence[str]) -> npt.NDArray[np.float32]:
        """The log-odds of each suffix, `unseen` for those training never saw."""
        table, unseen = self.log_odds, self.unseen
        return np.fromiter((table.get(suffix, unseen) for suffix in suffixes), np.float32, len(suffixes))


def out_of_fold_odds(
    suffixes: Sequence[str], is_dga: npt.NDArray[np.bool_], *, folds: int, rng: np.random.Generator
) -> npt.NDArray[np.float32]:
    """Each training name's suffix log-odds from the other folds' names, as unseen names will get them.

    Counted on all names, a suffix used by one training name alone would carry that name's own label into
    its feature, and the trees would learn to trust the feature more than it deserves.
    """
    fold = rng.integers(0, folds, len(suffixes))
    values = np.zeros(len(suffixes), dtype=np.float32)
    ordered = np.asarray(suffixes, dtype=object)
    for index in range(folds):
        kept = fold != index
        odds = SuffixOdds.fit(ordered[kept].tolist(), is_dga[kept])
        values[fold == index] = odds.of(ordered[fold == index].tolist())
    return values
