"""Every message a user can see exists in French and English, with the same placeholders."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from babel.messages.catalog import Catalog
from babel.messages.extract import extract_from_dir
from babel.messages.pofile import read_po

import creneau.web
from creneau.web.i18n import LOCALE_DIR, LOCALES, Catalogs, load_catalogs

WEB_DIR = Path(creneau.web.__file__).parent
PLACEHOLDER = re.compile(r"%\((\w+)\)[sd]")
METHOD_MAP = [("**.py", "python"), ("**/templates/**.html", "jinja2")]
OPTIONS = {"**/templates/**.html": {"extensions": "jinja2.ext.i18n"}}


def extracted() -> set[str | tuple[str, str]]:
    keywords = {"_": None, "gettext": None, "ngettext": (1, 2), "N_": None}
    found: set[str | tuple[str, str]] = set()
    for _file, _line, message, _comments, _context in extract_from_dir(
        WEB_DIR, METHOD_MAP, OPTIONS, keywords=keywords
    ):
        found.add(message if isinstance(message, str) else (message[0], message[1]))
    return found


def catalog(lang: str) -> Catalog:
    # abort_invalid: an entry without its msgstr (a bad merge) must fail here, not be half-read at run time
    with (LOCALE_DIR / lang / "LC_MESSAGES" / "messages.po").open("rb") as po:
        return read_po(po, locale=lang, abort_invalid=True)


def test_every_message_of_the_code_is_in_both_catalogues() -> None:
    messages = extracted()
    assert len(messages) > 50
    for lang in LOCALES:
        ids = {m.id if isinstance(m.id, str) else tuple(m.id) for m in catalog(lang) if m.id}
        missing = messages - ids
        assert not missing, f"{lang}: run pybabel extract/update (docs/web.md): {sorted(map(str, missing))}"


def test_french_catalogue_is_complete_and_keeps_placeholders() -> None:
    for message in catalog("fr"):
        if not message.id:
            continue
        assert not message.fuzzy, message.id
        ids = [message.id] if isinstance(message.id, str) else list(message.id)
        strings = [message.string] if isinstance(message.string, str) else list(message.string or ())
        assert all(strings), f"untranslated: {message.id!r}"
        expected = set(PLACEHOLDER.findall(ids[-1]))
        for text in strings:
            assert set(PLACEHOLDER.findall(text)) == expected, message.id


@pytest.mark.parametrize(
    ("lang", "words"), [("fr", "Supprimer tous les comptes"), ("en", "Delete all accounts")]
)
def test_catalogues_load_without_compiling(lang: str, words: str) -> None:
    t = Catalogs(load_catalogs(), "fr").translator(lang)
    assert t.gettext("Delete all accounts") == words
    assert t.ngettext("%(num)d calendar", "%(num)d calendars", 0) == (
        "0 calendrier" if lang == "fr" else "0 calendars"
    )


def test_dates_in_the_researchers_zone_and_language() -> None:
    catalogs = Catalogs(load_catalogs(), "fr")
    moment = datetime(2030, 7, 1, 22, 30, tzinfo=UTC)
    paris = catalogs.translator("fr", ZoneInfo("Europe/Paris"))
    assert "2 juil. 2030" in paris.datetime(moment) and "00:30" in paris.datetime(moment)
    english = catalogs.translator("en", ZoneInfo("America/New_York"))
    assert "Jul 1, 2030" in english.datetime(moment) and "6:30" in english.datetime(moment)
    assert paris.relative(moment - timedelta(minutes=5), now=moment) == "il y a 5 minutes"
    assert english.relative(moment + timedelta(hours=2), now=moment) == "in 2 hours"
