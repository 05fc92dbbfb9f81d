"""The evaluation protocol end to end on a small copy of the reference data, and its report formats."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from dnsvigil.dga.evaluation import evaluate, operating_points
from dnsvigil.dga.report import EvaluationReport
from dnsvigil.dga.training import TrainingSettings

FAMILIES = ("suppobox", "matsnu", "bamital", "conficker", "virut")


def sample_lines(source: Path, target: Path, keep: int, *, header: bool, rng: np.random.Generator) -> None:
    lines = source.read_text(encoding="utf-8").splitlines()
    head, body = (lines[:1], lines[1:]) if header else ([], lines)
    chosen = sorted(rng.choice(len(body), min(keep, len(body)), replace=False))
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text("\n".join(head + [body[index] for index in chosen]) + "\n", encoding="utf-8")


@pytest.fixture(scope="module")
def small_data(shared_data: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A folder laid out like the reference data, with a few thousand of its lines."""
    folder = tmp_path_factory.mktemp("data")
    rng = np.random.default_rng(11)
    dga_lines = (shared_data / "dga" / "dga_domains.csv").read_text(encoding="utf-8").splitlines()
    kept = [line for line in dga_lines[1:] if line.rsplit(",", 1)[-1].strip() in FAMILIES]
    chosen = [kept[index] for index in sorted(rng.choice(len(kept), 1500, replace=False))]
    (folder / "dga").mkdir()
    (folder / "dga" / "dga_domains.csv").write_text(
        "\n".join([dga_lines[0], *chosen]) + "\n", encoding="utf-8"
    )
    benign = shared_data / "benign"
    sample_lines(
        benign / "alexa_top100k_2015.csv",
        folder / "benign" / "alexa_top100k_2015.csv",
        2000,
        header=False,
        rng=rng,
    )
    umbrella = benign / "umbrella_top100k_firstseen.tsv"
    sample_lines(umbrella, folder / "benign" / "umbrella_top100k_firstseen.tsv", 8000, header=True, rng=rng)
    return folder


@pytest.fixture(scope="module")
def report(small_data: Path) -> EvaluationReport:
    messages: list[str] = []
    settings = TrainingSettings(ngram_bits=14, ngram_epochs=3, ngram_folds=2, iterations=15)
    result = evaluate(
        small_data, seed=1, progress=messages.append, settings=settings, panel=(("suppobox", "wordlist"),)
    )
    assert any("leave one family out: suppobox" in message for message in messages)
    return result


def test_every_protocol_and_baseline_is_reported(report: EvaluationReport) -> None:
    assert [split.split for split in report.splits] == ["time", "cross-source", "random"]
    for split in report.splits:
        assert split.detectors[0].detector == "dnsvigil"
        assert len(split.detectors) == 5
        for result in split.detectors:
            assert 0 <= result.roc_auc <= 1
            assert [point.target_fpr for point in result.points] == [1e-3, 1e-4]
    time_split = report.splits[0]
    assert set(time_split.family_recall) == set(FAMILIES)
    assert {row.family for row in report.held_out} == {"suppobox"}
    assert all(row.recall[1e-3].total == row.recall[1e-4].total > 0 for row in report.held_out)
    assert report.throughput.batch_per_second > 0 and report.throughput.p99_ms >= report.throughput.p50_ms


def test_targets_say_what_was_measured(report: EvaluationReport) -> None:
    names = [target.name for target in report.targets]
    assert names[0] == "time split TPR at FPR 1e-3"
    assert "family macro-F1" in names and "streaming p99 latency" in names
    tpr = report.splits[0].detectors[0].points[0].tpr
    assert report.targets[0].met == (tpr.value >= 0.95)


def test_markdown_and_json_carry_the_same_figures(report: EvaluationReport) -> None:
    markdown = report.to_markdown()
    assert markdown.startswith("# DGA detection: evaluation")
    for heading in ("## Targets", "## Split: time", "## Split: cross-source", "## Leave one family out"):
        assert heading in markdown
    parsed = json.loads(report.to_json())
    first = parsed["splits"][0]["detectors"][0]["points"][0]
    assert first["tpr"]["hits"] == report.splits[0].detectors[0].points[0].tpr.hits
    assert first["tpr"]["total"] == report.splits[0].counts["DGA"]
    assert f"{report.splits[0].detectors[0].points[0].tpr.value:.3f}" in markdown


def test_operating_points_fix_the_threshold_on_validation_only() -> None:
    validation = np.linspace(0, 1, 10_001)
    points = operating_points(validation, np.array([0.5, 0.9999]), np.array([0.5, 0.9995, 2.0]))
    assert points[0].threshold == validation[-11]
    assert points[0].tpr.hits == 2 and points[0].test_fpr.hits == 1
    assert points[1].tpr.hits == 1 and points[1].test_fpr.hits == 0


def test_eval_command_prints_json_and_writes_the_markdown_whole(
    small_data: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`dnsvigil dga eval` runs the real protocol; smaller training settings keep the test short."""
    from typer.testing import CliRunner

    from dnsvigil.cli.main import app
    from dnsvigil.dga import evaluation

    small = TrainingSettings(ngram_bits=14, ngram_epochs=3, ngram_folds=2, iterations=15)
    real = evaluation.evaluate
    monkeypatch.setattr(
        evaluation,
        "evaluate",
        lambda data_dir, **options: real(data_dir, settings=small, panel=(("bamital", "hash"),), **options),
    )
    out = tmp_path / "reports" / "DGA.md"
    result = CliRunner().invoke(
        app, ["dga", "eval", "--data", str(small_data), "--seed", "2", "--out", str(out), "--json"]
    )
    assert result.exit_code == 0, result.output
    parsed = json.loads(result.stdout)
    assert parsed["seed"] == 2 and {row["family"] for row in parsed["held_out"]} == {"bamital"}
    markdown = out.read_text(encoding="utf-8")
    assert markdown.startswith("# DGA detection: evaluation") and "bamital" in markdown
    assert [path.name for path in out.parent.iterdir()] == ["DGA.md"]
