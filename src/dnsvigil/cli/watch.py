"""`dnsvigil watch`: live mode. Receive dnstap or follow rotating captures; store, detect and alert."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import sys
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from types import FrameType
from typing import Annotated

import typer

from dnsvigil.cli.context import HomeOption, QuietOption, common, stderr, stdout
from dnsvigil.config import find_setting, read_int, read_ports
from dnsvigil.errors import UsageError
from dnsvigil.findings import Finding
from dnsvigil.store.warehouse import Warehouse
from dnsvigil.watch.alerts import alert_json, alert_line
from dnsvigil.watch.settings import WatchSettings
from dnsvigil.watch.stats import WatchSummary

MAX_NICENESS = 19

app = typer.Typer(
    help=(
        "Live mode: store DNS traffic as it arrives, run the traffic detectors over the most recent minutes "
        "as it is stored, and print each new alert as it fires.\n\n"
        "`watch dnstap` receives dnstap from name servers over a Unix socket; `watch pcap` follows a "
        "directory where a capture tool rotates its files. Both store in small batches (settings "
        "DNSVIGIL_WATCH_BATCH_MESSAGES, DNSVIGIL_WATCH_BATCH_SECONDS), judge the last "
        "DNSVIGIL_WATCH_DETECTION_WINDOW_SECONDS of traffic after storing, and stop cleanly on Ctrl-C or "
        "SIGTERM (what was received is stored first), printing a summary. A watcher lowers its own CPU "
        "priority (DNSVIGIL_WATCH_NICE, default +10), so that the name server beside it keeps the CPU."
    ),
    no_args_is_help=True,
)

MaxSecondsOption = Annotated[
    float | None,
    typer.Option(
        "--max-seconds", help="Stop by itself after this many seconds. [default: run until stopped]"
    ),
]
MaxMessagesOption = Annotated[
    int | None,
    typer.Option(
        "--max-messages", help="Stop by itself after this many DNS messages. [default: run until stopped]"
    ),
]
WebhookOption = Annotated[
    str | None,
    typer.Option(
        "--alert-webhook",
        metavar="URL",
        help="POST each new finding as JSON to this http(s) URL (5 s timeout; failures are told, counted).",
    ),
]
JsonLinesOption = Annotated[
    bool,
    typer.Option("--json", help="Print alerts, then the summary, as JSON lines (one object per line)."),
]


class _ConsoleEvents:
    """Progress and warnings on stderr, alerts on stdout as they fire (one line each, flushed)."""

    def __init__(self, *, as_json: bool, quiet: bool) -> None:
        self._as_json = as_json
        self._quiet = quiet

    def info(self, message: str) -> None:
        if not self._quiet:
            stderr.print(message, highlight=False, markup=False)

    def warning(self, message: str) -> None:
        stderr.print(f"warning: {message}", highlight=False, markup=False)

    def alert(self, finding: Finding) -> None:
        print(alert_json(finding) if self._as_json else alert_line(finding), flush=True)


@contextlib.contextmanager
def _stop_on_signals() -> Iterator[threading.Event]:
    """An event set by the first SIGINT or SIGTERM; a second one interrupts at once."""
    stop = threading.Event()

    def handle(signum: int, frame: FrameType | None) -> None:
        if stop.is_set():
            raise KeyboardInterrupt
        stop.set()
        _write_from_handler(
            f"{signal.Signals(signum).name}: storing what was received, then stopping (again to stop now)"
        )

    previous = {number: signal.signal(number, handle) for number in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield stop
    finally:
        for number, handler in previous.items():
            signal.signal(number, handler)


def _write_from_handler(message: str) -> None:
    """A line on stderr from a signal handler, written raw: the code it interrupted may be half-way through
    a print or an import (rich imports its emoji table on its first print), which a print from the handler
    would re-enter and fail on."""
    with contextlib.suppress(OSError, ValueError):  # no file descriptor: a test runner's captured stream
        os.write(sys.stderr.fileno(), f"{message}\n".encode())


@dataclass(frozen=True, slots=True)
class _Watch:
    """What every watcher is given: where to store, its settings, where to report, when to stop."""

    warehouse: Warehouse
    settings: WatchSettings
    events: _ConsoleEvents
    stop: threading.Event


def _run(
    context: typer.Context,
    watch: Callable[[_Watch], WatchSummary],
    *,
    home: str | None,
    quiet: bool,
    as_json: bool,
    max_seconds: float | None,
    max_messages: int | None,
) -> None:
    """Open the warehouse, run `watch` until a signal or a stop condition, print its summary; exit 1 when
    something received could not be stored."""
    options = common(context, home=home, quiet=quiet)
    settings = WatchSettings.from_settings(max_seconds=max_seconds, max_messages=max_messages)
    niceness = _niceness()
    warehouse = Warehouse.open(options.home_path, create=True)
    events = _ConsoleEvents(as_json=as_json, quiet=options.quiet)
    if niceness:
        os.nice(niceness)
        events.info(
            f"running at niceness +{niceness} (DNSVIGIL_WATCH_NICE): the server keeps the CPU it needs"
        )
    with _stop_on_signals() as stop:
        summary = watch(_Watch(warehouse, settings, events, stop))
    if as_json:
        print(json.dumps(summary.to_json(), sort_keys=True), flush=True)
    else:
        for line in summary.to_text():
            stdout.print(line, highlight=False, markup=False)
    if summary.lost:
        sys.exit(1)


def _niceness() -> int:
    """The `watch_nice` setting. A watcher beside a name server competes with it for the CPU, and the server
    drops what its threads cannot handle in time: on two cores, Knot lost several times more dnstap messages
    with the watcher at its own priority than with the watcher niced (`benchmarks/DETECT.md`).

    Raises:
        UsageError: the setting is not a whole number from 0 to 19.
    """
    niceness = read_int("watch_nice", minimum=0)
    if niceness > MAX_NICENESS:
        raise UsageError(
            f"setting watch_nice (DNSVIGIL_WATCH_NICE) must be at most {MAX_NICENESS}, got {niceness}",
            hint="0 keeps the priority the watcher was started with",
        )
    return niceness


def _socket_mode(text: str) -> int:
    try:
        mode = int(text, 8)
    except ValueError:
        mode = -1
    if not 0 <= mode <= 0o777:
        raise UsageError(f"--socket-mode must be octal permission bits such as 660, got {text!r}")
    return mode


@app.command("dnstap")
def dnstap(
    context: typer.Context,
    socket_path: Annotated[
        Path,
        typer.Option("--socket", metavar="PATH", help="Unix socket to create; name servers connect to it."),
    ],
    socket_mode: Annotated[
        str,
        typer.Option(
            "--socket-mode", help="Octal permissions of the socket: the name server's user must write to it."
        ),
    ] = "660",
    max_seconds: MaxSecondsOption = None,
    max_messages: MaxMessagesOption = None,
    alert_webhook: WebhookOption = None,
    home: HomeOption = None,
    as_json: JsonLinesOption = False,
    quiet: QuietOption = False,
) -> None:
    """Receive dnstap from name servers over a Frame Streams Unix socket, store it, and alert on attacks.

    Speaks bidirectional Frame Streams as fstrm senders do (READY/ACCEPT, START, data, STOP/FINISH) and
    also takes a plain START-first stream. Any number of servers may connect at once; one that breaks its
    stream or disconnects mid-frame is told about and counted, the others go on. Messages wait in a queue
    of DNSVIGIL_WATCH_QUEUE_MESSAGES; when input outruns storing, what does not fit is dropped, counted
    and reported (every 10 s at most), so memory stays bounded. If the disk fills, the batch is kept and
    tried again while new input is dropped and counted.

    Start the watcher first, then point the server at the socket (senders retry every few seconds until
    it is there):

    * Knot DNS, `knot.conf`: `mod-dnstap: [{id: tap, sink: "unix:/run/dnsvigil/dnstap.sock"}]` and
      `template: [{id: default, global-module: mod-dnstap/tap}]`

    * Unbound, `dnstap:` clause: `dnstap-enable: yes`, `dnstap-socket-path: "/run/dnsvigil/dnstap.sock"`,
      `dnstap-log-client-query-messages: yes`, `dnstap-log-client-response-messages: yes`

    * BIND, `options`: `dnstap { client; auth; };` and `dnstap-output unix "/run/dnsvigil/dnstap.sock";`

    Sizing: the watcher takes about 2 µs of CPU per dnstap message (a query and its response are two), a
    core for 500,000 messages a second. It runs niced (DNSVIGIL_WATCH_NICE) so that the server comes first;
    beside a server that keeps every core busy, give it a core of its own, e.g. `taskset -c 3 dnsvigil watch
    dnstap ...`, or the server's own dnstap queue drops what the watcher never sees.

    Examples:

    `dnsvigil watch dnstap --socket /run/dnsvigil/dnstap.sock`

    `dnsvigil watch dnstap --socket /run/dnsvigil/dnstap.sock --json --alert-webhook https://hooks.example.net/dns`

    `dnsvigil watch dnstap --socket /tmp/tap.sock --max-seconds 60 --max-messages 100000`
    """
    from dnsvigil.watch.dnstap_watch import watch_dnstap

    mode = _socket_mode(socket_mode)

    def watch(run: _Watch) -> WatchSummary:
        return watch_dnstap(
            run.warehouse,
            socket_path,
            settings=run.settings,
            events=run.events,
            stop=run.stop,
            socket_mode=mode,
            webhook_url=alert_webhook,
        )

    _run(
        context,
        watch,
        home=home,
        quiet=quiet,
        as_json=as_json,
        max_seconds=max_seconds,
        max_messages=max_messages,
    )


@app.command("pcap")
def pcap(
    context: typer.Context,
    directory: Annotated[
        Path, typer.Option("--dir", metavar="DIR", help="Directory the capture tool writes its files into.")
    ],
    pattern: Annotated[
        str, typer.Option("--pattern", help="File names to take, with shell wildcards, e.g. 'dns_*.pcap*'.")
    ] = "*",
    ports: Annotated[
        str | None,
        typer.Option(
            "--ports",
            help=f"{find_setting('dns_ports').help} [default: ${find_setting('dns_ports').env}, else 53]",
            show_default=False,
        ),
    ] = None,
    max_seconds: MaxSecondsOption = None,
    max_messages: MaxMessagesOption = None,
    alert_webhook: WebhookOption = None,
    home: HomeOption = None,
    as_json: JsonLinesOption = False,
    quiet: QuietOption = False,
) -> None:
    """Follow a directory of rotating capture files: store each finished file, and alert on attacks.

    A file is read once it is finished: a newer file appeared and it stopped changing, or it has not
    changed for DNSVIGIL_WATCH_SETTLE_SECONDS. A file still being written is never read. Each file is
    stored as one commit, as `dnsvigil ingest pcap` does, and recorded done only after it; restarted, the
    watcher skips the files it finished and the warehouse stores no file twice. Files wait on disk while
    the watcher is busy, so nothing is dropped; if the disk fills, the file is tried again later.
    `--max-messages` counts stored messages and stops after the file that reaches it.

    Examples:

    `tcpdump -i eth0 -G 60 -w '/var/captures/dns_%Y%m%d%H%M%S.pcap' port 53` with
    `dnsvigil watch pcap --dir /var/captures --pattern 'dns_*.pcap'`

    `dumpcap -i eth0 -f 'port 53' -b duration:60 -w /var/captures/dns.pcapng` with
    `dnsvigil watch pcap --dir /var/captures --json`
    """
    from dnsvigil.watch.pcap_watch import watch_pcap

    port_numbers = read_ports(ports)

    def watch(run: _Watch) -> WatchSummary:
        return watch_pcap(
            run.warehouse,
            directory,
            settings=run.settings,
            events=run.events,
            stop=run.stop,
            pattern=pattern,
            ports=port_numbers,
            webhook_url=alert_webhook,
        )

    _run(
        context,
        watch,
        home=home,
        quiet=quiet,
        as_json=as_json,
        max_seconds=max_seconds,
        max_messages=max_messages,
    )
