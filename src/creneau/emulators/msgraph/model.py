"""The emulator's stored objects and Graph's wire formats for times and ids.

Events are kept as Graph JSON (``dict``) plus what Graph keeps beside them for a series: the modified
occurrences (``exceptions``, keyed by the occurrence's original start in UTC) and the deleted ones.
"""

from __future__ import annotations

import base64
import hashlib
import secrets
from dataclasses import dataclass, field
from datetime import UTC, datetime, tzinfo
from typing import Any, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

Json = dict[str, Any]
AccountKind = Literal["work", "personal"]

# The few Windows zone names the emulator's own data uses; any IANA name works too.
_WINDOWS = {
    "UTC": "UTC",
    "Romance Standard Time": "Europe/Paris",
    "W. Europe Standard Time": "Europe/Berlin",
    "GMT Standard Time": "Europe/London",
    "Eastern Standard Time": "America/New_York",
    "Pacific Standard Time": "America/Los_Angeles",
}
TEAMS = "teamsForBusiness"


def new_id(prefix: str = "") -> str:
    """An opaque id shaped like Graph's (URL-safe base64, long)."""
    return prefix + base64.urlsafe_b64encode(secrets.token_bytes(30)).decode().rstrip("=")


def change_key(*parts: str) -> str:
    """A changeKey: random for a stored change, or derived (occurrences) from the parts it depends on."""
    raw = hashlib.sha256("|".join(parts).encode()).digest()[:12] if parts else secrets.token_bytes(12)
    return base64.b64encode(raw).decode()


def zone(name: str | None) -> tzinfo:
    """The zone a Graph ``timeZone`` names (IANA, or a few Windows names); unknown names read as UTC."""
    if not name:
        return UTC
    try:
        return ZoneInfo(_WINDOWS.get(name, name))
    except (ZoneInfoNotFoundError, ValueError):
        return UTC


def parse_dtz(value: Any) -> datetime:
    """A Graph ``dateTimeTimeZone`` object as an aware datetime. :raises ValueError: when unreadable."""
    if not isinstance(value, dict) or not isinstance(value.get("dateTime"), str):
        raise ValueError("not a dateTimeTimeZone")
    text = value["dateTime"].rstrip("Z")
    if "." in text:  # Graph writes 7 fraction digits; Python reads up to 6
        head, frac = text.split(".", 1)
        text = f"{head}.{frac[:6]}"
    return datetime.fromisoformat(text).replace(tzinfo=zone(value.get("timeZone")))


def format_dtz(value: datetime, tz_name: str = "UTC") -> Json:
    """An aware datetime as Graph writes it in ``tz_name`` (``2030-03-04T09:00:00.0000000``)."""
    local = value.astimezone(zone(tz_name))
    return {"dateTime": local.strftime("%Y-%m-%dT%H:%M:%S.0000000"), "timeZone": tz_name}


def iso_z(value: datetime) -> str:
    """A DateTimeOffset the way Graph writes them (``2030-03-04T09:00:00Z``)."""
    return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def parse_iso(text: str) -> datetime:
    """``startDateTime``-style query values and DateTimeOffsets; naive values are read as UTC."""
    text = text.strip().replace("Z", "+00:00")
    if "." in text:
        head, _, tail = text.partition(".")
        digits = "".join(c for c in tail if c.isdigit())
        rest = tail[len(digits) :]
        text = f"{head}.{digits[:6]}{rest}"
    parsed = datetime.fromisoformat(text)
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


@dataclass
class User:
    id: str
    email: str
    display_name: str
    kind: AccountKind
    time_zone: str = "Romance Standard Time"


@dataclass
class Calendar:
    id: str
    owner_id: str
    name: str
    hex_color: str = ""
    can_edit: bool = True
    is_default: bool = False
    allowed_providers: tuple[str, ...] = ()
    change_key: str = field(default_factory=change_key)


@dataclass
class StoredEvent:
    """A single event or a series master, as Graph JSON, with its series' exceptions."""

    calendar_id: str
    data: Json
    exceptions: dict[str, Json] = field(default_factory=dict)  # original start (iso_z) → overriding fields
    deleted_occurrences: set[str] = field(default_factory=set)  # original starts (iso_z)
    corrupt: bool = False  # stored as given, unreadable dates: listed in every window
    # Changes when the series itself changes, not when one of its occurrences does: occurrences' changeKeys
    # derive from it, so deleting one occurrence does not make the others look changed.
    series_key: str = field(default_factory=change_key)

    @property
    def id(self) -> str:
        return str(self.data["id"])


@dataclass
class Grant:
    """An access or refresh token."""

    user_id: str
    client_id: str
    scope: str
    expires_at: datetime | None = None  # access tokens only


@dataclass
class AuthCode:
    user_id: str
    client_id: str
    redirect_uri: str
    scope: str
    challenge: str | None
    method: str | None
    expires_at: datetime


@dataclass
class Subscription:
    id: str
    user_id: str
    resource: str
    change_type: str
    notification_url: str
    lifecycle_url: str | None
    client_state: str | None
    expires: datetime

    def to_json(self) -> Json:
        return {
            "@odata.context": "https://graph.microsoft.com/v1.0/$metadata#subscriptions/$entity",
            "id": self.id,
            "resource": self.resource,
            "applicationId": "00000000-0000-0000-0000-00000000c0de",
            "changeType": self.change_type,
            "clientState": self.client_state,
            "notificationUrl": self.notification_url,
            "lifecycleNotificationUrl": self.lifecycle_url,
            "expirationDateTime": self.expires.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.0000000Z"),
            "creatorId": self.user_id,
            "latestSupportedTlsVersion": "v1_2",
            "notificationUrlAppId": None,
            "includeResourceData": False,
            "encryptionCertificate": None,
            "encryptionCertificateId": None,
            "notificationQueryOptions": None,
            "notificationContentType": None,
        }
