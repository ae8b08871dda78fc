"""Route-by-route authorization: every route of the app, tried by people who must not reach MY things.

The routes come from the app's own routing table (every ``APIRoute`` of the pages, the API and the
webhooks). Each one must have a row in ``EXPECTATIONS``, keyed by ``(method, path template)``; a route
without a row fails ``test_every_route_has_an_expectation`` with the line to add.

The world (built once for the module, on the test database):

- ``me``: admin of workspace "mine" — a calendar account with two calendars, an API token, a study with a
  session and a booking, and an invitation *to me* from the stranger's workspace (addressed to me: mine).
- ``colleague``: an accepted plain member of my workspace (may use the workspace's studies and sessions,
  not my personal accounts, tokens or invitations, nor change roles).
- ``stranger``: another researcher, admin of a workspace of their own (with a session and a booking).
- ``other_member``: a plain member of a third workspace that has its own admin.
- ``invited``: invited to my workspace but has NOT accepted (so must get nothing of it).
- anonymous.

For each route and each attacker, every attempt must be refused (404 or 403; anonymous pages: a redirect to
``/login``; anonymous API: 401) and must change nothing of mine: the rows reachable from my researcher row,
my workspace and the invitation addressed to me (following foreign keys) are compared before and after.
Routes that act only on the caller's own things ("caller") are tried too: nothing of mine may change and no
name of mine may appear in the answer. Public routes list what they must still refuse.

Kinds of row:

``personal``   an object of mine named in the path (account, calendar, token, invitation to me): every
               other signed-in person, colleague included, gets 404/403.
``workspace``  an object of my workspace (study, session, booking): my colleague may use it (checked on
               GET), everybody else gets 404/403.
``admin``      an admin action on my workspace: even my colleague (not admin) is refused.
``caller``     no foreign id: acts on the caller's own things; must leak and change nothing of mine (tried
               by my colleague too, unless ``shared``: the page lists or changes the caller's workspace).
``public``     no sign-in needed; ``refuse`` lists requests that must still be refused, and with what.
"""

from __future__ import annotations

import re
import secrets
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, Literal

import httpx
import pytest
from cryptography.fernet import Fernet
from fastapi import FastAPI
from fastapi.routing import APIRoute
from fastapi.testclient import TestClient
from sqlalchemy import select

from creneau.config import Settings
from creneau.identity.service import create_api_token
from creneau.identity.sessions import list_sessions, start_session
from creneau.runtime import Runtime, build_runtime
from creneau.scheduling.studies import create_session, create_study
from creneau.scheduling.workspaces import accept_invitation, ensure_workspace, invite
from creneau.store.models import Base, Booking, Researcher, WorkspaceInvitation
from creneau.web.app import create_app
from tests.conftest import RESEARCHER_PASSWORD
from tests.web.conftest import csrf_of, seed_account

Kind = Literal["personal", "workspace", "admin", "caller", "public"]
ATTACKERS = ("colleague", "stranger", "other_member", "invited")
# Names of mine that nobody else may see in any answer.
MARKERS = ("MY-STUDY-7f3", "MY-SESSION-7f3", "my-caldav-login-7f3", "My private calendar 7f3", "my-token-7f3")


# --- the world ------------------------------------------------------------------------------------------


@dataclass
class World:
    runtime: Runtime
    app: FastAPI
    emails: dict[str, str]
    ids: dict[str, int]  # my objects: account, calendar, study, session, booking, member, invitation...
    theirs: dict[str, dict[str, int]]  # each attacker's own session and booking ("session", "booking")
    api_tokens: dict[str, str]
    booking_link: str
    token: str  # my session's public booking token
    roots: dict[str, set[int]] = field(default_factory=dict)
    signed_in: dict[str, Actor] = field(default_factory=dict)  # clients kept for the module (see _actor)


def _researcher(db: Any, email: str, name: str) -> Researcher:
    from creneau.identity.service import create_researcher

    return create_researcher(db, email=email, password=RESEARCHER_PASSWORD, name=name)


