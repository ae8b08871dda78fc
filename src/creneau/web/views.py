"""What the pages and the API show of an account and its calendars, computed in one place."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime

from creneau.store.models import Calendar, CalendarAccount
from creneau.web.errors import PROVIDER_MESSAGES
from creneau.web.i18n import Translator

PROVIDER_LABELS = {
    "icloud": "iCloud",
    "caldav": "CalDAV",
    "google": "Google",
    "google_legacy": "Google",
    "msgraph": "Microsoft 365",
    "ews": "Exchange",
}
DEFAULT_COLOR = "#8a8f98"
_COLOR = re.compile(r"^#(?:[0-9a-fA-F]{3,4}|[0-9a-fA-F]{6}|[0-9a-fA-F]{8})$")


def provider_label(provider: str) -> str:
    return PROVIDER_LABELS.get(provider, provider)


def safe_color(color: str | None) -> str:
    """The calendar's colour when it is a plain hex colour (it comes from a remote server), else grey."""
    return color if color and _COLOR.match(color) else DEFAULT_COLOR


def account_state(account: CalendarAccount) -> str:
    """``status``, with "pending" for an account connected but never synced yet (its sync is queued)."""
    if account.status == "ok" and account.last_sync_at is None:
        return "pending"
    return account.status


def is_busy(account: CalendarAccount) -> bool:
    return account_state(account) in ("syncing", "pending")


@dataclass(frozen=True)
class CalendarView:
    id: int
    name: str
    color: str
    read_only: bool
    check_conflicts: bool
    malformed_count: int
    malformed_detail: str
    last_error: str


@dataclass(frozen=True)
class AccountView:
    id: int
    provider: str
    provider_label: str
    username: str
    display_name: str
    state: str
    detail: str
    done: int
    total: int
    last_sync_at: datetime | None
    last_sync_text: str
    last_sync_ago: str
    calendars: list[CalendarView]


def calendar_view(calendar: Calendar) -> CalendarView:
    state = calendar.sync_state
    return CalendarView(
        id=calendar.id,
        name=calendar.name,
        color=safe_color(calendar.color),
        read_only=calendar.read_only,
        check_conflicts=calendar.check_conflicts,
        malformed_count=state.malformed_count if state else 0,
        malformed_detail=state.malformed_detail if state else "",
        last_error=state.last_error if state else "",
    )


def status_text(account: CalendarAccount, t: Translator) -> str:
    """The explanation under the status badge, in the reader's language where we know the words."""
    if account.status == "reconnect_needed":
        return t.translate(PROVIDER_MESSAGES["auth_expired"])
    # The sync engine stores "code: technical detail"; the code picks the sentence in the reader's language.
    code, _, technical = (account.status_detail or "").partition(": ")
    if code in PROVIDER_MESSAGES:
        sentence = t.translate(PROVIDER_MESSAGES[code])
        return f"{sentence} ({technical})" if technical and account.status == "error" else sentence
    return account.status_detail if account.status == "error" else ""


def account_view(account: CalendarAccount, t: Translator) -> AccountView:
    last = account.last_sync_at
    return AccountView(
        id=account.id,
        provider=account.provider,
        provider_label=provider_label(account.provider),
        username=account.username,
        display_name=account.display_name,
        state=account_state(account),
        detail=status_text(account, t),
        done=account.sync_done,
        total=account.sync_total,
        last_sync_at=last,
        last_sync_text=t.datetime(last) if last else "",
        last_sync_ago=t.relative(last) if last else "",
        calendars=[calendar_view(c) for c in account.calendars],
    )
