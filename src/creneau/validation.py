"""The checks every piece of outside text goes through before the services use or store it.

One function per kind of input, shared by the services (identity, scheduling, calendars) and the web layer, so
that a time-zone name, a name or an instant is refused the same way wherever it comes in (the participant's
booking page, the session settings, the API). Each raises :class:`~creneau.errors.ValidationFailed` naming
the field; the web layer answers 422 with the message in French or English.
"""

from __future__ import annotations

import unicodedata
from datetime import UTC, datetime
from zoneinfo import ZoneInfo

from creneau.domain.timezones import zone_named
from creneau.errors import ValidationFailed

__all__ = [
    "EARLIEST",
    "LATEST",
    "check_instant",
    "check_name",
    "check_timezone",
    "unstorable",
]

# Instants creneau computes with: far from datetime's ends (year 1 and 9999), so that a week, a 400-day range
# or a zone's offset added to one never overflows, yet far beyond any appointment anyone makes.
EARLIEST = datetime(1000, 1, 1, tzinfo=UTC)
LATEST = datetime(9000, 1, 1, tzinfo=UTC)

# Bidirectional embeddings, overrides and isolates: they make a name read differently from what it is
# ("Trojan Source"); the marks U+200E/U+200F alone are harmless and allowed.
_BIDI_CONTROLS = frozenset("\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069")
# Control characters, line/paragraph separators and lone surrogates (no encoding can store one).
_REFUSED_CATEGORIES = frozenset({"Cc", "Zl", "Zp", "Cs"})


def check_timezone(name: str, *, field: str = "timezone") -> ZoneInfo:
    """The zone named ``name``. :raises ValidationFailed: naming ``field`` when it is no IANA zone (folders
    of the zone database such as ``Europe``, paths, over-long names and NUL bytes included)."""
    try:
        return zone_named(name)
    except ValueError:
        raise ValidationFailed("this time zone does not exist", field=field) from None


def unstorable(text: str) -> bool:
    """Whether ``text`` holds a character no database column takes: NUL (PostgreSQL refuses it in text) or
    a lone surrogate (not encodable as UTF-8)."""
    return "\x00" in text or any(0xD800 <= ord(c) <= 0xDFFF for c in text)


def _refused_in_names(text: str) -> bool:
    return any(c in _BIDI_CONTROLS or unicodedata.category(c) in _REFUSED_CATEGORIES for c in text)


def check_name(
    value: str,
    *,
    field: str,
    message: str,
    max_length: int = 200,
    collapse: bool = False,
    empty: bool = False,
) -> str:
    """A name as people read it (participant, researcher, study, session, label), stripped (and its runs of
    white space made one space with ``collapse``); an empty one is refused unless ``empty``.

    :raises ValidationFailed: with ``message`` when it is empty or longer than ``max_length``; with its own
        message when it holds control characters or bidirectional overrides.
    """
    if _refused_in_names(value):
        raise ValidationFailed(
            "names may not contain control characters or text-direction overrides", field=field
        )
    name = " ".join(value.split()) if collapse else value.strip()
    if (not name and not empty) or len(name) > max_length:
        raise ValidationFailed(message, field=field)
    return name


def check_instant(value: datetime, *, field: str, message: str = "this date is out of range") -> datetime:
    """``value`` (aware) in UTC. :raises ValidationFailed: when it has no offset, or lies outside
    :data:`EARLIEST`–:data:`LATEST` (year 1 or 9999 with an offset cannot even be converted to UTC)."""
    if value.tzinfo is None or value.utcoffset() is None:
        raise ValidationFailed("the slot's start must carry its time zone", field=field)
    # Compare the wall time first: ``astimezone`` itself overflows at the ends of the calendar; a year
    # between 1000 and 9000 stays so, give or take the (under a day) offset.
    if not EARLIEST.replace(tzinfo=None) <= value.replace(tzinfo=None) <= LATEST.replace(tzinfo=None):
        raise ValidationFailed(message, field=field)
    return value.astimezone(UTC)
