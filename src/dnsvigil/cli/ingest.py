"""`dnsvigil ingest`: read sources into the warehouse."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from dnsvigil.cli import ingest_registration
from dnsvigil.cli.context import HomeOption, JsonOption, QuietOption, byte_progress, common, note, stdout
from dnsvigil.config import find_setting, read_int, read_ports
from dnsvigil.ingest.pipeline import IngestSummary, SourceKind, expand_paths, ingest_files
from dnsvigil.store.warehouse import Warehouse

app = typer.Typer(
    help=(
        "Read sources (captures, dnstap, zone files, registration data, registrar lists, registry reports, "
        "abuse feeds) into the warehouse; a file already stored is not stored twice."
    ),
    no_args_is_help=True,
)

PathsArgument = Annotated[
    list[Path],
    typer.Argument(help="Files or directories (searched recursively). .gz, .xz and .zst are read as is."),
]
PortsOption = Annotated[
    str | None,
    typer.Option(
        "--ports",
        help=f"{find_setting('dns_ports').help} [default: ${find_setting('dns_ports').env}, else 53]",
        show_default=False,
    ),
]


def _run(
    context: typer.Context,
    kind: SourceKind,
    paths: list[Path],
    home: str | None,
    quiet: bool,
    as_json: bool,
    ports_text: str | None,
) -> None:
    options = common(context, home=home, quiet=quiet or as_json)
    ports = read_ports(ports_text)
    chunk_bytes = read_int("chunk_mib", minimum=1) << 20
    files = expand_paths(paths)
    warehouse = Warehouse.open(options.home_path, create=True)
    total = sum(path.stat().st_size for path in files)
    with byte_progress(options, f"ingest {kind}", total) as progress:
        advance = (lambda count: progress.advance(progress.task_ids[0], count)) if progress else None
        summary = ingest_files(
            warehouse, files, kind=kind, ports=ports, chunk_bytes=chunk_bytes, progress=advance
        )
    if as_json:
        print(json.dumps(summary.to_json(), sort_keys=True))
    else:
        _print_summary(summary, options.quiet)
    for file in summary.files:
        if file.status in ("failed", "no-dns"):
            note(options, f"warning: {file.error or file.path + ': no DNS message on the DNS ports'}")


def _print_summary(summary: IngestSummary, quiet: bool) -> None:
    stdout.print(
        f"{summary.messages:,} DNS messages stored from {len(summary.files)} file(s) "
        f"in {summary.seconds:.2f} s ({summary.rate:,.0f} messages/s)",
        highlight=False,
    )
    if quiet:
        return
    table = Table("file", "status", "messages", "malformed", "skipped (not DNS)", box=None)
    table.columns[0].overflow = "fold"
    for file in summary.files:
        table.add_row(
            Path(file.path).name,
            file.status,
            f"{file.messages:,}",
            ", ".join(f"{reason} {count:,}" for reason, count in file.malformed.items()) or "0",
            ", ".join(f"{reason} {count:,}" for reason, count in file.skipped.items()) or "0",
        )
    stdout.print(table)


@app.command("pcap")
def pcap(
    context: typer.Context,
    paths: PathsArgument,
    home: HomeOption = None,
    ports: PortsOption = None,
    as_json: JsonOption = False,
    quiet: QuietOption = False,
) -> None:
    """Ingest pcap and pcapng captures: one row per DNS message in table dns_messages.

    Reads Ethernet (802.1Q, QinQ), Linux SLL/SLL2, raw IP and BSD loopback captures, IPv4 and IPv6,
    reassembling IP fragments and TCP streams. Malformed messages are counted by reason in the summary.

    Example: `dnsvigil ingest pcap /var/captures/ --json`
    """
    _run(context, "pcap", paths, home, quiet, as_json, ports)


@app.command("dnstap")
def dnstap(
    context: typer.Context,
    paths: PathsArgument,
    home: HomeOption = None,
    as_json: JsonOption = False,
    quiet: QuietOption = False,
) -> None:
    """Ingest dnstap files (Frame Streams + protobuf), as written by Knot DNS, BIND, Unbound or dnstap-ldns.

    Each query or response message a dnstap record carries becomes one row of dns_messages.

    Example: `dnsvigil ingest dnstap /var/log/knot/dnstap.tap`
    """
    _run(context, "dnstap", paths, home, quiet, as_json, None)


ingest_registration.register(app)