def _booking(db: Any, *, session_id: int, manager_id: int, days: int) -> Booking:
    start = datetime.now(UTC).replace(minute=0, second=0, microsecond=0) + timedelta(days=days)
    booking = Booking(
        session_id=session_id,
        manager_id=manager_id,
        start=start,
        end=start + timedelta(hours=1),
        blocked_start=start,
        blocked_end=start + timedelta(hours=1),
        participant_name="Ada Participant",
        participant_email="ada@example.org",
        uid=f"authz-{secrets.token_hex(6)}@creneau.test",
        link_nonce=secrets.token_hex(8),
        event_state="none",
    )
    db.add(booking)
    db.flush()
    return booking


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory, database_url: str) -> Iterator[World]:
    tmp: Path = tmp_path_factory.mktemp("authz")
    settings = Settings(
        environment="test",
        var_dir=tmp / "var",
        database_url=database_url,
        session_secret="test-session-secret-" + "x" * 32,
        secret_keys=Fernet.generate_key().decode(),
        allowed_private_networks=["127.0.0.0/8", "::1/128"],
        base_url="http://127.0.0.1:8000",
        sync_interval_seconds=3600,
        run_background_jobs=False,
    )
    runtime = build_runtime(settings)
    try:
        built = _build_world(runtime)
        yield built
        for actor in built.signed_in.values():
            actor.client.close()
    finally:
        runtime.close()
        with runtime.db.begin() as conn:
            for table in reversed(Base.metadata.sorted_tables):
                conn.execute(table.delete())
        runtime.db.dispose()


def _build_world(runtime: Runtime) -> World:
    emails = {
        "me": "me@authz.test",
        "colleague": "colleague@authz.test",
        "stranger": "stranger@authz.test",
        "other_admin": "other-admin@authz.test",
        "other_member": "other-member@authz.test",
        "invited": "invited@authz.test",
    }
    ids: dict[str, int] = {}
    theirs: dict[str, dict[str, int]] = {}
    with runtime.ctx.sessions() as db, db.begin():
        people = {key: _researcher(db, email, key) for key, email in emails.items()}
        me = people["me"]
        mine = ensure_workspace(db, researcher=me)
        ids["workspace"] = mine.workspace_id
        ids["my_member"] = mine.id
        invitation = invite(db, workspace_id=mine.workspace_id, inviter_id=me.id, email=emails["colleague"])
        ids["colleague_member"] = accept_invitation(
            db, researcher=people["colleague"], invitation_id=invitation.id
        ).id
        invite(db, workspace_id=mine.workspace_id, inviter_id=me.id, email=emails["invited"])
        study = create_study(db, workspace_id=mine.workspace_id, researcher_id=me.id, name=MARKERS[0])
        my_session = create_session(db, researcher=me, study_id=study.id, name=MARKERS[1])
        ids["study"], ids["session"] = study.id, my_session.id
        token = my_session.public_token
        booking = _booking(db, session_id=my_session.id, manager_id=me.id, days=3)
        ids["booking"] = booking.id
        link = runtime.sched.links.sign(booking_id=booking.id, nonce=booking.link_nonce)

        # the others' own workspaces, each with a session and a booking of their own
        team = ensure_workspace(db, researcher=people["other_admin"])
        invitation = invite(
            db,
            workspace_id=team.workspace_id,
            inviter_id=people["other_admin"].id,
            email=emails["other_member"],
        )
        accept_invitation(db, researcher=people["other_member"], invitation_id=invitation.id)
        for key in ("colleague", "stranger", "other_member", "invited"):
            person = people[key]
            workspace_id = ensure_workspace(db, researcher=person).workspace_id
            their_study = create_study(
                db, workspace_id=workspace_id, researcher_id=person.id, name=f"{key} study"
            )
            their_session = create_session(db, researcher=person, study_id=their_study.id, name=f"{key} s")
            their_booking = _booking(db, session_id=their_session.id, manager_id=person.id, days=4)
            theirs[key] = {"session": their_session.id, "booking": their_booking.id}
        # an invitation addressed to me, from the stranger's workspace
        stranger_ws = ensure_workspace(db, researcher=people["stranger"]).workspace_id
        to_me = invite(db, workspace_id=stranger_ws, inviter_id=people["stranger"].id, email=emails["me"])
        ids["invitation_to_me"] = to_me.id
        # an invitation of my workspace to someone without an account (mine: my workspace's)
        pending = db.scalars(
            select(WorkspaceInvitation).where(WorkspaceInvitation.email == emails["invited"])
        ).one()
        ids["my_pending_invitation"] = pending.id
        api_tokens = {
            key: create_api_token(db, researcher_id=p.id, label=f"{key} token") for key, p in people.items()
        }
        create_api_token(db, researcher_id=me.id, label=MARKERS[4])
        ids["me"] = me.id
        ids["my_token"] = max(t.id for t in me_tokens(db, me.id))
        start_session(
            db, researcher_id=me.id, user_agent="my browser", ip="192.0.2.7", settings=runtime.settings
        )
        ids["my_signin_session"] = max(
            s.id for s in list_sessions(db, researcher_id=me.id, settings=runtime.settings)
        )
        person_ids = {key: p.id for key, p in people.items()}
    account_id, calendar_ids = seed_account(
        runtime, me_obj(runtime, person_ids["me"]), username=MARKERS[2], calendars=(MARKERS[3], "Second")
    )
    ids["account"], ids["calendar"] = account_id, calendar_ids[0]
    for key in ATTACKERS:
        their_account, their_calendars = seed_account(
            runtime, me_obj(runtime, person_ids[key]), username=f"{key}-login", calendars=(f"{key} cal",)
        )
        theirs[key]["account"], theirs[key]["calendar"] = their_account, their_calendars[0]
    world = World(
        runtime=runtime,
        app=create_app(runtime),
        emails=emails,
        ids=ids,
        theirs=theirs,
        api_tokens=api_tokens,
        booking_link=link,
        token=token,
    )
    world.roots = {
        "researchers": {ids["me"]},
        "workspaces": {ids["workspace"]},
        "workspace_invitations": {ids["invitation_to_me"]},
    }
    return world


