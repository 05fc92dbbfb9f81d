"""Text lines built from numpy arrays, without a Python loop per line.

A line is a sequence of fields; each field is a `Field`: a padded byte matrix (one row per line) and the
length used in each row. `join_rows` lays the fields of every line end to end into one byte string; when
every field has one width for all lines (the zone writer groups its lines so) it is a plain `hstack`.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

Bytes2D = npt.NDArray[np.uint8]
Ints = npt.NDArray[np.int64]

LETTERS = np.frombuffer(b"abcdefghijklmnopqrstuvwxyz", np.uint8)
BASE36 = np.frombuffer(b"0123456789abcdefghijklmnopqrstuvwxyz", np.uint8)
HEX = np.frombuffer(b"0123456789abcdef", np.uint8)
DIGITS = np.frombuffer(b"0123456789", np.uint8)


@dataclass(frozen=True, slots=True)
class Field:
    """One field of `rows` lines: `matrix[row, :lengths[row]]` is its bytes in line `row`."""

    matrix: Bytes2D
    lengths: Ints

    @property
    def rows(self) -> int:
        return len(self.lengths)

    def uniform(self) -> bool:
        """Whether every line uses the whole width."""
        return bool(self.rows == 0 or (self.lengths == self.matrix.shape[1]).all())

    def take(self, index: Ints) -> Field:
        """The field of the lines `index`."""
        return Field(self.matrix[index], self.lengths[index])


def constant(text: bytes, rows: int) -> Field:
    """The same bytes in every line."""
    row = np.frombuffer(text, np.uint8)
    return Field(np.broadcast_to(row, (rows, len(row))), np.full(rows, len(row), np.int64))


def choice(texts: list[bytes], index: npt.NDArray[np.integer]) -> Field:
    """`texts[index[row]]` in line `row`."""
    width = max(len(text) for text in texts)
    table = np.zeros((len(texts), width), np.uint8)
    for number, text in enumerate(texts):
        table[number, : len(text)] = np.frombuffer(text, np.uint8)
    lengths = np.array([len(text) for text in texts], np.int64)
    return Field(table[index], lengths[index])


def fixed(matrix: Bytes2D) -> Field:
    """A field of one width in every line."""
    return Field(matrix, np.full(len(matrix), matrix.shape[1], np.int64))


def digits(values: npt.NDArray[np.integer], width: int | None = None) -> Field:
    """Non-negative integers in decimal: zero-padded to `width`, else without leading zeros."""
    values = np.asarray(values, np.int64)
    widest = max(1, len(str(int(values.max())))) if len(values) else 1
    places = width if width is not None else widest
    powers = 10 ** np.arange(places - 1, -1, -1, dtype=np.int64)
    matrix = DIGITS[(values[:, None] // powers) % 10]
    if width is not None:
        return fixed(matrix)
    used = np.maximum(1, np.floor(np.log10(np.maximum(values, 1))).astype(np.int64) + 1)
    # Right-aligned digits: shift each row left by its leading zeros.
    shift = places - used
    columns = (np.arange(places)[None, :] + shift[:, None]) % places
    return Field(np.take_along_axis(matrix, columns, axis=1), used)


def merge(parts: list[Field], which: npt.NDArray[np.integer]) -> Field:
    """One field from several: line `row` takes the next line of `parts[which[row]]`, in order."""
    width = max((part.matrix.shape[1] for part in parts), default=0)
    matrix = np.zeros((len(which), width), np.uint8)
    lengths = np.zeros(len(which), np.int64)
    for number, part in enumerate(parts):
        chosen = which == number
        if part.rows != int(chosen.sum()):
            raise ValueError(f"part {number} has {part.rows} lines for {int(chosen.sum())} places")
        matrix[chosen, : part.matrix.shape[1]] = part.matrix
        lengths[chosen] = part.lengths
    return Field(matrix, lengths)


def base36(values: npt.NDArray[np.integer], width: int) -> Field:
    """Non-negative integers in base 36 (0-9a-z), zero-padded to `width`."""
    rest = np.asarray(values, np.int64).astype(np.uint64)
    matrix = np.empty((len(rest), width), np.uint8)
    for column in range(width - 1, -1, -1):
        rest, digit = np.divmod(rest, np.uint64(36))
        matrix[:, column] = BASE36[digit]
    return fixed(matrix)


def timestamps(seconds: npt.NDArray[np.integer], form: str = "iso") -> Field:
    """Unix times as `YYYY-MM-DDTHH:MM:SSZ` (`iso`) or `YYYY-MM-DD HH:MM:SS` (`space`)."""
    text = np.datetime_as_string(np.asarray(seconds, "datetime64[s]"), unit="s").astype("S19")
    matrix = np.frombuffer(text.tobytes(), np.uint8).reshape(-1, 19).copy()
    if form == "iso":
        return fixed(np.hstack([matrix, np.full((len(matrix), 1), ord("Z"), np.uint8)]))
    matrix[:, 10] = ord(" ")
    return fixed(matrix)


def concat(fields: list[Field]) -> Field:
    """Several fields as one (their bytes end to end in each line)."""
    rows = fields[0].rows
    if all(field.uniform() for field in fields):
        return fixed(np.hstack([field.matrix for field in fields]) if rows else np.zeros((0, 0), np.uint8))
    return Field(_joined_matrix(fields), sum((field.lengths for field in fields), np.zeros(rows, np.int64)))


def _joined_matrix(fields: list[Field]) -> Bytes2D:
    rows = fields[0].rows
    lengths = sum((field.lengths for field in fields), np.zeros(rows, np.int64))
    width = int(lengths.max()) if rows else 0
    out = np.zeros((rows, width), np.uint8)
    flat = out.reshape(-1)
    position = np.arange(rows, dtype=np.int64) * width
    for field in fields:
        _scatter(flat, position, field)
        position = position + field.lengths
    return out


def _scatter(out: npt.NDArray[np.uint8], starts: Ints, field: Field) -> None:
    """Write each line's bytes of `field` at `out[starts[row]:]`."""
    width = field.matrix.shape[1]
    if width == 0 or field.rows == 0:
        return
    columns = np.arange(width, dtype=np.int64)
    if field.uniform():
        out[(starts[:, None] + columns).reshape(-1)] = np.ascontiguousarray(field.matrix).reshape(-1)
        return
    used = columns[None, :] < field.lengths[:, None]
    out[(starts[:, None] + columns)[used]] = field.matrix[used]


