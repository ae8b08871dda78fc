"""Discovery (/me, /me/mailboxSettings) and the calendars of the account (/me/calendars)."""

from __future__ import annotations

import re
from dataclasses import dataclass

from creneau.calendars.ical import resolve_tzid
from creneau.calendars.providers.base import AccountInfo, RemoteCalendar
from creneau.calendars.providers.msgraph.session import GraphSession, Json, segment
from creneau.errors import ProviderError, TransientProviderError

TEAMS = "teamsForBusiness"
# Personal Microsoft accounts have 16-hex-digit user ids; work and school accounts have GUIDs.
_PERSONAL_ID = re.compile(r"[0-9a-fA-F]{16}")
MAX_PAGES = 1000


@dataclass(frozen=True)
class Account:
    info: AccountInfo
    user_id: str

    @property
    def personal(self) -> bool:
        return bool(_PERSONAL_ID.fullmatch(self.user_id))


def discover(session: GraphSession) -> Account:
    """:raises AuthExpired: when the token is refused."""
    me = session.get_json(session.url("me"))
    emails: list[str] = []
    for key in ("mail", "userPrincipalName"):
        value = me.get(key)
        if isinstance(value, str) and "@" in value and value.lower() not in emails:
            emails.append(value.lower())
    timezone = None
    try:
        settings = session.get_json(session.url("me/mailboxSettings"))
    except ProviderError as exc:
        if isinstance(exc, TransientProviderError) or type(exc) is not ProviderError:
            raise
        settings = {}  # some accounts refuse mailboxSettings (403): the zone is only a convenience
    zone = resolve_tzid(str(settings.get("timeZone") or "")) if settings.get("timeZone") else None
    if zone is not None:
        timezone = zone.key
    info = AccountInfo(
        principal_url=session.url("me"),
        home_url=session.url("me/calendars"),
        display_name=me.get("displayName") if isinstance(me.get("displayName"), str) else None,
        email_addresses=tuple(emails),
        timezone=timezone,
    )
    return Account(info, str(me.get("id") or ""))


def calendar_items(session: GraphSession) -> list[Json]:
    items: list[Json] = []
    link: str | None = session.url("me/calendars?$top=100")
    for _page in range(MAX_PAGES):
        if not link:
            return items
        page = session.get_json(link)
        items.extend(item for item in page.get("value") or [] if isinstance(item, dict))
        following = page.get("@odata.nextLink")
        link = following if isinstance(following, str) else None
    raise TransientProviderError("Microsoft Graph kept sending nextLinks for the calendar list")


def to_calendar(item: Json) -> RemoteCalendar:
    color = item.get("hexColor")
    return RemoteCalendar(
        remote_id=str(item["id"]),
        name=str(item.get("name") or ""),
        color=color.lower()[:7]
        if isinstance(color, str) and re.fullmatch(r"#[0-9a-fA-F]{6,8}", color)
        else None,
        read_only=not item.get("canEdit", True),
        conferencing="teams" if item.get("canEdit", True) and TEAMS in _providers(item) else None,
    )


def _providers(item: Json) -> list[object]:
    allowed = item.get("allowedOnlineMeetingProviders")
    return allowed if isinstance(allowed, list) else []


def read_calendar(session: GraphSession, calendar_id: str) -> Json:
    return session.get_json(session.url(f"me/calendars/{segment(calendar_id)}"))
