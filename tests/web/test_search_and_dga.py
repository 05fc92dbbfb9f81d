"""`/api/v1/search` and `/api/v1/dga/scores`: what they find agrees with the warehouse and the model, and
text that can be no domain, address or registrar is refused, never searched."""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from dnsvigil.dga.model import load_model
from dnsvigil.store.engine import DuckDBEngine
from tests.web.conftest import Api, WebWorld, error_of


def found(api: Api, world: WebWorld, query: str) -> dict:
    response = api.get(f"/api/v1/search?{query}", token=world.analyst_token)
    assert response.status_code == 200, response.text
    body: dict = response.json()
    return body


def test_a_listed_domain(api: Api, world: WebWorld, stored: DuckDBEngine) -> None:
    (listed,) = stored.arrow(
        "SELECT l.domain FROM abuse_listings l JOIN registrations r USING (domain) ORDER BY l.domain LIMIT 1"
    ).to_pylist()
    domain = listed["domain"]
    body = found(api, world, f"q={domain.upper()}.")
    assert (body["kind"], body["subject"]) == ("domain", domain)
    registrars = stored.arrow(
        "SELECT DISTINCT registrar_iana_id FROM registrations WHERE domain = ?", [domain]
    )
    assert {r["registrar_iana_id"] for r in body["registrations"]} == set(registrars.column(0).to_pylist())
    threats = stored.arrow("SELECT DISTINCT threat::VARCHAR FROM abuse_listings WHERE domain = ?", [domain])
    assert {row["threat"] for row in body["abuse_listings"]} == set(threats.column(0).to_pylist())
    assert body["registrations"][0]["registrar_name"]


def test_a_domain_in_the_traffic(api: Api, world: WebWorld, stored: DuckDBEngine) -> None:
    body = found(api, world, "q=lndirxqxbeg.com")
    assert {f["code"] for f in body["findings"]} >= {"DGA.DOMAIN"}
    (row,) = stored.arrow(
        "SELECT count(*) AS n FROM dns_messages WHERE NOT qr AND (qname = 'lndirxqxbeg.com'"
        " OR qname LIKE '%.lndirxqxbeg.com')"
    ).to_pylist()
    assert body["traffic"]["queries"] == row["n"] > 0
    assert found(api, world, "q=www.bücher.com")["subject"] == "www.xn--bcher-kva.com"


def test_an_address(api: Api, world: WebWorld, stored: DuckDBEngine) -> None:
    body = found(api, world, "q=192.0.2.25")
    assert body["kind"] == "ip"
    codes = {(f["code"], f["subject"]) for f in body["findings"]}
    assert ("DGA.INFECTED_CLIENT", "192.0.2.25") in codes and any(code == "DGA.DOMAIN" for code, _ in codes)
    (row,) = stored.arrow(
        "SELECT count(*) AS n FROM dns_messages WHERE NOT qr AND src_addr = '192.0.2.25'"
    ).to_pylist()
    assert body["traffic"]["queries_sent"] == row["n"] > 0 and len(body["traffic"]["top_names"]) <= 50
    assert (
        found(api, world, "q=2001:DB8:0:20:14C4:B4FD:528:80B8")["subject"]
        == "2001:db8:0:20:14c4:b4fd:528:80b8"
    )


def test_a_registrar_by_name_and_by_id(api: Api, world: WebWorld, stored: DuckDBEngine) -> None:
    (flagged,) = stored.arrow(
        "SELECT g.iana_id, g.name FROM registrars g JOIN findings f ON f.subject = g.iana_id::VARCHAR"
        " WHERE f.code = 'ABUSE.DISPROPORTIONATE' ORDER BY g.iana_id LIMIT 1"
    ).to_pylist()
    iana_id, name = flagged["iana_id"], flagged["name"]
    by_name = found(api, world, f"q={name.split()[0].lower()}")
    assert by_name["kind"] == "registrar" and iana_id in [r["iana_id"] for r in by_name["registrars"]]
    by_id = found(api, world, f"q={iana_id}")
    assert [r["iana_id"] for r in by_id["registrars"]] == [iana_id]
    codes = stored.arrow("SELECT DISTINCT code FROM findings WHERE subject = ?", [str(iana_id)])
    assert {f["code"] for f in by_id["findings"]} == set(codes.column(0).to_pylist())
    assert {r["entity"] for r in by_id["abuse_rates"]} == {str(iana_id)} and by_id["registrars"][0][
        "domains_seen"
    ] > 0
    assert found(api, world, "q=Aurora.Names")["kind"] == "domain"
    forced = found(api, world, "q=Aurora.Names&kind=registrar")
    assert (forced["kind"], forced["registrars"]) == ("registrar", [])


