"""Window-level precision and recall of each traffic detector against the planted episodes.

The unit is a (window, subject) pair for one finding code. A planted episode makes its windows positive
for its code and subject; a finding flags every window from its first to its last message, for its
subject. True positives are flagged positives; false positives are flagged pairs no episode explains;
false negatives are positives left unflagged. An episode's `also` codes (an NXDOMAIN surge during a
random-subdomain flood, on the victim zone or a zone above it) are neither: the flood does raise those
zones' NXDOMAIN share. Rates carry 95 % Clopper-Pearson intervals (`dnsvigil.dga.metrics.Rate`).
"""

from __future__ import annotations

import datetime
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from dnsvigil.demo.episodes import WINDOW_SECONDS, AttackKind, AttackTruth
from dnsvigil.dga.metrics import Rate

CODES = ("DDOS.RANDOM_SUBDOMAIN", "DDOS.AMPLIFICATION", "DDOS.QUERY_FLOOD", "DNS.NXDOMAIN_SURGE")
Pair = tuple[int, str]


def _above(zone: str) -> list[str]:
    """`zone` and every zone above it: `a.example.com`, `example.com`, `com`."""
    labels = zone.split(".")
    return [".".join(labels[index:]) for index in range(len(labels))]


def flagged_windows(finding: dict[str, Any]) -> list[Pair]:
    """The (window, subject) pairs a finding (as `traffic detect --json` prints it) covers."""
    first = datetime.datetime.fromisoformat(str(finding["first_seen"])).timestamp()
    last = datetime.datetime.fromisoformat(str(finding["last_seen"])).timestamp()
    windows = range(int(first) // WINDOW_SECONDS, int(last) // WINDOW_SECONDS + 1)
    return [(window, str(finding["subject"])) for window in windows]


@dataclass(slots=True)
class CodeScore:
    """The counts of one finding code, over every seed."""

    true_positives: int = 0
    false_positives: int = 0
    false_negatives: int = 0
    normal_windows: int = 0
    normal_windows_flagged: int = 0
    false_subjects: list[str] = field(default_factory=list)
    by_intensity: dict[tuple[AttackKind, float], list[int]] = field(
        default_factory=lambda: defaultdict(lambda: [0, 0])
    )
    episodes_found: dict[tuple[AttackKind, float], list[int]] = field(
        default_factory=lambda: defaultdict(lambda: [0, 0])
    )

    @property
    def precision(self) -> Rate:
        return Rate.of(self.true_positives, self.true_positives + self.false_positives)

    @property
    def recall(self) -> Rate:
        return Rate.of(self.true_positives, self.true_positives + self.false_negatives)

    @property
    def false_alarms(self) -> Rate:
        """Share of ordinary windows (no episode of any kind) in which the code fired at all."""
        return Rate.of(self.normal_windows_flagged, self.normal_windows)


def score(runs: Iterable[tuple[AttackTruth, tuple[dict[str, Any], ...]]]) -> dict[str, CodeScore]:
    """Score every code over every seed's truth and findings."""
    scores = {code: CodeScore() for code in CODES}
    for truth, findings in runs:
        normal = set(truth.normal_windows())
        for code, counts in scores.items():
            positive: dict[Pair, tuple[AttackKind, float]] = {}
            ignored: set[Pair] = set()
            for episode in truth.episodes:
                for window in episode.windows():
                    if episode.code == code:
                        positive[(window, episode.subject)] = (episode.kind, episode.intensity)
                    elif code in episode.also:
                        ignored.update((window, zone) for zone in _above(episode.subject))
            flagged = {
                pair for finding in findings if finding["code"] == code for pair in flagged_windows(finding)
            }
            counts.true_positives += len(flagged & positive.keys())
            wrong = flagged - positive.keys() - ignored
            counts.false_positives += len(wrong)
            counts.false_subjects += sorted({subject for _, subject in wrong})
            counts.false_negatives += len(positive.keys() - flagged)
            counts.normal_windows += len(normal)
            counts.normal_windows_flagged += len({window for window, _ in flagged} & normal)
            for pair, level in positive.items():
                counts.by_intensity[level][0] += pair in flagged
                counts.by_intensity[level][1] += 1
            for episode in truth.episodes:
                if episode.code == code:
                    found = any((window, episode.subject) in flagged for window in episode.windows())
                    counts.episodes_found[(episode.kind, episode.intensity)][0] += found
                    counts.episodes_found[(episode.kind, episode.intensity)][1] += 1
    return scores
