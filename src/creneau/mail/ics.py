"""The iCalendar invitation attached to booking emails (RFC 5545 objects, RFC 5546 iTIP methods).

One booking is one ``UID`` for its whole life: the confirmation and every reschedule are ``METHOD:REQUEST``
with a higher ``SEQUENCE`` each time, and the cancellation is ``METHOD:CANCEL`` with the same ``UID`` and a
higher ``SEQUENCE`` still, so mail clients update or remove the event they already added instead of adding a
second one. Keeping the sequence increasing is the caller's job (store it on the booking).
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any, Literal

from icalendar import Calendar, Event, vCalAddress

__all__ = ["PRODID", "invitation"]

PRODID = "-//creneau//creneau booking//EN"
_OPTIONAL = frozenset({"description", "location", "url"})  # left out when empty
# the participant booked the slot themselves: accepted, nothing to answer
_ATTENDEE_PARAMS = {
    "ROLE": "REQ-PARTICIPANT",
    "PARTSTAT": "ACCEPTED",
    "RSVP": "FALSE",
    "CUTYPE": "INDIVIDUAL",
}


def invitation(
    *,
    uid: str,
    sequence: int,
    method: Literal["REQUEST", "CANCEL"],
    start: datetime,
    end: datetime,
    summary: str,
    description: str,
    location: str,
    url: str,
    organizer_email: str,
    organizer_name: str,
    attendee_email: str,
    attendee_name: str,
    stamp: datetime,
) -> bytes:
    """A ``VCALENDAR`` with one ``VEVENT``, as UTF-8 bytes with CRLF line ends and folded lines.

    Times are written in UTC (``...Z``), whatever zone the aware ``start``, ``end`` and ``stamp`` carry.
    ``STATUS`` is ``CONFIRMED`` for ``REQUEST`` and ``CANCELLED`` for ``CANCEL``; the attendee is marked
    ``PARTSTAT=ACCEPTED`` (they booked the slot themselves) and needs no RSVP. Names (``CN``) are put on one
    line, runs of whitespace becoming one space. Empty ``description``, ``location``, ``url`` or names are
    left out.

    :raises ValueError: for a naive datetime, ``end`` not after ``start``, a negative ``sequence``, an empty
        ``uid`` or email address, or an unknown ``method``.
    """
    start_utc, end_utc, stamp_utc = _checked_times(start=start, end=end, stamp=stamp)
    _check(method=method, uid=uid, sequence=sequence, emails=(organizer_email, attendee_email))
    calendar = Calendar()
    for name, value in (
        ("prodid", PRODID),
        ("version", "2.0"),
        ("calscale", "GREGORIAN"),
        ("method", method),
    ):
        calendar.add(name, value)
    event = Event()
    properties: list[tuple[str, Any]] = [
        ("uid", uid),
        ("sequence", sequence),
        ("dtstamp", stamp_utc),
        ("dtstart", start_utc),
        ("dtend", end_utc),
        ("summary", summary),
        ("status", "CONFIRMED" if method == "REQUEST" else "CANCELLED"),
        ("transp", "OPAQUE"),
        ("description", description),
        ("location", location),
        ("url", url),
        ("organizer", _address(organizer_email, organizer_name, {})),
        ("attendee", _address(attendee_email, attendee_name, _ATTENDEE_PARAMS)),
    ]
    for name, value in properties:
        if value != "" or name not in _OPTIONAL:
            event.add(name, value)
    calendar.add_component(event)
    text: bytes = calendar.to_ical()
    return text


def _check(*, method: str, uid: str, sequence: int, emails: tuple[str, str]) -> None:
    if method not in ("REQUEST", "CANCEL"):
        raise ValueError(f"method must be REQUEST or CANCEL, not {method!r}")
    if not uid:
        raise ValueError("uid must not be empty")
    if sequence < 0:
        raise ValueError(f"sequence must not be negative, not {sequence}")
    if not all(emails):
        raise ValueError("organizer_email and attendee_email must not be empty")


def _checked_times(*, start: datetime, end: datetime, stamp: datetime) -> tuple[datetime, datetime, datetime]:
    start_utc, end_utc, stamp_utc = _utc("start", start), _utc("end", end), _utc("stamp", stamp)
    if end_utc <= start_utc:
        raise ValueError(f"end ({end.isoformat()}) must be after start ({start.isoformat()})")
    return start_utc, end_utc, stamp_utc


def _utc(name: str, value: datetime) -> datetime:
    if value.tzinfo is None or value.utcoffset() is None:
        raise ValueError(f"{name} must be timezone-aware, not naive ({value.isoformat()})")
    return value.astimezone(UTC)


def common_name(name: str) -> str:
    """``name`` as it can travel in a CN parameter: one line (few clients read RFC 6868's ^n), without the
    backslashes and double quotes that parameter values cannot carry (icalendar writes a trailing backslash
    unquoted, and readers then take it for an escape)."""
    return " ".join(name.replace("\\", " ").replace('"', " ").split())


def _address(email: str, name: str, params: dict[str, str]) -> vCalAddress:
    address = vCalAddress(f"mailto:{email}")
    name = common_name(name)
    if name:
        address.params["CN"] = name
    for key, value in params.items():
        address.params[key] = value
    return address