@pytest.mark.parametrize(
    "text",
    [
        "' OR 1=1 --",
        "x'; DROP TABLE findings; --",
        "admin'--",
        '"; SELECT * FROM users',
        "1 UNION SELECT token_hash FROM users",  # reads as a registrar name: harmless, finds nothing
        "/*comment*/",
        "%",
        "<script>alert(1)</script>",
        "a\x00b",
        "x" * 254,
        "",
    ],
)
def test_sql_and_other_strange_text(api: Api, world: WebWorld, text: str) -> None:
    response = api.get("/api/v1/search", params={"q": text}, token=world.analyst_token)
    if "UNION" in text:
        body = response.json()
        assert body["kind"] == "registrar" and body["registrars"] == body["findings"] == []
    else:
        assert error_of(response, 400)["code"] in ("invalid_query", "invalid_parameter")


def test_digits_that_are_no_number_name_no_registrar(api: Api, world: WebWorld) -> None:
    body = found(api, world, "q=%C2%B2")  # '²' is a digit to str.isdigit, but no IANA id
    assert (body["kind"], body["registrars"]) == ("registrar", [])


def test_kinds_are_checked(api: Api, world: WebWorld) -> None:
    error_of(api.get("/api/v1/search?q=example.com&kind=ip", token=world.analyst_token), 400)
    error_of(api.get("/api/v1/search?q=bad..name&kind=domain", token=world.analyst_token), 400)
    error_of(api.get("/api/v1/search?q=example.com&kind=planet", token=world.analyst_token), 400)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(text=st.text(max_size=40))
def test_any_text_gets_an_answer_or_a_clear_refusal(api: Api, world: WebWorld, text: str) -> None:
    response = api.get("/api/v1/search", params={"q": text}, token=world.analyst_token)
    assert response.status_code in (200, 400), response.text
    if response.status_code == 400:
        error_of(response, 400)


def test_dga_scores_are_the_model_verdicts(api: Api, world: WebWorld) -> None:
    names = ["google.com", "lndirxqxbeg.com", "www.bücher.de", "4.3.2.1.in-addr.arpa", "not a name"]
    body = api.post("/api/v1/dga/scores", json={"names": names}, token=world.analyst_token).json()
    model = load_model()
    assert body["threshold"] == model.info.threshold
    assert [v["name"] for v in body["verdicts"]] == names
    for verdict, expected in zip(body["verdicts"], model.score_names(names), strict=True):
        if verdict["rejected"] is None:
            assert (verdict["score"], verdict["is_dga"], verdict["family"]) == (
                pytest.approx(expected.score),
                expected.is_dga,
                expected.family,
            )
        else:
            assert verdict["score"] is None and verdict["rejected"] == expected.reason
    assert body["verdicts"][1]["is_dga"] and not body["verdicts"][0]["is_dga"]
    assert body["verdicts"][3]["rejected"]


def test_dga_scores_bad_input(api: Api, world: WebWorld) -> None:
    token = world.analyst_token
    for body in (
        {"names": []},
        {"names": ["a.com"] * 1001},
        {"names": "a.com"},
        {"names": ["x" * 1025]},
        {"other": 1},
    ):
        error_of(api.post("/api/v1/dga/scores", json=body, token=token), 400)
    error_of(
        api.post(
            "/api/v1/dga/scores",
            content=b"{not json",
            token=token,
            headers={"content-type": "application/json"},
        ),
        400,
    )
