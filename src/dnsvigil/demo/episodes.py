"""Attack episodes for the demo's attack capture: what to plant (a schedule) and what was planted (the truth).

An episode is one attack in a run of whole time windows: a random-subdomain flood against a zone, DNS
amplification reflected at a spoofed address, a query flood from one address or from many addresses of
one /24, or an NXDOMAIN surge in a zone. Its strength is given as `intensity`, a multiple of the threshold
its detector holds it to by default (the settings table's value): 1.5 is half again above the threshold,
0.9 just under it. Its truth says which finding code should fire, on which subject, over which windows.
"""

from __future__ import annotations

import datetime
import enum
from dataclasses import dataclass

from dnsvigil.config import find_setting

WINDOW_SECONDS = int(find_setting("traffic_window_seconds").default)
"""Episodes begin and end on the detectors' default windows, so that every window is wholly one thing."""


class AttackKind(enum.Enum):
    """What an episode is; its value is the finding code that should fire on it."""

    RANDOM_SUBDOMAIN = "DDOS.RANDOM_SUBDOMAIN"
    AMPLIFICATION = "DDOS.AMPLIFICATION"
    QUERY_FLOOD = "DDOS.QUERY_FLOOD"
    NETWORK_FLOOD = "DDOS.QUERY_FLOOD/24"
    NXDOMAIN_SURGE = "DNS.NXDOMAIN_SURGE"

    @property
    def code(self) -> str:
        """The finding code of the detector that should find it."""
        return self.value.partition("/")[0]

    @property
    def threshold(self) -> float:
        """The default threshold `intensity` multiplies: queries/s, responses a window, or a share rise."""
        setting = {
            AttackKind.RANDOM_SUBDOMAIN: "random_subdomain_min_qps",
            AttackKind.AMPLIFICATION: "amplification_min_responses",
            AttackKind.QUERY_FLOOD: "query_flood_min_qps",
            AttackKind.NETWORK_FLOOD: "query_flood_min_qps",
            AttackKind.NXDOMAIN_SURGE: "nxdomain_surge_min_rise",
        }[self]
        return float(find_setting(setting).default)


@dataclass(frozen=True, slots=True)
class EpisodePlan:
    """One episode to plant.

    Attributes:
        kind: the attack.
        start_window: windows after the capture's first window that it begins.
        windows: how many whole windows it lasts.
        intensity: its strength as a multiple of its detector's default threshold: the flood's or the
            network's query rate, the responses reflected per window, or the rise of the NXDOMAIN share.

    Raises:
        ValueError: a negative start, no window, or an intensity out of range.
    """

    kind: AttackKind
    start_window: int
    windows: int
    intensity: float

    def __post_init__(self) -> None:
        if self.start_window < 0 or self.windows < 1:
            raise ValueError(f"{self}: an episode starts at window 0 or later and lasts a window or more")
        top = 3.0 if self.kind is AttackKind.NXDOMAIN_SURGE else 50.0
        if not 0.0 < self.intensity <= top:
            raise ValueError(f"{self}: intensity must lie in (0, {top}]")


@dataclass(frozen=True, slots=True)
class AttackSchedule:
    """The attack capture to generate: how long, how busy its ordinary traffic, and the episodes.

    Attributes:
        windows: the capture's length in windows.
        background_qps: ordinary queries a second, from the server's usual resolvers.
        episodes: the episodes, each inside the capture.
        start_hour: UTC hour of the capture day the capture begins.

    Raises:
        ValueError: an episode runs past the end, or the ordinary rate is not positive.
    """

    windows: int
    background_qps: float
    episodes: tuple[EpisodePlan, ...]
    start_hour: int = 10

    def __post_init__(self) -> None:
        if self.background_qps <= 0 or not 0 <= self.start_hour <= 20 or self.windows > 240:
            raise ValueError(f"{self}: needs ordinary traffic, a start hour of 0..20 and 240 windows at most")
        for episode in self.episodes:
            if episode.start_window + episode.windows > self.windows:
                raise ValueError(f"{episode} runs past the capture's {self.windows} windows")


DEMO_SCHEDULE = AttackSchedule(
    windows=30,
    background_qps=8.0,
    episodes=(
        EpisodePlan(AttackKind.RANDOM_SUBDOMAIN, 8, 2, 1.5),
        EpisodePlan(AttackKind.AMPLIFICATION, 12, 2, 4.0),
        EpisodePlan(AttackKind.QUERY_FLOOD, 16, 2, 1.3),
        EpisodePlan(AttackKind.QUERY_FLOOD, 16, 2, 1.2),
        EpisodePlan(AttackKind.NETWORK_FLOOD, 16, 2, 1.3),
        EpisodePlan(AttackKind.NXDOMAIN_SURGE, 22, 3, 2.0),
    ),
)
"""The demo's attacks: a water-torture flood, a reflection, two flooding sources and a flooding /24 at
once, and an NXDOMAIN surge, each in its own minutes of an otherwise ordinary half hour."""


@dataclass(frozen=True, slots=True)
class AttackEpisode:
    """One planted episode: what should be found, on what, and when.

    Attributes:
        kind: the attack.
        code: the finding code that should fire.
        subject: what the finding should name: the victim zone, the victim's address, the flooding
            address or /24 network (`198.19.77.0/24`), or the zone whose NXDOMAIN share surged.
        start, end: the episode's span `[start, end)`, on window boundaries (UTC).
        intensity: its strength as a multiple of its detector's default threshold.
        also: codes that may fire on the same subject in the same windows without being wrong (a
            random-subdomain flood is also an NXDOMAIN surge of its zone).
    """

    kind: AttackKind
    code: str
    subject: str
    start: datetime.datetime
    end: datetime.datetime
    intensity: float
    also: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        if self.start >= self.end or self.start.tzinfo is None:
            raise ValueError(f"{self}: an episode spans a positive, UTC time")

    def windows(self, seconds: int = WINDOW_SECONDS) -> range:
        """The numbers of the epoch-aligned windows of `seconds` it covers."""
        return range(int(self.start.timestamp()) // seconds, -(-int(self.end.timestamp()) // seconds))


@dataclass(frozen=True, slots=True)
class AttackTruth:
    """What the attack capture holds: its span, its server, and every planted episode.

    Attributes:
        file_name: the capture's file name.
        server_name, server_ipv4, server_ipv6: the authoritative server the capture was taken at.
        start, end: the capture's span `[start, end)` (UTC), on window boundaries.
        episodes: the planted episodes, by start time.
    """

    file_name: str
    server_name: str
    server_ipv4: str
    server_ipv6: str
    start: datetime.datetime
    end: datetime.datetime
    episodes: tuple[AttackEpisode, ...]

    def windows(self, seconds: int = WINDOW_SECONDS) -> range:
        """The numbers of the windows the capture covers."""
        return range(int(self.start.timestamp()) // seconds, -(-int(self.end.timestamp()) // seconds))

    def normal_windows(self, seconds: int = WINDOW_SECONDS) -> list[int]:
        """The windows in which no episode runs."""
        attacked = {window for episode in self.episodes for window in episode.windows(seconds)}
        return [window for window in self.windows(seconds) if window not in attacked]
