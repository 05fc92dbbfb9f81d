"""The dashboard in a real browser: Debian's Chromium, driven by Playwright, against `dnsvigil serve` on
loopback over the demo warehouse. Screenshots go to the test's temporary folder and are listed at the end."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from typing import Any

import httpx
import pytest
from playwright.sync_api import Browser, Page, expect, sync_playwright

from dnsvigil.web.i18n import Localizer
from tests.cli.runner import dnsvigil
from tests.web.conftest import SCREENSHOTS, WebWorld
from tests.web.test_serve import free_port

STARTUP_SECONDS = 20.0
TITLES = {
    "/": "Overview",
    "/traffic": "Traffic",
    "/abuse": "Registration abuse",
    "/login": "Log in",
    "/findings": "Findings",
    "/dga": "DGA",
    "/search": "Search",
}
"""Every page, and the catalog's msgid of its heading."""
PUBLIC = ("/", "/traffic", "/abuse", "/login")
Shoot = Callable[[Page, str], None]


@pytest.fixture(scope="module")
def site(world: WebWorld, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """The base URL of a `dnsvigil serve` process, ended whatever the tests do."""
    port = free_port()
    environment = {key: value for key, value in os.environ.items() if not key.startswith("DNSVIGIL_")}
    log = tmp_path_factory.mktemp("serve") / "serve.log"
    with log.open("wb") as sink:
        server = subprocess.Popen(
            [sys.executable, "-m", "dnsvigil", "serve", "--home", str(world.home), "--port", str(port), "-q"],
            env=environment,
            stdout=sink,
            stderr=subprocess.STDOUT,
        )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + STARTUP_SECONDS
        while True:
            assert server.poll() is None, log.read_text()
            try:
                if httpx.get(f"{base}/api/v1/health", timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                assert time.monotonic() < deadline, f"no answer within {STARTUP_SECONDS} s"
                time.sleep(0.1)
        yield base
    finally:
        server.terminate()
        try:
            server.wait(timeout=10)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait()


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    """Debian's Chromium (never a browser Playwright downloads); a missing one fails the tests."""
    executable = shutil.which("chromium")
    assert executable, "these tests need Debian's chromium (apt-get install chromium)"
    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=executable)
        try:
            yield launched
        finally:
            launched.close()


@pytest.fixture
def page(browser: Browser, site: str) -> Iterator[Page]:
    context = browser.new_context(base_url=site, viewport={"width": 1280, "height": 900})
    try:
        yield context.new_page()
    finally:
        context.close()


@pytest.fixture(scope="module")
def shoot(tmp_path_factory: pytest.TempPathFactory, request: pytest.FixtureRequest) -> Shoot:
    """Save a full-page screenshot under the tests' temporary folder; the paths are listed at the end."""
    folder = tmp_path_factory.mktemp("screenshots")
    taken = request.config.stash.setdefault(SCREENSHOTS, [])

    def take(page: Page, name: str) -> None:
        path = folder / f"{name}.png"
        page.screenshot(path=str(path), full_page=True)
        assert path.stat().st_size > 1000
        taken.append(path)

    return take


def _log_in(page: Page, token: str) -> None:
    page.goto("/login")
    page.get_by_label("API token").fill(token)
    page.locator("form.login").get_by_role("button").click()
    page.wait_for_url("**/")


def _api(site: str, path: str, token: str) -> Any:
    response = httpx.get(site + path, headers={"Authorization": f"Bearer {token}"}, timeout=30)
    assert response.status_code == 200, response.text
    return response.json()


@pytest.mark.parametrize("language", ["en", "ar", "zh"])
def test_every_page_in_english_arabic_and_chinese(
    page: Page, world: WebWorld, shoot: Shoot, language: str
) -> None:
    words = Localizer(language)
    _log_in(page, world.analyst_token)
    for path, title in TITLES.items():
        page.goto(f"{path}?lang={language}")
        html = page.locator("html")
        expect(html).to_have_attribute("lang", language)
        expect(html).to_have_attribute("dir", words.direction)
        expect(page.locator("h1")).to_have_text(words.gettext(title))
        shoot(page, f"{language}-{path.strip('/') or 'overview'}")
    page.goto("/traffic")  # the cookie the switcher set keeps the language
    expect(page.locator("html")).to_have_attribute("lang", language)
    brand = page.locator("a.brand").bounding_box()
    assert brand is not None and (brand["x"] > 640) == (language == "ar"), "Arabic mirrors the layout"


def test_charts_are_drawn_and_named(page: Page, shoot: Shoot) -> None:
    page.goto("/traffic?lang=fr")
    figures = page.locator("figure.chart")
    expect(figures).to_have_count(5)
    expect(page.locator("figure.chart .js-plotly-plot")).to_have_count(5)  # plotly.min.js ran
    for index in range(5):
        label = figures.nth(index).locator("[role=img]").get_attribute("aria-label")
        assert label and label == figures.nth(index).locator("figcaption").inner_text()
    page.goto("/abuse")
    expect(page.locator("#chart-rates.js-plotly-plot")).to_have_count(1)
    shoot(page, "fr-abuse-chart")


def test_login_with_a_token_from_users_add(page: Page, world: WebWorld, shoot: Shoot) -> None:
    run = dnsvigil("users", "add", "browser-user", "--home", world.home, "-q")
    assert run.exit_code == 0, run.stderr
    page.goto("/findings")
    page.wait_for_url("**/login?next=%2Ffindings")
    page.get_by_label("API token").fill("dv_not_a_token")
    page.locator("form.login").get_by_role("button").click()
    expect(page.locator("#login-failed")).to_be_visible()
    page.get_by_label("API token").fill(run.stdout.strip())
    shoot(page, "en-login-token")
    page.locator("form.login").get_by_role("button").click()
    page.wait_for_url("**/findings")
    expect(page.locator("header .who")).to_contain_text("browser-user")
    page.get_by_role("button", name="Log out").click()
    page.wait_for_url("**/")
    expect(page.locator("header .who a")).to_have_text("Log in")
    assert dnsvigil("users", "remove", "browser-user", "--home", world.home, "-q").exit_code == 0


def test_the_findings_filters_show_what_the_api_lists(
    page: Page, site: str, world: WebWorld, shoot: Shoot
) -> None:
    _log_in(page, world.analyst_token)
    page.goto("/findings")
    page.get_by_label("Code").select_option("DGA.INFECTED_CLIENT")
    page.get_by_label("Lowest severity").select_option("high")
    page.get_by_role("button", name="Filter").click()
    page.wait_for_url("**/findings?code=DGA.INFECTED_CLIENT&severity=high*")
    expected = _api(
        site, "/api/v1/findings?code=DGA.INFECTED_CLIENT&min_severity=high&limit=25", world.analyst_token
    )
    subjects = page.locator("td.subject").all_inner_texts()
    assert subjects == [item["subject"] for item in expected["items"]] and subjects
    shoot(page, "en-findings-filtered")
    page.locator("tbody a").first.click()
    first = expected["items"][0]
    expect(page.locator("h1")).to_have_text(first["code"])
    expect(page.locator("#evidence tr")).to_have_count(len(first["evidence"]))
    expect(page.locator("#references a")).to_have_count(len(first["references"]))
    shoot(page, "en-finding-detail")


def test_search_shows_what_the_api_knows(page: Page, site: str, world: WebWorld, shoot: Shoot) -> None:
    client = _api(site, "/api/v1/findings?code=DGA.INFECTED_CLIENT&limit=1", world.analyst_token)["items"][0]
    _log_in(page, world.analyst_token)
    page.goto("/search?lang=es")
    page.get_by_label(Localizer("es").gettext("Domain, IP address or registrar")).fill(client["subject"])
    page.keyboard.press("Enter")
    page.wait_for_url("**/search?q=*")
    expected = _api(site, f"/api/v1/search?q={client['subject']}", world.analyst_token)
    shown = [link.split("/")[-1] for link in page.locator("tbody a").evaluate_all("l => l.map(a => a.href)")]
    assert shown == [finding["finding_id"] for finding in expected["findings"]] and shown
    expect(page.locator("#search-subject")).to_contain_text(expected["subject"])
    shoot(page, "es-search")


def test_the_dga_form_scores_names(page: Page, world: WebWorld) -> None:
    _log_in(page, world.analyst_token)
    page.goto("/dga")
    page.get_by_label("Domain names, one per line").fill("wikipedia.org\nqxvzkjhtrwpl.com")
    page.get_by_role("button", name="Score", exact=True).click()
    expect(page.locator("#verdicts tbody tr")).to_have_count(2)


def test_keyboard_and_phone_width(browser: Browser, site: str, shoot: Shoot) -> None:
    context = browser.new_context(base_url=site, viewport={"width": 375, "height": 740}, is_mobile=True)
    try:
        page = context.new_page()
        for path in PUBLIC:
            page.goto(path)
            overflow = page.evaluate("document.documentElement.scrollWidth - window.innerWidth")
            assert overflow <= 0, f"{path} scrolls sideways on a phone by {overflow} px"
        page.goto("/")
        page.keyboard.press("Tab")
        skip = page.locator(":focus")
        expect(skip).to_have_text("Skip to content")
        assert skip.evaluate("e => getComputedStyle(e).outlineStyle") != "none"
        page.keyboard.press("Enter")
        assert page.evaluate("document.activeElement.id") == "main"
        page.keyboard.press("Tab")
        assert page.evaluate("document.activeElement.tagName") in ("A", "INPUT", "BUTTON")
        shoot(page, "en-phone-overview")
    finally:
        context.close()
