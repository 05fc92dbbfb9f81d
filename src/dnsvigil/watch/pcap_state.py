"""What `watch pcap` has finished with in a directory, kept on disk so that it survives a restart.

One JSON file per watched directory, under the warehouse's `watch/` folder, written atomically after each
file's rows are committed: a crash between the commit and this record costs only a re-read (the warehouse
knows the file by its content and stores nothing twice). Each record keeps the file's size, modification
time and a digest of its first bytes, which tells a file that grew after it was stored (its head is the
same) from a new capture written under a reused name (a ring buffer's): the second is read again, the
first is told about.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import uuid
from collections.abc import Iterable
from dataclasses import asdict, dataclass
from pathlib import Path

from dnsvigil.watch.file_tracker import FileEntry

STATE_FORMAT = 1
HEAD_BYTES = 64 << 10


@dataclass(frozen=True, slots=True)
class FileRecord:
    """A file the watcher finished with.

    Attributes:
        size: its size then, in bytes.
        mtime_ns: its modification time then.
        head_sha256: digest of its first `HEAD_BYTES` bytes (fewer when it was smaller).
        status: `ingested`, `already-ingested`, `nothing-read` or `grew-after-storing`.
        messages: DNS messages stored from it.
    """

    size: int
    mtime_ns: int
    head_sha256: str
    status: str
    messages: int = 0

    def matches(self, entry: FileEntry) -> bool:
        """Whether `entry` is the file as it was recorded."""
        return entry.size == self.size and entry.mtime_ns == self.mtime_ns


def head_digest(path: Path, size: int) -> str:
    """Digest of the first min(size, HEAD_BYTES) bytes of `path`.

    Raises:
        OSError: the file cannot be read.
    """
    with path.open("rb") as handle:
        return hashlib.sha256(handle.read(min(size, HEAD_BYTES))).hexdigest()


class PcapState:
    """The finished files of one watched directory.

    Args:
        path: the state file.
        directory: the watched directory it describes.
        files: records by file name.
    """

    def __init__(self, path: Path, directory: Path, files: dict[str, FileRecord]) -> None:
        self.path = path
        self.directory = directory
        self.files = files

    @staticmethod
    def location(home: Path, directory: Path) -> Path:
        """Where the state of `directory` is kept in the warehouse at `home`."""
        key = hashlib.sha256(str(directory.resolve()).encode()).hexdigest()[:16]
        return home / "watch" / f"pcap-{key}.json"

    @staticmethod
    def load(home: Path, directory: Path) -> tuple[PcapState, str]:
        """The state kept for `directory`, and a problem to tell when it could not be read (then it is
        empty: files are read again, and the warehouse stores none of them twice)."""
        path = PcapState.location(home, directory)
        try:
            document = json.loads(path.read_text(encoding="utf-8"))
            if document.get("format") != STATE_FORMAT:
                raise ValueError(f"state format {document.get('format')} is not {STATE_FORMAT}")
            files = {name: FileRecord(**record) for name, record in document["files"].items()}
        except FileNotFoundError:
            return PcapState(path, directory, {}), ""
        except (OSError, ValueError, KeyError, TypeError) as error:
            return PcapState(
                path, directory, {}
            ), f"{path}: cannot read the watch state ({error}); starting afresh"
        return PcapState(path, directory, files), ""

    def record(self, name: str) -> FileRecord | None:
        return self.files.get(name)

    def mark(self, name: str, record: FileRecord) -> None:
        """Record a finished file and save at once.

        Raises:
            OSError: the state file cannot be written (the record is kept in memory all the same).
        """
        self.files[name] = record
        self.save()

    def forget_except(self, names: Iterable[str]) -> None:
        """Forget files no longer in the directory (rotated away), so the state stays small."""
        keep = set(names)
        for name in [name for name in self.files if name not in keep]:
            del self.files[name]

    def save(self) -> None:
        """Write the state atomically.

        Raises:
            OSError: it cannot be written.
        """
        self.path.parent.mkdir(parents=True, exist_ok=True)
        document = {
            "format": STATE_FORMAT,
            "directory": str(self.directory.resolve()),
            "files": {name: asdict(record) for name, record in sorted(self.files.items())},
        }
        temporary = self.path.with_name(f".{self.path.name}.{uuid.uuid4().hex}.tmp")
        try:
            with temporary.open("w", encoding="utf-8") as handle:
                json.dump(document, handle, indent=1, sort_keys=True)
                handle.flush()
                os.fsync(handle.fileno())
            temporary.replace(self.path)
        finally:
            with contextlib.suppress(OSError):
                temporary.unlink(missing_ok=True)
