"""Holding traffic findings to the planted episodes: which episodes were missed, which findings are wrong.

A finding is right when it names an episode's subject with the episode's code (or one of its `also`
codes) and lies inside the episode's span. The one other kind of finding the demo world explains is an
NXDOMAIN surge in a TLD during a burst of its DGA-infected clients: most NXDOMAIN answers under the zone
in the finding's span went to infected clients, which is what malware looking for its controller does.
"""

from __future__ import annotations

import datetime
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from dnsvigil.demo.episodes import AttackEpisode
from dnsvigil.store.engine import DuckDBEngine
from dnsvigil.store.warehouse import Warehouse

_BOT_SHARE_SQL = """
SELECT count(*) FILTER (WHERE list_contains(?, dst_addr)) AS bots, count(*) AS nxdomain FROM dns_messages
WHERE qr AND rcode = 3 AND ts >= ? AND ts <= ? AND ends_with(qname, ?)
"""


class Found(Protocol):
    """What is judged of a finding (a `Finding`, or a `Reported` one read from JSON)."""

    @property
    def code(self) -> str: ...
    @property
    def subject(self) -> str: ...
    @property
    def first_seen(self) -> datetime.datetime: ...
    @property
    def last_seen(self) -> datetime.datetime: ...


@dataclass(frozen=True)
class Reported:
    """A finding as `dnsvigil demo --json` reports it in `attack_findings`."""

    code: str
    subject: str
    first_seen: datetime.datetime
    last_seen: datetime.datetime

    @classmethod
    def from_json(cls, record: dict[str, Any]) -> Reported:
        return cls(
            record["code"],
            record["subject"],
            datetime.datetime.fromisoformat(record["first_seen"]),
            datetime.datetime.fromisoformat(record["last_seen"]),
        )


def matches(finding: Found, episode: AttackEpisode) -> bool:
    """Whether `finding` is the one `episode` should raise: its code, its subject, inside its span."""
    return (
        finding.code == episode.code
        and finding.subject == episode.subject
        and episode.start <= finding.first_seen
        and finding.last_seen < episode.end
    )


def missed(findings: Sequence[Found], episodes: Iterable[AttackEpisode]) -> list[AttackEpisode]:
    """The episodes no finding matches."""
    return [episode for episode in episodes if not any(matches(finding, episode) for finding in findings)]


def unexplained(
    findings: Sequence[Found], episodes: Sequence[AttackEpisode], home: Path, bots: Sequence[str]
) -> list[Found]:
    """The findings neither an episode (code or `also` code) nor the infected clients `bots` explain."""
    engine = DuckDBEngine(Warehouse.open(home))
    try:
        return [finding for finding in findings if not _explained(finding, episodes, engine, bots)]
    finally:
        engine.close()


def _explained(
    finding: Found, episodes: Sequence[AttackEpisode], engine: DuckDBEngine, bots: Sequence[str]
) -> bool:
    for episode in episodes:
        named = finding.code in (episode.code, *episode.also) and finding.subject == episode.subject
        if named and episode.start <= finding.first_seen and finding.last_seen < episode.end:
            return True
    if finding.code != "DNS.NXDOMAIN_SURGE" or "." in finding.subject or not bots:
        return False
    (counts,) = engine.arrow(
        _BOT_SHARE_SQL, [list(bots), finding.first_seen, finding.last_seen, f".{finding.subject}"]
    ).to_pylist()
    return bool(counts["nxdomain"]) and counts["bots"] / counts["nxdomain"] >= 0.5