def me_tokens(db: Any, researcher_id: int) -> list[Any]:
    from creneau.identity.service import list_api_tokens

    return list_api_tokens(db, researcher_id=researcher_id)


def me_obj(runtime: Runtime, researcher_id: int) -> Researcher:
    with runtime.ctx.sessions() as db:
        found = db.get(Researcher, researcher_id)
        assert found is not None
        return found


# --- what of mine exists: rows reachable from my roots by foreign keys ----------------------------------


def snapshot(world: World) -> dict[str, list[tuple[Any, ...]]]:
    """Every row reachable from my researcher row, my workspace and the invitation addressed to me, by
    following foreign keys (a row is mine when its primary key is a root or one of its foreign keys points
    to a row of mine), with all its columns."""
    rows: dict[str, list[dict[str, Any]]] = {}
    with world.runtime.db.connect() as conn:
        for table in Base.metadata.sorted_tables:
            rows[table.name] = [dict(r._mapping) for r in conn.execute(table.select())]
    mine: dict[str, set[Any]] = {name: set(ids) for name, ids in world.roots.items()}
    changed = True
    while changed:
        changed = False
        for table in Base.metadata.sorted_tables:
            pk = [c.name for c in table.primary_key.columns]
            if len(pk) != 1:
                continue
            for row in rows[table.name]:
                key = row[pk[0]]
                if key in mine.setdefault(table.name, set()):
                    continue
                for fk in table.foreign_keys:
                    value = row.get(fk.parent.name)
                    if value is not None and value in mine.get(fk.column.table.name, set()):
                        mine[table.name].add(key)
                        changed = True
                        break
    out: dict[str, list[tuple[Any, ...]]] = {}
    for table in Base.metadata.sorted_tables:
        pk = [c.name for c in table.primary_key.columns]
        keep = mine.get(table.name, set())
        out[table.name] = sorted(
            (
                tuple(sorted((k, repr(v)) for k, v in row.items()))
                for row in rows[table.name]
                if row[pk[0]] in keep
            ),
        )
    return out


# --- the expectations -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Attempt:
    """One request: path parameters, query, body (form for pages, JSON for the API) and the statuses that
    count as refused for a signed-in attacker."""

    params: dict[str, object] = field(default_factory=dict)
    query: dict[str, str] = field(default_factory=dict)
    body: dict[str, Any] | None = None
    refused: frozenset[int] = frozenset({403, 404})


