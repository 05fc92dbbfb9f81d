"""Build a benchmark capture from real DNS traffic: Knot DNS answering dnsperf on loopback, seen by dumpcap.

The traffic is real (a real authoritative server answering a real load generator through the kernel), only
the zone and the query mix are generated. When the run yields fewer messages than asked for, its records are
repeated with timestamps moved forward, so the file stays ordered in time and keeps the traffic's shape.

Everything is bounded: dnsperf by a run count (-n) and a time limit (-l), dumpcap by a packet count (-c) and
a duration (-a duration:), every wait by a timeout; knotd is stopped in a `finally` block.
"""

from __future__ import annotations

import math
import shutil
from collections.abc import Callable
from dataclasses import asdict
from pathlib import Path

from ingest_bench.capture_plan import CaptureBuildError, CaptureInfo, CapturePlan
from ingest_bench.knot_live import record_live_capture
from ingest_bench.pcap_records import dns_messages_in_frame, iter_frames, read_pcap, write_repeated


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
