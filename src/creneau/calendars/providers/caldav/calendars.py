"""The calendars of a calendar home: which collections hold events, and how to show them."""

from __future__ import annotations

import re
import zoneinfo
from dataclasses import dataclass
from urllib.parse import unquote

import icalendar

from creneau.calendars.providers.base import RemoteCalendar
from creneau.calendars.providers.caldav import xml
from creneau.calendars.providers.caldav.dav import DavSession, absolute, canonical_path, collection_url

LIST_PROPS = [
    xml.RESOURCETYPE,
    xml.DISPLAYNAME,
    xml.CALENDAR_COLOR,
    xml.SUPPORTED_COMPONENTS,
    xml.CURRENT_USER_PRIVILEGE_SET,
    xml.CALENDAR_TIMEZONE,
    xml.SUPPORTED_REPORT_SET,
]
_WRITE_PRIVILEGES = frozenset({xml.dav("write"), xml.dav("write-content"), xml.dav("all")})
_COLOR = re.compile(r"#([0-9a-fA-F]{6})([0-9a-fA-F]{2})?")


@dataclass(frozen=True)
class Listed:
    calendar: RemoteCalendar
    sync_collection: bool | None  # None: the server did not say (supported-report-set absent)


_SCHEDULING_TYPES = frozenset({xml.cal("schedule-inbox"), xml.cal("schedule-outbox")})


def list_calendars(
    session: DavSession, home_url: str, *, scheduling: frozenset[str] = frozenset()
) -> list[Listed]:
    """PROPFIND Depth 1 on the home: the collections that are calendars and accept VEVENT.

    The scheduling Inbox and Outbox (RFC 6638) are left out, whether the server types them as such or, like
    DAViCal, as plain calendars that only the principal's ``schedule-inbox-URL`` / ``schedule-outbox-URL``
    (``scheduling``) name: an invitation waiting in the Inbox is no busy time.
    """
    home_path = canonical_path(home_url, home_url)
    left_out = {canonical_path(url, url).rstrip("/") for url in scheduling}
    found: list[Listed] = []
    for item in session.propfind(home_url, LIST_PROPS, depth=1).responses:
        path = canonical_path(home_url, item.href).rstrip("/")
        if path == home_path.rstrip("/") or path in left_out:
            continue
        types = set(item.children(xml.RESOURCETYPE))
        if xml.cal("calendar") not in types or types & _SCHEDULING_TYPES or not _holds_events(item):
            continue
        url = collection_url(absolute(home_url, item.href))
        found.append(Listed(_calendar(url, item), _supports_sync(item)))
    return found


def _calendar(url: str, item: xml.DavResponse) -> RemoteCalendar:
    return RemoteCalendar(
        remote_id=url,
        name=_name(url, item.text(xml.DISPLAYNAME)),
        color=normalise_color(item.text(xml.CALENDAR_COLOR)),
        read_only=_read_only(item),
        timezone=timezone_name(item.text(xml.CALENDAR_TIMEZONE)),
    )


def _name(url: str, display_name: str | None) -> str:
    """The display name, else the last path segment. Radicale reports a calendar without a display name
    under its path (``alice/tasks``), which is no name for a person either."""
    path = unquote(url.split("/", 3)[-1]).strip("/")
    if display_name and display_name.strip("/") != path:
        return display_name
    return path.rsplit("/", 1)[-1]


def _holds_events(item: xml.DavResponse) -> bool:
    """An absent supported-calendar-component-set means every component type (RFC 4791 §5.2.3)."""
    element = item.props.get(xml.SUPPORTED_COMPONENTS)
    if element is None:
        return True
    names = {(comp.get("name") or "").upper() for comp in element.iter(xml.cal("comp"))}
    return not names or "VEVENT" in names


def _read_only(item: xml.DavResponse) -> bool:
    """Read-only when the server lists our privileges and none of them allows writing content."""
    element = item.props.get(xml.CURRENT_USER_PRIVILEGE_SET)
    if element is None:
        return False
    granted = {
        str(child.tag)
        for privilege in element.iter(xml.dav("privilege"))
        for child in privilege
        if isinstance(child.tag, str)
    }
    return not granted & _WRITE_PRIVILEGES


def _supports_sync(item: xml.DavResponse) -> bool | None:
    element = item.props.get(xml.SUPPORTED_REPORT_SET)
    if element is None:
        return None
    return element.find(f".//{xml.dav('sync-collection')}") is not None


def normalise_color(value: str | None) -> str | None:
    """Apple's ``#RRGGBBAA`` (or ``#RRGGBB``) → ``#rrggbb``; anything else → None."""
    match = _COLOR.fullmatch((value or "").strip())
    return f"#{match.group(1).lower()}" if match else None


def timezone_name(vtimezone: str | None) -> str | None:
    """The IANA name in a calendar-timezone VTIMEZONE, when it is one we know."""
    if not vtimezone:
        return None
    try:
        calendar = icalendar.Calendar.from_ical(vtimezone)
    except Exception:  # a broken calendar-timezone is only a missing hint
        return None
    for component in calendar.walk("VTIMEZONE"):
        tzid = str(component.get("TZID", "")).strip()
        if tzid and _is_iana(tzid):
            return tzid
    return None


def _is_iana(name: str) -> bool:
    try:
        zoneinfo.ZoneInfo(name)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        return False
    return True
