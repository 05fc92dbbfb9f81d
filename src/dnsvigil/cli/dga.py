"""`dnsvigil dga`: score names, train and evaluate the model, and find infected clients in stored traffic.

The model and its training stack (numba, scikit-learn) are imported inside the commands that use them,
so that the rest of the command line starts quickly.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import IO, TYPE_CHECKING, Annotated

import typer
from rich.table import Table

from dnsvigil.cli.context import (
    Common,
    HomeOption,
    JsonOption,
    QuietOption,
    byte_progress,
    common,
    note,
    parse_day,
    stderr,
    stdout,
    step_progress,
)
from dnsvigil.config import find_setting, read_int, read_share
from dnsvigil.errors import InputError
from dnsvigil.outputs import atomic_output, write_atomically

if TYPE_CHECKING:
    from dnsvigil.dga.model import DgaModel
    from dnsvigil.dga.score_file import ScoreSummary

app = typer.Typer(
    help="DGA detection: score domain names, train and evaluate the model, find infected clients.",
    no_args_is_help=True,
)

ModelOption = Annotated[
    Path | None,
    typer.Option(
        "--model",
        help=f"{find_setting('dga_model').help} [default: ${find_setting('dga_model').env}, else shipped]",
        show_default=False,
        metavar="FILE",
    ),
]
DataOption = Annotated[
    Path | None,
    typer.Option(
        "--data",
        help=f"{find_setting('dga_data').help} "
        f"[default: ${find_setting('dga_data').env}, else {find_setting('dga_data').default}]",
        show_default=False,
        metavar="DIR",
    ),
]
SeedOption = Annotated[
    int, typer.Option("--seed", help="Seeds every split and model: same seed, same bytes.")
]


def _model(path: Path | None) -> DgaModel:
    from dnsvigil.dga.model import SHIPPED_MODEL, load_model

    configured = find_setting("dga_model").read(str(path) if path else None)
    return load_model(Path(configured) if configured else SHIPPED_MODEL)


def _data_dir(path: Path | None) -> Path:
    data = Path(find_setting("dga_data").read(str(path) if path else None))
    if not data.is_dir():
        raise InputError(
            f"{data}: no such folder of labelled names",
            hint=f"give --data DIR (or set {find_setting('dga_data').env}) holding dga/dga_domains.csv "
            "and benign/",
        )
    return data


@app.command("score")
def score(
    context: typer.Context,
    source: Annotated[str, typer.Argument(help="Text file with one domain name per line, or - for stdin.")],
    output: Annotated[
        Path | None, typer.Option("--output", "-o", help="CSV file to write. [default: stdout]")
    ] = None,
    model_path: ModelOption = None,
    quiet: QuietOption = False,
) -> None:
    """Score domain names: CSV `domain,score,is_dga,family,family_confidence`, one row per name, in order.

    `score` is in [0, 1], higher is more likely generated; `is_dga` applies the model's operating
    threshold (chosen on validation names for a false-positive rate of 1e-3); `family` is the most likely
    DGA family, `unknown` when none fits, empty when not DGA. Names are scored by their registrable label
    (public suffixes, private ones included, are cut off); reverse-DNS and service names are not DGA by
    rule and score 0. Blank lines and invalid names are reported on stderr and skipped.

    Example: `dnsvigil dga score names.txt -o scores.csv`, or `cut -d, -f2 log.csv | dnsvigil dga score -`
    """
    options = common(context, quiet=quiet)
    if source == "-":
        summary = _score_stream(options, source, sys.stdin.buffer, 0, output, model_path)
    else:
        path = Path(source)
        if not path.is_file():
            raise InputError(
                f"{path}: no such file", hint="give a text file with one domain name per line, or - for stdin"
            )
        with path.open("rb") as handle:
            summary = _score_stream(options, source, handle, path.stat().st_size, output, model_path)
    note(options, summary.text())


def _score_stream(
    options: Common, source: str, lines: IO[bytes], size: int, output: Path | None, model_path: Path | None
) -> ScoreSummary:
    from dnsvigil.dga.score_file import score_lines

    model = _model(model_path)

    def skipped(number: int, text: str, reason: str) -> None:
        stderr.print(f"{source}:{number}: skipped: {reason}: {text!r}", highlight=False, markup=False)

    def run(sink: IO[bytes]) -> ScoreSummary:
        with byte_progress(options, "score", size) as progress:
            advance = (lambda count: progress.advance(progress.task_ids[0], count)) if progress else None
            summary = score_lines(lines, sink, model, on_skip=skipped, on_bytes=advance)
        if summary.scored == 0:
            raise InputError(
                f"{source}: no domain name to score ({summary.skipped:,} line(s) skipped)",
                hint="give one domain name per line",
            )
        return summary

    if output is None:
        return run(sys.stdout.buffer)
    with atomic_output(output, what="the scores") as sink:
        return run(sink)


@app.command("train")
def train(
    context: typer.Context,
    data: DataOption = None,
    seed: SeedOption = 0,
    out: Annotated[Path, typer.Option("--out", help="Model file to write.")] = Path("dga_model.npz"),
    as_json: JsonOption = False,
    quiet: QuietOption = False,
) -> None:
    """Train the DGA model on labelled names (takes about a minute); the same seed gives the same bytes.

    Benign names are split by time (Umbrella names first seen by 2026-07-12 and Alexa 2015 for training
    and validation); the operating threshold is chosen on validation names for a false-positive rate of
    1e-3. Use the result with `--model FILE` or `DNSVIGIL_DGA_MODEL`.

    Example: `dnsvigil dga train --data ../shared/data --out my-model.npz`
    """
    from dnsvigil.dga.training import train as train_model

    options = common(context, quiet=quiet or as_json)
    data_dir = _data_dir(data)
    with step_progress(options) as progress:
        model = train_model(data_dir, seed=seed, progress=progress)
    model.to_file(out)
    info = model.info
    if as_json:
        print(
            json.dumps(
                {
                    "model": str(out),
                    "seed": info.seed,
                    "threshold": info.threshold,
                    "target_fpr": info.target_fpr,
                    "validation_fpr": info.validation_fpr,
                    "validation_tpr": info.validation_tpr,
                    "counts": info.counts,
                },
                sort_keys=True,
            )
        )
        return
    stdout.print(
        f"model written to {out}: threshold {info.threshold:.4f} gives false-positive rate "
        f"{info.validation_fpr:.2e} and true-positive rate {info.validation_tpr:.3f} on validation names",
        highlight=False,
    )


@app.command("eval")
def evaluate(
    context: typer.Context,
    data: DataOption = None,
    seed: SeedOption = 0,
    out: Annotated[
        Path | None, typer.Option("--out", help="Also write the Markdown report to this file.")
    ] = None,
    as_json: JsonOption = False,
    quiet: QuietOption = False,
) -> None:
    """Run the evaluation protocol and print its tables (takes a few minutes on two cores).

    Splits: benign time split, cross-source (Alexa 2015 for training, Umbrella for testing), random
    (sanity only), and leave-one-family-out over every generation scheme. Metrics: TPR at FPR 1e-3 and
    1e-4 with Clopper-Pearson intervals, ROC-AUC, per-family recall, family macro-F1, throughput and
    latency; the length/entropy, bigram, char n-gram and FANCI-style baselines run side by side.

    Example: `dnsvigil dga eval --out benchmarks/DGA.md`
    """
    from dnsvigil.dga.evaluation import evaluate as run_evaluation

    options = common(context, quiet=quiet or as_json)
    data_dir = _data_dir(data)
    with step_progress(options) as progress:
        report = run_evaluation(data_dir, seed=seed, progress=progress)
    markdown = report.to_markdown()
    if out is not None:
        write_atomically(out, markdown, what="the evaluation report")
    if as_json:
        print(report.to_json())
    else:
        stdout.print(markdown, highlight=False, markup=False)


@app.command("detect")
def detect(
    context: typer.Context,
    day: Annotated[
        str | None,
        typer.Option("--date", help="One UTC day, YYYY-MM-DD. [default: every day in the warehouse]"),
    ] = None,
    resolver_addrs: Annotated[
        list[str] | None,
        typer.Option(
            "--resolver-addr",
            help="Address of a resolver (repeatable): only its clients' queries and its responses count. "
            "[default: every query counts, a resolver's own queries upstream included]",
        ),
    ] = None,
    min_names: Annotated[
        str | None,
        typer.Option(
            "--min-names",
            help=f"{find_setting('dga_min_names').help} [default: ${find_setting('dga_min_names').env}, "
            f"else {find_setting('dga_min_names').default}]",
            show_default=False,
        ),
    ] = None,
    min_nxdomain_share: Annotated[
        str | None,
        typer.Option(
            "--min-nxdomain-share",
            help=f"{find_setting('dga_min_nxdomain_share').help} "
            f"[default: ${find_setting('dga_min_nxdomain_share').env}, "
            f"else {find_setting('dga_min_nxdomain_share').default}]",
            show_default=False,
        ),
    ] = None,
    model_path: ModelOption = None,
    home: HomeOption = None,
    as_json: JsonOption = False,
    quiet: QuietOption = False,
) -> None:
    """Find DGA-infected clients and live DGA domains in the stored traffic; store them as findings.

    A client asking for at least --min-names distinct DGA-scored domains, mostly answered NXDOMAIN,
    becomes a DGA.INFECTED_CLIENT finding (family vote, example names, counts, time window); so does a
    client whose NXDOMAIN domains mostly look like one DGA family's or share one stem (wordlist and
    permutation DGAs, whose names pass one by one). A DGA-scored domain that resolves becomes a
    DGA.DOMAIN finding: of high severity when infected clients ask for it (a likely controller), low
    otherwise. Running it again on the same data stores nothing new. See them with
    `dnsvigil query "SELECT code, subject, severity, evidence FROM findings"`.

    Example: `dnsvigil dga detect --resolver-addr 192.0.2.53 --date 2026-11-02`
    """
    from dnsvigil.dga.detect import detect_and_store
    from dnsvigil.dga.infected_clients import DetectorSettings
    from dnsvigil.store.warehouse import Warehouse

    options = common(context, home=home, quiet=quiet or as_json)
    settings = DetectorSettings(
        min_dga_names=read_int("dga_min_names", min_names, minimum=1),
        min_nxdomain_share=read_share("dga_min_nxdomain_share", min_nxdomain_share),
        min_family_share=read_share("dga_min_family_share"),
    )
    days = parse_day(day)
    model = _model(model_path)
    warehouse = Warehouse.open(options.home_path)
    with step_progress(options) as progress:
        progress("scoring the stored query names")
        run = detect_and_store(warehouse, model, settings, days=days, resolver_addrs=resolver_addrs or None)
    records = [finding.to_record() for finding in run.findings]
    if as_json:
        print(json.dumps({"findings": records, "stored": run.stored}, default=str, sort_keys=True))
        return
    stdout.print(f"{len(run.findings)} finding(s), {run.stored} new in {options.home_path}", highlight=False)
    if run.findings:
        table = Table("code", "subject", "family", "DGA domains", "NXDOMAIN", "examples", box=None)
        for finding in run.findings:
            evidence = finding.evidence
            table.add_row(
                finding.code,
                finding.subject,
                str(evidence.get("family", "")),
                str(evidence.get("dga_domains", "")),
                f"{evidence['nxdomain_share']:.0%}" if "nxdomain_share" in evidence else "",
                ", ".join(list(evidence.get("examples", evidence.get("query_names", [])))[:3]),
            )
        stdout.print(table)