@dataclass(frozen=True)
class Probe:
    """A request to a public route that must be refused with ``status`` (and change nothing of mine)."""

    params: dict[str, object]
    status: frozenset[int]
    query: dict[str, str] = field(default_factory=dict)
    body: dict[str, Any] | None = None
    headers: dict[str, str] = field(default_factory=dict)
    content: bytes | None = None


AttemptsFor = Callable[[World, str], list[Attempt]]  # (world, attacker) -> attempts


@dataclass(frozen=True)
class Expect:
    kind: Kind
    attempts: AttemptsFor = lambda w, who: [Attempt()]
    owner_get: int | None = None  # GET as me (and as my colleague for "workspace"): the route does work
    refuse: Callable[[World], list[Probe]] | None = None  # public routes: must be refused
    works: Callable[[World], list[Probe]] | None = None  # public routes: the right token or link works
    shared: bool = False  # "caller" rows showing or changing the caller's WORKSPACE: my colleague's is mine
    why: str = ""


def mine(*names: str, body: dict[str, Any] | None = None) -> AttemptsFor:
    """Attempts naming my objects: ``mine("account")`` → ``{account_id: <my account>}``."""
    return lambda w, who: [Attempt(params={f"{n}_id": w.ids[n] for n in names}, body=body)]


def move_start(w: World) -> str:
    return (
        (datetime.now(UTC) + timedelta(days=5))
        .replace(hour=10, minute=0, second=0, microsecond=0)
        .isoformat()
    )


def settings_form(**extra: object) -> dict[str, Any]:
    return {"name": "Renamed by an attacker", "timezone": "Europe/Paris", "duration_minutes": "30", **extra}


def session_settings(w: World, who: str) -> list[Attempt]:
    """My session's settings; and the attacker's OWN session pointed at me as manager and at my calendar
    (the issue's item 1: another researcher's id in ``manager_id``)."""
    own = w.theirs[who]["session"]
    return [
        Attempt(params={"session_id": w.ids["session"]}, body=settings_form()),
        Attempt(
            params={"session_id": own},
            body=settings_form(manager_id=str(w.ids["me"]), destination_calendar_id=str(w.ids["calendar"])),
            refused=frozenset({422}),
        ),
        Attempt(
            params={"session_id": own},
            body=settings_form(destination_calendar_id=str(w.ids["calendar"])),
            refused=frozenset({422}),
        ),
    ]


def booking_action(body: Callable[[World], dict[str, Any]]) -> AttemptsFor:
    """My booking through my session, and through the attacker's own session (ids mixed)."""
    return lambda w, who: [
        Attempt(params={"session_id": w.ids["session"], "booking_id": w.ids["booking"]}, body=body(w)),
        Attempt(
            params={"session_id": w.theirs[who]["session"], "booking_id": w.ids["booking"]}, body=body(w)
        ),
    ]


def wrong_token(*suffix: str, status: int = 404, **query: str) -> Callable[[World], list[Probe]]:
    return lambda w: [
        Probe(params={"token": "no-such-token" + "".join(suffix)}, status=frozenset({status}), query=query),
    ]


def wrong_link(w: World) -> list[Probe]:
    stale = w.runtime.sched.links.sign(booking_id=w.ids["booking"], nonce="an-old-nonce")
    return [
        Probe(params={"link": "not-a-signed-link"}, status=frozenset({404})),
        Probe(params={"link": stale}, status=frozenset({404, 410})),
    ]


