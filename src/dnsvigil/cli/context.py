"""What every command shares: the options common to all, the consoles, and progress bars."""

from __future__ import annotations

import contextlib
import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass, replace
from datetime import date
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.progress import (
    BarColumn,
    DownloadColumn,
    Progress,
    TextColumn,
    TimeRemainingColumn,
    TransferSpeedColumn,
)

from dnsvigil.config import find_setting, resolve_home
from dnsvigil.errors import UsageError

HomeOption = Annotated[
    str | None,
    typer.Option(
        "--home",
        help=f"{find_setting('home').help} "
        f"[default: ${find_setting('home').env}, else {find_setting('home').default}]",
        show_default=False,
        metavar="DIR",
    ),
]
QuietOption = Annotated[bool, typer.Option("--quiet", "-q", help="Print only results and errors.")]
JsonOption = Annotated[bool, typer.Option("--json", help="Print the result as one JSON object.")]

stdout = Console(soft_wrap=True)
stderr = Console(stderr=True, soft_wrap=True)


@dataclass(frozen=True, slots=True)
class Common:
    """Options given before the command name, which a command's own options refine."""

    home: str | None = None
    quiet: bool = False
    debug: bool = False

    def refined(self, *, home: str | None = None, quiet: bool = False) -> Common:
        """These options, with any given again after the command name taking precedence."""
        return replace(self, home=home or self.home, quiet=quiet or self.quiet)

    @property
    def home_path(self) -> Path:
        return resolve_home(self.home)


def common(context: typer.Context, *, home: str | None = None, quiet: bool = False) -> Common:
    """The shared options in force for the running command."""
    base = context.find_root().obj
    if not isinstance(base, Common):
        base = Common()
    return base.refined(home=home, quiet=quiet)


def note(options: Common, message: str) -> None:
    """Tell the user something on stderr unless they asked for quiet."""
    if not options.quiet:
        stderr.print(message, highlight=False)


@contextlib.contextmanager
def byte_progress(options: Common, description: str, total: int) -> Iterator[Progress | None]:
    """A progress bar over input bytes, on a terminal and unless quiet."""
    if options.quiet or not sys.stderr.isatty():
        yield None
        return
    with Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        DownloadColumn(),
        TransferSpeedColumn(),
        TimeRemainingColumn(),
        console=stderr,
        transient=True,
    ) as progress:
        progress.add_task(description, total=total)
        yield progress


@contextlib.contextmanager
def step_progress(options: Common) -> Iterator[Callable[[str], None]]:
    """A callback telling the user which step of a long job runs: a live status line on a terminal,
    plain lines otherwise; nothing when quiet."""
    if options.quiet:
        yield lambda message: None
        return
    if not sys.stderr.isatty():
        yield lambda message: stderr.print(message, highlight=False)
        return
    with stderr.status("starting ...") as status:
        yield lambda message: status.update(message)


def parse_day(text: str | None) -> list[date] | None:
    """The `--date YYYY-MM-DD` option as a list of one UTC day; None (every day) when absent."""
    if text is None:
        return None
    try:
        return [date.fromisoformat(text)]
    except ValueError:
        raise UsageError(f"--date must be YYYY-MM-DD, got {text!r}") from None
