"""Abuse rates on hand-made tables: known counts, denominators, intervals, ranking, exclusions, bad input."""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any

import pyarrow as pa
import pytest

from dnsvigil.abuse.intervals import poisson, wilson
from dnsvigil.abuse.rates import RateSettings, compute_rates
from dnsvigil.abuse.sources import Window, find_window, latest_registrations
from dnsvigil.errors import DnsvigilError, UsageError
from dnsvigil.store.schema import ABUSE_RATES
from tests.abuse.tables import AbuseRunner, dum, listing, registrar, registration, utc, zone

NOW = datetime(2024, 2, 1, tzinfo=UTC)
JANUARY = Window.from_text("2024-01")
ANY_SIZE = RateSettings(min_population=1)


def world() -> AbuseRunner:
    """.com: 40 delegated domains on 2024-01-10 and 2 listed ones missed by the snapshot; registrar 146
    (900 domains under management) sponsors a.com, b.com, c.com; 1068 (100) sponsors d.com; 9999 (not a real
    registrar) sponsors e.com. a.com is listed twice (two feeds), also for spam; e.com for malware."""
    zone_rows = [zone(f"z{i}.com") for i in range(38)] + [zone("a.com"), zone("b.com")]
    listings = [
        listing("a.com"),
        listing("a.com", feed="f2"),
        listing("a.com", threat="spam"),
        listing("b.com"),
        listing("c.com", observed=date(2024, 1, 11)),
        listing("d.com", threat="spam"),
        listing("e.com", threat="malware"),
        listing("x.blogspot.com", private_suffix=True),
        listing("late.com", observed=date(2024, 2, 3)),
    ]
    registrations = [
        registration("a.com", 146, created=utc(2024, 1, 10)),
        registration("b.com", 146),
        registration("c.com", 146, created=utc(2024, 1, 5)),
        registration("d.com", 1068),
        registration("e.com", 9999, created=utc(2024, 1, 9)),
        registration("new.com", 1068, created=utc(2024, 1, 20)),
    ]
    dums = [dum("com", 146, 900), dum("com", 1068, 100), dum("com", 9999, 50)]
    return AbuseRunner(
        listings=listings,
        zones=zone_rows,
        registrations=registrations,
        registrars=[registrar(146, "GoDaddy"), registrar(1068, "NameCheap")],
        dums=dums,
    )


def rates(runner: AbuseRunner, settings: RateSettings = ANY_SIZE) -> list[dict[str, Any]]:
    table = compute_rates(runner, JANUARY, settings, computed_at=NOW)
    assert table.schema.equals(ABUSE_RATES.schema)
    rows: list[dict[str, Any]] = table.to_pylist()
    return rows


def pick(rows: list[dict[str, Any]], **key: Any) -> dict[str, Any]:
    found = [row for row in rows if all(row[name] == value for name, value in key.items())]
    assert len(found) == 1, (key, found)
    return found[0]


def test_month_rates_count_each_domain_once_and_know_their_denominators() -> None:
    rows = rates(world())
    month = {"period_kind": "month", "period_start": date(2024, 1, 1)}
    # Zone: 40 delegated, plus c.com, d.com, e.com listed but not in the snapshot.
    phishing_zone = pick(
        rows, **month, entity_type="tld", entity="com", denominator="zone", threat="phishing"
    )
    assert (phishing_zone["abused"], phishing_zone["population"]) == (3, 43)
    assert phishing_zone["rate_per_10k"] == pytest.approx(10_000 * 3 / 43)
    low, high = wilson([3], [43])
    assert (phishing_zone["low_per_10k"], phishing_zone["high_per_10k"]) == (
        pytest.approx(10_000 * low[0]),
        pytest.approx(10_000 * high[0]),
    )
    assert phishing_zone["interval"] == "wilson"
    security = pick(rows, **month, entity_type="tld", entity="com", denominator="zone", threat="security")
    assert security["abused"] == 4  # a, b, c phishing and e malware; spam of a.com and d.com left out
    spam = pick(rows, **month, entity_type="tld", entity="com", denominator="zone", threat="spam")
    assert spam["abused"] == 2
    # Domains under management: all 1,050 of the TLD; registrar 146's 900 and its three phishing domains.
    tld_dum = pick(rows, **month, entity_type="tld", entity="com", denominator="dum", threat="phishing")
    assert (tld_dum["abused"], tld_dum["population"], tld_dum["interval"]) == (3, 1050, "poisson")
    godaddy = pick(rows, **month, entity_type="registrar", entity="146", denominator="dum", threat="phishing")
    assert (godaddy["abused"], godaddy["population"], godaddy["entity_name"]) == (3, 900, "GoDaddy")
    low, high = poisson([3], [900])
    assert godaddy["high_per_10k"] == pytest.approx(10_000 * high[0])
    namecheap = pick(
        rows, **month, entity_type="registrar", entity="1068", denominator="dum", threat="phishing"
    )
    assert (namecheap["abused"], namecheap["rate_per_10k"], namecheap["low_per_10k"]) == (0, 0.0, 0.0)
    assert namecheap["high_per_10k"] > 0
    # 9999 is not a real registrar: never a row of its own, though its domains count for the TLD.
    assert not [row for row in rows if row["entity"] == "9999"]
    # New registrations of January: a.com, c.com (146), e.com (9999), new.com (1068); of them a.com and c.com
    # were listed in January for phishing.
    new_tld = pick(
        rows, **month, entity_type="tld", entity="com", denominator="new_registrations", threat="phishing"
    )
    assert (new_tld["abused"], new_tld["population"]) == (2, 4)
    new_146 = pick(
        rows,
        **month,
        entity_type="registrar",
        entity="146",
        denominator="new_registrations",
        threat="phishing",
    )
    assert (new_146["abused"], new_146["population"]) == (2, 2)