EXPECTATIONS: dict[tuple[str, str], Expect] = {
    # --- sign-in and language (public) ---
    ("GET", "/"): Expect("public", why="redirects to the studies (then to the sign-in page)"),
    ("GET", "/login"): Expect("public"),
    ("POST", "/login"): Expect(
        "public",
        refuse=lambda w: [
            Probe(
                params={},
                status=frozenset({401, 422}),
                body={"email": w.emails["me"], "password": "wrong-pass"},
            )
        ],
        why="a wrong password signs nobody in",
    ),
    ("POST", "/logout"): Expect("public", why="ends the caller's own session only"),
    ("POST", "/language"): Expect("public", why="sets the caller's language cookie"),
    ("GET", "/docs"): Expect("public", why="API documentation"),
    # --- Settings > Integrations ---
    ("GET", "/settings/integrations"): Expect("caller"),
    ("POST", "/settings/integrations/accounts"): Expect(
        "caller",
        attempts=lambda w, who: [
            Attempt(
                body={"provider": "caldav", "server_url": "ftp://nowhere", "username": "x", "password": "y"}
            )
        ],
    ),
    ("POST", "/settings/integrations/exchange"): Expect(
        "caller",
        attempts=lambda w, who: [
            Attempt(
                body={
                    "email": "x@nowhere.invalid",
                    "username": "x",
                    "password": "y",
                    "ews_url": "ftp://nowhere",
                }
            )
        ],
    ),
    ("POST", "/settings/integrations/accounts/{account_id}/sync"): Expect("personal", mine("account")),
    ("POST", "/settings/integrations/calendars/{calendar_id}/conflicts"): Expect(
        "personal", mine("calendar", body={"check_conflicts": "off"})
    ),
    ("GET", "/settings/integrations/accounts/{account_id}/delete"): Expect(
        "personal", mine("account"), owner_get=200
    ),
    ("POST", "/settings/integrations/accounts/{account_id}/delete"): Expect(
        "personal", mine("account", body={"confirmed": "yes"})
    ),
    ("GET", "/settings/integrations/delete-all"): Expect("caller"),
    ("POST", "/settings/integrations/delete-all"): Expect(
        "caller", attempts=lambda w, who: [Attempt(body={"confirmed": "yes"})]
    ),
    ("GET", "/settings/integrations/connect/{connector}"): Expect(
        "caller", attempts=lambda w, who: [Attempt(params={"connector": "google"})]
    ),
    ("GET", "/settings/integrations/accounts/{account_id}/reconnect"): Expect("personal", mine("account")),
    ("GET", "/settings/integrations/accounts/{account_id}/move"): Expect("personal", mine("account")),
    ("GET", "/oauth/callback"): Expect(
        "caller",
        attempts=lambda w, who: [Attempt(query={"state": "forged-state", "code": "stolen-code"})],
        why="the state must be one the caller's own session started",
    ),
    # --- Settings > API tokens ---
    ("GET", "/settings/api-tokens"): Expect("caller"),
    ("POST", "/settings/api-tokens"): Expect(
        "caller", attempts=lambda w, who: [Attempt(body={"label": "x"})]
    ),
    ("POST", "/settings/api-tokens/{token_id}/delete"): Expect(
        "personal", lambda w, who: [Attempt(params={"token_id": w.ids["my_token"]})]
    ),
    # --- Settings > Security (the caller's own password and sign-in sessions) ---
    ("GET", "/settings/security"): Expect("caller"),
    ("POST", "/settings/security/password"): Expect(
        "caller",
        attempts=lambda w, who: [
            Attempt(
                body={"current_password": "wrong", "new_password": "x" * 20, "new_password_again": "x" * 20}
            )
        ],
        why="changes the caller's own password only",
    ),
    ("POST", "/settings/security/sessions/{record_id}/end"): Expect(
        "personal", lambda w, who: [Attempt(params={"record_id": w.ids["my_signin_session"]})]
    ),
    ("POST", "/settings/security/sign-out-everywhere"): Expect(
        "caller", why="ends the caller's own sessions only (mine stay)"
    ),
    # --- studies and sessions (my workspace's) ---
    ("GET", "/studies"): Expect("caller", shared=True),
    ("POST", "/studies"): Expect(
        "caller", attempts=lambda w, who: [Attempt(body={"name": "their study"})], shared=True
    ),
    ("GET", "/studies/{study_id}"): Expect("workspace", mine("study"), owner_get=200),
    ("POST", "/studies/{study_id}/sessions"): Expect("workspace", mine("study", body={"name": "intruder"})),
    ("GET", "/sessions/{session_id}/settings"): Expect("workspace", mine("session"), owner_get=200),
    ("POST", "/sessions/{session_id}/settings"): Expect("workspace", session_settings),
    ("GET", "/sessions/{session_id}/bookings"): Expect("workspace", mine("session"), owner_get=200),
    ("POST", "/sessions/{session_id}/bookings/{booking_id}/cancel"): Expect(
        "workspace", booking_action(lambda w: {})
    ),
    ("POST", "/sessions/{session_id}/bookings/{booking_id}/move"): Expect(
        "workspace", booking_action(lambda w: {"start": move_start(w)})
    ),
    # --- Settings > Workspace, Settings > Invitations ---
    ("GET", "/settings/workspace"): Expect("caller"),
    ("POST", "/settings/workspace/invitations"): Expect(
        "caller", attempts=lambda w, who: [Attempt(body={"email": f"new-{who}@authz.test", "role": "member"})]
    ),
    ("POST", "/settings/workspace/members/{member_id}/role"): Expect(
        "admin",
        lambda w, who: [
            Attempt(params={"member_id": w.ids["colleague_member"]}, body={"role": "admin"}),
            Attempt(params={"member_id": w.ids["my_member"]}, body={"role": "member"}),
        ],
    ),
    ("GET", "/settings/invitations"): Expect("caller"),
    ("POST", "/settings/invitations/{invitation_id}/accept"): Expect(
        "personal",
        lambda w, who: [
            Attempt(params={"invitation_id": w.ids["invitation_to_me"]}),
            # my workspace's invitation to "invited" is theirs to answer, nobody else's
            *(
                [Attempt(params={"invitation_id": w.ids["my_pending_invitation"]})]
                if who != "invited"
                else []
            ),
        ],
        why="only the invited address answers; the inviter cannot accept for them",
    ),
    ("POST", "/settings/invitations/{invitation_id}/decline"): Expect(
        "personal", lambda w, who: [Attempt(params={"invitation_id": w.ids["invitation_to_me"]})]
    ),
    # --- the participant's pages (public, by token or signed link) ---
    ("GET", "/book/{token}"): Expect(
        "public",
        refuse=wrong_token(),
        works=lambda w: [Probe(params={"token": w.token}, status=frozenset({200}))],
    ),
    ("GET", "/book/{token}/slots.json"): Expect("public", refuse=wrong_token()),
    ("GET", "/book/{token}/confirm"): Expect("public", refuse=wrong_token()),
    ("POST", "/book/{token}"): Expect("public", refuse=wrong_token()),
    ("GET", "/booking/{link}"): Expect(
        "public",
        refuse=wrong_link,
        works=lambda w: [Probe(params={"link": w.booking_link}, status=frozenset({200}))],
    ),
    ("GET", "/booking/{link}/cancel"): Expect("public", refuse=wrong_link),
    ("POST", "/booking/{link}/cancel"): Expect("public", refuse=wrong_link),
    ("GET", "/booking/{link}/reschedule"): Expect("public", refuse=wrong_link),
    ("POST", "/booking/{link}/reschedule"): Expect("public", refuse=wrong_link),
    # --- the JSON API (Bearer token) ---
    ("GET", "/api/v1/accounts"): Expect("caller"),
    ("POST", "/api/v1/accounts"): Expect(
        "caller",
        attempts=lambda w, who: [
            Attempt(
                body={"provider": "caldav", "server_url": "ftp://nowhere", "username": "x", "password": "y"}
            )
        ],
    ),
    ("POST", "/api/v1/feeds"): Expect(
        "caller", attempts=lambda w, who: [Attempt(body={"url": "ftp://nowhere/feed.ics"})]
    ),
    ("POST", "/api/v1/accounts/{account_id}/sync"): Expect("personal", mine("account")),
    ("DELETE", "/api/v1/accounts/{account_id}"): Expect("personal", mine("account")),
    ("DELETE", "/api/v1/accounts"): Expect("caller", why="deletes the caller's own accounts"),
    ("PATCH", "/api/v1/calendars/{calendar_id}"): Expect(
        "personal", mine("calendar", body={"check_conflicts": False})
    ),
    ("GET", "/api/v1/free_busy"): Expect(
        "caller",
        attempts=lambda w, who: [
            Attempt(query={"from": "2026-01-01T00:00:00Z", "to": "2026-01-08T00:00:00Z"})
        ],
    ),
    # --- push webhooks: no session; the channel's secret is the credential (tests/web/test_push.py) ---
    ("POST", "/webhooks/{path:path}"): Expect(
        "public",
        refuse=lambda w: [
            Probe(
                params={"path": "google"},
                status=frozenset({403}),
                headers={
                    "X-Goog-Channel-ID": "forged",
                    "X-Goog-Channel-Token": "x",
                    "X-Goog-Resource-State": "exists",
                },
            ),
            Probe(params={"path": "microsoft"}, status=frozenset({400}), content=b"not json"),
            Probe(
                params={"path": "microsoft"},
                status=frozenset({403}),
                content=b'{"value": [{"subscriptionId": "forged", "clientState": "x", "changeType": "updated"}]}',  # noqa: E501
                headers={"Content-Type": "application/json"},
            ),
            Probe(params={"path": "microsoft/lifecycle"}, status=frozenset({400}), content=b"not json"),
            Probe(params={"path": "no-such-provider"}, status=frozenset({404}), content=b"{}"),
        ],
        why="a provider's push notifications: each provider checks its own channel secret",
    ),
}


