"""The demo database's Google and Microsoft accounts, kept working although the emulators restart empty.

The demo's database (``var/``) lasts between runs; the emulators' state does not. So each start:

- :func:`restore_sign_ins` gives every account connected through the emulators on an earlier run new tokens
  issued by the emulator for its connector's application, stored encrypted as a reconnect stores them. On
  Graph it first re-creates the user and its calendars under the ids the database holds (Graph ids are
  random). It also points the account at the emulator's current URL and forgets its push channels and sync
  cursors, which the emulator forgot; the account syncs at the next tick.
- :func:`ensure_legacy_account` connects legacy.researcher@gmail.example through the old Google integration
  (once), as that integration stored accounts (connector ``google_legacy``, the primary calendar only), and
  makes its calendar the destination of the session "Remote interview". Settings > Integrations then shows
  the old integration's notice and "Move to the new integration". Once moved, it is not brought back.
"""

from __future__ import annotations

import logging
from urllib.parse import urlsplit

from sqlalchemy import delete, select

from creneau.calendars.accounts import connect_oauth_account, reconnect_oauth_account
from creneau.calendars.oauth import OAuthApp, TokenSet, connector_of, is_oauth
from creneau.calendars.oauth.apps import GOOGLE_SCOPE, MICROSOFT_SCOPE
from creneau.demo import DEMO_EMAIL
from creneau.demo.cloud import LEGACY_EMAIL, DemoCloud
from creneau.emulators import msgraph as graph_emulator
from creneau.emulators.msgraph.model import User
from creneau.errors import CreneauError
from creneau.runtime import Runtime
from creneau.store.models import CalendarAccount, PushChannel, Researcher, StudySession

log = logging.getLogger(__name__)

LEGACY_SESSION = "Remote interview"  # the demo session whose bookings go to the old integration's calendar


def prepare_cloud_accounts(runtime: Runtime, cloud: DemoCloud) -> list[int]:
    """:func:`restore_sign_ins`, then :func:`ensure_legacy_account`; returns the ids of the accounts restored
    and of the legacy one. They sync at the next tick of the jobs (their next sync time is cleared)."""
    ready = restore_sign_ins(runtime, cloud)
    legacy = ensure_legacy_account(runtime, cloud)
    return [*ready, legacy] if legacy is not None and legacy not in ready else ready


def restore_sign_ins(runtime: Runtime, cloud: DemoCloud) -> list[int]:
    """New emulator tokens for every Google and Microsoft account of the database that points at a loopback
    address (the demo's emulators; an account elsewhere is left alone). An account that cannot be restored
    is logged and keeps its state (the Integrations page offers Reconnect). Returns the restored ids."""
    with runtime.ctx.sessions() as session:
        candidates = [
            (account.id, account.researcher_id)
            for account in session.scalars(select(CalendarAccount).order_by(CalendarAccount.id))
            if is_oauth(account) and urlsplit(account.server_url).hostname == "127.0.0.1"
        ]
    restored = []
    for account_id, researcher_id in candidates:
        try:
            _restore(runtime, cloud, account_id=account_id, researcher_id=researcher_id)
        except (CreneauError, KeyError) as exc:
            log.warning("demo account %s keeps its old sign-in: %s", account_id, exc)
            continue
        restored.append(account_id)
    return restored