def test_day_rates_use_the_days_own_listings() -> None:
    rows = rates(world())
    day10 = pick(
        rows,
        period_kind="day",
        period_start=date(2024, 1, 10),
        entity_type="registrar",
        entity="146",
        denominator="dum",
        threat="phishing",
    )
    day11 = pick(
        rows,
        period_kind="day",
        period_start=date(2024, 1, 11),
        entity_type="registrar",
        entity="146",
        denominator="dum",
        threat="phishing",
    )
    assert (day10["abused"], day11["abused"]) == (2, 1)
    # No zone snapshot on the 11th: no zone rate that day.
    assert not [r for r in rows if r["period_start"] == date(2024, 1, 11) and r["denominator"] == "zone"]


def test_small_entities_are_listed_but_not_ranked() -> None:
    rows = rates(world(), RateSettings(min_population=500))
    key = {"period_kind": "month", "denominator": "dum", "threat": "phishing", "entity_type": "registrar"}
    godaddy, namecheap = pick(rows, **key, entity="146"), pick(rows, **key, entity="1068")
    assert (godaddy["ranked"], godaddy["rank"]) == (True, 1)
    assert (namecheap["ranked"], namecheap["rank"]) == (False, None)
    ranked = rates(world(), RateSettings(min_population=1))
    assert pick(ranked, **key, entity="1068")["rank"] == 2


def test_registrars_marked_not_real_in_the_registrar_list_are_left_out() -> None:
    runner = world()
    runner.connection.unregister("registrars")
    runner.connection.register(
        "registrars",
        AbuseRunner(registrars=[registrar(1068, "Reserved thing", real=False)]).arrow(
            "SELECT * FROM registrars"
        ),
    )
    rows = rates(runner)
    assert {row["entity"] for row in rows if row["entity_type"] == "registrar"} == {"146"}


def test_no_listings_or_a_period_without_data_is_a_clear_error() -> None:
    with pytest.raises(DnsvigilError, match="no abuse listings in the warehouse"):
        find_window(AbuseRunner(), None)
    with pytest.raises(
        DnsvigilError, match=r"no abuse listings in 2023-06: .* from 2024-01-10 to 2024-02-03"
    ):
        find_window(world(), "2023-06")
    with pytest.raises(UsageError, match="YYYY-MM"):
        find_window(world(), "January")
    assert find_window(world(), None) == Window(date(2024, 1, 1), date(2024, 3, 1))


def test_listings_without_any_denominator_give_no_rates() -> None:
    runner = AbuseRunner(listings=[listing("a.com")])
    assert compute_rates(runner, JANUARY, RateSettings(), computed_at=NOW).num_rows == 0


def test_a_month_counts_a_domain_of_several_snapshots_once() -> None:
    # .com snapshots on the 10th (a, b, c) and the 20th (b, c, d); x.com, listed on the 20th, is in neither.
    zones = [zone(name, date(2024, 1, 10)) for name in ("a.com", "b.com", "c.com")]
    zones += [zone(name, date(2024, 1, 20)) for name in ("b.com", "c.com", "d.com")]
    listings = [listing("b.com"), listing("x.com", observed=date(2024, 1, 20))]
    rows = rates(AbuseRunner(listings=listings, zones=zones))
    populations = {
        (row["period_kind"], row["period_start"]): row["population"]
        for row in rows
        if row["denominator"] == "zone" and row["threat"] == "phishing"
    }
    assert populations == {
        ("month", date(2024, 1, 1)): 5,  # a, b, c, d and the missed x
        ("day", date(2024, 1, 10)): 3,
        ("day", date(2024, 1, 20)): 4,  # b, c, d and x
    }


def test_rates_read_the_latest_registrations_they_are_given() -> None:
    runner = world()
    registered = latest_registrations(runner)
    assert sorted(registered.column("domain").to_pylist()) == [
        "a.com",
        "b.com",
        "c.com",
        "d.com",
        "e.com",
        "new.com",
    ]
    assert compute_rates(runner, JANUARY, ANY_SIZE, computed_at=NOW, registered=registered) == compute_rates(
        runner, JANUARY, ANY_SIZE, computed_at=NOW
    )
    spam = {"period_kind": "month", "entity_type": "registrar", "denominator": "dum", "threat": "spam"}
    assert pick(rates(runner), **spam, entity="146")["abused"] == 1  # a.com
    # Given a table in which d.com (listed for spam) is 146's, the rates follow it, not the registrations.
    domains, registrars = (registered.column(name).to_pylist() for name in ("domain", "registrar"))
    registrars = [
        146 if domain == "d.com" else number for domain, number in zip(domains, registrars, strict=True)
    ]
    moved = registered.set_column(
        registered.schema.get_field_index("registrar"),
        "registrar",
        pa.array(registrars, registered.schema.field("registrar").type),
    )
    rows = compute_rates(runner, JANUARY, ANY_SIZE, computed_at=NOW, registered=moved).to_pylist()
    assert pick(rows, **spam, entity="146")["abused"] == 2
    assert pick(rows, **spam, entity="1068")["abused"] == 0
