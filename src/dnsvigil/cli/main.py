"""The `dnsvigil` command: global options, command groups, and the one place errors become exit codes.

Exit status: 0 on success, 2 on a usage error, 1 on any other failure. An error is one line on stderr
saying what was wrong, where, and what to do; `--debug` shows the traceback instead.
"""

from __future__ import annotations

import sys
from typing import Annotated

import typer

from dnsvigil import __version__
from dnsvigil.cli import abuse, compact, demo, dga, info, ingest, query, serve, traffic, users, watch
from dnsvigil.cli.context import Common, HomeOption, QuietOption, stderr
from dnsvigil.errors import DnsvigilError

app = typer.Typer(
    name="dnsvigil",
    help=(
        "dnsvigil: an observatory for the security, stability and resiliency of the DNS.\n\n"
        "Typical session: `dnsvigil ingest pcap captures/` stores DNS messages in the warehouse, "
        '`dnsvigil query "SELECT qtype, count(*) FROM dns_messages GROUP BY ALL"` explores them, '
        "`dnsvigil traffic rssac002 --service a.root-servers.net --out rssac/` publishes the RSSAC002 "
        "metrics, `dnsvigil traffic detect` finds floods, amplification and random-subdomain attacks, "
        "`dnsvigil dga detect` finds clients infected by DGA malware. "
        "`dnsvigil demo` runs all of it on a generated world."
    ),
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    rich_markup_mode="markdown",
    context_settings={"help_option_names": ["-h", "--help"]},
)
app.add_typer(ingest.app, name="ingest")
app.add_typer(traffic.app, name="traffic")
app.add_typer(dga.app, name="dga")
app.add_typer(abuse.app, name="abuse")
app.add_typer(users.app, name="users")
app.add_typer(watch.app, name="watch")
app.command("query")(query.query)
app.command("demo")(demo.demo)
app.command("info")(info.info)
app.command("compact")(compact.compact)
app.command("serve")(serve.serve)


def _show_version(value: bool) -> None:
    if value:
        print(f"dnsvigil {__version__}")
        raise typer.Exit()


@app.callback()
def _global_options(
    context: typer.Context,
    home: HomeOption = None,
    quiet: QuietOption = False,
    debug: Annotated[bool, typer.Option("--debug", help="Show tracebacks of errors.")] = False,
    version: Annotated[
        bool, typer.Option("--version", callback=_show_version, is_eager=True, help="Print the version.")
    ] = False,
) -> None:
    context.obj = Common(home=home, quiet=quiet, debug=debug)


def main() -> None:
    """Run the command line; turn dnsvigil's errors into one line and an exit status."""
    debug = "--debug" in sys.argv[1:]
    try:
        app(prog_name="dnsvigil")
    except DnsvigilError as error:
        if debug:
            raise
        stderr.print(f"error: {error}", highlight=False, markup=False)
        sys.exit(error.exit_code)
    except KeyboardInterrupt:
        stderr.print("interrupted; nothing partial was committed", highlight=False)
        sys.exit(130)
    except Exception as error:
        if debug:
            raise
        stderr.print(
            f"error: unexpected {type(error).__name__}: {error} (rerun with --debug for the traceback "
            "and please report it)",
            highlight=False,
            markup=False,
        )
        sys.exit(1)
