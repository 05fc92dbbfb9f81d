"""Build a benchmark capture from real DNS traffic: Knot DNS answering dnsperf on loopback, seen by dumpcap.

The traffic is real (a real authoritative server answering a real load generator through the kernel), only
the zone and the query mix are generated. When the run yields fewer messages than asked for, its records are
repeated with timestamps moved forward, so the file stays ordered in time and keeps the traffic's shape.

Everything is bounded: dnsperf by a run count (-n) and a time limit (-l), dumpcap by a packet count (-c) and
a duration (-a duration:), every wait by a timeout; knotd is stopped in a `finally` block.
"""

from __future__ import annotations

import json
import math
import random
import re
import shutil
import signal
import socket
import struct
import subprocess
import time
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path

ZONE_ORIGIN = "bench.test."
PCAP_MAGIC_US = 0xA1B2C3D4
PCAP_MAGIC_NS = 0xA1B23C4D
LINKTYPE_ETHERNET = 1
_PCAP_HEADER = struct.Struct("<IHHiIII")
_RECORD_HEADER = struct.Struct("<IIII")

# Query types and how often dnsperf asks for them; names outside the zone and names that do not exist in it
# are mixed in separately (see `QUERY_MIX_NXDOMAIN`, `QUERY_MIX_OUT_OF_ZONE`).
QUERY_TYPE_WEIGHTS: tuple[tuple[str, float], ...] = (
    ("A", 0.50),
    ("AAAA", 0.25),
    ("MX", 0.06),
    ("TXT", 0.06),
    ("NS", 0.03),
    ("SOA", 0.03),
    ("SRV", 0.02),
    ("CNAME", 0.05),
)
QUERY_MIX_NXDOMAIN = 0.10
QUERY_MIX_OUT_OF_ZONE = 0.02

_WORDS = (
    *("www", "mail", "api", "cdn", "img", "static", "shop", "blog", "dev", "test", "vpn", "ns", "git"),
    *("wiki", "docs", "app", "login", "auth", "pay", "media", "video", "news", "forum", "status", "portal"),
    *("m", "admin", "smtp", "imap", "pop", "files", "backup", "db", "cache", "edge", "proxy", "gw", "lb"),
)
_LABEL_CHARACTERS = "abcdefghijklmnopqrstuvwxyz0123456789"


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


# --- the zone and the queries ---------------------------------------------------------------------------


def zone_owner_names(plan: CapturePlan) -> list[str]:
    """The generated owner names, relative to the origin, in a stable order."""
    rng = random.Random(plan.seed)
    names: list[str] = []
    seen: set[str] = set()
    while len(names) < plan.zone_names:
        word = rng.choice(_WORDS)
        shape = rng.random()
        if shape < 0.4:
            label = f"{word}{rng.randrange(1, 999)}"
        elif shape < 0.8:
            label = f"{word}-{rng.choice(_WORDS)}{rng.randrange(1, 99)}"
        else:
            label = f"{word}{rng.randrange(1, 99)}.{rng.choice(_WORDS)}"
        if label not in seen:
            seen.add(label)
            names.append(label)
    return names


def zone_text(plan: CapturePlan) -> str:
    """A zone file: every name has an A; AAAA, MX, TXT, SRV and CNAME names are mixed in."""
    rng = random.Random(plan.seed + 1)
    lines = [
        f"$ORIGIN {ZONE_ORIGIN}",
        "$TTL 3600",
        "@ IN SOA ns1 hostmaster 2024060101 7200 3600 1209600 300",
        "@ IN NS ns1",
        "@ IN NS ns2",
        "@ IN A 192.0.2.1",
        "@ IN MX 10 mail",
        '@ IN TXT "v=spf1 mx -all"',
        "ns1 IN A 192.0.2.53",
        "ns2 IN A 198.51.100.53",
        "ns1 IN AAAA 2001:db8::53",
    ]
    names = zone_owner_names(plan)
    for index, name in enumerate(names):
        if index % 20 == 19:
            # Every twentieth name is an alias of the name before it, never itself an alias.
            lines.append(f"{name} IN CNAME {names[index - 1]}")
            continue
        lines.append(f"{name} IN A 192.0.{2 + index // 254 % 250}.{1 + index % 254}")
        if rng.random() < 0.6:
            lines.append(f"{name} IN AAAA 2001:db8:{index // 65536:x}::{index % 65536:x}")
        if rng.random() < 0.15:
            lines.append(f"{name} IN MX {rng.choice((5, 10, 20))} mail")
        if rng.random() < 0.2:
            token = "".join(rng.choice(_LABEL_CHARACTERS) for _ in range(32))
            lines.append(f'{name} IN TXT "site-verification={token}"')
        if rng.random() < 0.03:
            lines.append(f"_sip._udp.{name} IN SRV 10 5 5060 {name}")
    return "\n".join(lines) + "\n"


