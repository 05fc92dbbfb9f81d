"""RSSAC002 documents as YAML files, laid out and quoted the way root server operators publish them.

One document a file, at `<out>/YYYY/MM/<metric>/<label>-YYYYMMDD-<metric>.yaml`, beginning with `---`,
keys in the published order: `version`, `service`, `start-period`, `metric`, then the metric's own keys.
Quoting follows A-root's rssac002v5 files: `start-period` is a quoted string (unquoted it would read as a
timestamp), RCODE keys are quoted strings (`'0': 42`), size bins are plain (`16-31: 7`), and an empty
histogram or RCODE map is written `{}`.

The file label of `<x>.root-servers.net` is `<x>-root`, as published. Any other service name gives its
labels joined by hyphens (`ns1.example.net` -> `ns1-example-net`): the first label alone would give two
services one file name (`a.nic.fr` and `a.nic.de`).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import fields
from datetime import UTC, date, datetime, time
from pathlib import Path, PurePosixPath

import yaml

from dnsvigil.errors import InputError, UsageError
from dnsvigil.outputs import write_atomically
from dnsvigil.traffic.rssac002 import (
    BIN_WIDTH,
    REQUEST_OPEN_BIN,
    RESPONSE_OPEN_BIN,
    Metric,
    MetricBody,
    MetricDocument,
    RcodeVolume,
    SizeHistogram,
    TrafficSizes,
    TrafficVolume,
    UniqueSources,
)

_ROOT_SERVICE = re.compile(r"([a-m])\.root-servers\.net")
_HEADER_KEYS = ("version", "service", "start-period", "metric")
_BODY_TYPES: dict[Metric, type[TrafficVolume | TrafficSizes | UniqueSources]] = {
    Metric.TRAFFIC_VOLUME: TrafficVolume,
    Metric.TRAFFIC_SIZES: TrafficSizes,
    Metric.UNIQUE_SOURCES: UniqueSources,
}


def bin_label(start: int, open_bin: int) -> str:
    """A size bin's published name: `0-15`, `16-31`, ..., or `288-` / `4096-` for the open last bin."""
    return f"{start}-" if start == open_bin else f"{start}-{start + BIN_WIDTH - 1}"


def bin_start(label: str) -> int:
    """The start of the size bin a published name stands for; raise ValueError when it names none."""
    match = re.fullmatch(r"(\d+)-(\d*)", label)
    if match is None or int(match[1]) % BIN_WIDTH:
        raise ValueError(f"{label!r} is not a 16-byte size bin such as '16-31' or '288-'")
    if match[2] and int(match[2]) != int(match[1]) + BIN_WIDTH - 1:
        raise ValueError(f"{label!r} is not a 16-byte size bin such as '16-31' or '288-'")
    return int(match[1])


def file_label(service: str) -> str:
    """The file-name label of a service: `a.root-servers.net` -> `a-root`, `ns1.ex.net` -> `ns1-ex-net`.

    Case and a trailing dot do not matter, as `MetricDocument` normalises them away.
    """
    name = service.lower().rstrip(".")
    root = _ROOT_SERVICE.fullmatch(name)
    return f"{root[1]}-root" if root else name.replace(".", "-")


def document_path(document: MetricDocument) -> PurePosixPath:
    """Where the document lies under an output folder: `YYYY/MM/<metric>/<label>-YYYYMMDD-<metric>.yaml`."""
    day, metric = document.day, document.metric.value
    name = f"{file_label(document.service)}-{day:%Y%m%d}-{metric}.yaml"
    return PurePosixPath(f"{day:%Y}", f"{day:%m}", metric, name)


def document_to_mapping(document: MetricDocument) -> dict[str, object]:
    """The document as the ordered mapping its YAML file holds (what `yaml.safe_load` gives back)."""
    mapping: dict[str, object] = {
        "version": document.version,
        "service": document.service,
        "start-period": document.start_period,
        "metric": document.metric.value,
    }
    body = document.body
    if isinstance(body, RcodeVolume):
        mapping.update((str(rcode), count) for rcode, count in body.counts)
        return mapping
    for spec in fields(body):
        value = getattr(body, spec.name)
        if isinstance(value, SizeHistogram):
            value = {bin_label(start, value.open_bin): count for start, count in value.bins}
        mapping[spec.name.replace("_", "-")] = value
    return mapping


def document_to_yaml(document: MetricDocument) -> str:
    """The document as YAML text, exactly as it is written to its file."""
    return yaml.safe_dump(
        document_to_mapping(document),
        explicit_start=True,
        sort_keys=False,
        default_flow_style=False,
        width=1 << 16,
    )


