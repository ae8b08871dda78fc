"""What the emulated mailboxes hold: mailboxes, folders and calendar items, and the wire formats of EWS ids,
change keys and times.

An item keeps the properties a client wrote as the XML elements it sent (``props``: local name → element in
the types namespace), so whatever a client sets it reads back unchanged; the emulator interprets only the
properties it needs (times, free/busy status, recurrence) and computes the ones Exchange computes."""

from __future__ import annotations

import base64
import copy
import itertools
import os
import re
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta, tzinfo
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from icalendar.timezone.windows_to_olson import WINDOWS_TO_OLSON

from creneau.emulators.ews.soap import Element, t

_WINDOWS = {name.casefold(): olson for name, olson in WINDOWS_TO_OLSON.items()}
_OLSON_TO_WINDOWS = {olson: name for name, olson in WINDOWS_TO_OLSON.items()}
_counter = itertools.count(1)
_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")


def new_id(kind: bytes = b"\x46") -> str:
    """An opaque, URL-unsafe base64 id of the shape Exchange hands out (``AAMkA…``)."""
    return base64.b64encode(
        b"\x00\x03\x24\x00" + kind + os.urandom(30) + next(_counter).to_bytes(6, "big")
    ).decode()


def new_change_key() -> str:
    return base64.b64encode(b"\x0f\x00\x00\x00" + os.urandom(8) + next(_counter).to_bytes(4, "big")).decode()


def zone(windows_or_iana: str | None) -> tzinfo:
    """The zone of a Windows time-zone id (``W. Europe Standard Time``) or IANA name; unknown ones are UTC."""
    if not windows_or_iana:
        return UTC
    name = _WINDOWS.get(windows_or_iana.casefold(), windows_or_iana)
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        return UTC


def windows_name(iana: str) -> str:
    if iana in ("UTC", "Etc/UTC"):
        return "UTC"
    return _OLSON_TO_WINDOWS.get(iana, "UTC")


def parse_time(text: str, tz: tzinfo = UTC) -> datetime:
    """An ``xs:dateTime`` (``Z``, an offset, or none: then in ``tz``) or ``xs:date`` (midnight in ``tz``).

    :raises ValueError: when ``text`` is neither
    """
    text = text.strip()
    if _DATE.match(text):
        return datetime.combine(date.fromisoformat(text), time(), tz).astimezone(UTC)
    if text.endswith("Z"):
        text = text[:-1] + "+00:00"
    moment = datetime.fromisoformat(text)
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=tz)
    return moment.astimezone(UTC)


def format_time(moment: datetime) -> str:
    """Exchange answers every ``xs:dateTime`` in UTC, e.g. ``2026-12-04T09:00:00Z``."""
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


@dataclass
class Mailbox:
    email: str
    display_name: str
    password: str
    domain: str  # NetBIOS domain (``CONTOSO``), for ``CONTOSO\\ada`` logons
    username: str  # sAMAccountName (``ada``)
    root_id: str = ""
    msgroot_id: str = ""
    calendar_id: str = ""
    password_version: int = 0

    def logon_names(self) -> set[str]:
        """Every name the owner may log on with, case-folded: ``DOMAIN\\user``, the UPN, the email."""
        upn = f"{self.username}@{self.email.split('@', 1)[1]}"
        return {f"{self.domain}\\{self.username}".casefold(), upn.casefold(), self.email.casefold()}


@dataclass
class Folder:
    id: str
    mailbox: str
    parent_id: str | None
    name: str
    folder_class: str | None
    distinguished: str | None = None
    read_only: bool = False
    change_key: str = field(default_factory=new_change_key)
    created_seq: int = 0
    modified_seq: int = 0


@dataclass
class Occurrence:
    """One modified occurrence of a series: its own id, its original start and the properties it overrides."""

    id: str
    original_start: datetime
    props: dict[str, Element]
    change_key: str = field(default_factory=new_change_key)


@dataclass
class Item:
    id: str
    mailbox: str
    folder_id: str
    props: dict[str, Element]
    extended: list[Element] = field(default_factory=list)
    change_key: str = field(default_factory=new_change_key)
    created: datetime = field(default_factory=lambda: datetime.now(UTC).replace(microsecond=0))
    modified: datetime = field(default_factory=lambda: datetime.now(UTC).replace(microsecond=0))
    created_seq: int = 0
    modified_seq: int = 0
    exceptions: dict[datetime, Occurrence] = field(default_factory=dict)  # original start (UTC) → exception
    deleted: set[datetime] = field(default_factory=set)  # original starts (UTC) of deleted occurrences
    invitations: str = ""  # the SendMeetingInvitations a client created it with
    # (ChangeKey after a change, the properties it changed): what AutoResolve compares a stale ChangeKey with
    history: list[tuple[str, frozenset[str]]] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.history.append((self.change_key, frozenset()))

    def text(self, name: str, default: str | None = None) -> str | None:
        element = self.props.get(name)
        if element is None or element.text is None:
            return default
        return element.text.strip()

    def flag(self, name: str) -> bool:
        return (self.text(name, "false") or "false").lower() == "true"

    @property
    def start_zone(self) -> tzinfo:
        return zone_of(self.props.get("StartTimeZone")) or zone_of(self.props.get("MeetingTimeZone")) or UTC

    @property
    def start(self) -> datetime:
        return parse_time(self.text("Start") or "1970-01-01T00:00:00Z", self.start_zone)

    @property
    def end(self) -> datetime:
        end_zone = zone_of(self.props.get("EndTimeZone")) or self.start_zone
        value = self.text("End")
        return self.start + timedelta(minutes=30) if value is None else parse_time(value, end_zone)

    @property
    def is_recurring(self) -> bool:
        return "Recurrence" in self.props

    def touch(self, seq: int, changed: frozenset[str] = frozenset()) -> None:
        self.change_key = new_change_key()
        self.modified = datetime.now(UTC).replace(microsecond=0)
        self.modified_seq = seq
        self.history.append((self.change_key, changed))
        del self.history[:-50]  # like Exchange, only recent versions are remembered

    def changed_since(self, change_key: str) -> frozenset[str] | None:
        """The properties changed after the version ``change_key`` named (None: a version not remembered)."""
        keys = [key for key, _ in self.history]
        if change_key not in keys:
            return None
        return frozenset().union(*(names for _, names in self.history[keys.index(change_key) + 1 :]))

    def copy_props(self) -> dict[str, Element]:
        return {name: copy.deepcopy(element) for name, element in self.props.items()}


def zone_of(element: Element | None) -> tzinfo | None:
    """The zone of a ``StartTimeZone``/``EndTimeZone``/``MeetingTimeZone`` element (its ``Id``)."""
    if element is None or not element.get("Id"):
        return None  # a zone given only by its rules (BaseOffset, Periods) is not read
    return zone(element.get("Id"))


def ext_key(element: Element) -> tuple[str, ...]:
    """What identifies an extended property: its ``ExtendedFieldURI`` attributes, case-folded."""
    uri = element if element.tag == t("ExtendedFieldURI") else element.find(t("ExtendedFieldURI"))
    if uri is None:
        return ()
    names = ("DistinguishedPropertySetId", "PropertySetId", "PropertyTag", "PropertyName", "PropertyId")
    key = [f"{n}={(uri.get(n) or '').casefold()}" for n in names if uri.get(n) is not None]
    if uri.get("PropertyTag"):  # 0x3001 and 12289 name the same tag
        key = [f"PropertyTag={int(uri.get('PropertyTag') or '0', 0)}"]
    return tuple(key)
