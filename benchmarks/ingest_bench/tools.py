"""The four measured tools: dnsvigil's reader and full ingest, tshark and dpkt, on the same capture.

The reader and dpkt run in a child process of `benchmarks/ingest.py` itself (its hidden `--child`
option), pinned to core 0; tshark pinned too; the ingest command on every core.
"""

from __future__ import annotations

import importlib.util
import shutil
import socket
import sys
import time
from pathlib import Path
from typing import IO, Any

from ingest_bench.processes import (
    BENCHMARKS,
    REPO,
    BenchmarkError,
    Measurement,
    ProcessRun,
    child_env,
    failure,
    last_json,
    pinned,
    proc_kib,
    run_measured,
)

ENTRY = BENCHMARKS / "ingest.py"
"""The script whose `--child` option runs the reader and dpkt loops."""
TSHARK_FIELDS = (
    *("frame.time_epoch", "ip.src", "ipv6.src", "ip.dst", "ipv6.dst", "udp.srcport", "udp.dstport"),
    *("tcp.srcport", "tcp.dstport", "dns.id", "dns.flags.response", "dns.flags.rcode", "dns.qry.name"),
    "dns.qry.type",
)


def measure_reader(capture: Path, warmup: Path, port: int, chunk_mib: int, timeout_s: float) -> Measurement:
    """dnsvigil's reader alone, in a child pinned to core 0 with numba single-threaded."""
    env = child_env()
    env["NUMBA_NUM_THREADS"] = "1"
    command = [
        sys.executable,
        str(ENTRY),
        "--child",
        "reader",
        str(capture),
        str(warmup),
        str(port),
        str(chunk_mib),
    ]
    run = run_measured(pinned(command), timeout_s=timeout_s, env=env)
    if run.returncode != 0:
        raise failure("the reader child", run)
    result = last_json(run.stdout, "the reader child")
    return Measurement(
        "reader", result["messages"], result["seconds"], result["peak_rss_bytes"], details=result
    )


def child_reader(capture: Path, warmup: Path, port: int, chunk_mib: int) -> dict[str, Any]:
    """Inside the pinned child: warm up on the sample, then read and decode the whole capture once."""
    if importlib.util.find_spec("dnsvigil") is None:
        sys.path.insert(0, str(REPO / "src"))
    from dnsvigil.ingest.capture_file import read_capture
    from dnsvigil.ingest.dns_wire import decode_messages

    chunk_bytes = chunk_mib << 20
    started = time.perf_counter()
    warm_messages = 0
    # Twice: in one chunk, then in 64 KiB chunks, so the paths that carry records and TCP streams from one
    # chunk to the next are compiled too.
    for warm_chunk_bytes in (chunk_bytes, 64 << 10):
        for warm_batch in read_capture(warmup, ports=(port,), chunk_bytes=warm_chunk_bytes):
            warm_messages += decode_messages(warm_batch.slices, warm_batch.counts, warmup.name).num_rows
    warmup_s = time.perf_counter() - started

    messages = rows = records = not_messages = 0
    read_s = decode_s = 0.0
    started = time.perf_counter()
    batches = iter(read_capture(capture, ports=(port,), chunk_bytes=chunk_bytes))
    while True:
        tick = time.perf_counter()
        batch = next(batches, None)
        read_s += time.perf_counter() - tick
        if batch is None:
            break
        tick = time.perf_counter()
        table = decode_messages(batch.slices, batch.counts, capture.name)
        decode_s += time.perf_counter() - tick
        messages += len(batch.slices)
        rows += table.num_rows
        records += batch.records
        not_messages += int(batch.counts.sum())
    seconds = time.perf_counter() - started
    return {
        "messages": messages,
        "rows": rows,
        "records": records,
        "records_not_messages": not_messages,
        "seconds": seconds,
        "read_s": read_s,
        "decode_s": decode_s,
        "warmup_s": warmup_s,
        "warmup_messages": warm_messages,
        "peak_rss_bytes": proc_kib("/proc/self/status", "VmHWM:") * 1024,
    }


def default_chunk_mib() -> int:
    """The chunk size `dnsvigil ingest` uses unless told: `DNSVIGIL_CHUNK_MIB`, else its default."""
    if importlib.util.find_spec("dnsvigil") is None:
        sys.path.insert(0, str(REPO / "src"))
    from dnsvigil.config import read_int

    return read_int("chunk_mib", minimum=1)


def dnsvigil_command() -> list[str]:
    """How to run the `dnsvigil` command: the installed script, else its entry point from src/."""
    script = Path(sys.executable).parent / "dnsvigil"
    if script.exists():
        return [str(script)]
    return [sys.executable, "-c", "import sys; from dnsvigil.cli.main import main; sys.exit(main())"]


