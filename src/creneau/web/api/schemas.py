"""Request and response bodies of the JSON API (pydantic v2). Secrets go in, never out."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, SecretStr

from creneau.calendars.accounts import DeletionReport, shown_server_url
from creneau.store.models import Calendar, CalendarAccount
from creneau.web.i18n import Translator
from creneau.web.views import calendar_view, status_text


class ErrorDetail(BaseModel):
    code: str = Field(description="Stable key, e.g. auth_failed, unreachable, not_caldav, not_found")
    message: str = Field(description="For people, in the caller's language (Accept-Language)")
    field: str | None = Field(default=None, description="The request field concerned, when there is one")


class ErrorOut(BaseModel):
    detail: ErrorDetail


class ValidationItem(BaseModel):
    loc: list[str | int] = Field(description='Where: ["body", "server_url"], ["query", "from"]...')
    msg: str
    type: str


class ValidationErrorOut(BaseModel):
    """A request that does not fit the schema (a missing or mistyped field), before any service ran."""

    detail: list[ValidationItem]


# What every API operation may answer besides its own result (see web/errors.py, which answers them).
INVALID: dict[int | str, dict[str, Any]] = {
    422: {
        "model": ErrorOut | ValidationErrorOut,
        "description": 'A field is wrong: ErrorOut (code "invalid", the field named) when a service '
        "refused it, ValidationErrorOut when the request does not fit the schema",
    }
}
MALFORMED_JSON: dict[int | str, dict[str, Any]] = {
    400: {"model": ErrorOut, "description": 'The body is not valid JSON (code "malformed_json")'}
}


class CalendarOut(BaseModel):
    id: int
    account_id: int
    name: str
    color: str | None = Field(description="#rrggbb as given by the server, when it gives one")
    read_only: bool
    check_conflicts: bool = Field(description="Whether its events count as busy times")
    malformed_count: int = Field(
        description="Objects that could not be read at the last sync, and were skipped"
    )
    malformed_detail: str
    repaired_count: int = Field(
        description="Objects read only once repaired at the last syncs (a VEVENT without UID got one derived "
        "from its content, an empty RRULE was read as no rule): their busy times count"
    )
    repaired_detail: str = Field(description="JSON object: remote id → what was repaired (the first 20)")
    last_error: str

    @classmethod
    def of(cls, calendar: Calendar) -> CalendarOut:
        view = calendar_view(calendar)
        return cls(
            id=calendar.id,
            account_id=calendar.account_id,
            name=calendar.name,
            color=calendar.color,
            read_only=calendar.read_only,
            check_conflicts=calendar.check_conflicts,
            malformed_count=view.malformed_count,
            malformed_detail=view.malformed_detail,
            repaired_count=view.repaired_count,
            repaired_detail=view.repaired_detail,
            last_error=view.last_error,
        )


class ProgressOut(BaseModel):
    done: int
    total: int


class AccountOut(BaseModel):
    id: int
    provider: str
    display_name: str
    username: str
    server_url: str
    status: str = Field(description='"ok", "syncing", "reconnect_needed" or "error"')
    status_detail: str
    status_message: str = Field(description="What the status means for people, in the caller's language")
    progress: ProgressOut = Field(description="Objects synced so far in the running sync")
    last_sync_at: datetime | None
    calendars: list[CalendarOut]

    @classmethod
    def of(cls, account: CalendarAccount, t: Translator) -> AccountOut:
        return cls(
            id=account.id,
            provider=account.provider,
            display_name=account.display_name,
            username=account.username,
            server_url=shown_server_url(account.server_url),
            status=account.status,
            status_detail=account.status_detail,
            status_message=status_text(account, t),
            progress=ProgressOut(done=account.sync_done, total=account.sync_total),
            last_sync_at=account.last_sync_at,
            calendars=[CalendarOut.of(c) for c in account.calendars],
        )


class AccountListOut(BaseModel):
    accounts: list[AccountOut]


class CaldavAccountCreate(BaseModel):
    """Any CalDAV server: its address is required."""

    model_config = ConfigDict(extra="forbid")

    provider: Literal["caldav"]
    server_url: str = Field(
        min_length=1, max_length=2000, pattern=r"\S", description="e.g. https://caldav.fastmail.com/"
    )
    username: str = Field(min_length=1, max_length=320)
    password: SecretStr = Field(min_length=1, max_length=1024)


class ICloudAccountCreate(BaseModel):
    """iCloud: creneau knows its server, so no ``server_url`` (refused when given)."""

    model_config = ConfigDict(extra="forbid")

    provider: Literal["icloud"]
    username: str = Field(min_length=1, max_length=320, description="The Apple ID")
    password: SecretStr = Field(min_length=1, max_length=1024, description="An app-specific password")


# One schema per provider, so that the OpenAPI says what is required for which (server_url for caldav only).
AccountCreate = CaldavAccountCreate | ICloudAccountCreate


class FeedCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    url: str = Field(
        min_length=1,
        max_length=2000,
        description="The feed's address: webcal:// (read as https://), https://, or http://",
        examples=["webcal://calendar.example.org/timetable.ics"],
    )


class CalendarPatch(BaseModel):
    model_config = ConfigDict(extra="forbid")

    check_conflicts: bool


class DeletionReportOut(BaseModel):
    accounts: list[str] = Field(description="Names of the accounts removed")
    calendars: int
    events: int

    @classmethod
    def of(cls, report: DeletionReport) -> DeletionReportOut:
        return cls(accounts=list(report.accounts), calendars=report.calendars, events=report.events)


class BusyPeriod(BaseModel):
    start: datetime
    end: datetime


class FreeBusyOut(BaseModel):
    model_config = ConfigDict(populate_by_name=True)

    tz: str
    from_: datetime = Field(alias="from")
    to: datetime
    busy: list[BusyPeriod]


class ExchangeAccountCreate(BaseModel):
    """On-premises Exchange (EWS): the mailbox's address; the EWS address, or none to use Autodiscover."""

    model_config = ConfigDict(extra="forbid")

    provider: Literal["exchange"]
    email: str = Field(min_length=3, max_length=320, description="The mailbox's email address")
    server_url: str | None = Field(
        default=None,
        max_length=2000,
        description="The EWS address (https://mail.example.org/EWS/Exchange.asmx); left out: Autodiscover",
    )
    username: str = Field(
        min_length=1, max_length=320, description="DOMAIN\\user, the sign-in name (UPN) or the email address"
    )
    password: SecretStr = Field(min_length=1, max_length=1024)
