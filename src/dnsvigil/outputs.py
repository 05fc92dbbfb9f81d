"""Files dnsvigil writes for people and other tools (reports, metric files, CSV, models): all or nothing.

Each output is written to a temporary file beside its target, flushed to disk, then renamed over the
target: a reader sees the old file or the new one, never half of one, and a failed or interrupted write
leaves no trace.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import IO

from dnsvigil.errors import OutputError


@contextlib.contextmanager
def atomic_output(target: Path, *, what: str = "the output") -> Iterator[IO[bytes]]:
    """A binary handle whose content replaces `target` when the block ends without an error.

    Raises:
        OutputError: the file cannot be written (no such folder, no permission, disk full).
    """
    temporary: Path | None = None
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        descriptor, name = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)
        temporary = Path(name)
        with os.fdopen(descriptor, "wb") as handle:
            yield handle
            handle.flush()
            os.fsync(handle.fileno())
        temporary.chmod(0o644)
        temporary.replace(target)
        temporary = None
    except OSError as error:
        raise OutputError(
            f"{target}: cannot write {what} ({error.strerror or error})",
            hint="check that the folder is writable and has free space",
        ) from error
    finally:
        if temporary is not None:
            temporary.unlink(missing_ok=True)


def write_atomically(target: Path, content: str | bytes, *, what: str = "the output") -> None:
    """Replace `target` with `content` (text is written as UTF-8 with the newlines given)."""
    with atomic_output(target, what=what) as handle:
        handle.write(content.encode() if isinstance(content, str) else content)
