"""The Markdown of DETECT.md: the labelled set's scores, recall by intensity, and live throughput."""

from __future__ import annotations

from collections.abc import Sequence

from detect_bench.labelled import BACKGROUND_QPS, EPISODE_WINDOWS, INTENSITIES, SeedRun
from detect_bench.live import WATCHER, LiveRun, kept_up
from detect_bench.scoring import CodeScore
from dnsvigil.demo.episodes import AttackKind

_KIND_NAMES = {
    AttackKind.RANDOM_SUBDOMAIN: "random-subdomain flood (q/s under the zone)",
    AttackKind.AMPLIFICATION: "amplification (responses to the victim a window)",
    AttackKind.QUERY_FLOOD: "query flood, one address (q/s)",
    AttackKind.NETWORK_FLOOD: "query flood, 64 addresses of a /24 (q/s of the /24)",
    AttackKind.NXDOMAIN_SURGE: "NXDOMAIN surge (rise of the zone's NXDOMAIN share)",
}


def _fraction(pair: list[int]) -> str:
    return f"{pair[0]}/{pair[1]}" if pair[1] else "–"


def labelled_section(runs: Sequence[SeedRun], scores: dict[str, CodeScore]) -> list[str]:
    """The labelled set: what it is, each detector's precision and recall, recall by intensity."""
    messages = sum(run.messages for run in runs)
    windows = sum(len(run.truth.windows()) for run in runs)
    normal = sum(len(run.truth.normal_windows()) for run in runs)
    ingest = sum(run.ingest_s for run in runs)
    detect = sum(run.detect_s for run in runs)
    lines = [
        "## Precision and recall on a labelled set of windows",
        "",
        f"Seeds {', '.join(str(run.seed) for run in runs)}: one capture each of the demo's hosting server "
        f"(`dnsvigil.demo.attacks`), {BACKGROUND_QPS:g} ordinary queries/s from 200 resolvers, and every "
        f"attack kind at intensities {', '.join(f'{level:g}' for level in INTENSITIES)} × its detector's "
        f"default threshold, {EPISODE_WINDOWS} one-minute windows each, in a seeded random order with two "
        "ordinary windows between episodes. In all: "
        f"{messages:,} DNS messages, {windows:,} windows of which {normal:,} ordinary. Each capture went "
        f"through `dnsvigil ingest pcap` ({ingest:.1f} s in all) and `dnsvigil traffic detect` "
        f"({detect:.1f} s in all) with the default settings.",
        "",
        "Unit: a (window, subject) pair per finding code. Positive: an episode of the code's kind runs in "
        "the window on that subject (sub-threshold episodes included, so recall shows where the threshold "
        "bites). Flagged: a finding's first to last message covers the window. An NXDOMAIN surge of a "
        "random-subdomain flood's zone (or a zone above it) counts neither way. 95 % Clopper–Pearson "
        "intervals.",
        "",
        "| detector | precision | recall, all intensities | recall at ≥ 1.1× | "
        "false alarms in ordinary windows |",
        "|---|---|---|---|---|",
    ]
    for code, score in scores.items():
        strong = [0, 0]
        for (_, level), pair in score.by_intensity.items():
            if level >= 1.1:
                strong = [strong[0] + pair[0], strong[1] + pair[1]]
        flagged = score.true_positives + score.false_positives
        positives = score.true_positives + score.false_negatives
        cells = [
            code,
            f"{score.precision.to_text()} ({score.true_positives}/{flagged})",
            f"{score.recall.to_text()} ({score.true_positives}/{positives})",
            _fraction(strong),
            f"{score.false_alarms.to_text(4)} ({score.normal_windows_flagged}/{score.normal_windows})",
        ]
        lines.append("| " + " | ".join(cells) + " |")
    lines += [
        "",
        "Recall by intensity (multiple of the default threshold): windows found / windows, then episodes "
        "found (any of their windows) / episodes.",
        "",
        "| attack | " + " | ".join(f"{level:g}×" for level in INTENSITIES) + " |",
        "|---|" + "---|" * len(INTENSITIES),
    ]
    for kind in AttackKind:
        score = scores[kind.code]
        cells = [
            f"{_fraction(score.by_intensity[key])} ({_fraction(score.episodes_found[key])})"
            for key in ((kind, level) for level in INTENSITIES)
        ]
        lines.append(f"| {_KIND_NAMES[kind]} | " + " | ".join(cells) + " |")
    wrong = [(code, subject) for code, score in scores.items() for subject in score.false_subjects]
    lines += ["", "False positives, by subject:" if wrong else "No false positive.", ""]
    lines += [f"- {code} on `{subject}`" for code, subject in wrong]
    return lines


LIVE_HEADING = "## Live mode: dnstap from Knot DNS under dnsperf"


