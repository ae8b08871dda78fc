"""Languages: French and English catalogues, the choice of language per request, dates in the user's zone.

Catalogues are the ``.po`` files under ``web/locale/``; they are read at startup with Babel (no compile step,
no ``.mo`` file in the tree). Message ids are English; the English catalogue may leave them untranslated.

Language of a request, first that applies: the FR/EN switch of the header (a cookie), the browser's
``Accept-Language``, ``settings.default_locale``.
"""

from __future__ import annotations

import datetime as dt
import io
import math
from collections.abc import Mapping
from dataclasses import dataclass, replace
from datetime import UTC, tzinfo
from pathlib import Path

from babel.dates import format_date, format_datetime, format_time, format_timedelta
from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po
from babel.support import Translations
from starlette.requests import Request

from creneau.domain.timezones import zone_named

LOCALES = ("fr", "en")
LOCALE_COOKIE = "creneau_lang"
LOCALE_DIR = Path(__file__).parent / "locale"


def N_(message: str) -> str:
    """Marks a message for extraction; it is translated later, where the language is known."""
    return message


def load_catalogs(locale_dir: Path = LOCALE_DIR) -> dict[str, Translations]:
    """Every language's catalogue, read from its ``messages.po``.

    :raises FileNotFoundError: when a language's catalogue is missing.
    """
    catalogs: dict[str, Translations] = {}
    for lang in LOCALES:
        path = locale_dir / lang / "LC_MESSAGES" / "messages.po"
        with path.open("rb") as po:
            catalog = read_po(po, locale=lang)
        buffer = io.BytesIO()
        write_mo(buffer, catalog)  # fuzzy entries are left out, as msgfmt does
        buffer.seek(0)
        catalogs[lang] = Translations(fp=buffer)
    return catalogs


def _accept_language(header: str) -> list[str]:
    """Language codes of an ``Accept-Language`` header, most preferred first."""
    weighted: list[tuple[float, int, str]] = []
    for position, part in enumerate(header.split(",")):
        code, _, params = part.strip().partition(";")
        quality = 1.0
        if params.strip().startswith("q="):
            try:
                quality = float(params.strip()[2:])
            except ValueError:
                quality = 0.0
        if code and quality > 0:
            weighted.append((-quality, position, code.strip().lower().split("-")[0]))
    return [code for _, _, code in sorted(weighted)]


def negotiate_locale(request: Request, default: str) -> str:
    chosen = request.cookies.get(LOCALE_COOKIE, "")
    if chosen in LOCALES:
        return chosen
    for code in _accept_language(request.headers.get("accept-language", "")):
        if code in LOCALES:
            return code
    return default if default in LOCALES else LOCALES[0]


def zone(name: str | None, fallback: str = "UTC") -> tzinfo:
    for candidate in (name, fallback):
        if candidate:
            try:
                return zone_named(candidate)  # never a folder of the zone database (IsADirectoryError)
            except ValueError:
                continue
    return UTC


@dataclass(frozen=True)
class Translator:
    """One request's language and time zone: translates messages and formats dates."""

    locale: str
    translations: Translations
    tz: tzinfo = UTC

    def gettext(self, message: str, /, **params: object) -> str:
        """Translate a literal message (extracted by ``pybabel extract``); ``%(name)s`` filled from params."""
        text = self.translations.gettext(message)
        return text % params if params else text

    def translate(self, message_id: str, /, **params: object) -> str:
        """Translate a message id held in a variable (marked with ``N_`` where it is written)."""
        return self.gettext(message_id, **params)

    def ngettext(self, singular: str, plural: str, num: int, /, **params: object) -> str:
        text = self.translations.ngettext(singular, plural, num)
        return text % {"num": num, **params}

    def with_timezone(self, tz: tzinfo) -> Translator:
        return replace(self, tz=tz)

    def datetime(self, value: dt.datetime) -> str:
        """An absolute date and time in the translator's zone, e.g. ``23 nov. 2026, 23:37``."""
        return format_datetime(value, "medium", tzinfo=self.tz, locale=self.locale)

    def date(self, value: dt.date) -> str:
        """A calendar day written out, e.g. ``lundi 30 novembre 2026`` / ``Monday, November 30, 2026``."""
        return format_date(value, "full", locale=self.locale)

    def time(self, value: dt.datetime) -> str:
        """The wall-clock time ``value`` carries (already in the zone to show), e.g. ``14:30``."""
        return format_time(value, "short", tzinfo=value.tzinfo, locale=self.locale)

    def duration(self, seconds: float) -> str:
        """A wait written out, never shorter than it is: ``45 secondes``, ``5 minutes`` / ``2 hours``."""
        whole = max(1, math.ceil(seconds))
        unit = 1 if whole < 60 else 60 if whole < 3600 else 3600
        rounded = dt.timedelta(seconds=math.ceil(whole / unit) * unit)
        return format_timedelta(rounded, threshold=1, locale=self.locale)

    def relative(self, value: dt.datetime, now: dt.datetime | None = None) -> str:
        """How long ago or from now, e.g. ``il y a 5 minutes`` / ``in 2 hours``."""
        delta = value - (now or dt.datetime.now(UTC))
        return format_timedelta(delta, add_direction=True, locale=self.locale)


class Catalogs:
    """The loaded catalogues, handing out a :class:`Translator` per language."""

    def __init__(self, catalogs: Mapping[str, Translations], default_locale: str) -> None:
        self._catalogs = dict(catalogs)
        self.default_locale = default_locale

    def translator(self, locale: str, tz: tzinfo = UTC) -> Translator:
        lang = locale if locale in self._catalogs else self.default_locale
        return Translator(locale=lang, translations=self._catalogs[lang], tz=tz)

    def for_request(self, request: Request, tz: tzinfo = UTC) -> Translator:
        return self.translator(negotiate_locale(request, self.default_locale), tz)
