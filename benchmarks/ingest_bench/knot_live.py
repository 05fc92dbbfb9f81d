"""The live run: knotd answers dnsperf (UDP and TCP at once) on loopback while dumpcap records `lo`.

Everything is bounded: dnsperf by a run count (-n) and a time limit (-l), dumpcap by a packet count (-c) and
a duration (-a duration:), every wait by a timeout; knotd is stopped in a `finally` block.
"""

from __future__ import annotations

import math
import re
import signal
import socket
import struct
import subprocess
import time
from collections.abc import Callable
from pathlib import Path

from ingest_bench.capture_plan import CaptureBuildError, CapturePlan, require_tools
from ingest_bench.knot_zone import ZONE_ORIGIN, knot_config, query_lines, zone_text
from ingest_bench.pcap_records import PCAP_HEADER


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
            if not output.exists() or output.stat().st_size <= PCAP_HEADER.size:
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