# --- the routes of the app ------------------------------------------------------------------------------


def app_routes(app: FastAPI) -> list[tuple[str, str]]:
    """(method, path template) of every APIRoute the app serves, from its own routing table.

    Not listed, by construction: the static file mounts (``/static``, ``/static/swagger``: files, no data)
    and ``/openapi.json`` (a plain Starlette route: the API's public description).
    """
    try:
        from fastapi.routing import iter_route_contexts  # FastAPI keeps included routers as they are
    except ImportError:  # older FastAPI: included routes are copied into app.routes
        contexts: list[Any] = list(app.routes)
    else:
        contexts = list(iter_route_contexts(app.routes))
    found = set()
    for context in contexts:
        route = getattr(context, "original_route", context)
        if not isinstance(route, APIRoute):
            continue
        for method in sorted(context.methods or ()):
            if method != "HEAD":
                found.add((method, str(context.path)))
    return sorted(found)


def _routes_for_params() -> list[tuple[str, str]]:
    return sorted(EXPECTATIONS)


def test_every_route_has_an_expectation(world: World) -> None:
    served = app_routes(world.app)
    assert len(served) > 40, served  # the routing table was read
    missing = [route for route in served if route not in EXPECTATIONS]
    assert not missing, (
        "Routes without an authorization expectation in tests/web/test_authorization.py: add a row to "
        "EXPECTATIONS for each, saying who may reach what:\n"
        + "\n".join(f'    ("{m}", "{p}"): Expect(<kind>, ...),' for m, p in missing)
        + '\n<kind>: "personal", "workspace", "admin", "caller" or "public" (see the module docstring).'
    )
    gone = [route for route in EXPECTATIONS if route not in served]
    assert not gone, f"EXPECTATIONS lists routes the app no longer serves; remove them: {gone}"


