"""Fixtures for the web layer: the app on a real database, a signed-in client, a real Radicale.

Builds on ``tests/conftest.py`` (``settings``, ``runtime``, ``researcher``, ``other_researcher``).
"""

from __future__ import annotations

import html
import re
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from creneau.runtime import Runtime
from creneau.store.models import Researcher
from creneau.web.app import create_app
from tests.conftest import RESEARCHER_PASSWORD
from tests.servers import RunningServer, start_radicale

RADICALE_USER = "alice"
RADICALE_PASSWORD = "alice-radicale-password"
TODAY = datetime.now(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
_CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')


def seen(response: httpx.Response) -> str:
    """The page's text as a reader sees it: entities decoded, non-breaking spaces as spaces."""
    return html.unescape(response.text).replace("\u00a0", " ").replace("\u202f", " ")


def csrf_of(html: str) -> str:
    match = _CSRF.search(html)
    assert match, "no CSRF field in the page"
    return match.group(1)


def ics(uid: str, start: datetime, hours: float = 1, summary: str | None = None) -> str:
    fmt = "%Y%m%dT%H%M%SZ"
    return "\r\n".join(
        [
            "BEGIN:VCALENDAR",
            "VERSION:2.0",
            "PRODID:-//creneau web tests//EN",
            "BEGIN:VEVENT",
            f"UID:{uid}",
            f"DTSTAMP:{TODAY.strftime(fmt)}",
            f"DTSTART:{start.strftime(fmt)}",
            f"DTEND:{(start + timedelta(hours=hours)).strftime(fmt)}",
            f"SUMMARY:{summary or uid}",
            "END:VEVENT",
            "END:VCALENDAR",
            "",
        ]
    )


@pytest.fixture
def app(runtime: Runtime) -> FastAPI:
    return create_app(runtime)


@pytest.fixture
def client(app: FastAPI) -> Iterator[TestClient]:
    # As a context manager, so the lifespan starts (and then stops) the background sync workers.
    with TestClient(app, follow_redirects=True) as test_client:
        yield test_client


def sign_in(client: TestClient, email: str, password: str = RESEARCHER_PASSWORD) -> str:
    """Sign ``client`` in; returns the session's CSRF token."""
    token = csrf_of(client.get("/login").text)
    response = client.post("/login", data={"email": email, "password": password, "csrf_token": token})
    assert response.status_code == 200 and response.url.path == "/studies", response.text
    return csrf_of(response.text)


@pytest.fixture
def signed_in(client: TestClient, researcher: Researcher) -> str:
    """``client`` signed in as ``researcher``; the value is the CSRF token of the session."""
    return sign_in(client, researcher.email)


@pytest.fixture
def radicale(tmp_path: Path) -> Iterator[RunningServer]:
    """Radicale with two event calendars (one event in each, tomorrow) and a task list."""
    with start_radicale(tmp_path / "radicale", {RADICALE_USER: RADICALE_PASSWORD}) as server:
        server.make_calendar(RADICALE_USER, "work", display_name="Work", color="#336699")
        server.make_calendar(RADICALE_USER, "home", display_name="Home")
        server.put_event(
            RADICALE_USER, "work", "standup.ics", ics("standup", TODAY + timedelta(days=1, hours=9))
        )
        server.put_event(
            RADICALE_USER, "home", "dentist.ics", ics("dentist", TODAY + timedelta(days=1, hours=14))
        )
        yield server


def seed_account(
    runtime: Runtime,
    researcher: Researcher,
    *,
    username: str = "seeded",
    calendars: tuple[str, ...] = ("Work",),
    **fields: object,
) -> tuple[int, list[int]]:
    """An account written straight into the database (no server behind it), for pages that only show it."""
    from creneau.store.models import Calendar, CalendarAccount, CalendarSyncState

    with runtime.ctx.sessions() as session, session.begin():
        account = CalendarAccount(
            researcher_id=researcher.id,
            provider="caldav",
            display_name=username,
            server_url="https://caldav.example.org/",
            username=username,
            credentials=runtime.ctx.vault.encrypt("seeded-secret-password"),
            last_sync_at=datetime.now(UTC) - timedelta(minutes=5),
            **fields,
        )
        account.calendars = [
            Calendar(remote_id=f"/{username}/{name}/", name=name, sync_state=CalendarSyncState())
            for name in calendars
        ]
        session.add(account)
        session.flush()
        return account.id, [c.id for c in account.calendars]
