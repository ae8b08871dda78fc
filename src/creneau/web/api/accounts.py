"""``/api/v1/accounts`` and ``/api/v1/calendars``: connected accounts, their calendars, sync, deletion."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request, status
from fastapi.responses import Response

from creneau.calendars import accounts as account_service
from creneau.calendars.accounts import (
    connect_account,
    connect_feed,
    get_account,
    list_accounts,
    set_check_conflicts,
)
from creneau.errors import ProviderError
from creneau.scheduling.disconnect import disconnect_account, disconnect_all
from creneau.web.api import schemas
from creneau.web.api.schemas import (
    MALFORMED_JSON,
    AccountCreate,
    AccountListOut,
    AccountOut,
    CaldavAccountCreate,
    CalendarOut,
    CalendarPatch,
    DeletionReportOut,
    ErrorOut,
    FeedCreate,
    ValidationErrorOut,
)
from creneau.web.deps import ApiResearcher, RuntimeDep, SessionDep
from creneau.web.errors import problem_for, respond
from creneau.web.params import DbId
from creneau.web.render import translator_for

router = APIRouter(tags=["accounts"])

NOT_FOUND: dict[int | str, dict[str, Any]] = {
    404: {"model": ErrorOut, "description": "No such object for this researcher"}
}


@router.get("/accounts", response_model=AccountListOut)
def get_accounts(request: Request, session: SessionDep, researcher: ApiResearcher) -> AccountListOut:
    """Every connected account with its calendars, sync status and progress."""
    t = translator_for(request)
    return AccountListOut(
        accounts=[AccountOut.of(a, t) for a in list_accounts(session, researcher_id=researcher.id)]
    )


@router.post(
    "/accounts",
    response_model=AccountOut,
    status_code=status.HTTP_201_CREATED,
    responses={
        **MALFORMED_JSON,
        422: {
            "model": ErrorOut | ValidationErrorOut,
            "description": "A field is wrong, or the server refused the credentials",
        },
        502: {"model": ErrorOut, "description": "The calendar server answered with an error"},
        503: {"model": ErrorOut, "description": "The calendar server asks to slow down (Retry-After)"},
    },
)
def create_account(
    request: Request,
    body: AccountCreate | schemas.ExchangeAccountCreate,
    session: SessionDep,
    runtime: RuntimeDep,
    researcher: ApiResearcher,
) -> AccountOut | Response:
    """Connect a calendar account; it is checked against its server first, then synced in the background."""
    if isinstance(body, schemas.ExchangeAccountCreate):
        return _create_exchange_account(
            request, body, session=session, runtime=runtime, researcher=researcher
        )

    try:
        account = connect_account(
            session,
            ctx=runtime.ctx,
            researcher_id=researcher.id,
            provider=body.provider,
            server_url=body.server_url if isinstance(body, CaldavAccountCreate) else None,
            username=body.username,
            password=body.password.get_secret_value(),
        )
    except ProviderError as exc:
        session.rollback()
        return respond(request, problem_for(exc, provider=body.provider))
    session.commit()  # before the job looks for it
    runtime.jobs.enqueue_sync(account.id)
    return AccountOut.of(account, translator_for(request))


def _create_exchange_account(
    request: Request,
    body: schemas.ExchangeAccountCreate,
    *,
    session: SessionDep,
    runtime: RuntimeDep,
    researcher: ApiResearcher,
) -> AccountOut | Response:
    try:
        account = account_service.connect_exchange_account(
            session,
            ctx=runtime.ctx,
            researcher_id=researcher.id,
            email=body.email,
            username=body.username,
            password=body.password.get_secret_value(),
            ews_url=body.server_url,
            url_field="server_url",
        )
    except ProviderError as exc:
        session.rollback()
        return respond(request, problem_for(exc, provider="exchange"))
    session.commit()  # before the job looks for it
    runtime.jobs.enqueue_sync(account.id)
    return AccountOut.of(account, translator_for(request))


@router.post(
    "/feeds",
    response_model=AccountOut,
    status_code=status.HTTP_201_CREATED,
    responses={
        **MALFORMED_JSON,
        422: {
            "model": ErrorOut | ValidationErrorOut,
            "description": "A malformed address (invalid), not a calendar feed (not_feed), a feed over the "
            "size limit (too_large), an address in a forbidden network (address_forbidden)",
        },
        502: {"model": ErrorOut, "description": "The feed's server answered with an error"},
        503: {"model": ErrorOut, "description": "The feed's server asks to slow down (Retry-After)"},
    },
)
def subscribe_feed(
    request: Request, body: FeedCreate, session: SessionDep, runtime: RuntimeDep, researcher: ApiResearcher
) -> AccountOut | Response:
    """Subscribe to a read-only ICS feed: an account with one read-only calendar whose events count as busy
    times (never a destination). It is downloaded once first, then refreshed at every sync interval."""
    try:
        account = connect_feed(session, ctx=runtime.ctx, researcher_id=researcher.id, url=body.url)
    except ProviderError as exc:
        session.rollback()
        return respond(request, problem_for(exc, provider="ics"))
    session.commit()  # before the job looks for it
    runtime.jobs.enqueue_sync(account.id)
    return AccountOut.of(account, translator_for(request))


@router.post(
    "/accounts/{account_id}/sync",
    response_model=AccountOut,
    status_code=status.HTTP_202_ACCEPTED,
    responses=NOT_FOUND,
)
def sync_account_now(
    request: Request, account_id: DbId, session: SessionDep, runtime: RuntimeDep, researcher: ApiResearcher
) -> AccountOut:
    """Ask for a sync soon; repeated asks while one is queued count once."""
    account = get_account(session, researcher_id=researcher.id, account_id=account_id)
    runtime.jobs.enqueue_sync(account.id)
    return AccountOut.of(account, translator_for(request))


@router.delete("/accounts/{account_id}", response_model=DeletionReportOut, responses=NOT_FOUND)
def remove_account(
    account_id: DbId, session: SessionDep, runtime: RuntimeDep, researcher: ApiResearcher
) -> DeletionReportOut:
    """Delete the account, its stored password and every synced event of its calendars. Sessions writing to
    one of its calendars are flagged "no destination calendar"; their bookings are kept."""
    report = disconnect_account(session, ctx=runtime.ctx, researcher_id=researcher.id, account_id=account_id)
    return DeletionReportOut.of(report.deletion)


@router.delete("/accounts", response_model=DeletionReportOut)
def remove_all_accounts(
    session: SessionDep, runtime: RuntimeDep, researcher: ApiResearcher
) -> DeletionReportOut:
    """Delete all the researcher's accounts (sessions are flagged as for one account)."""
    return DeletionReportOut.of(
        disconnect_all(session, ctx=runtime.ctx, researcher_id=researcher.id).deletion
    )


@router.patch(
    "/calendars/{calendar_id}",
    response_model=CalendarOut,
    tags=["calendars"],
    responses={**NOT_FOUND, **MALFORMED_JSON},
)
def patch_calendar(
    calendar_id: DbId, body: CalendarPatch, session: SessionDep, researcher: ApiResearcher
) -> CalendarOut:
    """Turn the conflict check of one calendar on or off."""
    calendar = set_check_conflicts(
        session, researcher_id=researcher.id, calendar_id=calendar_id, enabled=body.check_conflicts
    )
    return CalendarOut.of(calendar)
