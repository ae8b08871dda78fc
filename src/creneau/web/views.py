"""What the pages and the API show of an account and its calendars, computed in one place."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from datetime import datetime

from creneau.calendars.accounts import PROVIDER_LABELS
from creneau.calendars.context import EngineContext
from creneau.calendars.oauth import connector_of, is_oauth
from creneau.calendars.push import account_mode
from creneau.calendars.sync import ObjectsReport
from creneau.store.models import Calendar, CalendarAccount
from creneau.web.errors import PROVIDER_MESSAGES
from creneau.web.i18n import Translator

DEFAULT_COLOR = "#8a8f98"
_COLOR = re.compile(r"^#(?:[0-9a-fA-F]{3,4}|[0-9a-fA-F]{6}|[0-9a-fA-F]{8})$")


def provider_label(connector: str) -> str:
    """What a researcher calls the service: "Google", "Office 365", "Outlook.com", "iCloud", "CalDAV"."""
    return PROVIDER_LABELS.get(connector, connector)


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
    repaired_count: int = 0  # objects read only once repaired (no UID, an empty RRULE)
    repaired_detail: str = ""


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
    connector: str = ""
    oauth: bool = False  # reconnecting goes through the provider's consent page
    legacy: bool = False  # the old Google integration
    legacy_retired: bool = False  # … whose removal date has passed
    mode: str = ""  # "push" or "polling" (how changes reach us)
    push_detail: str = ""  # why push could not be set up


def calendar_view(calendar: Calendar) -> CalendarView:
    state = calendar.sync_state
    detail = state.malformed_detail if state else ""
    objects = ObjectsReport.read(detail)
    repaired = objects.repaired if objects else {}
    return CalendarView(
        id=calendar.id,
        name=calendar.name,
        color=safe_color(calendar.color),
        read_only=calendar.read_only,
        check_conflicts=calendar.check_conflicts,
        malformed_count=state.malformed_count if state else 0,
        # The skipped objects as before repairs were reported ({remote id: reason}); free text as it is.
        malformed_detail=json.dumps(objects.skipped) if objects and objects.repaired_count else detail,
        last_error=state.last_error if state else "",
        repaired_count=objects.repaired_count if objects else 0,
        repaired_detail=json.dumps(repaired) if repaired else "",
    )


def status_text(account: CalendarAccount, t: Translator) -> str:
    """The explanation under the status badge, in the reader's language where we know the words."""
    if account.status == "reconnect_needed":
        code = (account.status_detail or "").partition(": ")[0]
        if code == "integration_retired":
            return t.translate(PROVIDER_MESSAGES["integration_retired"])
        if account.provider == "ics":  # a feed has no password: its link changed or expired
            return t.translate(PROVIDER_MESSAGES["auth_failed/ics"])
        return t.translate(PROVIDER_MESSAGES["auth_expired/oauth" if is_oauth(account) else "auth_expired"])
    code = (account.status_detail or "").partition(": ")[0]
    if code in PROVIDER_MESSAGES:
        return explain(account.status_detail, t, technical=account.status == "error")
    return account.status_detail if account.status == "error" else ""


def explain(detail: str, t: Translator, *, technical: bool = True) -> str:
    """The engine stores "code: technical detail"; the code picks the sentence in the reader's language,
    the technical part follows in brackets (with ``technical``)."""
    code, _, rest = detail.partition(": ")
    if code not in PROVIDER_MESSAGES:
        return detail
    sentence = t.translate(PROVIDER_MESSAGES[code])
    return f"{sentence} ({rest})" if rest and technical else sentence


def account_view(account: CalendarAccount, t: Translator, ctx: EngineContext | None = None) -> AccountView:
    """``ctx`` adds what depends on the configuration: push or polling, the legacy integration's end."""
    last = account.last_sync_at
    connector = connector_of(account)
    return AccountView(
        connector=connector,
        oauth=is_oauth(account),
        legacy=connector == "google_legacy",
        legacy_retired=ctx is not None and ctx.legacy_retired(account),
        mode=account_mode(ctx, account) if ctx is not None else "",
        push_detail=explain(account.push_detail, t) if ctx is not None and ctx.settings.push_base_url else "",
        id=account.id,
        provider=account.provider,
        provider_label=provider_label(connector),
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
