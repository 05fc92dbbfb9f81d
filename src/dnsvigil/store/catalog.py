"""The warehouse catalog: a checkpoint of every table's files and sources, and a log of the commits since.

A catalog rewritten whole on every commit costs what it lists: a watcher at a busy server commits a file
every second or so, and after a day of them (69,000 files, 24 MB) each commit took 0.45 s. So a commit
appends one entry, `catalog.log/<sequence>.json`, holding only what it changed; every `CHECKPOINT_ENTRIES`
entries or more (more as the catalog grows) the writer folds the log into a new checkpoint,
`catalog.json`, and deletes the entries it holds. A process keeps the state it has read and on every read
applies only the entries written since: while nothing changed, that costs a `stat` of the checkpoint and a
look for the next entry.

Entries are written whole (a temporary file, fsync, rename) by a writer holding the warehouse's lock, one
sequence number after another, so a reader finds each complete or not at all, and in order. A reader racing
a checkpoint may find the entries being folded already deleted: it then stops at a consistent earlier
commit, and its next read loads the new checkpoint.
"""

from __future__ import annotations

import contextlib
import itertools
import json
import os
import threading
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

CATALOG_FORMAT = 2
"""Format 1 was the checkpoint alone (no log): read as a checkpoint, rewritten as format 2 before the first
entry is appended, so that a dnsvigil that knows no log refuses a warehouse it would read stale."""
CHECKPOINT_ENTRIES = 256
"""Entries between checkpoints, at least: a checkpoint costs what the catalog lists, so it is paid once per
this many commits; a process reading the warehouse afresh replays at most this many entries."""
FILES_PER_ENTRY_BETWEEN_CHECKPOINTS = 16
"""Beyond `CHECKPOINT_ENTRIES`, one more entry between checkpoints for every this many files listed: a
checkpoint's cost grows with the catalog, and so does the log replayed instead (still cheaper to read than
the checkpoint it spares); at 69,000 files, one checkpoint per 4,300 commits."""

State = dict[str, Any]
"""The catalog's content: `format`, `log_from` (the first entry the checkpoint does not hold) and per table
its schema `version`, `files`, `sources` and `retired` files. Read-only to whoever is given it."""


ITEMS_PER_PIECE = 2_000
"""A list or map longer than this is encoded this many items at a time (see `json_pieces`)."""
_STRUCTURE_KEYS = 16
"""A map with at most this many keys is the catalog's structure (the document, its tables, a table's parts):
encoded key by key, so that its long lists are reached and cut into pieces."""


def json_pieces(value: Any) -> Iterator[str]:
    """`value` as compact JSON, in pieces whose concatenation is `json.dumps(value, separators=(",", ":"))`.

    Encoding a day's catalog in one call held the interpreter lock for 0.2 s (69,000 files) while the
    watcher's receiving thread waited; between pieces of `ITEMS_PER_PIECE` items the lock can change hands.
    Compact, because only then does `json` use its C encoder; unsorted, so that sources keep the order they
    were committed in.
    """
    structure = isinstance(value, dict) and len(value) <= _STRUCTURE_KEYS
    if structure and all(isinstance(key, str) for key in value):
        yield "{"
        for number, (key, item) in enumerate(value.items()):
            yield f"{',' if number else ''}{json.dumps(key)}:"
            yield from json_pieces(item)
        yield "}"
    elif isinstance(value, dict | list) and len(value) > ITEMS_PER_PIECE:
        # Pieces taken from an iterator: a list of every item would be as many new objects at once (and a
        # collection of the catalog's millions, 20 ms at a day's size).
        items = iter(value.items() if isinstance(value, dict) else value)
        opening, closing = "{}" if isinstance(value, dict) else "[]"
        yield opening
        for start in range(0, len(value), ITEMS_PER_PIECE):
            piece = itertools.islice(items, ITEMS_PER_PIECE)
            text = json.dumps(dict(piece) if isinstance(value, dict) else list(piece), separators=(",", ":"))
            yield f"{',' if start else ''}{text[1:-1]}"
        yield closing
    else:
        yield json.dumps(value, separators=(",", ":"))


def write_json_atomically(path: Path, document: dict[str, Any]) -> None:
    """Write `document` to `path` so that a reader sees the old content or the new, never part of it."""
    temporary = path.with_name(f".{path.name}.{uuid.uuid4().hex}.tmp")
    try:
        with temporary.open("w", encoding="utf-8") as handle:
            for piece in json_pieces(document):
                handle.write(piece)
            handle.flush()
            os.fsync(handle.fileno())
        temporary.replace(path)
    except BaseException:
        temporary.unlink(missing_ok=True)
        raise