def query_lines(plan: CapturePlan, count: int, *, seed_offset: int = 0) -> list[str]:
    """`count` dnsperf query lines ("name type") in the realistic mix of `QUERY_TYPE_WEIGHTS`."""
    rng = random.Random(plan.seed + 2 + seed_offset)
    names = zone_owner_names(plan)
    types = [qtype for qtype, _ in QUERY_TYPE_WEIGHTS]
    weights = [weight for _, weight in QUERY_TYPE_WEIGHTS]
    # Popularity follows a Zipf-like law, as on real servers: a few names take most of the queries.
    popularity = [1.0 / (rank + 1) ** 0.9 for rank in range(len(names))]
    lines: list[str] = []
    for _ in range(count):
        roll = rng.random()
        if roll < QUERY_MIX_NXDOMAIN:
            junk = "".join(rng.choice(_LABEL_CHARACTERS) for _ in range(rng.randrange(6, 16)))
            lines.append(f"{junk}.{ZONE_ORIGIN} {rng.choice(('A', 'AAAA'))}")
        elif roll < QUERY_MIX_NXDOMAIN + QUERY_MIX_OUT_OF_ZONE:
            lines.append(f"{rng.choice(_WORDS)}.example.com. A")
        else:
            name = rng.choices(names, popularity)[0]
            lines.append(f"{name}.{ZONE_ORIGIN} {rng.choices(types, weights)[0]}")
    return lines


def knot_config(workdir: Path, plan: CapturePlan) -> str:
    """A Knot DNS configuration serving the generated zone on 127.0.0.1 at `plan.port`, files in `workdir`."""
    return f"""server:
    rundir: "{workdir}"
    listen: 127.0.0.1@{plan.port}
    background-workers: 1

database:
    storage: "{workdir / "db"}"

control:
    listen: "{workdir / "knot.sock"}"

log:
  - target: "{workdir / "knotd.log"}"
    any: notice

zone:
  - domain: {ZONE_ORIGIN}
    storage: "{workdir}"
    file: "bench.test.zone"
    zonefile-sync: -1
    zonefile-load: whole
    journal-content: none
    semantic-checks: off
"""


# --- the live run ----------------------------------------------------------------------------------------


def _probe_query(port: int) -> bool:
    """True when a server on 127.0.0.1:`port` answers an SOA query for the zone."""
    labels = ZONE_ORIGIN.rstrip(".").split(".")
    qname = b"".join(bytes([len(label)]) + label.encode() for label in labels) + b"\0"
    query = struct.pack("!HHHHHH", 0x4242, 0x0100, 1, 0, 0, 0) + qname + struct.pack("!HH", 6, 1)
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.settimeout(0.3)
        try:
            sock.sendto(query, ("127.0.0.1", port))
            reply = sock.recv(4096)
        except OSError:
            return False
    # A response (QR set) with NOERROR and one answer means the zone is loaded.
    return len(reply) >= 12 and reply[:2] == b"\x42\x42" and reply[3] & 0x0F == 0 and reply[7] >= 1


