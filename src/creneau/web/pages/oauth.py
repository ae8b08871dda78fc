"""Connecting Google, Office 365 and Outlook.com accounts over OAuth 2, reconnecting them, and moving the old
Google integration to the new one — the browser's part of ``calendars/oauth``.

Starting is a GET (the Connect buttons are links: the page's Content-Security-Policy lets forms post only to
this site, and a form's redirect to Google would be blocked). It stores the pending authorization in the
signed session and redirects to the provider's consent page. The provider sends the browser back to ONE
redirect URI for every connector, ``/oauth/callback``, which accepts the answer only with the ``state`` of a
flow this very researcher started, redeems the code with its PKCE verifier, then connects, reconnects or
migrates, and queues the account's sync.
"""

from __future__ import annotations

import logging
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from fastapi.responses import RedirectResponse, Response

from creneau.calendars.accounts import connect_oauth_account, get_account, reconnect_oauth_account
from creneau.calendars.oauth import connector_of, flow
from creneau.calendars.oauth.flow import PendingAuthorization, Purpose
from creneau.calendars.oauth.tokens import TokenSet, exchange_code
from creneau.errors import NotFound, ProviderError, ValidationFailed
from creneau.runtime import Runtime
from creneau.scheduling.migration import move_to_new_integration
from creneau.store.models import CalendarAccount
from creneau.web.deps import CurrentResearcher, RuntimeDep, SessionDep
from creneau.web.errors import problem_for
from creneau.web.i18n import N_
from creneau.web.params import DbId
from creneau.web.render import flash, local_path, translator_for
from creneau.web.views import provider_label

log = logging.getLogger(__name__)
router = APIRouter()

INTEGRATIONS = "/settings/integrations"
CALLBACK = "/oauth/callback"
PENDING_KEY = "oauth_pending"
MAX_PENDING = 3  # flows started in other tabs stay valid, a few of them


def redirect_uri(runtime: Runtime) -> str:
    """The one redirect URI to register at Google and Microsoft."""
    return runtime.settings.base_url.rstrip("/") + CALLBACK


def _start(
    request: Request,
    runtime: Runtime,
    researcher_id: int,
    *,
    connector: str,
    purpose: Purpose = "connect",
    account_id: int | None = None,
    next_path: str = "",
    login_hint: str = "",
) -> Response:
    app = runtime.ctx.apps.get(connector)
    if app is None:
        raise NotFound(f"{connector} accounts are not configured on this creneau")
    pending, url = flow.begin(
        app,
        researcher_id=researcher_id,
        redirect_uri=redirect_uri(runtime),
        purpose=purpose,
        account_id=account_id,
        next_path=next_path,
        login_hint=login_hint,
    )
    kept = [p for p in request.session.get(PENDING_KEY, []) if isinstance(p, dict)][-(MAX_PENDING - 1) :]
    request.session[PENDING_KEY] = [*kept, pending.as_dict()]
    return RedirectResponse(url, status_code=303)


@router.get(INTEGRATIONS + "/connect/{connector}")
def connect(
    request: Request,
    connector: str,
    runtime: RuntimeDep,
    researcher: CurrentResearcher,
    next: Annotated[str, Query(max_length=2000)] = "",
) -> Response:
    back = local_path(next, "") if next.startswith("/sessions/") else ""
    if connector == "google_legacy":  # nobody connects to the old integration any more
        raise NotFound("the old Google integration accepts no new accounts")
    return _start(request, runtime, researcher.id, connector=connector, next_path=back)


@router.get(INTEGRATIONS + "/accounts/{account_id}/reconnect")
def reconnect(
    request: Request,
    account_id: DbId,
    session: SessionDep,
    runtime: RuntimeDep,
    researcher: CurrentResearcher,
) -> Response:
    account = get_account(session, researcher_id=researcher.id, account_id=account_id)
    connector = connector_of(account)
    if connector == "google_legacy":
        return move(request, account_id, session, runtime, researcher)
    return _start(
        request,
        runtime,
        researcher.id,
        connector=connector,
        purpose="reconnect",
        account_id=account.id,
        login_hint=account.username,
    )


@router.get(INTEGRATIONS + "/accounts/{account_id}/move")
def move(
    request: Request,
    account_id: DbId,
    session: SessionDep,
    runtime: RuntimeDep,
    researcher: CurrentResearcher,
) -> Response:
    """ "Move to the new integration": the new Google flow, then the legacy account's place is taken."""
    account = get_account(session, researcher_id=researcher.id, account_id=account_id)
    if connector_of(account) != "google_legacy":
        raise NotFound("only accounts of the old Google integration move to the new one")
    return _start(
        request,
        runtime,
        researcher.id,
        connector="google",
        purpose="migrate",
        account_id=account.id,
        login_hint=account.username,
    )