def live_section(runs: Sequence[LiveRun], seconds: int, *, when: str, load: Sequence[float]) -> list[str]:
    """The live runs: what dnsperf pushed through Knot, what Knot's dnstap queue lost, and what the
    watcher received, stored and dropped, beside a reader that only reads."""
    baseline, *watched = runs
    others = max((run.other_cores for run in runs), default=0.0)
    lines = [
        LIVE_HEADING,
        "",
        f"Run {when}; load average {', '.join(f'{value:.2f}' for value in load)} when the live runs began; "
        f"processes other than the runs' own used at most {others:.2f} cores during any run (the machine "
        "is shared; last column).",
        "",
        f"Knot DNS (`knotd`, default workers) serves the ingest benchmark's zone on 127.0.0.1; dnsperf (8 "
        f"clients, 200 outstanding) sends its query mix for {seconds} s. Baseline: Knot alone at full rate. "
        "Then, for each rate, Knot's mod-dnstap logs every query and response to a Unix socket read by each "
        "reader in turn: a null reader (`detect_bench/null_reader.py`: drains the socket in 1 MiB reads and "
        "counts frames, nothing else), where shown the same null reader beside a process that keeps a core "
        "busy (what any busy neighbour costs Knot), then `dnsvigil watch dnstap --json` (default settings: "
        "5 s batches, the four detectors over the last 10 minutes after each batch). Where each runs is "
        "said above.",
        "",
        "Knot drops what its dnstap queue (fstrm, 512 messages per worker) cannot hold and counts nothing, "
        "so its losses are measured: each answer dnsperf counted is a query and a response Knot logged "
        "(2 × answers, a lower bound), and what the reader did not receive of those was lost in Knot's "
        "queue. The null reader's runs show what Knot loses here whatever the reader does.",
        "",
        "| run | dnsperf queries/s | Knot answers | dnstap messages expected | received | lost in Knot's "
        "queue | reader CPU (s) | reader CPU per message received (µs) | stored | dropped by dnsvigil "
        "| stored/s | detector runs | longest receive pause (ms) | other processes (cores) | dnsvigil kept "
        "up |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|",
        f"| Knot alone, full rate | {baseline.qps:,.0f} | {baseline.completed:,} |"
        + " – |" * 10
        + f" {baseline.other_cores:.2f} | – |",
    ]
    for run in watched:
        summary = run.summary or {}
        pace = f"{run.rate:,} q/s asked" if run.rate else "full rate"
        share = run.lost_by_knot / run.expected if run.expected else 0.0
        cells = [
            f"Knot + dnstap → {run.reader}, {pace}",
            f"{run.qps:,.0f}",
            f"{run.completed:,}",
            f"{run.expected:,}",
            f"{summary.get('received', 0):,}",
            f"{run.lost_by_knot:,} ({share:.2%})",
            f"{run.reader_cpu_s:.1f}",
            f"{run.reader_cpu_s / received * 1e6:.2f}" if (received := summary.get("received", 0)) else "–",
        ]
        if run.reader == WATCHER:
            stored_rate = summary.get("stored", 0) / run.run_s if run.run_s else 0.0
            cells += [
                f"{summary.get('stored', 0):,}",
                f"{summary.get('dropped', 0):,}",
                f"{stored_rate:,.0f}",
                str(summary.get("detection_runs", 0)),
                _pause(summary.get("longest_receive_pause_ms")),
                f"{run.other_cores:.2f}",
                "yes" if kept_up(run) else "**no**",
            ]
        else:
            cells += ["–", "–", "–", "–", "–", f"{run.other_cores:.2f}", "–"]
        lines.append("| " + " | ".join(cells) + " |")
    lines += [
        "",
        "dnsvigil kept up: it dropped and lost nothing and stored every message it received. Stored/s is "
        "over dnsperf's run time. The longest receive pause is the longest time dnsvigil's receiving loop "
        "could not run (measured every 2 ms): while it lasts, Knot's queue alone holds what Knot sends. "
        "Reader CPU is over the reader's whole life (about a second of it is starting up), so the "
        "per-message figure of short runs is high.",
    ]
    return lines


def _pause(milliseconds: object) -> str:
    return f"{milliseconds:,.1f}" if isinstance(milliseconds, int | float) else "–"


HAND_WRITTEN = "Written by hand."
"""How the notes after the live table begin: a rerun keeps them."""


def with_live_section(document: str, live: Sequence[str]) -> str:
    """`document` (DETECT.md) with its live section's table replaced by `live`: everything before it kept,
    and the notes written by hand after the table (from the paragraph that begins `HAND_WRITTEN`)."""
    before, _, after = document.partition(LIVE_HEADING)
    kept = before.rstrip("\n")
    notes = after[after.find(HAND_WRITTEN) :] if HAND_WRITTEN in after else ""
    return (kept + "\n\n" if kept else "") + "\n".join(live) + "\n" + ("\n" + notes if notes else "")
