"""Flocking: planted moves of abusers between registrars and TLDs are found, dated and traced; stable
shares raise nothing."""

from __future__ import annotations

import random
from datetime import date

from scipy.stats import fisher_exact  # type: ignore[import-untyped]

from dnsvigil.abuse.flocking import ShiftSettings, find_flocking
from dnsvigil.abuse.sources import Window
from tests.abuse.tables import AbuseRunner, listing, registrar, registration, utc

FEBRUARY = Window.from_text("2024-02")


def world(
    months: dict[tuple[int, int], dict[tuple[int, str], int]], servers: dict[int, str], *, batch: int = 1
) -> AbuseRunner:
    """`months[(year, month)][(registrar, tld)]` malicious domains created that month, in batches of `batch`
    (same day and name servers); registrar r's domains use the name server `servers[r]`. A domain of
    registrar 10 created in February is listed as an abused legitimate one (compromised, not malicious)."""
    listings = [listing("shop.com", abused_legitimate=True)]
    registrations = [registration("shop.com", 10, created=utc(2024, 2, 3))]
    for (year, month), cells in months.items():
        for (iana_id, tld), count in cells.items():
            for index in range(count):
                name = f"m{year}{month:02}-r{iana_id}-{index}.{tld}"
                listings.append(listing(name, observed=date(2024, 3, 1), threat="malware"))
                registrations.append(
                    registration(
                        name,
                        iana_id,
                        created=utc(year, month, 1 + index // batch % 28),
                        nameservers=[servers[iana_id], f"ns{index // batch // 28}.r{iana_id}.example"],
                    )
                )
    return AbuseRunner(
        listings=listings,
        registrations=registrations,
        registrars=[registrar(iana_id, f"Registrar {iana_id}") for iana_id in servers],
    )


MOVED = {
    (2024, 1): {(10, "com"): 60, (20, "com"): 30, (30, "com"): 10},
    (2024, 2): {(10, "com"): 5, (20, "com"): 35, (30, "com"): 60},
}
SERVERS = {10: "ns1.bulletproof.example", 20: "ns.other.example", 30: "ns1.bulletproof.example"}


def test_a_move_between_registrars_is_dated_directed_and_traced() -> None:
    flocking = find_flocking(world(MOVED, SERVERS), FEBRUARY, ShiftSettings())
    shifts = {(f.subject, f.evidence["direction"]): f for f in flocking.findings}
    assert set(shifts) == {("10", "fall"), ("30", "rise")}
    fall = shifts["10", "fall"]
    assert fall.code == "ABUSE.REGISTRAR_SHIFT" and fall.evidence["month"] == "2024-02"
    assert fall.first_seen.isoformat() == "2024-02-01T00:00:00+00:00"
    assert fall.last_seen.isoformat() == "2024-02-29T23:59:59+00:00"
    assert (fall.evidence["previous_share"], fall.evidence["share"]) == (0.6, 0.05)
    assert fall.evidence["p_value"] == float(fisher_exact([[5, 95], [60, 40]])[1])
    assert fall.evidence["entities_tested"] == 3 and fall.evidence["entity_name"] == "Registrar 10"
    # 10 lost 0.55; 30 gained 0.50 and 20 gained 0.05: the loss is split 10:1, and 30's new domains use
    # the name server 10's domains used in January.
    went_to = fall.evidence["went_to"]
    assert [flow["registrar"] for flow in went_to] == ["30", "20"]
    assert went_to[0]["share"] == 0.5 and went_to[0]["linked_domains"] == 60
    assert went_to[1]["linked_domains"] == 0
    assert shifts["30", "rise"].evidence["came_from"][0]["registrar"] == "10"
    assert shifts["30", "rise"].severity.name == "HIGH"


def test_the_shares_table_holds_every_month_of_the_window() -> None:
    shares = find_flocking(world(MOVED, SERVERS), FEBRUARY, ShiftSettings()).shares
    rows = [row for row in shares.to_pylist() if row["entity_type"] == "registrar"]
    assert {(row["entity"], row["malicious"], row["share"]) for row in rows} == {
        ("10", 5, 0.05),
        ("20", 35, 0.35),
        ("30", 60, 0.6),
    }
    assert {row["month"] for row in shares.to_pylist()} == {date(2024, 2, 1)}
    assert all(row["month_total"] == 100 for row in rows)  # the compromised shop.com is not counted


def test_a_move_between_tlds_is_a_tld_shift() -> None:
    months = {
        (2024, 1): {(10, "com"): 50, (20, "com"): 50},
        (2024, 2): {(10, "com"): 25, (20, "com"): 25, (10, "xyz"): 25, (20, "xyz"): 25},
    }
    findings = find_flocking(world(months, SERVERS), FEBRUARY, ShiftSettings()).findings
    tld_shifts = [(f.subject, f.evidence["direction"]) for f in findings if f.code == "ABUSE.TLD_SHIFT"]
    assert sorted(tld_shifts) == [("com", "fall"), ("xyz", "rise")]
    assert not [f for f in findings if f.code == "ABUSE.REGISTRAR_SHIFT"]


def test_small_or_insignificant_changes_raise_nothing() -> None:
    small = {(2024, 1): {(10, "com"): 3, (20, "com"): 1}, (2024, 2): {(10, "com"): 0, (20, "com"): 4}}
    assert find_flocking(world(small, SERVERS), FEBRUARY, ShiftSettings()).findings == ()
    # Significant (thousands of registrations) but only 2 points of share: below min_change.
    slight = {
        (2024, 1): {(10, "com"): 5000, (20, "com"): 5000},
        (2024, 2): {(10, "com"): 5200, (20, "com"): 4800},
    }
    assert find_flocking(world(slight, SERVERS), FEBRUARY, ShiftSettings()).findings == ()
    assert find_flocking(world(slight, SERVERS), FEBRUARY, ShiftSettings(min_change=0.01)).findings


def test_a_change_made_of_a_few_large_batches_is_not_a_shift() -> None:
    # The same counts as the planted move, but registered in batches of 20: 3 and 1 batches of registrar
    # 10, out of 5 and 5 batches a month, are no evidence of a move.
    flocking = find_flocking(world(MOVED, SERVERS, batch=20), FEBRUARY, ShiftSettings())
    assert flocking.findings == ()
    rows = {row["entity"]: row for row in flocking.shares.to_pylist() if row["entity_type"] == "registrar"}
    assert (rows["10"]["malicious"], rows["10"]["batches"]) == (5, 1)
    assert (rows["30"]["malicious"], rows["30"]["batches"]) == (60, 3)


def test_stable_shares_drawn_at_random_raise_no_shift_in_a_year() -> None:
    chooser = random.Random(7)
    months = {}
    for month in range(1, 13):
        drawn = chooser.choices([10, 20, 30], weights=[0.5, 0.3, 0.2], k=400)
        months[2024, month] = {(iana_id, "com"): drawn.count(iana_id) for iana_id in (10, 20, 30)}
    year = Window(date(2024, 2, 1), date(2025, 1, 1))
    flocking = find_flocking(world(months, SERVERS), year, ShiftSettings(min_change=0.01))
    assert flocking.findings == ()
    assert len({row["month"] for row in flocking.shares.to_pylist()}) == 11


def test_registrations_of_no_real_registrar_are_left_out() -> None:
    months = {(2024, 1): {(20, "com"): 50, (1, "com"): 0}, (2024, 2): {(20, "com"): 50, (1, "com"): 200}}
    flocking = find_flocking(world(months, {**SERVERS, 1: "ns.registry.example"}), FEBRUARY, ShiftSettings())
    assert [f.subject for f in flocking.findings if f.code == "ABUSE.REGISTRAR_SHIFT"] == []
    assert {row["entity"] for row in flocking.shares.to_pylist() if row["entity_type"] == "registrar"} == {
        "20"
    }
