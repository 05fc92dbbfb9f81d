"""`dnsvigil dga score|train|eval`: the command-line contract, end to end through the real command."""

from __future__ import annotations

import csv
import io
import json
import subprocess
import sys
from datetime import date
from pathlib import Path

import pytest

from dnsvigil.demo.dga_families import bamital_domains, ramnit_domains
from dnsvigil.dga.model import load_model
from tests.cli.runner import dnsvigil

HEADER = ["domain", "score", "is_dga", "family", "family_confidence"]
POPULAR = [
    "google.com",
    "wikipedia.org",
    "amazon.co.uk",
    "bbc.co.uk",
    "github.com",
    "microsoft.com",
    "apple.com",
    "netflix.com",
    "yahoo.co.jp",
    "stackoverflow.com",
    "mozilla.org",
    "cloudflare.com",
    "nytimes.com",
    "weather.com",
]


def rows_of(text: str) -> list[dict[str, str]]:
    reader = csv.DictReader(io.StringIO(text))
    assert reader.fieldnames == HEADER
    return list(reader)


def test_score_keeps_input_order_and_reports_what_it_skips(tmp_path: Path) -> None:
    names = tmp_path / "names.txt"
    lines = ["Example.COM.", "", "foo..bar", "5.2.0.192.in-addr.arpa", "bad_name!.com", "bücher.de"]
    generated = list(ramnit_domains(3, date(2026, 11, 2), 40))
    names.write_text("\n".join(lines + generated + POPULAR) + "\n", encoding="utf-8")
    run = dnsvigil("dga", "score", names)
    assert run.exit_code == 0, run.stderr
    rows = rows_of(run.stdout)
    expected = ["Example.COM.", "5.2.0.192.in-addr.arpa", "bücher.de", *generated, *POPULAR]
    assert [row["domain"] for row in rows] == expected
    assert f"{names}:2: skipped: blank line" in run.stderr
    assert f"{names}:3: skipped: has an empty label" in run.stderr
    assert f"{names}:5: skipped: has the character '!'" in run.stderr
    assert "skipped 1 blank and 2 invalid line(s)" in run.stderr
    threshold = load_model().info.threshold
    for row in rows:
        score, is_dga = float(row["score"]), row["is_dga"] == "true"
        assert 0.0 <= score <= 1.0 and is_dga == (score > threshold)
        assert (row["family"] != "") == is_dga
        if not is_dga:
            assert float(row["family_confidence"]) == 0.0
    by_name = {row["domain"]: row for row in rows}
    assert by_name["5.2.0.192.in-addr.arpa"]["score"] == "0.000000"  # excluded by rule, not by model
    assert not any(by_name[name]["is_dga"] == "true" for name in POPULAR)
    flagged = sum(by_name[name]["is_dga"] == "true" for name in generated)
    assert flagged >= 0.7 * len(generated), f"only {flagged} of {len(generated)} ramnit names flagged"


def test_score_reads_stdin_and_writes_the_output_file_whole(tmp_path: Path) -> None:
    names = bamital_domains(5, date(2026, 11, 2), 30)
    out = tmp_path / "scores.csv"
    completed = subprocess.run(
        [sys.executable, "-m", "dnsvigil", "dga", "score", "-", "-o", str(out), "--quiet"],
        input="\n".join(names),
        capture_output=True,
        text=True,
        check=False,
    )
    assert completed.returncode == 0, completed.stderr
    assert completed.stdout == "" and completed.stderr == ""
    rows = rows_of(out.read_text(encoding="utf-8"))
    assert [row["domain"] for row in rows] == list(names)
    assert sum(row["is_dga"] == "true" for row in rows) >= 0.9 * len(names)
    assert [path.name for path in tmp_path.iterdir()] == ["scores.csv"]  # no temporary file left


@pytest.mark.parametrize(
    ("args", "content", "message"),
    [
        (["missing.txt"], None, "missing.txt: no such file"),
        (["names.txt"], "\n\n  \n", "names.txt: no domain name to score (3 line(s) skipped)"),
        (["names.txt", "--model", "names.txt"], "example.com\n", "names.txt"),
    ],
)
def test_score_bad_input_fails_clearly_and_writes_nothing(
    tmp_path: Path, args: list[str], content: str | None, message: str
) -> None:
    if content is not None:
        (tmp_path / "names.txt").write_text(content, encoding="utf-8")
    out = tmp_path / "out" / "scores.csv"
    run = dnsvigil(
        "dga", "score", *(str(tmp_path / arg) if arg.endswith(".txt") else arg for arg in args), "-o", out
    )
    assert run.exit_code == 1
    assert message in run.stderr and "Traceback" not in run.stderr
    assert run.stderr.count("error:") == 1
    assert not out.exists() and not any(out.parent.glob(".*.tmp"))


def small_data(shared_data: Path, folder: Path) -> Path:
    """A slice of the reference data in its own layout: every 20th name of each file."""
    for relative in (
        "dga/dga_domains.csv",
        "benign/alexa_top100k_2015.csv",
        "benign/umbrella_top100k_firstseen.tsv",
    ):
        lines = (shared_data / relative).read_text(encoding="utf-8").splitlines()
        target = folder / relative
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text("\n".join([lines[0], *lines[1::20]]) + "\n", encoding="utf-8")
    return folder


def test_train_is_reproducible_and_its_model_scores(shared_data: Path, tmp_path: Path) -> None:
    data = small_data(shared_data, tmp_path / "data")
    first = dnsvigil("dga", "train", "--data", data, "--seed", "3", "--out", tmp_path / "a.npz", "--json")
    second = dnsvigil("dga", "train", "--data", data, "--seed", "3", "--out", tmp_path / "b.npz", "--quiet")
    assert first.exit_code == 0 and second.exit_code == 0, first.stderr + second.stderr
    assert (tmp_path / "a.npz").read_bytes() == (tmp_path / "b.npz").read_bytes()
    summary = json.loads(first.stdout)
    assert summary["seed"] == 3 and summary["target_fpr"] == 1e-3
    assert summary["validation_fpr"] <= 1e-3 and 0 < summary["threshold"] < 1
    assert "validation names" in second.stdout
    names = tmp_path / "names.txt"
    names.write_text("google.com\n", encoding="utf-8")
    scored = dnsvigil("dga", "score", names, env={"DNSVIGIL_DGA_MODEL": str(tmp_path / "a.npz")})
    assert scored.exit_code == 0, scored.stderr
    assert rows_of(scored.stdout)[0]["domain"] == "google.com"


def test_train_and_eval_without_data_fail_clearly(tmp_path: Path) -> None:
    for command in ("train", "eval"):
        run = dnsvigil("dga", command, "--data", tmp_path / "nowhere")
        assert run.exit_code == 1
        assert "nowhere: no such folder of labelled names" in run.stderr and "--data" in run.stderr
