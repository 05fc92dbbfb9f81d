"""The registration-abuse page: rates with their intervals and how concentrated abuse is (open data, from
the `abuse_rates` table), and for analysts the shifts of abuse between registrars and TLDs (findings)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta
from typing import Annotated, Any

from fastapi import APIRouter, Query
from fastapi.responses import HTMLResponse

from dnsvigil.abuse.concentration import Concentration
from dnsvigil.abuse.sources import PERIOD_KINDS, THREAT_GROUPS
from dnsvigil.web.context import Data
from dnsvigil.web.errors import bad_parameter
from dnsvigil.web.i18n import N_
from dnsvigil.web.pages import charts
from dnsvigil.web.pages.view import PageView
from dnsvigil.web.queries import FindingFilter, RateFilter, list_findings, list_rates, rate_periods

router = APIRouter(include_in_schema=False)

ENTITY_TYPES = {"registrar": N_("registrars"), "tld": N_("TLDs")}
DENOMINATORS = {
    "dum": N_("domains under management"),
    "zone": N_("zone size"),
    "new_registrations": N_("new registrations"),
}
PERIOD_NAMES = {"month": N_("month"), "day": N_("day")}
SHIFT_CODES = ("ABUSE.REGISTRAR_SHIFT", "ABUSE.TLD_SHIFT")
MAX_ENTITIES = 1000
SHOWN_FINDINGS = 50
Choice = Annotated[str | None, Query(max_length=32)]


def _choice(name: str, value: str | None, allowed: tuple[str, ...]) -> str:
    if value is None or value == "":
        return allowed[0]
    if value not in allowed:
        raise bad_parameter(name, f"{name} must be one of {', '.join(allowed)}")
    return value


@dataclass(frozen=True, slots=True)
class Shift:
    """A shift finding as the page shows it: whose share of malicious registrations moved, from what to
    what, and the estimated flows (`came_from` or `went_to`, the other entity, the share that moved)."""

    finding_id: str
    code: str
    month: str
    entity: str
    previous_share: float | None
    share: float | None
    flows: tuple[tuple[str, str, float], ...]

    @classmethod
    def of(cls, finding: dict[str, Any]) -> Shift:
        """The shift a `ABUSE.*_SHIFT` finding (as `list_findings` gives it) describes."""
        evidence = finding["evidence"]
        flows = tuple(
            (direction, str(flow.get("registrar") or flow.get("tld")), float(flow["share"]))
            for direction in ("came_from", "went_to")
            for flow in evidence.get(direction, [])
        )
        return cls(
            finding["finding_id"],
            finding["code"],
            str(evidence.get("month", "")),
            str(evidence.get("entity_name") or finding["subject"]),
            evidence.get("previous_share"),
            evidence.get("share"),
            flows,
        )


@router.get("/abuse", response_class=HTMLResponse)
def abuse_page(
    view: PageView,
    data: Data,
    period_kind: Choice = None,
    entity_type: Choice = None,
    denominator: Choice = None,
    threat: Choice = None,
    period: Choice = None,
) -> HTMLResponse:
    """One period's abuse rates of one threat per registrar or TLD, and their concentration."""
    chosen_kind = _choice("period_kind", period_kind, tuple(reversed(PERIOD_KINDS)))
    chosen_type = _choice("entity_type", entity_type, tuple(ENTITY_TYPES))
    chosen_denominator = _choice("denominator", denominator, tuple(DENOMINATORS))
    chosen_threat = _choice("threat", threat, ("phishing", *(t for t in THREAT_GROUPS if t != "phishing")))
    periods = rate_periods(data, "month" if chosen_kind == "month" else "day")
    start: date | None = periods[0] if periods else None
    if period:
        try:
            start = date.fromisoformat(period)
        except ValueError:
            raise bad_parameter("period", "period must be a day (YYYY-MM-DD)") from None
    rows: list[dict[str, Any]] = []
    if start is not None:
        where = RateFilter(
            period_kind="month" if chosen_kind == "month" else "day",
            entity_type=chosen_type,
            denominator=chosen_denominator,
            threat=chosen_threat,
            since=start,
            until=start + timedelta(days=1),
        )
        rows = list_rates(data, where, limit=MAX_ENTITIES, cursor=None).rows
    concentration = Concentration.of({row["entity_name"] or row["entity"]: row["abused"] for row in rows})
    ranked = [row for row in rows if row["ranked"]]
    shifts = []
    if view.analyst:
        found = list_findings(data, FindingFilter(codes=SHIFT_CODES), limit=SHOWN_FINDINGS, cursor=None)
        shifts = [Shift.of(finding) for finding in found.rows]
    return view.render(
        "abuse.html",
        choices={
            "period_kind": chosen_kind,
            "entity_type": chosen_type,
            "denominator": chosen_denominator,
            "threat": chosen_threat,
        },
        start=start,
        periods=periods,
        threats=THREAT_GROUPS,
        entity_types=ENTITY_TYPES,
        denominators=DENOMINATORS,
        period_names=PERIOD_NAMES,
        rows=rows,
        concentration=concentration,
        chart=charts.interval_chart(ranked, "chart-rates", view.words.gettext) if ranked else None,
        shifts=shifts,
    )
