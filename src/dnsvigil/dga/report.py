"""The results of `dnsvigil dga eval` as data, rendered as Markdown (benchmarks/DGA.md) or JSON."""

from __future__ import annotations

import json
import math
from dataclasses import asdict, dataclass
from typing import Any

from dnsvigil.dga.metrics import Rate

DNSVIGIL = "dnsvigil"


@dataclass(frozen=True, slots=True)
class OperatingPoint:
    """A threshold fixed on benign validation names for `target_fpr`, and what it gives on test names."""

    target_fpr: float
    threshold: float
    tpr: Rate
    test_fpr: Rate


@dataclass(frozen=True, slots=True)
class DetectorResult:
    """One detector on one split."""

    detector: str
    roc_auc: float
    points: tuple[OperatingPoint, ...]

    def at(self, fpr: float) -> OperatingPoint:
        """The operating point for `fpr`."""
        return next(point for point in self.points if point.target_fpr == fpr)


@dataclass(frozen=True, slots=True)
class SplitResult:
    """Every detector on one protocol's test set; `family_recall` is dnsvigil's at the first target FPR."""

    split: str
    description: str
    counts: dict[str, int]
    detectors: tuple[DetectorResult, ...]
    family_recall: dict[str, Rate]


@dataclass(frozen=True, slots=True)
class HeldOutFamily:
    """Recall on a family left out of training, at thresholds fixed on benign validation names."""

    family: str
    scheme: str
    detector: str
    recall: dict[float, Rate]


@dataclass(frozen=True, slots=True)
class Attribution:
    """Family attribution on DGA test names of the time split (all of them, detected or not)."""

    macro_f1: float
    families: tuple[str, ...]
    f1: dict[str, float]
    accuracy: Rate
    unknown: Rate
    min_training_names: int


@dataclass(frozen=True, slots=True)
class Throughput:
    """End-to-end scoring speed from text on one core, batch and streaming."""

    batch_names: int
    batch_per_second: float
    benign_names: int
    benign_batch_per_second: float
    streaming_names: int
    p50_ms: float
    p99_ms: float


@dataclass(frozen=True, slots=True)
class Target:
    """One target of the issue: what was asked, what was measured, and whether it is met."""

    name: str
    goal: str
    measured: str
    met: bool


@dataclass(frozen=True, slots=True)
class EvaluationReport:
    """Everything one `evaluate` run measured."""

    seed: int
    machine: str
    seconds: float
    data: dict[str, Any]
    splits: tuple[SplitResult, ...]
    held_out: tuple[HeldOutFamily, ...]
    attribution: Attribution
    throughput: Throughput
    targets: tuple[Target, ...]
    notes: tuple[str, ...]

    def to_json(self) -> str:
        """The report as indented JSON (rates as objects with hits, total, low, high)."""
        return json.dumps(_plain(asdict(self)), indent=1, sort_keys=True)

    def to_markdown(self) -> str:
        """The report as Markdown tables, the content of benchmarks/DGA.md."""
        return "\n".join(_markdown(self)) + "\n"