def join_rows(fields: list[Field]) -> bytes:
    """The lines whose fields are `fields`, end to end (put the newline in as a field).

    Lines come out grouped by layout (the lengths of their fields), not in their given order: within a
    group every field has one width, so a group is one `hstack` of slices, far faster than a scatter.
    """
    rows = fields[0].rows
    if rows == 0:
        return b""
    flags = [field.uniform() for field in fields]
    varying = [field for field, flag in zip(fields, flags, strict=True) if not flag]
    if not varying:
        return np.hstack([np.ascontiguousarray(field.matrix) for field in fields]).tobytes()
    key = np.zeros(rows, np.int64)
    for field in varying:
        key = key * (field.matrix.shape[1] + 1) + field.lengths
    order = np.argsort(key, kind="stable")
    bounds = np.flatnonzero(np.diff(key[order])) + 1
    pieces = []
    for group in np.split(order, bounds):
        first = group[0]
        pieces.append(
            np.hstack([
                field.matrix[group, : field.lengths[first]] if not flag else
                np.ascontiguousarray(field.matrix[: len(group)]) if field.matrix.strides[0] == 0 else
                field.matrix[group]
                for field, flag in zip(fields, flags, strict=True)
            ]).tobytes()
        )  # fmt: skip
    return b"".join(pieces)
