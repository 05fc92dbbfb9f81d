"""What benchmark capture to build, what was built, and the programs building it needs."""

from __future__ import annotations

import json
import shutil
from dataclasses import asdict, dataclass, field


class CaptureBuildError(RuntimeError):
    """Building the capture failed: a tool is missing, did not start, or produced nothing usable."""


@dataclass(frozen=True, slots=True)
class CapturePlan:
    """What capture to build; its fields name the cached file, so a changed plan builds a new one.

    Attributes:
        target_messages: the capture holds at least this many DNS messages (queries plus responses).
        zone_names: owner names generated in the zone.
        query_lines: lines in dnsperf's query file; dnsperf loops over it.
        port: the loopback port knotd listens on (UDP and TCP).
        time_limit_s: dnsperf's -l limit, per dnsperf process.
        tcp_share: fraction of queries sent over TCP (a second dnsperf, concurrent with the UDP one).
        seed: seeds the zone and the query file.
    """

    target_messages: int = 1_000_000
    zone_names: int = 4000
    query_lines: int = 100_000
    port: int = 53535
    time_limit_s: int = 90
    tcp_share: float = 0.02
    seed: int = 20240601

    def __post_init__(self) -> None:
        if self.target_messages < 1000:
            raise ValueError(f"target_messages must be >= 1000, got {self.target_messages}")
        if not 0.0 <= self.tcp_share < 0.5:
            raise ValueError(f"tcp_share must lie in [0, 0.5), got {self.tcp_share}")
        if not 1024 <= self.port <= 65535:
            raise ValueError(f"port must be an unprivileged port number, got {self.port}")

    @property
    def cache_name(self) -> str:
        """The cached capture's file name, unique to this plan."""
        tcp = f"{round(self.tcp_share * 1000):03d}"
        return (
            f"knot-{self.target_messages}-z{self.zone_names}-q{self.query_lines}-p{self.port}"
            f"-tcp{tcp}-s{self.seed}.pcap"
        )


@dataclass(slots=True)
class CaptureInfo:
    """What was built: written beside the capture as JSON, and quoted in the results."""

    path: str
    records: int
    messages: int
    udp_messages: int
    tcp_messages: int
    bytes: int
    real_records: int
    real_messages: int
    repeats: int
    span_s: float
    dnsperf: dict[str, dict[str, str]] = field(default_factory=dict)
    dumpcap: str = ""
    plan: dict[str, object] = field(default_factory=dict)

    def to_json(self) -> str:
        """The info as indented JSON."""
        return json.dumps(asdict(self), indent=2, sort_keys=True)

    @staticmethod
    def from_json(text: str) -> CaptureInfo:
        """Info read back from `to_json` output."""
        return CaptureInfo(**json.loads(text))


def require_tools(*names: str) -> dict[str, str]:
    """The absolute path of each named program; raise naming the Debian package of any that is missing."""
    packages = {
        "knotd": "knot",
        "knotc": "knot",
        "dnsperf": "dnsperf",
        "dumpcap": "wireshark-common",
        "tshark": "tshark",
        "taskset": "util-linux",
    }
    found: dict[str, str] = {}
    missing: list[str] = []
    for name in names:
        path = shutil.which(name) or shutil.which(name, path="/usr/sbin:/sbin")
        if path is None:
            missing.append(f"{name} (apt-get install -y {packages.get(name, name)})")
        else:
            found[name] = path
    if missing:
        raise CaptureBuildError("missing programs: " + ", ".join(missing))
    return found