def _plain(value: Any) -> Any:
    """JSON-safe: float keys as text, NaN as None."""
    if isinstance(value, dict):
        return {str(key): _plain(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(item) for item in value]
    if isinstance(value, float) and math.isnan(value):
        return None
    return value


def _fpr_text(fpr: float) -> str:
    return f"{fpr:.0e}".replace("e-0", "e-")


def _markdown(report: EvaluationReport) -> list[str]:
    lines = [
        "# DGA detection: evaluation",
        "",
        f"`dnsvigil dga eval --seed {report.seed}` (`dnsvigil.dga.evaluation.evaluate`) on {report.machine}; "
        f"the run took {report.seconds:.0f} s.",
        "Thresholds are fixed on benign validation names for each target false-positive rate (FPR), then",
        "applied to test names; rates carry 95 % Clopper–Pearson intervals.",
        "",
        "## Targets",
        "",
        "| target | goal | measured | met |",
        "|---|---|---|---|",
    ]
    lines += [
        f"| {t.name} | {t.goal} | {t.measured} | {'yes' if t.met else '**no**'} |" for t in report.targets
    ]
    lines += ["", "## Data", ""]
    lines += [f"- {key}: {value}" for key, value in report.data.items()]
    for split in report.splits:
        lines += _split_lines(split)
    lines += _held_out_lines(report.held_out)
    lines += _attribution_lines(report.attribution)
    speed = report.throughput
    lines += [
        "",
        "## Throughput (one core, end to end from text: PSL, features, model, family)",
        "",
        "| measure | value |",
        "|---|---|",
        f"| batch, all test names ({speed.batch_names:,}) | {speed.batch_per_second:,.0f} domains/s |",
        f"| batch, benign validation and test names ({speed.benign_names:,}) | "
        f"{speed.benign_batch_per_second:,.0f} domains/s |",
        f"| streaming p50 per domain ({speed.streaming_names:,} names) | {speed.p50_ms:.3f} ms |",
        f"| streaming p99 per domain | {speed.p99_ms:.3f} ms |",
    ]
    if report.notes:
        lines += ["", "## Notes", ""] + [f"- {note}" for note in report.notes]
    return lines


def _split_lines(split: SplitResult) -> list[str]:
    fprs = [point.target_fpr for point in split.detectors[0].points]
    header = "| detector | ROC-AUC | " + " | ".join(
        f"TPR at FPR {_fpr_text(fpr)} | test FPR at that threshold" for fpr in fprs
    )
    lines = [
        "",
        f"## Split: {split.split}",
        "",
        split.description + ".",
        "Test set: " + ", ".join(f"{key} {value:,}" for key, value in split.counts.items()) + ".",
        "",
        header + " |",
        "|---|---|" + "---|---|" * len(fprs),
    ]
    for result in split.detectors:
        cells = [f"{point.tpr.to_text()} | {point.test_fpr.to_text(4)}" for point in result.points]
        name = f"**{result.detector}**" if result.detector == DNSVIGIL else result.detector
        lines.append(f"| {name} | {result.roc_auc:.4f} | " + " | ".join(cells) + " |")
    if split.family_recall:
        lines += [
            "",
            f"<details><summary>dnsvigil recall per family at FPR {_fpr_text(fprs[0])} "
            f"({split.split})</summary>",
            "",
            "| family | recall |",
            "|---|---|",
        ]
        ordered = sorted(split.family_recall.items(), key=lambda item: (item[1].value, item[0]))
        lines += [f"| {family} | {rate.to_text()} ({rate.hits}/{rate.total}) |" for family, rate in ordered]
        lines += ["", "</details>"]
    return lines


def _held_out_lines(held_out: tuple[HeldOutFamily, ...]) -> list[str]:
    if not held_out:
        return []
    fprs = sorted(held_out[0].recall, reverse=True)
    lines = [
        "",
        "## Leave one family out",
        "",
        "Each family in turn is removed from training (all its names become the test positives); the",
        "threshold comes from benign validation names of the time split.",
        "",
        "| family | scheme | detector | "
        + " | ".join(f"recall at FPR {_fpr_text(fpr)}" for fpr in fprs)
        + " |",
        "|---|---|---|" + "---|" * len(fprs),
    ]
    for row in held_out:
        name = f"**{row.detector}**" if row.detector == DNSVIGIL else row.detector
        cells = " | ".join(row.recall[fpr].to_text() for fpr in fprs)
        lines.append(f"| {row.family} | {row.scheme} | {name} | {cells} |")
    return lines


def _attribution_lines(attribution: Attribution) -> list[str]:
    lines = [
        "",
        "## Family attribution (time split, DGA test names)",
        "",
        f"Macro-F1 over the {len(attribution.families)} families with at least "
        f"{attribution.min_training_names} training names: **{attribution.macro_f1:.3f}**; "
        f"accuracy over all DGA test names {attribution.accuracy.to_text()}; answered `unknown` "
        f"{attribution.unknown.to_text()}.",
        "",
        "| family | F1 |",
        "|---|---|",
    ]
    lines += [
        f"| {family} | {attribution.f1[family]:.3f} |"
        for family in sorted(attribution.f1, key=attribution.f1.__getitem__)
    ]
    return lines
