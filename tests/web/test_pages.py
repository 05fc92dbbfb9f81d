"""The dashboard pages in process: who may see what, logging in by form, and what pages show against the
API's JSON (the browser tests drive the same pages in Chromium)."""

from __future__ import annotations

import re
from html import unescape

import pytest

from dnsvigil.web.i18n import Localizer
from tests.web.conftest import Api, WebWorld, error_of

PUBLIC_PAGES = ("/", "/traffic", "/abuse", "/login")
ANALYST_PAGES = ("/findings", "/dga", "/search")


def _text(html: str, element_id: str) -> str:
    match = re.search(rf'id="{element_id}"[^>]*>(.*?)</', html, re.S)
    assert match, f"no element #{element_id}"
    return unescape(match.group(1)).strip()


def _login(client: Api, token: str) -> None:
    response = client.post("/login", data={"token": token, "next": "/findings"})
    assert response.status_code == 303 and response.headers["location"] == "/findings"


@pytest.mark.parametrize("path", PUBLIC_PAGES)
def test_public_pages_need_no_login(api: Api, path: str) -> None:
    response = api.get(path)
    assert response.status_code == 200 and response.headers["content-type"].startswith("text/html")
    assert '<meta name="viewport"' in response.text and 'href="#main"' in response.text
    assert response.headers["cache-control"] == "no-store"


@pytest.mark.parametrize("path", [*ANALYST_PAGES, "/findings/anything"])
def test_other_pages_send_anonymous_visitors_to_the_login_page(api: Api, path: str) -> None:
    response = api.get(path + "?lang=fr")
    assert response.status_code == 303
    assert response.headers["location"] == f"/login?next={path.replace('/', '%2F')}%3Flang%3Dfr"


def test_public_pages_hide_findings_from_visitors(api: Api, fresh_api: Api, world: WebWorld) -> None:
    overview = api.get("/").text
    assert "/findings/" not in overview and "192.0.2." not in overview
    assert "Log in to see findings." in overview
    _login(fresh_api, world.analyst_token)
    assert "/findings/" in fresh_api.get("/").text


def test_the_login_form_opens_a_session_and_logout_ends_it(fresh_api: Api, world: WebWorld) -> None:
    refused = fresh_api.post("/login", data={"token": "dv_wrong", "next": "/dga"})
    assert refused.status_code == 401 and 'id="login-failed"' in refused.text
    _login(fresh_api, world.analyst_token)
    assert fresh_api.get("/dga").status_code == 200
    assert fresh_api.get("/api/v1/session").json()["user"] == "analyst-user"
    assert fresh_api.post("/logout", data={}).status_code == 303
    assert fresh_api.get("/dga").status_code == 303


def test_login_goes_back_only_to_this_site(fresh_api: Api, world: WebWorld) -> None:
    for target in ("https://evil.example/", "//evil.example/", "/\\evil.example"):
        response = fresh_api.post("/login", data={"token": world.analyst_token, "next": target})
        assert response.headers["location"] == "/"


def test_forms_from_other_sites_are_refused(fresh_api: Api, world: WebWorld) -> None:
    response = fresh_api.post(
        "/login", data={"token": world.analyst_token}, headers={"Origin": "https://evil.example"}
    )
    assert error_of(response, 403)["code"] == "forbidden" and "set-cookie" not in response.headers


def test_the_overview_counts_what_the_api_counts(api: Api) -> None:
    page = api.get("/?lang=en").text
    traffic = api.get("/api/v1/traffic/overview").json()
    summary = api.get("/api/v1/findings/summary").json()["counts"]
    words = Localizer("en")
    assert _text(page, "messages") == words.number(traffic["messages"])
    assert _text(page, "findings-total") == words.number(sum(row["findings"] for row in summary))


def test_arabic_pages_run_right_to_left(api: Api) -> None:
    page = api.get("/traffic?lang=ar").text
    assert '<html lang="ar" dir="rtl">' in page and "<h1>الحركة</h1>" in page


def test_the_findings_page_filters_and_pages_like_the_api(fresh_api: Api, world: WebWorld) -> None:
    _login(fresh_api, world.analyst_token)
    page = fresh_api.get("/findings?code=DGA.DOMAIN&severity=high").text
    expected = fresh_api.get("/api/v1/findings?code=DGA.DOMAIN&min_severity=high&limit=25").json()["items"]
    shown = re.findall(r'href="/findings/([0-9a-f]+)"', page)
    assert shown == [item["finding_id"] for item in expected] and shown
    first = fresh_api.get("/findings").text
    next_href = unescape(re.search(r'href="([^"]+)" rel="next"', first).group(1))  # type: ignore[union-attr]
    second = fresh_api.get(next_href).text
    assert not set(re.findall(r'href="/findings/([0-9a-f]+)"', second)) & set(
        re.findall(r'href="/findings/([0-9a-f]+)"', first)
    )
    error_of(fresh_api.get("/findings?severity=dreadful"), 400)


def test_a_finding_shows_its_evidence_and_references(fresh_api: Api, world: WebWorld) -> None:
    _login(fresh_api, world.analyst_token)
    (item,) = fresh_api.get("/api/v1/findings?code=DGA.INFECTED_CLIENT&limit=1").json()["items"]
    page = fresh_api.get(f"/findings/{item['finding_id']}").text
    assert _text(page, "subject") == item["subject"]
    for key in item["evidence"]:
        assert f"<code>{key}</code>" in page
    for reference in item["references"]:
        assert f'href="{reference}"' in page
    assert error_of(fresh_api.get("/findings/0000"), 404)["code"] == "not_found"


def test_the_dga_form_scores_names_with_the_api_model(fresh_api: Api, world: WebWorld) -> None:
    _login(fresh_api, world.analyst_token)
    names = ["wikipedia.org", "xkqzjvwpqhrtl.com"]
    page = fresh_api.post("/dga", data={"names": "\n".join(names)})
    verdicts = fresh_api.post("/api/v1/dga/scores", json={"names": names}).json()["verdicts"]
    assert page.status_code == 200 and 'id="verdicts"' in page.text
    for verdict in verdicts:
        assert Localizer("en").number(verdict["score"], 3) in page.text
    error_of(fresh_api.post("/dga", data={"names": " "}), 400)


def test_the_search_page_refuses_what_the_api_refuses(fresh_api: Api, world: WebWorld) -> None:
    _login(fresh_api, world.analyst_token)
    refused = fresh_api.get("/search?q=x'%3B%20DROP%20TABLE%20findings--")
    assert refused.status_code == 400 and 'id="search-problem"' in refused.text


def test_the_abuse_page_shows_the_stored_rates(api: Api) -> None:
    page = api.get("/abuse?period_kind=month&entity_type=registrar&denominator=dum&threat=phishing").text
    latest = api.get(
        "/api/v1/abuse/rates?period_kind=month&entity_type=registrar&denominator=dum&threat=phishing&limit=1000"
    ).json()["items"]
    month = max(row["period_start"] for row in latest)
    rows = [row for row in latest if row["period_start"] == month]
    table = page.split('id="rates"')[1].split("</table>")[0]
    assert table.count("<tr>") == len(rows) + 1 and rows
    for row in rows:
        assert Localizer("en").number(row["rate_per_10k"], 2) in table
    assert 'id="shifts"' not in page
    error_of(api.get("/abuse?threat=gossip"), 400)


def test_the_style_sheet_is_served_from_the_package(api: Api) -> None:
    response = api.get("/static/dashboard.css")
    assert response.status_code == 200 and response.headers["content-type"].startswith("text/css")
    assert ":focus-visible" in response.text and "inset-inline-start" in response.text
