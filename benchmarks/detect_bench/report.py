"""The Markdown of DETECT.md: the labelled set's scores, recall by intensity, and live throughput."""

from __future__ import annotations

from collections.abc import Sequence

from detect_bench.labelled import BACKGROUND_QPS, EPISODE_WINDOWS, INTENSITIES, SeedRun
from detect_bench.live import LiveRun, kept_up
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


def live_section(runs: Sequence[LiveRun], seconds: int) -> list[str]:
    """The live runs: what dnsperf pushed through Knot, and what the watcher received, stored, dropped."""
    baseline, *watched = runs
    lines = [
        "## Live mode: dnstap from Knot DNS under dnsperf",
        "",
        f"Knot DNS (`knotd`, default workers) serves the ingest benchmark's zone on 127.0.0.1; dnsperf (8 "
        f"clients, 200 outstanding) sends its query mix for {seconds} s. Baseline: Knot alone at full rate. "
        "Then, for each rate, `dnsvigil watch dnstap --json` (default settings: 5 s batches, the four "
        "detectors over the last 10 minutes after each batch) receives Knot's mod-dnstap stream (every "
        "query and response) on a Unix socket. Knot, dnsperf and dnsvigil share the machine's cores.",
        "",
        "| run | dnsperf queries/s | Knot answers | dnstap messages expected (2 × answers) | received | "
        "stored | dropped by dnsvigil | stored/s | detector runs | kept up |",
        "|---|---|---|---|---|---|---|---|---|---|",
        f"| Knot alone, full rate | {baseline.qps:,.0f} | {baseline.completed:,} |" + " – |" * 7,
    ]
    for run in watched:
        summary = run.watcher or {}
        pace = f"{run.rate:,} q/s asked" if run.rate else "full rate"
        stored_rate = summary.get("stored", 0) / run.run_s if run.run_s else 0.0
        cells = [
            f"Knot + dnstap → dnsvigil, {pace}",
            f"{run.qps:,.0f}",
            f"{run.completed:,}",
            f"{2 * run.completed:,}",
            *(f"{summary.get(key, 0):,}" for key in ("received", "stored", "dropped")),
            f"{stored_rate:,.0f}",
            str(summary.get("detection_runs", 0)),
            "yes" if kept_up(run) else "**no**",
        ]
        lines.append("| " + " | ".join(cells) + " |")
    lines += [
        "",
        "Kept up: dnsvigil dropped and lost nothing, and stored at least one query and one response for "
        "every answer dnsperf counted. Messages Knot logged but dnsvigil never received were dropped by "
        "Knot's own dnstap queue (it drops when the reader falls behind; dnsvigil cannot count those).",
    ]
    return lines
