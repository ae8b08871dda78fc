"""Settings > Integrations: connect calendar accounts, watch them sync, choose the calendars checked for
conflicts, delete one account or all of them. Every action is a plain form (works without JavaScript)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Form, Request
from fastapi.responses import RedirectResponse, Response
from sqlalchemy.orm import Session

from creneau.calendars import accounts as account_service
from creneau.calendars.accounts import (
    connect_account,
    connect_feed,
    get_account,
    list_accounts,
    set_check_conflicts,
    shown_server_url,
)
from creneau.errors import ProviderError, ValidationFailed
from creneau.runtime import Runtime
from creneau.scheduling.disconnect import DisconnectReport, disconnect_account, disconnect_all
from creneau.store.models import CalendarAccount, Researcher
from creneau.web.deps import CurrentResearcher, RuntimeDep, SessionDep
from creneau.web.deps import get_runtime as runtime_of
from creneau.web.errors import problem_for
from creneau.web.i18n import N_
from creneau.web.params import DbId
from creneau.web.render import flash, local_path, render, translator_for
from creneau.web.views import account_view, is_busy, provider_label

router = APIRouter(prefix="/settings/integrations")

PAGE = "/settings/integrations"
DELETED_KEY = "deleted"
MAX_NAMES_KEPT = 20  # the report rides in the session cookie: keep it small
APPLE_HELP_URL = "https://support.apple.com/en-us/102654"  # app-specific passwords


@dataclass
class ConnectForm:
    """A connect form shown again after a failure: what was typed (never the password) and why it failed."""

    provider: str
    server_url: str = ""
    username: str = ""
    error: str = ""
    error_code: str = ""
    error_field: str | None = None
    email: str = ""  # Exchange
    ews_url: str = ""  # Exchange: shown once Autodiscover failed, or when one was typed
    show_ews_url: bool = False


def _integrations_page(
    request: Request,
    session: Session,
    researcher: Researcher,
    *,
    status_code: int = 200,
    form: ConnectForm | None = None,
    next_path: str = "",
) -> Response:
    t = translator_for(request)
    accounts = list_accounts(session, researcher_id=researcher.id)
    ctx = runtime_of(request).ctx
    return render(
        request,
        "integrations.html",
        status_code=status_code,
        accounts=[account_view(a, t, ctx) for a in accounts],
        sync_minutes=max(1, ctx.settings.sync_interval_seconds // 60),
        legacy_removal=ctx.settings.legacy_google_removal_date,
        polling=any(is_busy(a) for a in accounts),
        form=form,
        deleted=request.session.pop(DELETED_KEY, None),
        apple_help_url=APPLE_HELP_URL,
        next_path=next_path,
    )


@router.get("")
def integrations(request: Request, session: SessionDep, researcher: CurrentResearcher) -> Response:
    return _integrations_page(request, session, researcher)


@router.post("/accounts")
def connect(
    request: Request,
    session: SessionDep,
    runtime: RuntimeDep,
    researcher: CurrentResearcher,
    provider: Annotated[Literal["caldav", "icloud", "ics"], Form()],
    # Longer than a server URL may be, so that too long a URL gets its own message with the form again.
    server_url: Annotated[str, Form(max_length=20_000)] = "",
    username: Annotated[str, Form(max_length=320)] = "",
    password: Annotated[str, Form(max_length=1024)] = "",
    next: Annotated[str, Form(max_length=2000)] = "",
) -> Response:
    # Connecting from a session's appointment settings comes back there, the new calendar preselected.
    back = local_path(next, "") if next.startswith("/sessions/") else ""
    try:
        if provider == "ics":  # Subscribe to a feed: its address only
            account = connect_feed(session, ctx=runtime.ctx, researcher_id=researcher.id, url=server_url)
        else:
            account = connect_account(
                session,
                ctx=runtime.ctx,
                researcher_id=researcher.id,
                provider=provider,
                server_url=(server_url.strip() or None) if provider == "caldav" else None,
                username=username,
                password=password,
            )
    except (ValidationFailed, ProviderError) as exc:
        session.rollback()
        problem = problem_for(exc, provider=provider)
        form = ConnectForm(
            provider=provider,
            server_url=shown_server_url(server_url) if provider in ("caldav", "ics") else "",
            username=username,
            error=problem.text(translator_for(request)),
            error_code=problem.code,
            error_field=problem.field,
        )
        return _integrations_page(
            request, session, researcher, status_code=problem.status, form=form, next_path=back
        )
    return _connected(request, session, runtime, account, shown=account.username, back=back)


@router.post("/exchange")
def connect_exchange(
    request: Request,
    session: SessionDep,
    runtime: RuntimeDep,
    researcher: CurrentResearcher,
    email: Annotated[str, Form(max_length=320)] = "",
    username: Annotated[str, Form(max_length=320)] = "",
    password: Annotated[str, Form(max_length=1024)] = "",
    ews_url: Annotated[str, Form(max_length=2000)] = "",
    next: Annotated[str, Form(max_length=2000)] = "",
) -> Response:
    """Connect Exchange: Autodiscover from the email address, or the EWS address once it is shown."""
    back = local_path(next, "") if next.startswith("/sessions/") else ""
    try:
        account = account_service.connect_exchange_account(
            session,
            ctx=runtime.ctx,
            researcher_id=researcher.id,
            email=email,
            username=username,
            password=password,
            ews_url=ews_url.strip() or None,
        )
    except (ValidationFailed, ProviderError) as exc:
        session.rollback()
        problem = problem_for(exc, provider="exchange")
        field = "ews_url" if problem.field == "server_url" else problem.field
        form = ConnectForm(
            provider="exchange",
            email=email,
            username=username,
            ews_url=ews_url,
            show_ews_url=bool(ews_url.strip()) or field == "ews_url",
            error=problem.text(translator_for(request)),
            error_code=problem.code,
            error_field=field,
        )
        return _integrations_page(
            request, session, researcher, status_code=problem.status, form=form, next_path=back
        )
    return _connected(request, session, runtime, account, shown=email.strip(), back=back)


def _connected(
    request: Request, session: Session, runtime: Runtime, account: CalendarAccount, *, shown: str, back: str
) -> Response:
    """After a connect: sync it, say so, and go back where the researcher came from (a session's settings,
    with the first writable calendar of the new account preselected), else to the account."""
    session.commit()  # the sync job reads the account from its own session
    runtime.jobs.enqueue_sync(account.id)
    flash(
        request,
        N_("%(name)s is connected; its calendars are being synchronised."),
        name=f"{provider_label(account.provider)} — {shown}",
    )
    if back:
        writable = [c for c in account.calendars if not c.read_only]
        query = f"?calendar={writable[0].id}" if writable else ""
        return RedirectResponse(f"{back.split('?')[0]}{query}#destination", status_code=303)
    return RedirectResponse(f"{PAGE}#account-{account.id}", status_code=303)


@router.post("/accounts/{account_id}/sync")
def sync_now(
    request: Request,
    account_id: DbId,
    session: SessionDep,
    runtime: RuntimeDep,
    researcher: CurrentResearcher,
) -> RedirectResponse:
    account = get_account(session, researcher_id=researcher.id, account_id=account_id)
    runtime.jobs.enqueue_sync(account.id)
    flash(request, N_("Synchronisation of %(name)s has started."), name=account.username)
    return RedirectResponse(f"{PAGE}#account-{account.id}", status_code=303)


@router.post("/calendars/{calendar_id}/conflicts")
def switch_conflicts(
    request: Request,
    calendar_id: DbId,
    session: SessionDep,
    researcher: CurrentResearcher,
    check_conflicts: Annotated[Literal["on", "off"], Form()],
) -> RedirectResponse:
    enabled = check_conflicts == "on"
    calendar = set_check_conflicts(
        session, researcher_id=researcher.id, calendar_id=calendar_id, enabled=enabled
    )
    if enabled:
        flash(request, N_("Conflicts with «%(name)s» are checked again."), name=calendar.name)
    else:
        flash(request, N_("Conflicts with «%(name)s» are no longer checked."), name=calendar.name)
    return RedirectResponse(f"{PAGE}#calendar-{calendar.id}", status_code=303)


def _confirm_page(request: Request, *, action: str, accounts: list[Any], all_accounts: bool) -> Response:
    t = translator_for(request)
    return render(
        request,
        "confirm_delete.html",
        action=action,
        accounts=[account_view(a, t) for a in accounts],
        all_accounts=all_accounts,
    )


def _remember_deletion(request: Request, disconnected: DisconnectReport) -> None:
    report = disconnected.deletion
    request.session[DELETED_KEY] = {
        "accounts": report.accounts[:MAX_NAMES_KEPT],
        "more": max(0, len(report.accounts) - MAX_NAMES_KEPT),
        "calendars": report.calendars,
        "events": report.events,
        "sessions": disconnected.sessions_flagged[:MAX_NAMES_KEPT],
    }


@router.get("/accounts/{account_id}/delete")
def confirm_delete_account(
    request: Request, account_id: DbId, session: SessionDep, researcher: CurrentResearcher
) -> Response:
    account = get_account(session, researcher_id=researcher.id, account_id=account_id)
    return _confirm_page(
        request, action=f"{PAGE}/accounts/{account.id}/delete", accounts=[account], all_accounts=False
    )


@router.post("/accounts/{account_id}/delete")
def remove_account(
    request: Request,
    account_id: DbId,
    session: SessionDep,
    runtime: RuntimeDep,
    researcher: CurrentResearcher,
    confirmed: Annotated[str, Form(max_length=8)] = "",
) -> Response:
    if confirmed != "yes":  # reached without JavaScript's confirm(): ask on a page of its own
        return confirm_delete_account(request, account_id, session, researcher)
    report = disconnect_account(session, ctx=runtime.ctx, researcher_id=researcher.id, account_id=account_id)
    _remember_deletion(request, report)
    return RedirectResponse(PAGE, status_code=303)


@router.get("/delete-all")
def confirm_delete_all(request: Request, session: SessionDep, researcher: CurrentResearcher) -> Response:
    accounts = list_accounts(session, researcher_id=researcher.id)
    return _confirm_page(request, action=f"{PAGE}/delete-all", accounts=list(accounts), all_accounts=True)


@router.post("/delete-all")
def remove_all_accounts(
    request: Request,
    session: SessionDep,
    runtime: RuntimeDep,
    researcher: CurrentResearcher,
    confirmed: Annotated[str, Form(max_length=8)] = "",
) -> Response:
    if confirmed != "yes":
        return confirm_delete_all(request, session, researcher)
    report = disconnect_all(session, ctx=runtime.ctx, researcher_id=researcher.id)
    _remember_deletion(request, report)
    return RedirectResponse(PAGE, status_code=303)