# --- clients --------------------------------------------------------------------------------------------


@dataclass
class Actor:
    name: str
    client: TestClient
    csrf: str
    api_token: str | None


def _actor(world: World, name: str) -> Actor:
    """``name``'s client, signed in once per module (a password check costs an Argon2 hash); signed in
    again when a route ended its session. ``anonymous`` gets a fresh client each time."""
    if name != "anonymous":
        kept = world.signed_in.get(name)
        if kept is not None:
            page = kept.client.get("/studies")
            if page.status_code == 200:
                kept.csrf = csrf_of(page.text)
                return kept
        actor = _sign_in(world, name)
        world.signed_in[name] = actor
        return actor
    return _sign_in(world, name)


def _sign_in(world: World, name: str) -> Actor:
    client = TestClient(world.app, follow_redirects=False)
    csrf = csrf_of(client.get("/login").text)
    if name == "anonymous":
        return Actor(name, client, csrf, None)
    answer = client.post(
        "/login", data={"email": world.emails[name], "password": RESEARCHER_PASSWORD, "csrf_token": csrf}
    )
    assert answer.status_code == 303, answer.text
    page = client.get("/studies")
    assert page.status_code == 200, page.text
    return Actor(name, client, csrf_of(page.text), world.api_tokens[name])


def _send(actor: Actor, method: str, path: str, attempt: Attempt | Probe) -> httpx.Response:
    url = re.sub(r"\{(\w+):\w+\}", r"{\1}", path).format(**attempt.params)  # {path:path} converters
    headers = dict(attempt.headers) if isinstance(attempt, Probe) else {}
    content = attempt.content if isinstance(attempt, Probe) else None
    answer: httpx.Response
    if path.startswith("/api/"):
        if actor.api_token:
            headers["Authorization"] = f"Bearer {actor.api_token}"
        json_body = attempt.body if method not in ("GET", "DELETE") else None
        answer = actor.client.request(method, url, params=attempt.query, json=json_body, headers=headers)
    elif content is not None:
        answer = actor.client.request(method, url, params=attempt.query, content=content, headers=headers)
    elif method == "GET":
        answer = actor.client.request(method, url, params=attempt.query, headers=headers)
    else:
        data = {"csrf_token": actor.csrf, **(attempt.body or {})}
        answer = actor.client.request(method, url, params=attempt.query, data=data, headers=headers)
    return answer