def _take_pending(request: Request, state: str, researcher_id: int) -> PendingAuthorization | None:
    found, kept = None, []
    for data in request.session.get(PENDING_KEY, []):
        pending = PendingAuthorization.from_dict(data)
        if (
            pending is not None
            and found is None
            and pending.matches(state=state, researcher_id=researcher_id)
        ):
            found = pending
        elif pending is not None:
            kept.append(data)
    request.session[PENDING_KEY] = kept
    return found


@router.get(CALLBACK)
def callback(
    request: Request,
    session: SessionDep,
    runtime: RuntimeDep,
    researcher: CurrentResearcher,
    state: Annotated[str, Query(max_length=500)] = "",
    code: Annotated[str, Query(max_length=4000)] = "",
    error: Annotated[str, Query(max_length=200)] = "",
) -> Response:
    pending = _take_pending(request, state, researcher.id) if state else None
    if pending is None:
        log.warning(
            "OAuth callback with an unknown or foreign state for researcher %s: refused", researcher.id
        )
        flash(
            request,
            N_(
                "This sign-in answer was not expected (it is old, or was started elsewhere); "
                "nothing was connected."
            ),
            kind="error",
        )
        return RedirectResponse(INTEGRATIONS, status_code=303)
    label = provider_label(pending.connector)
    back = pending.next_path or INTEGRATIONS
    if error or not code:
        if error == "access_denied":
            message = N_(
                "You did not allow creneau to use your %(provider)s calendars; nothing was connected."
            )
        else:
            message = N_("%(provider)s refused the sign-in (%(error)s); nothing was connected.")
        flash(request, message, kind="error", provider=label, error=error or "no code")
        return RedirectResponse(back, status_code=303)
    app = runtime.ctx.apps.get(pending.connector)
    try:
        if app is None:
            raise NotFound(f"{pending.connector} accounts are not configured on this creneau")
        tokens = exchange_code(
            app, code=code, redirect_uri=pending.redirect_uri, code_verifier=pending.code_verifier
        )
        account, message = _finish(session, runtime, researcher.id, pending, tokens)
    except (ProviderError, ValidationFailed) as exc:
        session.rollback()
        problem = problem_for(exc, provider="oauth")
        reason = problem.text(translator_for(request))
        flash(request, N_("%(provider)s could not be connected: %(reason)s"), kind="error", provider=label,
              reason=reason)  # fmt: skip
        return RedirectResponse(back, status_code=303)
    session.commit()  # the sync job reads the account from its own session
    runtime.jobs.enqueue_sync(account.id)
    flash(request, message, name=f"{label} — {account.username}")
    if pending.next_path:
        writable = [c for c in account.calendars if not c.read_only]
        query = f"?calendar={writable[0].id}" if writable else ""
        return RedirectResponse(f"{pending.next_path.split('?')[0]}{query}#destination", status_code=303)
    return RedirectResponse(f"{INTEGRATIONS}#account-{account.id}", status_code=303)


def _finish(
    session: Any, runtime: Runtime, researcher_id: int, pending: PendingAuthorization, tokens: TokenSet
) -> tuple[CalendarAccount, str]:
    """Connect, reconnect or migrate; returns the account and the message to show."""
    ctx = runtime.ctx
    if pending.purpose == "reconnect" and pending.account_id is not None:
        account = reconnect_oauth_account(
            session, ctx=ctx, researcher_id=researcher_id, account_id=pending.account_id, tokens=tokens
        )
        return account, N_("%(name)s is reconnected; its calendars are being synchronised.")
    if pending.purpose == "migrate" and pending.account_id is not None:
        moved = move_to_new_integration(
            session, ctx=ctx, researcher_id=researcher_id, legacy_account_id=pending.account_id, tokens=tokens
        )
        return moved.account, N_(
            "%(name)s now uses the new Google integration; your sessions keep their calendars."
        )
    account, created = connect_oauth_account(
        session, ctx=ctx, researcher_id=researcher_id, connector=pending.connector, tokens=tokens
    )
    if created:
        return account, N_("%(name)s is connected; its calendars are being synchronised.")
    return account, N_("%(name)s was already connected; its sign-in is renewed.")