def _restore(runtime: Runtime, cloud: DemoCloud, *, account_id: int, researcher_id: int) -> None:
    ctx = runtime.ctx
    with ctx.sessions() as session, session.begin():
        account = session.get(CalendarAccount, account_id)
        if account is None:
            return
        app = ctx.apps[connector_of(account)]
        if app.provider == "google":
            tokens = _google_tokens(cloud, account.username, app)
        else:
            personal = connector_of(account) == "outlook"
            user = cloud.graph.state.add_user(account.username, kind="personal" if personal else "work")
            stored = {c.remote_id: (c.name, c.read_only) for c in account.calendars}
            for remote_id, (name, read_only) in stored.items():
                _adopt_graph_calendar(cloud.graph.state, user, remote_id, name, read_only, keep=set(stored))
            issued = cloud.graph.state.issue_tokens(
                account.username, client_id=app.client_id, scope=MICROSOFT_SCOPE
            )
            tokens = TokenSet(issued["access_token"], issued["refresh_token"], float(issued["expires_at"]))
        reconnect_oauth_account(
            session, ctx=ctx, researcher_id=researcher_id, account_id=account_id, tokens=tokens
        )
        account.server_url = app.api_url  # the emulator's port may differ from the last run's
        for calendar in account.calendars:
            if calendar.sync_state is not None:
                calendar.sync_state.cursor = None  # sync tokens and delta links of the last run are gone
        session.execute(delete(PushChannel).where(PushChannel.account_id == account_id))


def _google_tokens(cloud: DemoCloud, email: str, app: OAuthApp) -> TokenSet:
    """The user (primary calendar id = the e-mail, so calendar ids stay the same) and tokens issued for
    ``app``'s client, which the token endpoint will then refresh."""
    state = cloud.google.state
    state.add_user(email)
    issued = state.accounts.issue(email, scope=GOOGLE_SCOPE, client_id=app.client_id)
    return TokenSet(issued.access_token, issued.refresh_token, issued.expires_at)


def _adopt_graph_calendar(
    state: graph_emulator.GraphState,
    user: User,
    remote_id: str,
    name: str,
    read_only: bool,
    *,
    keep: set[str],
) -> None:
    """Make the emulated calendar named ``name`` (created if missing) answer to ``remote_id``, the id creneau
    stored on an earlier run, so calendars, their settings and sessions' destinations carry over.

    GraphState has no way to choose a calendar's id, so this re-keys its ``calendars`` map (and the events
    of that calendar); it runs before any delta round or subscription could hold the old id.
    """
    with state.lock:
        if remote_id in state.calendars:
            return
        mine = [c for c in state.calendars_of(user) if c.name == name and c.id not in keep]
        calendar = mine[0] if mine else state.add_calendar(user.email, name, can_edit=not read_only)
        del state.calendars[calendar.id]
        for event in state.events.values():
            if event.calendar_id == calendar.id:
                event.calendar_id = remote_id
        calendar.id = remote_id
        state.calendars[remote_id] = calendar


def ensure_legacy_account(runtime: Runtime, cloud: DemoCloud) -> int | None:
    """The demo researcher's account of the old Google integration: created on the first start with tokens
    from the emulator (encrypted with the vault), its primary calendar made the destination of the session
    "Remote interview" when that has none. Returns its id; None when the researcher has moved it to the new
    integration (it stays moved) or the old integration is not configured."""
    ctx = runtime.ctx
    app = ctx.apps.get("google_legacy")
    if app is None:
        return None
    with ctx.sessions() as session, session.begin():
        demo = session.scalars(select(Researcher).where(Researcher.email == DEMO_EMAIL)).one()
        same_address = [
            a
            for a in session.scalars(
                select(CalendarAccount).where(
                    CalendarAccount.researcher_id == demo.id, CalendarAccount.username == LEGACY_EMAIL
                )
            )
        ]
        legacy = next((a for a in same_address if connector_of(a) == "google_legacy"), None)
        if legacy is not None:
            return legacy.id  # connected on an earlier start; restore_sign_ins renewed its tokens
        if same_address:
            return None  # moved to the new integration
        account, _created = connect_oauth_account(
            session,
            ctx=ctx,
            researcher_id=demo.id,
            connector="google_legacy",
            tokens=_google_tokens(cloud, LEGACY_EMAIL, app),
        )
        (calendar,) = account.calendars  # the old integration syncs the primary calendar only
        study_session = session.scalars(
            select(StudySession)
            .where(StudySession.manager_id == demo.id, StudySession.name == LEGACY_SESSION)
            .order_by(StudySession.id)
        ).first()
        if study_session is not None and study_session.destination_calendar_id is None:
            study_session.destination_calendar_id = calendar.id
            study_session.destination_lost = False
        return account.id
