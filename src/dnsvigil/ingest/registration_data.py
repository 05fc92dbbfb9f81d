"""Read registration data into `registrations`: RDAP domain responses and a plain CSV.

RDAP (RFC 9083), one JSON response a line: the domain's `ldhName`, its `status`, its `events`
(registration, expiration, last changed, and "last update of RDAP database" as the time of observation), its
`nameservers`, and the entity with role `registrar`: the IANA ID is its `publicIds` entry of type
"IANA Registrar ID", its name the vCard `fn`, and the abuse contact the `email` of the entity with role
`abuse` nested inside it. The CSV is `domain,registrar_iana_id,created,expires,status` (header optional,
statuses separated by `|`, `;` or `,`, EPP or RDAP spelling).
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import date, datetime
from pathlib import Path
from typing import Any

from dnsvigil.ingest.field_values import (
    HOLD_STATUSES,
    SkippedLineError,
    parse_count,
    parse_time,
    rdap_status,
    registered_domain,
    start_of,
    tld_of,
)
from dnsvigil.ingest.pipeline import source_id_of
from dnsvigil.ingest.registration_csv import csv_rows
from dnsvigil.ingest.table_ingest import LineTally, Record, Rows, Source, batched, tallied
from dnsvigil.ingest.text_lines import numbered_lines
from dnsvigil.store.schema import REGISTRATIONS

RDAP_FORMAT = "RDAP domain responses (RFC 9083 JSON), one per line"
_IANA_ID_TYPE = "iana registrar id"


def registration_source(path: Path, *, fmt: str, observed: date) -> Source:
    """The `registrations` source of an RDAP (`fmt` "rdap") or CSV ("csv") file observed on `observed`."""
    day = observed.isoformat()

    def read_rdap(tally: LineTally) -> Iterator[Rows]:
        def records() -> Iterator[tuple[Record | None, int]]:
            for number, text, consumed in numbered_lines(path):
                record = tallied(lambda line: _rdap_record(line, observed), number, text, tally)
                if record is not None:
                    record["source_file"] = str(path)
                yield record, consumed

        return batched(records(), REGISTRATIONS.schema, day)

    def read_csv(tally: LineTally) -> Iterator[Rows]:
        return csv_rows(path, tally, observed)

    source_id = source_id_of(path, f"registrations-{fmt}:{day}")
    return Source(
        path=path,
        table=REGISTRATIONS.name,
        source_id=source_id,
        read=read_rdap if fmt == "rdap" else read_csv,
    )


def _rdap_record(text: str, observed: date) -> Record:
    try:
        response = json.loads(text)
    except ValueError:
        raise ValueError("bad_json") from None
    if not isinstance(response, dict):
        raise ValueError("not_a_domain_object")
    if response.get("objectClassName") != "domain":
        # An RDAP error response (RFC 9083 section 6) is an answer, not damage: the domain was not found.
        if "errorCode" in response:
            raise SkippedLineError("rdap_error_response")
        raise ValueError("not_a_domain_object")
    name = response.get("ldhName") or response.get("unicodeName")
    if not isinstance(name, str):
        raise ValueError("missing_domain")
    domain = registered_domain(name)
    events = _events(response.get("events"))
    statuses = [rdap_status(status) for status in _strings(response.get("status"))]
    registrar = _registrar(response.get("entities"))
    return {
        "observed": events.get("last update of rdap database") or start_of(observed),
        "domain": domain,
        "tld": tld_of(domain),
        "registrar_iana_id": _iana_id(registrar),
        "registrar_name": _vcard(registrar, "fn"),
        "created": events.get("registration"),
        "expires": events.get("expiration"),
        "updated": events.get("last changed"),
        "status": statuses,
        "on_hold": any(status in HOLD_STATUSES for status in statuses),
        "nameservers": _nameservers(response.get("nameservers")),
        "abuse_email": _vcard(_role(_list(registrar.get("entities")) if registrar else [], "abuse"), "email"),
        "source_format": "rdap",
    }


def _list(value: object) -> list[Any]:
    return value if isinstance(value, list) else []


def _strings(value: object) -> list[str]:
    return [item for item in _list(value) if isinstance(item, str)]


def _events(value: object) -> dict[str, datetime | None]:
    events: dict[str, datetime | None] = {}
    for event in _list(value):
        if isinstance(event, dict) and isinstance(event.get("eventAction"), str):
            moment = event.get("eventDate")
            events.setdefault(
                event["eventAction"].lower(), parse_time(moment if isinstance(moment, str) else "")
            )
    return events


def _role(entities: list[Any], role: str) -> dict[str, Any] | None:
    for entity in entities:
        if isinstance(entity, dict) and role in _strings(entity.get("roles")):
            return entity
    return None


def _registrar(entities: object) -> dict[str, Any] | None:
    return _role(_list(entities), "registrar")


def _iana_id(registrar: dict[str, Any] | None) -> int | None:
    if registrar is None:
        return None
    for public_id in _list(registrar.get("publicIds")):
        if isinstance(public_id, dict) and str(public_id.get("type", "")).lower() == _IANA_ID_TYPE:
            return parse_count(str(public_id.get("identifier", "")), "bad_registrar_id")
    return None


def _vcard(entity: dict[str, Any] | None, property_name: str) -> str | None:
    """The first text value of a vCard property (jCard, RFC 7095) of an entity."""
    if entity is None:
        return None
    card = _list(entity.get("vcardArray"))
    for item in _list(card[1]) if len(card) == 2 else []:
        if (
            isinstance(item, list)
            and len(item) >= 4
            and item[0] == property_name
            and isinstance(item[3], str)
        ):
            return item[3].strip() or None
    return None


def _nameservers(value: object) -> list[str]:
    names = []
    for server in _list(value):
        name = server.get("ldhName") if isinstance(server, dict) else None
        if isinstance(name, str) and name.strip():
            names.append(name.strip().rstrip(".").lower())
    return names
