"""ABUSE.DISPROPORTIONATE fires on a planted registrar and not on proportional ones."""

from __future__ import annotations

from scipy.stats import binom  # type: ignore[import-untyped]

from dnsvigil.abuse.disproportion import DisproportionSettings, find_disproportionate
from dnsvigil.abuse.sources import Window
from tests.abuse.tables import AbuseRunner, dum, listing, registrar, registration

JANUARY = Window.from_text("2024-01")


def world(counts: dict[int, int], managed: dict[int, int], *, legitimate: int = 0) -> AbuseRunner:
    """`counts[r]` phishing domains sponsored by registrar r; the first `legitimate` of 1068's are marked
    abused-legitimate by their feed."""
    listings, registrations = [], []
    for iana_id, count in counts.items():
        for index in range(count):
            name = f"r{iana_id}-{index}.com"
            flag = True if iana_id == 1068 and index < legitimate else None
            listings.append(listing(name, abused_legitimate=flag))
            registrations.append(registration(name, iana_id))
    return AbuseRunner(
        listings=listings,
        registrations=registrations,
        registrars=[registrar(iana_id, f"Registrar {iana_id}") for iana_id in managed],
        dums=[dum("com", iana_id, total) for iana_id, total in managed.items()],
    )


def test_fires_on_a_registrar_with_a_sliver_of_domains_and_much_of_the_abuse() -> None:
    # 146 holds 99.5 % of the domains and 20 malicious ones; 1068 holds 0.5 % and 30.
    findings = find_disproportionate(
        world({146: 20, 1068: 30}, {146: 199_000, 1068: 1_000}), JANUARY, DisproportionSettings()
    )
    assert [finding.subject for finding in findings] == ["1068"]
    evidence = findings[0].evidence
    assert (evidence["malicious"], evidence["malicious_total"], evidence["registrars_tested"]) == (30, 50, 2)
    assert evidence["managed_share"] == 0.005 and evidence["ratio"] == 120.0
    assert evidence["p_value"] == float(binom.sf(29, 50, 0.005))
    assert evidence["registrar_name"] == "Registrar 1068" and findings[0].severity.name == "HIGH"
    assert findings[0].first_seen.isoformat() == "2024-01-01T00:00:00+00:00"


def test_silent_when_abuse_follows_the_domains() -> None:
    findings = find_disproportionate(
        world({146: 60, 1068: 40, 1: 500}, {146: 6000, 1068: 4000, 1: 1}), JANUARY, DisproportionSettings()
    )
    assert findings == []  # 1 is no real registrar: neither tested nor counted


def test_minimum_size_ratio_and_abused_legitimate_domains() -> None:
    managed = {146: 199_000, 1068: 1_000}
    assert find_disproportionate(world({146: 20, 1068: 9}, managed), JANUARY, DisproportionSettings()) == []
    # Significant but small: 1068 has 2 % of the domains and 5 % of the abuse (ratio 2.5 < 3).
    managed_larger = {146: 98_000, 1068: 2_000}
    assert (
        find_disproportionate(world({146: 1900, 1068: 100}, managed_larger), JANUARY, DisproportionSettings())
        == []
    )
    # Compromised domains (abused legitimate) do not count as malicious registrations.
    assert (
        find_disproportionate(
            world({146: 20, 1068: 30}, managed, legitimate=25), JANUARY, DisproportionSettings()
        )
        == []
    )