def apply_change(state: State, change: dict[str, Any]) -> State:
    """The state after one logged change; `state` is left as it was (tables are copied when changed).

    A change adds a source's files (`files`, `source_id`, `source`), or replaces files by merged ones
    (`merged`: first replaced path -> the merged file's record, `gone`: the other replaced paths, `retired`:
    records of every replaced path), and takes the `expired` retired files out of every table.
    """
    tables = dict(state["tables"])
    name = change["table"]
    entry = dict(tables[name])
    if "source_id" in change:
        entry["files"] = [*entry["files"], *change["files"]]
        entry["sources"] = {**entry["sources"], change["source_id"]: change["source"]}
    if "merged" in change:
        merged, gone = change["merged"], set(change["gone"])
        entry["files"] = [
            merged.get(record["path"], record) for record in entry["files"] if record["path"] not in gone
        ]
        entry["retired"] = [*entry.get("retired", ()), *change["retired"]]
    tables[name] = entry
    expired = set(change.get("expired", ()))
    if expired:
        for table, content in tables.items():
            if any(record["path"] in expired for record in content.get("retired", ())):
                kept = [record for record in content["retired"] if record["path"] not in expired]
                tables[table] = {**content, "retired": kept}
    return {**state, "tables": tables}


def _parsed(path: Path) -> dict[str, Any]:
    """The JSON document at `path`.

    Raises:
        FileNotFoundError: there is none.
        ValueError: it is not JSON; the message names the file.
    """
    text = path.read_text(encoding="utf-8")
    try:
        document: dict[str, Any] = json.loads(text)
    except ValueError as error:
        raise ValueError(f"{path} is not valid JSON: {error}") from None
    return document


class Catalog:
    """The catalog of the warehouse at `home`, as this process last read it; safe to share between threads.

    Args:
        home: the warehouse directory.
        checked: validates a checkpoint just parsed and fills in what an older one lacks (raises when it
            cannot be read by this dnsvigil).
    """

    def __init__(self, home: Path, checked: Callable[[State], State]) -> None:
        self.checkpoint = home / "catalog.json"
        self._log = home / "catalog.log"
        self._checked = checked
        self._lock = threading.Lock()
        self._stamp: tuple[int, int, int] | None = None
        self._state: State = {}
        self._next = 0  # the sequence of the next entry to apply
        self._on_disk_format: object = CATALOG_FORMAT

    def read(self) -> State:
        """The catalog as committed now (or, racing a checkpoint, at a commit just before)."""
        with self._lock:
            return self._refreshed()

    def generation(self) -> tuple[object, ...]:
        """A value that changes whenever a commit changes the catalog (to tell when to read again)."""
        with self._lock:
            self._refreshed()
            return (self._stamp, self._next)

    def append(self, change: dict[str, Any]) -> State:
        """Commit `change` (see `apply_change`); the caller holds the warehouse's lock. Returns the new state.

        Raises:
            OSError: the entry cannot be written (nothing was committed).
        """
        with self._lock:
            state = self._refreshed()
            if self._on_disk_format != CATALOG_FORMAT:
                self._write_checkpoint(state)
            self._log.mkdir(exist_ok=True)
            write_json_atomically(self._entry(self._next), change)
            self._state = apply_change(state, change)
            self._next += 1
            listed = sum(len(table["files"]) for table in self._state["tables"].values())
            due = max(CHECKPOINT_ENTRIES, listed // FILES_PER_ENTRY_BETWEEN_CHECKPOINTS)
            if self._next - self._state["log_from"] >= due:
                # The commit stands with its entry written; a checkpoint that fails (a full disk) is tried
                # again by the next commit.
                with contextlib.suppress(OSError):
                    self._write_checkpoint(self._state)
            return self._state

    def create(self, state: State) -> None:
        """Write the first checkpoint of a new warehouse (the caller holds the warehouse's lock)."""
        with self._lock:
            write_json_atomically(self.checkpoint, state)

    def _entry(self, sequence: int) -> Path:
        return self._log / f"{sequence:012d}.json"

    def _refreshed(self) -> State:
        status = self.checkpoint.stat()
        stamp = (status.st_ino, status.st_mtime_ns, status.st_size)
        if stamp != self._stamp:
            state = _parsed(self.checkpoint)
            self._on_disk_format = state.get("format")
            state = self._checked(state)
            self._state, self._next, self._stamp = state, state["log_from"], stamp
        while True:
            try:
                change = _parsed(self._entry(self._next))
            except FileNotFoundError:
                return self._state  # no newer entry, or a checkpoint is folding them: seen next time
            self._state = apply_change(self._state, change)
            self._next += 1

    def _write_checkpoint(self, state: State) -> None:
        """Fold the log into a new checkpoint, then delete the entries it holds."""
        folded = {**state, "format": CATALOG_FORMAT, "log_from": self._next}
        write_json_atomically(self.checkpoint, folded)
        status = self.checkpoint.stat()
        self._state, self._stamp = folded, (status.st_ino, status.st_mtime_ns, status.st_size)
        self._on_disk_format = CATALOG_FORMAT
        if self._log.is_dir():
            for entry in self._log.iterdir():
                sequence = entry.name.removesuffix(".json")
                # Under the lock no entry is being written: a temporary file is a dead writer's.
                if (sequence.isdigit() and int(sequence) < self._next) or entry.name.endswith(".tmp"):
                    entry.unlink(missing_ok=True)
