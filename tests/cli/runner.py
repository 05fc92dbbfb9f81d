"""Run the real `dnsvigil` command in a subprocess, as a user's shell would."""

from __future__ import annotations

import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True, slots=True)
class Run:
    """The outcome of one command."""

    exit_code: int
    stdout: str
    stderr: str


def dnsvigil(*args: str | Path, env: dict[str, str] | None = None, timeout: float = 300) -> Run:
    """Run `python -m dnsvigil ARGS` with a clean DNSVIGIL_* environment plus `env`."""
    environment = {key: value for key, value in os.environ.items() if not key.startswith("DNSVIGIL_")}
    environment.update(env or {})
    completed = subprocess.run(
        [sys.executable, "-m", "dnsvigil", *map(str, args)],
        capture_output=True,
        text=True,
        env=environment,
        timeout=timeout,
        check=False,
    )
    return Run(completed.returncode, completed.stdout, completed.stderr)