def _require_free_port(port: int) -> None:
    """Raise when something listens on 127.0.0.1:`port` already, whose answers could pass for knotd's."""
    for kind in (socket.SOCK_DGRAM, socket.SOCK_STREAM):
        with socket.socket(socket.AF_INET, kind) as sock:
            try:
                sock.bind(("127.0.0.1", port))
            except OSError as error:
                raise CaptureBuildError(
                    f"127.0.0.1 port {port} is in use ({error.strerror}): a leftover knotd? "
                    "Stop it, or choose another port with --port"
                ) from None


def _wait_for(predicate: Callable[[], bool], timeout_s: float, what: str) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.1)
    raise CaptureBuildError(f"timed out after {timeout_s:.0f} s waiting for {what}")


def _stop(process: subprocess.Popen[bytes], how: int, timeout_s: float) -> None:
    if process.poll() is not None:
        return
    process.send_signal(how)
    try:
        process.wait(timeout=timeout_s)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait(timeout=10)


def parse_dnsperf(output: str) -> dict[str, str]:
    """The summary lines of a dnsperf run ("Queries sent", "Queries per second", ...) as a dict."""
    summary: dict[str, str] = {}
    for line in output.splitlines():
        match = re.match(
            r"\s+(Queries sent|Queries completed|Queries lost|Response codes|"
            r"Run time \(s\)|Queries per second|Average Latency \(s\)):\s+(.*)",
            line,
        )
        if match:
            summary[match.group(1)] = match.group(2).strip()
    return summary


