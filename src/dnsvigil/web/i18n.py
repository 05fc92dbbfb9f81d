"""The dashboard's languages: gettext catalogs for the six UN languages, which one a request gets, and
numbers and dates written the way its readers write them.

The `.po` files under `locales/` are the source of every translation. They are compiled in memory with
Babel's own compiler the first time a language is used, so there is no build step and no binary file to
keep in step with its source.

A request's language is, in order: the `lang` query parameter (an unknown one is refused with a 400, since
someone asked for it by name), the cookie the language switcher sets, the browser's `Accept-Language`
(what it cannot serve is skipped), else English.
"""

from __future__ import annotations

import functools
import io
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime
from importlib import resources

from babel import Locale, dates, numbers
from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po
from babel.support import Translations

from dnsvigil.web.errors import bad_parameter

LANGUAGES = ("ar", "zh", "en", "fr", "ru", "es")
"""The six UN languages, in the UN's order."""
DEFAULT_LANGUAGE = "en"
RIGHT_TO_LEFT = frozenset({"ar"})
LANGUAGE_COOKIE = "dnsvigil_lang"
LOCALES = "locales"


def catalog_path(language: str) -> str:
    """Where a language's `.po` file lies inside the `dnsvigil.web` package."""
    return f"{LOCALES}/{language}/LC_MESSAGES/messages.po"


@functools.cache
def translations(language: str) -> Translations:
    """The compiled catalog of one of `LANGUAGES`, compiled from its `.po` file once per process."""
    with resources.files("dnsvigil.web").joinpath(catalog_path(language)).open("rb") as source:
        catalog = read_po(source, locale=language)
    compiled = io.BytesIO()
    write_mo(compiled, catalog)
    compiled.seek(0)
    return Translations(compiled)


def _accepted(header: str) -> list[str]:
    """The languages of an `Accept-Language` header, most wanted first (quality 0 dropped)."""
    ranked: list[tuple[float, int, str]] = []
    for index, part in enumerate(header.split(",")[:32]):
        tag, _, parameters = part.strip().partition(";")
        quality = 1.0
        name, _, value = parameters.strip().partition("=")
        if name.strip() == "q":
            try:
                quality = float(value)
            except ValueError:
                quality = 0.0
        if tag and quality > 0:
            ranked.append((-quality, index, tag.strip().lower()))
    return [tag for _, _, tag in sorted(ranked)]


def negotiate(query: str | None, cookie: str | None, accept_language: str | None) -> str:
    """The language of a request, from its `lang` parameter, cookie and `Accept-Language` header.

    Raises:
        ApiError: 400 when `lang` names a language the dashboard is not written in.
    """
    if query is not None:
        if query not in LANGUAGES:
            raise bad_parameter("lang", f"lang must be one of {', '.join(LANGUAGES)}, got {query[:16]!r}")
        return query
    if cookie in LANGUAGES:
        return cookie
    for tag in _accepted(accept_language or ""):
        primary = tag.split("-")[0]
        if primary in LANGUAGES:
            return primary
    return DEFAULT_LANGUAGE


@dataclass(frozen=True, slots=True)
class Localizer:
    """One language's words, numbers and dates, for one page."""

    language: str

    def __post_init__(self) -> None:
        if self.language not in LANGUAGES:
            raise ValueError(f"not a dashboard language: {self.language!r}")

    @property
    def direction(self) -> str:
        """`rtl` for Arabic, else `ltr`."""
        return "rtl" if self.language in RIGHT_TO_LEFT else "ltr"

    def gettext(self, message: str) -> str:
        """`message` in this language."""
        return translations(self.language).gettext(message)

    def number(self, value: float | None, digits: int = 0) -> str:
        """A count or measure with this locale's separators; a dash for None."""
        if value is None:
            return "—"
        pattern = "#,##0" + ("." + "0" * digits if digits else "")
        return numbers.format_decimal(value, format=pattern, locale=self.language)

    def percent(self, share: float | None) -> str:
        """A share (0..1) as a percentage with one decimal."""
        if share is None:
            return "—"
        return numbers.format_percent(share, format="#,##0.0%", locale=self.language)

    def moment(self, value: datetime | None) -> str:
        """An instant in UTC, written the locale's way."""
        if value is None:
            return "—"
        return dates.format_datetime(value, format="medium", tzinfo=UTC, locale=self.language) + " UTC"

    def day(self, value: date | None) -> str:
        """A calendar day, written the locale's way."""
        return "—" if value is None else dates.format_date(value, format="medium", locale=self.language)


def language_names() -> Mapping[str, str]:
    """Each language's name in itself, for the switcher."""
    return {code: Locale.parse(code).get_display_name(code) or code for code in LANGUAGES}


def N_(message: str) -> str:  # noqa: N802 (gettext's conventional name for a marker)
    """Mark `message` for the catalogs without translating it yet (it is translated where shown)."""
    return message