def document_from_yaml(text: str, *, source: str = "<text>") -> MetricDocument:
    """Read one RSSAC002 traffic document (ours or an operator's, v3 to v5) back into a value.

    Raises:
        InputError: the text is not YAML, or not a traffic-volume, traffic-sizes, rcode-volume or
            unique-sources document with the keys and counts RSSAC002 defines; the message names `source`.
    """
    try:
        loaded = yaml.safe_load(text)
    except yaml.YAMLError as error:
        raise InputError(f"{source}: not YAML ({error})", hint="give an RSSAC002 YAML file") from error
    if not isinstance(loaded, dict):
        raise InputError(f"{source}: not a YAML mapping", hint="give an RSSAC002 YAML file")
    try:
        return document_from_mapping(loaded)
    except (ValueError, TypeError) as error:
        raise InputError(f"{source}: {error}", hint="check the file against RSSAC002v5") from error


def document_from_mapping(mapping: Mapping[object, object]) -> MetricDocument:
    """The document a loaded YAML mapping holds; raise ValueError naming the first key that is wrong."""
    missing = [key for key in _HEADER_KEYS if key not in mapping]
    if missing:
        raise ValueError(f"missing key(s) {', '.join(missing)}")
    metric_name = mapping["metric"]
    if metric_name not in {metric.value for metric in Metric}:
        raise ValueError(f"metric {metric_name!r} is not one of {', '.join(m.value for m in Metric)}")
    metric = Metric(str(metric_name))
    entries = {key: value for key, value in mapping.items() if key not in _HEADER_KEYS}
    body: MetricBody
    if metric is Metric.RCODE_VOLUME:
        body = RcodeVolume(tuple(sorted((_rcode(key), _count(key, value)) for key, value in entries.items())))
    else:
        body_type = _BODY_TYPES[metric]
        expected = {spec.name.replace("_", "-"): spec.name for spec in fields(body_type)}
        unknown = sorted(str(key) for key in entries.keys() - expected.keys())
        absent = sorted(expected.keys() - entries.keys())
        if unknown or absent:
            raise ValueError(f"{metric.value}: unknown key(s) {unknown}, missing key(s) {absent}")
        values = {name: _body_value(key, entries[key]) for key, name in expected.items()}
        body = body_type(**values)  # type: ignore[arg-type]
    return MetricDocument(
        service=str(mapping["service"]),
        day=_start_day(mapping["start-period"]),
        body=body,
        version=str(mapping["version"]),
    )


def _body_value(key: str, value: object) -> int | SizeHistogram:
    if not key.endswith("-sizes"):
        return _count(key, value)
    if not isinstance(value, dict):
        raise ValueError(f"{key} must be a mapping of size bins, not {value!r}")
    open_bin = REQUEST_OPEN_BIN if "request" in key else RESPONSE_OPEN_BIN
    bins = sorted((bin_start(str(label)), _count(f"{key}.{label}", count)) for label, count in value.items())
    return SizeHistogram(open_bin, tuple(bins))


def _count(key: object, value: object) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise ValueError(f"{key} must be a count (a non-negative integer), not {value!r}")
    return value


def _rcode(key: object) -> int:
    if isinstance(key, int) and not isinstance(key, bool):
        return key
    if isinstance(key, str) and key.isdigit():
        return int(key)
    raise ValueError(f"rcode-volume key {key!r} is not an RCODE number")


def _start_day(value: object) -> date:
    """The day a `start-period` opens: quoted text or a YAML timestamp, at midnight UTC."""
    if isinstance(value, str):
        try:
            value = datetime.fromisoformat(value.replace("Z", "+00:00"))
        except ValueError:
            raise ValueError(f"start-period {value!r} is not a timestamp") from None
    if not isinstance(value, datetime):
        raise ValueError(f"start-period {value!r} is not a timestamp")
    moment = value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)
    if moment.timetz() != time(0, tzinfo=UTC):
        raise ValueError(f"start-period {value} is not midnight UTC; RSSAC002 documents cover whole days")
    return moment.date()


def write_documents(documents: Iterable[MetricDocument], out_dir: Path) -> list[Path]:
    """Write each document to its file under `out_dir`, atomically, replacing an older file.

    Each file is written to a temporary file in its own folder and renamed over the target, so a reader
    never sees half a file and a crash leaves the previous version.

    Returns:
        The paths written, in the order of `documents`.

    Raises:
        UsageError: two documents would share one file (same label, day and metric).
        OutputError: a folder or file cannot be written.
    """
    targets: dict[Path, MetricDocument] = {}
    for document in documents:
        target = out_dir / document_path(document)
        if target in targets:
            raise UsageError(
                f"two documents would both be written to {target}",
                hint="give each service a distinct name and each day once",
            )
        targets[target] = document
    for target, document in targets.items():
        write_atomically(target, document_to_yaml(document), what="the RSSAC002 document")
    return list(targets)
