"""Registration-abuse findings in words: one sentence each, for the command line and the report alike."""

from __future__ import annotations

from collections.abc import Mapping

from dnsvigil.abuse.disproportion import DISPROPORTIONATE
from dnsvigil.findings import Finding


def labelled(entity: str, name: str | None) -> str:
    """`Name (entity)` when the entity has a name of its own, else the entity alone."""
    return f"{name} ({entity})" if name and name != entity else entity


def finding_subject(finding: Finding) -> str:
    """Who the finding is about, named as its evidence names it."""
    evidence = finding.evidence
    return labelled(finding.subject, evidence.get("registrar_name") or evidence.get("entity_name"))


def finding_evidence(finding: Finding, names: Mapping[str, str]) -> str:
    """What the finding measured: shares, the test's p-value, and where the registrations went or came from.

    Args:
        finding: an `ABUSE.DISPROPORTIONATE` or a flocking finding.
        names: registrar names by IANA ID, for the registrars a flock moved between.
    """
    evidence = finding.evidence
    p_value = f"p = {evidence['p_value']:.2g}"
    if finding.code == DISPROPORTIONATE.code:
        return (
            f"{evidence['malicious']:,} of {evidence['malicious_total']:,} malicious registrations "
            f"({evidence['malicious_share']:.1%}) against {evidence['managed_share']:.1%} of domains under "
            f"management: {evidence['ratio']} times its share; {p_value}"
        )
    falling = evidence["direction"] == "fall"
    before = f"{evidence['previous_share']:.1%} in {evidence['previous_month']}"
    sentence = (
        f"{'fell' if falling else 'rose'} from {before} to {evidence['share']:.1%} of malicious "
        f"registrations; {p_value}"
    )
    moves = evidence.get("went_to") or evidence.get("came_from") or []
    if not moves:
        return sentence
    entity_type = finding.subject_type.value
    others = ", ".join(
        f"{labelled(move[entity_type], names.get(move[entity_type]))} ({move['share']:.1%})" for move in moves
    )
    return f"{sentence}; {'went to' if falling else 'came from'} {others}"