def measure_ingest(
    capture: Path, warmup: Path, port: int, chunk_mib: int, work: Path, timeout_s: float, tool: str = "ingest"
) -> Measurement:
    """The full `dnsvigil ingest pcap` to Parquet on every core, after one warm-up run on the sample."""
    env = child_env()
    env["DNSVIGIL_DNS_PORTS"] = str(port)
    env["DNSVIGIL_CHUNK_MIB"] = str(chunk_mib)
    homes = work / f"{tool}-homes"
    shutil.rmtree(homes, ignore_errors=True)
    runs: dict[str, ProcessRun] = {}
    for name, source in (("warmup", warmup), ("timed", capture)):
        command = [*dnsvigil_command(), "ingest", "pcap", str(source), "--json", "--home", str(homes / name)]
        runs[name] = run_measured(command, timeout_s=timeout_s, env=env)
        if runs[name].returncode != 0:
            raise failure(f"`dnsvigil ingest pcap` ({name} run)", runs[name])
    summary = last_json(runs["timed"].stdout, "`dnsvigil ingest pcap --json`")
    if "messages" not in summary:
        raise BenchmarkError(f"`dnsvigil ingest pcap --json` printed no 'messages': {summary}")
    failed = [file for file in summary.get("files", []) if file.get("status") not in ("ingested", None)]
    if failed:
        raise BenchmarkError(f"`dnsvigil ingest pcap` did not ingest the capture: {failed}")
    timed = runs["timed"]
    parquet_bytes = sum(path.stat().st_size for path in (homes / "timed").rglob("*.parquet"))
    return Measurement(
        tool,
        int(summary["messages"]),
        timed.wall_s,
        timed.max_rss_bytes,
        timed.tree_pss_bytes,
        details={
            "summary": summary,
            "warmup_s": runs["warmup"].wall_s,
            "parquet_bytes": parquet_bytes,
        },
    )


def measure_tshark(capture: Path, port: int, timeout_s: float) -> Measurement:
    """tshark printing the same fields, pinned to core 0; rows counted here and dropped."""
    tshark = shutil.which("tshark")
    if tshark is None:
        raise BenchmarkError("tshark is missing (apt-get install -y tshark)")
    command = [tshark, "-n", "-r", str(capture), "-d", f"udp.port=={port},dns", "-d", f"tcp.port=={port},dns"]
    command += ["-Y", "dns", "-T", "fields", *(part for name in TSHARK_FIELDS for part in ("-e", name))]
    id_column = TSHARK_FIELDS.index("dns.id")
    counts = {"rows": 0, "messages": 0}

    def count(stream: IO[bytes]) -> None:
        tail = b""
        while chunk := stream.read(1 << 20):
            lines = (tail + chunk).split(b"\n")
            tail = lines.pop()
            counts["rows"] += len(lines)
            # A TCP segment holding several DNS messages is one row with comma-separated values.
            counts["messages"] += sum(line.split(b"\t")[id_column].count(b",") + 1 for line in lines)

    run = run_measured(pinned(command), timeout_s=timeout_s, consume=count)
    if run.returncode != 0:
        raise failure("tshark", run)
    return Measurement("tshark", counts["messages"], run.wall_s, run.max_rss_bytes, details=counts)


def measure_dpkt(capture: Path, port: int, timeout_s: float) -> Measurement:
    """The dpkt loop in a child pinned to core 0."""
    command = [sys.executable, str(ENTRY), "--child", "dpkt", str(capture), "-", str(port), "0"]
    run = run_measured(pinned(command), timeout_s=timeout_s, env=child_env())
    if run.returncode != 0:
        raise failure("the dpkt child", run)
    result = last_json(run.stdout, "the dpkt child")
    return Measurement("dpkt", result["messages"], result["seconds"], run.max_rss_bytes, details=result)


def child_dpkt(capture: Path, port: int) -> dict[str, Any]:
    """Inside the pinned child: dpkt parses every frame and DNS message, extracting tshark's fields.

    dpkt has no TCP reassembly; whole length-prefixed messages within a segment are parsed, which on this
    loopback capture is every TCP message.
    """
    import dpkt  # type: ignore[import-untyped]

    inet_ntop, inet, inet6 = socket.inet_ntop, socket.AF_INET, socket.AF_INET6
    rows: list[tuple[Any, ...]] = []
    messages = malformed = 0
    started = time.perf_counter()
    with capture.open("rb") as stream:
        for timestamp, frame in dpkt.pcap.Reader(stream):
            packet = dpkt.ethernet.Ethernet(frame).data
            if isinstance(packet, dpkt.ip.IP):
                src, dst = inet_ntop(inet, packet.src), inet_ntop(inet, packet.dst)
            elif isinstance(packet, dpkt.ip6.IP6):
                src, dst = inet_ntop(inet6, packet.src), inet_ntop(inet6, packet.dst)
            else:
                continue
            segment = packet.data
            if not isinstance(segment, dpkt.udp.UDP | dpkt.tcp.TCP) or port not in (
                segment.sport,
                segment.dport,
            ):
                continue
            payloads = [segment.data] if isinstance(segment, dpkt.udp.UDP) else _tcp_messages(segment.data)
            for payload in payloads:
                try:
                    message = dpkt.dns.DNS(payload)
                except (dpkt.UnpackError, IndexError, ValueError):
                    malformed += 1
                    continue
                qname, qtype = (message.qd[0].name, message.qd[0].type) if message.qd else (None, None)
                rows.append(
                    (timestamp, src, dst, segment.sport, segment.dport, message.id, message.qr, message.rcode,
                     qname, qtype)
                )  # fmt: skip
                messages += 1
            if len(rows) >= 65536:
                rows.clear()
    return {"messages": messages, "malformed": malformed, "seconds": time.perf_counter() - started}


def _tcp_messages(payload: bytes) -> list[bytes]:
    messages, position = [], 0
    while position + 2 <= len(payload):
        length = int.from_bytes(payload[position : position + 2], "big")
        if position + 2 + length > len(payload):
            break
        messages.append(payload[position + 2 : position + 2 + length])
        position += 2 + length
    return messages
