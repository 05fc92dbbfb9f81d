"""A trained model on disk: named arrays and a JSON header in one `.npz`, never pickle.

`numpy.savez` stamps each member with the current time, so two trainings with one seed would differ in
bytes; this writer fixes the timestamps and the member order, which makes `make model` reproducible to
the byte. Arrays are read back with `allow_pickle=False`: loading a model cannot run code.
"""

from __future__ import annotations

import io
import json
import zipfile
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from dnsvigil.errors import InputError
from dnsvigil.outputs import write_atomically

_HEADER = "header.json"
_EPOCH = (1980, 1, 1, 0, 0, 0)  # the earliest time a zip member can carry


def write_artifact(path: Path, header: Mapping[str, Any], arrays: Mapping[str, npt.NDArray[Any]]) -> None:
    """Write `header` (JSON-serialisable) and `arrays` to `path`, byte-identical for identical inputs."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr(_member(_HEADER), json.dumps(header, sort_keys=True, indent=1), compresslevel=9)
        for name in sorted(arrays):
            member = io.BytesIO()
            np.lib.format.write_array(member, np.ascontiguousarray(arrays[name]), allow_pickle=False)
            archive.writestr(_member(f"{name}.npy"), member.getvalue(), compresslevel=9)
    write_atomically(path, buffer.getvalue(), what="the DGA model")


def read_artifact(path: Path) -> tuple[dict[str, Any], dict[str, npt.NDArray[Any]]]:
    """The header and arrays written by `write_artifact`.

    Raises:
        InputError: the file is missing or is not such an artifact.
    """
    try:
        with zipfile.ZipFile(path) as archive:
            header = json.loads(archive.read(_HEADER))
            arrays = {
                name.removesuffix(".npy"): np.lib.format.read_array(
                    io.BytesIO(archive.read(name)), allow_pickle=False
                )
                for name in archive.namelist()
                if name != _HEADER
            }
    except FileNotFoundError:
        raise InputError(f"{path}: no such model file", hint="run `make model` to train it") from None
    except (OSError, KeyError, ValueError, zipfile.BadZipFile) as error:
        raise InputError(
            f"{path}: not a dnsvigil DGA model ({error})", hint="retrain it with `make model`"
        ) from None
    if not isinstance(header, dict):
        raise InputError(
            f"{path}: the model header is not a JSON object", hint="retrain it with `make model`"
        )
    return header, arrays


def _member(name: str) -> zipfile.ZipInfo:
    info = zipfile.ZipInfo(name, date_time=_EPOCH)
    info.compress_type = zipfile.ZIP_DEFLATED
    info.external_attr = 0o644 << 16
    return info