def record_live_capture(
    plan: CapturePlan, workdir: Path, output: Path, log: Callable[[str], None] = print
) -> tuple[dict[str, dict[str, str]], str]:
    """Run knotd, dnsperf (UDP and TCP) and dumpcap on loopback; write the raw capture to `output`.

    Returns:
        dnsperf's summary of each run, by transport, and dumpcap's closing statistics.

    Raises:
        CaptureBuildError: a program is missing, knotd did not answer, or dumpcap captured nothing.
    """
    tools = require_tools("knotd", "knotc", "dnsperf", "dumpcap")
    workdir.mkdir(parents=True, exist_ok=True)
    (workdir / "db").mkdir(exist_ok=True)
    (workdir / "bench.test.zone").write_text(zone_text(plan))
    config = workdir / "knot.conf"
    config.write_text(knot_config(workdir, plan))

    total_queries = plan.target_messages // 2
    tcp_queries = int(total_queries * plan.tcp_share)
    udp_queries = total_queries - tcp_queries
    udp_runs = max(1, math.ceil(udp_queries / plan.query_lines))
    (workdir / "queries-udp.txt").write_text("\n".join(query_lines(plan, plan.query_lines)) + "\n")
    if tcp_queries:
        tcp_lines = query_lines(plan, tcp_queries, seed_offset=7)
        (workdir / "queries-tcp.txt").write_text("\n".join(tcp_lines) + "\n")
    # Spread the TCP queries over about three seconds, the length of the UDP run on a small machine
    # (Knot answers ~170k UDP queries/s on two cores), so that the two interleave.
    tcp_rate = max(100, tcp_queries // 3)

    # Bounds: dumpcap stops after this many packets or seconds even if something below hangs.
    packet_bound = 2 * total_queries + 10 * tcp_queries + 100_000
    duration_bound = plan.time_limit_s + 60
    dnsperf = [tools["dnsperf"], *f"-s 127.0.0.1 -p {plan.port} -e -t 2 -T 1 -l {plan.time_limit_s}".split()]
    udp_command = [
        *dnsperf,
        *f"-m udp -n {udp_runs} -c 8 -q 200 -d".split(),
        str(workdir / "queries-udp.txt"),
    ]
    tcp_command = [
        *dnsperf,
        *f"-m tcp -n 1 -c 4 -q 40 -Q {tcp_rate} -d".split(),
        str(workdir / "queries-tcp.txt"),
    ]
    dumpcap_command = [
        tools["dumpcap"],
        *f"-i lo -P -B 128 -s 0 -c {packet_bound} -a duration:{duration_bound}".split(),
        *("-f", f"udp port {plan.port} or tcp port {plan.port}", "-w", str(output)),
    ]

    knotd: subprocess.Popen[bytes] | None = None
    dumpcap: subprocess.Popen[bytes] | None = None
    perfs: list[tuple[str, subprocess.Popen[bytes]]] = []
    dumpcap_log_path = workdir / "dumpcap.stderr"
    with (workdir / "knotd.stderr").open("wb") as knot_log, dumpcap_log_path.open("wb") as dumpcap_log:
        try:
            _require_free_port(plan.port)
            log(f"starting knotd on 127.0.0.1@{plan.port} ({plan.zone_names} names)")
            knotd = subprocess.Popen([tools["knotd"], "-c", str(config)], stdout=knot_log, stderr=knot_log)
            _wait_for(lambda: knotd.poll() is not None or _probe_query(plan.port), 20, "knotd to answer")
            if knotd.poll() is not None:
                raise CaptureBuildError(
                    f"knotd exited with {knotd.returncode}; see {workdir / 'knotd.stderr'} and knotd.log"
                )

            output.unlink(missing_ok=True)
            dumpcap = subprocess.Popen(dumpcap_command, stdout=subprocess.DEVNULL, stderr=dumpcap_log)
            _wait_for(
                lambda: dumpcap.poll() is not None or b"Capturing on" in dumpcap_log_path.read_bytes(),
                20,
                "dumpcap to start capturing",
            )
            if dumpcap.poll() is not None:
                raise CaptureBuildError(f"dumpcap exited early: {dumpcap_log_path.read_text().strip()}")
            # "Capturing on" comes before the filter is live: probe until dumpcap reports packets, so the
            # load does not start unseen. The probes (SOA queries and their answers) stay in the capture.
            _wait_for(
                lambda: _probe_query(plan.port) and b"Packets:" in dumpcap_log_path.read_bytes(),
                20,
                "dumpcap to see traffic",
            )

            log(
                f"dnsperf: {udp_queries:,} UDP queries (-n {udp_runs} over {plan.query_lines:,} lines) and "
                f"{tcp_queries:,} TCP queries at {tcp_rate}/s, at most {plan.time_limit_s} s each"
            )
            runs = [("udp", udp_command), ("tcp", tcp_command)] if tcp_queries else [("udp", udp_command)]
            for mode, command in runs:
                perf = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
                perfs.append((mode, perf))
            summaries: dict[str, dict[str, str]] = {}
            for mode, perf in perfs:
                out, _ = perf.communicate(timeout=plan.time_limit_s + 60)
                text = out.decode(errors="replace")
                (workdir / f"dnsperf-{mode}.log").write_text(text)
                if perf.returncode != 0:
                    raise CaptureBuildError(
                        f"dnsperf ({mode}) exited with {perf.returncode}:\n{text[-2000:]}"
                    )
                summaries[mode] = parse_dnsperf(text)
                log(f"dnsperf {mode}: " + ", ".join(f"{k}: {v}" for k, v in summaries[mode].items()))
            time.sleep(1.0)  # let the last answers reach the capture
            _stop(dumpcap, signal.SIGINT, 30)
            stats = dumpcap_log_path.read_text(errors="replace").strip()
            if not output.exists() or output.stat().st_size <= _PCAP_HEADER.size:
                raise CaptureBuildError(f"dumpcap wrote no packets: {stats}")
            return summaries, stats
        finally:
            for _, perf in perfs:
                _stop(perf, signal.SIGTERM, 10)
            if dumpcap is not None:
                _stop(dumpcap, signal.SIGINT, 30)
            if knotd is not None:
                _stop_knotd(knotd, tools["knotc"], config)


def _stop_knotd(knotd: subprocess.Popen[bytes], knotc: str, config: Path) -> None:
    """Stop knotd politely through knotc, then by signal if it does not go."""
    if knotd.poll() is not None:
        return
    subprocess.run([knotc, "-c", str(config), "stop"], capture_output=True, timeout=20, check=False)
    try:
        knotd.wait(timeout=20)
    except subprocess.TimeoutExpired:
        _stop(knotd, signal.SIGTERM, 10)


# --- reading, counting and repeating pcap records ----------------------------------------------------------


@dataclass(frozen=True, slots=True)
class PcapRecords:
    """A classic pcap file's records held in memory: the global header and (seconds, fraction, body)."""

    header: bytes
    fraction_per_second: int
    records: list[tuple[int, int, bytes]]


def read_pcap(path: Path) -> PcapRecords:
    """Every record of a little-endian classic pcap file (as dumpcap -P writes on x86)."""
    data = path.read_bytes()
    if len(data) < _PCAP_HEADER.size:
        raise CaptureBuildError(f"{path}: shorter than a pcap header")
    magic, _, _, _, _, _, linktype = _PCAP_HEADER.unpack_from(data)
    if magic not in (PCAP_MAGIC_US, PCAP_MAGIC_NS):
        raise CaptureBuildError(f"{path}: not a little-endian classic pcap (magic {magic:#x})")
    if linktype != LINKTYPE_ETHERNET:
        raise CaptureBuildError(f"{path}: link type {linktype}, expected Ethernet (1) as Linux 'lo' gives")
    records: list[tuple[int, int, bytes]] = []
    position = _PCAP_HEADER.size
    while position + _RECORD_HEADER.size <= len(data):
        seconds, fraction, caplen, _ = _RECORD_HEADER.unpack_from(data, position)
        start = position + _RECORD_HEADER.size
        records.append((seconds, fraction, data[position : start + caplen]))
        position = start + caplen
    return PcapRecords(
        data[: _PCAP_HEADER.size], 1_000_000_000 if magic == PCAP_MAGIC_NS else 1_000_000, records
    )


def dns_messages_in_frame(frame: bytes, port: int) -> tuple[int, int]:
    """(UDP messages, TCP messages) in one Ethernet frame to or from `port`, counted without reassembly.

    A TCP segment counts the whole length-prefixed messages it holds; on loopback, messages are not split
    across segments in practice, so this matches what a reassembling reader finds.
    """
    ethertype = struct.unpack_from("!H", frame, 12)[0]
    offset = 14
    if ethertype == 0x0800:
        header_len = (frame[offset] & 0x0F) * 4
        protocol = frame[offset + 9]
        end = offset + struct.unpack_from("!H", frame, offset + 2)[0]
        offset += header_len
    elif ethertype == 0x86DD:
        protocol = frame[offset + 6]
        end = offset + 40 + struct.unpack_from("!H", frame, offset + 4)[0]
        offset += 40
    else:
        return 0, 0
    sport, dport = struct.unpack_from("!HH", frame, offset)
    if port not in (sport, dport):
        return 0, 0
    if protocol == 17:
        return (1, 0) if end - offset > 8 + 12 else (0, 0)
    if protocol != 6:
        return 0, 0
    position = offset + (frame[offset + 12] >> 4) * 4
    messages = 0
    while position + 2 <= end:
        length = struct.unpack_from("!H", frame, position)[0]
        if position + 2 + length > end:
            break
        messages += 1
        position += 2 + length
    return 0, messages


def write_repeated(raw: PcapRecords, output: Path, repeats: int, gap_s: float = 1.0) -> None:
    """Write `raw`'s records `repeats` times, each copy moved past the previous by its span + `gap_s`."""
    if not raw.records:
        raise CaptureBuildError("the live capture holds no records")
    scale = raw.fraction_per_second
    first = raw.records[0][0] * scale + raw.records[0][1]
    last = raw.records[-1][0] * scale + raw.records[-1][1]
    shift = last - first + int(gap_s * scale)
    temporary = output.with_suffix(".partial")
    with temporary.open("wb") as sink:
        sink.write(raw.header)
        for copy in range(repeats):
            moved = copy * shift
            for seconds, fraction, record in raw.records:
                stamp = seconds * scale + fraction + moved
                sink.write(struct.pack("<II", stamp // scale, stamp % scale))
                sink.write(memoryview(record)[8:])
    temporary.replace(output)


def iter_frames(raw: PcapRecords) -> Iterator[bytes]:
    """The frame bytes of each record."""
    for _, _, record in raw.records:
        yield memoryview(record)[_RECORD_HEADER.size :].tobytes()


def build_capture(
    plan: CapturePlan, work: Path, *, rebuild: bool = False, log: Callable[[str], None] = print
) -> CaptureInfo:
    """The cached capture for `plan` under `work`, recording it first when absent or when `rebuild` is set."""
    work.mkdir(parents=True, exist_ok=True)
    output = work / plan.cache_name
    info_path = output.with_suffix(".json")
    if not rebuild and output.exists() and info_path.exists():
        info = CaptureInfo.from_json(info_path.read_text())
        if info.bytes == output.stat().st_size:
            log(f"using cached capture {output} ({info.messages:,} messages; --rebuild to record anew)")
            return info
    raw_path = output.with_suffix(".live.pcap")
    # The run folder stays after the run, so that knotd's, dnsperf's and dumpcap's logs can be read.
    run_dir = work.resolve() / "knot-run"
    shutil.rmtree(run_dir, ignore_errors=True)
    dnsperf_summaries, dumpcap_stats = record_live_capture(plan, run_dir, raw_path, log)
    raw = read_pcap(raw_path)
    udp = tcp = 0
    for frame in iter_frames(raw):
        counted = dns_messages_in_frame(frame, plan.port)
        udp += counted[0]
        tcp += counted[1]
    real = udp + tcp
    if real == 0:
        raise CaptureBuildError(f"{raw_path}: no DNS messages on port {plan.port} were captured")
    repeats = math.ceil(plan.target_messages / real)
    log(
        f"live capture: {len(raw.records):,} records, {real:,} DNS messages ({tcp:,} over TCP); "
        f"repeating {repeats}x to reach >= {plan.target_messages:,}"
    )
    write_repeated(raw, output, repeats)
    scale = raw.fraction_per_second
    span = ((raw.records[-1][0] - raw.records[0][0]) * scale + raw.records[-1][1] - raw.records[0][1]) / scale
    raw_path.unlink()
    info = CaptureInfo(
        path=str(output),
        records=len(raw.records) * repeats,
        messages=real * repeats,
        udp_messages=udp * repeats,
        tcp_messages=tcp * repeats,
        bytes=output.stat().st_size,
        real_records=len(raw.records),
        real_messages=real,
        repeats=repeats,
        span_s=round(span * repeats + (repeats - 1), 3),
        dnsperf=dnsperf_summaries,
        dumpcap=dumpcap_stats,
        plan=asdict(plan),
    )
    info_path.write_text(info.to_json())
    return info


def write_sample(source: Path, output: Path, port: int, *, first: int = 4000, tcp: int = 1000) -> int:
    """Copy a small, ordered sample of pcap `source` into `output`, for warm-ups; return its record count.

    The sample holds the first `first` records and, wherever they lie, the first `tcp` TCP records on
    `port`, so that a warm-up compiles the TCP paths as well as the UDP ones.
    """
    copied = tcp_copied = index = 0
    with source.open("rb") as stream, output.open("wb") as sink:
        sink.write(stream.read(_PCAP_HEADER.size))
        while index < first or tcp_copied < tcp:
            header = stream.read(_RECORD_HEADER.size)
            if len(header) < _RECORD_HEADER.size:
                break
            body = stream.read(_RECORD_HEADER.unpack(header)[2])
            is_tcp = _is_tcp_on_port(body, port)
            if index < first or (is_tcp and tcp_copied < tcp):
                sink.write(header + body)
                copied += 1
                tcp_copied += is_tcp
            index += 1
    return copied


def _is_tcp_on_port(frame: bytes, port: int) -> bool:
    """True when an Ethernet frame carries TCP to or from `port` (IPv4 or IPv6)."""
    if len(frame) < 14 + 40 + 4:
        return False
    ethertype = struct.unpack_from("!H", frame, 12)[0]
    if ethertype == 0x0800:
        protocol, offset = frame[23], 14 + (frame[14] & 0x0F) * 4
    elif ethertype == 0x86DD:
        protocol, offset = frame[20], 14 + 40
    else:
        return False
    return protocol == 6 and port in struct.unpack_from("!HH", frame, offset)