def _expected_path(method: str, path: str) -> str:
    return f"{method} {path}"


# --- the table-driven test ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("method", "path"), _routes_for_params(), ids=[f"{m} {p}" for m, p in _routes_for_params()]
)
def test_nobody_reaches_what_is_not_theirs(world: World, method: str, path: str) -> None:
    expect = EXPECTATIONS[(method, path)]
    where = _expected_path(method, path)
    before = snapshot(world)

    if expect.kind == "public":
        anonymous = _actor(world, "anonymous")
        for probe in expect.refuse(world) if expect.refuse else []:
            answer = _send(anonymous, method, path, probe)
            assert answer.status_code in probe.status, (where, probe, answer.status_code, answer.text[:300])
            assert answer.status_code < 500
        for probe in expect.works(world) if expect.works else []:
            answer = _send(anonymous, method, path, probe)
            assert answer.status_code in probe.status, (where, probe, answer.status_code, answer.text[:300])
        if (method, path) == ("POST", "/login"):
            assert anonymous.client.get("/studies").status_code == 303  # still signed out
        assert snapshot(world) == before, f"{where}: a public route changed something of mine"
        return

    # Anonymous: pages send the browser to the sign-in page, the API answers 401.
    anonymous = _actor(world, "anonymous")
    for attempt in expect.attempts(world, "stranger"):
        answer = _send(anonymous, method, path, attempt)
        if path.startswith("/api/"):
            assert answer.status_code == 401, (where, "anonymous", answer.status_code, answer.text[:300])
        else:
            assert answer.status_code == 303, (where, "anonymous", answer.status_code, answer.text[:300])
            assert answer.headers["location"].startswith("/login"), (where, answer.headers["location"])
    assert snapshot(world) == before, f"{where}: an anonymous request changed something of mine"

    # My colleague may use my workspace's things, and sees them on the pages that list the workspace.
    colleague_allowed = expect.kind == "workspace" or (expect.kind == "caller" and expect.shared)
    attackers = [a for a in ATTACKERS if not (a == "colleague" and colleague_allowed)]
    for name in attackers:
        actor = _actor(world, name)
        for attempt in expect.attempts(world, name):
            answer = _send(actor, method, path, attempt)
            shown = answer.text
            if expect.kind == "caller":
                assert answer.status_code < 500, (where, name, answer.status_code, shown[:300])
            else:
                assert answer.status_code in attempt.refused, (
                    where,
                    name,
                    attempt,
                    answer.status_code,
                    shown[:300],
                )
            leaked = [marker for marker in MARKERS if marker in shown]
            assert not leaked, f"{where} as {name}: the answer shows {leaked}"
            assert snapshot(world) == before, f"{where} as {name} ({attempt}): something of mine changed"

    if expect.owner_get is not None and method == "GET":
        for name in ("me", "colleague") if expect.kind == "workspace" else ("me",):
            actor = _actor(world, name)
            for attempt in expect.attempts(world, name):
                answer = _send(actor, method, path, attempt)
                assert answer.status_code == expect.owner_get, (
                    where,
                    name,
                    answer.status_code,
                    answer.text[:300],
                )
