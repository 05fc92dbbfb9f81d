"""The dashboard's languages: complete catalogs, the choice of language, and locale-aware numbers."""

from __future__ import annotations

from datetime import UTC, datetime
from importlib import resources
from pathlib import Path

import pytest
from babel.messages.extract import extract_from_dir
from babel.messages.pofile import read_po

from dnsvigil.web.errors import ApiError
from dnsvigil.web.i18n import LANGUAGES, Localizer, catalog_path, negotiate, translations
from tests.web.conftest import Api, error_of

WEB = Path(str(resources.files("dnsvigil.web")))


def _msgids() -> set[str]:
    """Every string the web package marks for translation, found the way Babel's `extract` finds them."""
    found = extract_from_dir(
        str(WEB),
        method_map=[("**.py", "python"), ("**/templates/**.html", "jinja2.ext:babel_extract")],
        options_map={"**/templates/**.html": {"trim_blocks": "true", "lstrip_blocks": "true"}},
    )
    return {message for _, _, message, _, _ in found if isinstance(message, str)}


def test_the_extraction_finds_the_dashboard_strings() -> None:
    msgids = _msgids()
    assert {"Overview", "Skip to content", "Log in", "queries", "high"} <= msgids
    assert len(msgids) > 100


@pytest.mark.parametrize("language", LANGUAGES)
def test_every_catalog_translates_every_string(language: str) -> None:
    with (WEB / catalog_path(language)).open("rb") as source:
        catalog = read_po(source, locale=language)
    translated = {message.id: message.string for message in catalog if message.id}
    missing = _msgids() - set(translated)
    assert not missing, f"{language} lacks {sorted(missing)}"
    empty = sorted(msgid for msgid, text in translated.items() if not text)
    assert not empty, f"{language} leaves {empty} untranslated"
    assert not [message.id for message in catalog if message.id and message.fuzzy]
    if language != "en":
        assert translations(language).gettext("Overview") not in ("", "Overview")


def test_the_language_comes_from_the_parameter_then_the_cookie_then_the_browser() -> None:
    assert negotiate("fr", "ru", "es") == "fr"
    assert negotiate(None, "ru", "es") == "ru"
    assert negotiate(None, "xx", "de-DE, zh-CN;q=0.8, ar;q=0.9") == "ar"
    assert negotiate(None, None, "de, xx;q=0.9") == "en"
    assert negotiate(None, None, "ar;q=0, fr;q=0.1") == "fr"
    assert negotiate(None, None, None) == "en"
    with pytest.raises(ApiError) as refused:
        negotiate("de", None, None)
    assert refused.value.status == 400 and refused.value.detail == {"parameter": "lang"}


def test_an_unknown_language_asked_by_name_is_a_400(api: Api) -> None:
    error = error_of(api.get("/?lang=klingon"), 400)
    assert error["detail"] == {"parameter": "lang"} and "ar, zh, en, fr, ru, es" in error["message"]
    fallback = api.get("/traffic", headers={"Accept-Language": "tlh, de;q=0.5"})
    assert fallback.status_code == 200 and fallback.headers["content-language"] == "en"


def test_the_switcher_remembers_the_language_in_a_cookie(fresh_api: Api) -> None:
    chosen = fresh_api.get("/traffic?lang=ru")
    assert "dnsvigil_lang=ru" in chosen.headers["set-cookie"]
    later = fresh_api.get("/abuse", headers={"Accept-Language": "fr"})
    assert later.headers["content-language"] == "ru" and '<html lang="ru" dir="ltr">' in later.text


def test_numbers_and_dates_follow_the_locale() -> None:
    moment = datetime(2026, 11, 2, 13, 5, tzinfo=UTC)
    assert Localizer("en").number(1234567) == "1,234,567"
    assert Localizer("fr").number(1234567).replace("\u202f", " ") == "1 234 567"
    assert Localizer("es").number(1234.5, 1) == "1.234,5"
    assert Localizer("ru").number(1234567).replace("\xa0", " ") == "1 234 567"
    assert Localizer("en").percent(0.1234) == "12.3%"
    assert "nov" in Localizer("fr").moment(moment) and "13:05" in Localizer("fr").moment(moment)
    assert Localizer("zh").moment(moment).startswith("2026年11月2日")
    assert Localizer("ar").direction == "rtl" and Localizer("zh").direction == "ltr"
    with pytest.raises(ValueError):
        Localizer("de")
