"""Readable events that RFC 5545 calls invalid keep their busy time, end to end.

A real CalDAV server holds events without UID (alone, or several in one object) and events with an empty
``RRULE:`` line (nothing, or only spaces): the researcher's calendar syncs them, their slots are not offered
on the booking page and a booking there is refused, the Integrations page and the API say how many were
repaired (in French and English), and an object that cannot be placed in time is still skipped and said.

The server is Xandikos: Radicale refuses such objects on PUT (400) and hides them when they are written
into its storage, so it never serves one; Xandikos stores and serves them as written.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from fastapi.testclient import TestClient

from creneau.calendars import accounts
from creneau.calendars.sync import sync_account
from creneau.identity import create_api_token
from creneau.runtime import Runtime
from creneau.store.models import CalendarSyncState, Researcher, SyncedEvent
from creneau.web.app import create_app
from tests.scheduling.conftest import at, day_ahead, make_session
from tests.servers import RunningServer, start_xandikos
from tests.web.conftest import csrf_of, seen, sign_in

USER, PASSWORD = "alice", "alice-password"
PARIS = ZoneInfo("Europe/Paris")
FMT = "%Y%m%dT%H%M%SZ"


@pytest.fixture
def xandikos(tmp_path: Path) -> Iterator[RunningServer]:
    with start_xandikos(tmp_path / "xandikos", {USER: PASSWORD}) as server:
        server.make_calendar(USER, "work", display_name="Work")
        yield server


@pytest.fixture
def client(runtime: Runtime) -> Iterator[TestClient]:
    runtime.settings.run_background_jobs = False
    with TestClient(create_app(runtime), follow_redirects=True) as test_client:
        yield test_client


def vcalendar(*events: list[str]) -> str:
    lines = ["BEGIN:VCALENDAR", "VERSION:2.0", "PRODID:-//hand made feed//EN"]
    for event in events:
        lines += ["BEGIN:VEVENT", *event, "END:VEVENT"]
    return "\r\n".join([*lines, "END:VCALENDAR", ""])


def hour(start: datetime, *extra: str, stamp: str = "20260101T000000Z") -> list[str]:
    return [f"DTSTAMP:{stamp}", f"DTSTART:{start:{FMT}}", f"DTEND:{start + timedelta(hours=1):{FMT}}", *extra]


DAY = day_ahead(4)
NO_UID, TWO_A, TWO_B = at(DAY, 8), at(DAY, 9), at(DAY, 10)
EMPTY_RULE, SPACES_RULE, VALID, FREE = at(DAY, 11), at(DAY, 12), at(DAY, 13), at(DAY, 15)
REPAIRED = (NO_UID, TWO_A, TWO_B, EMPTY_RULE, SPACES_RULE)


def seed(server: RunningServer) -> None:
    put = server.put_event
    put(USER, "work", "no-uid.ics", vcalendar(hour(NO_UID, "SUMMARY:old export")))
    put(USER, "work", "two.ics", vcalendar(hour(TWO_A, "SUMMARY:a"), hour(TWO_B, "SUMMARY:b")))
    put(USER, "work", "empty-rule.ics", vcalendar(hour(EMPTY_RULE, "UID:empty-rule@x", "RRULE:")))
    put(USER, "work", "spaces-rule.ics", vcalendar(hour(SPACES_RULE, "UID:spaces-rule@x", "RRULE:   ")))
    put(USER, "work", "valid.ics", vcalendar(hour(VALID, "UID:valid@x")))
    put(USER, "work", "no-start.ics", vcalendar(["UID:no-start@x", f"DTEND:{FREE:{FMT}}"]))


def connect(runtime: Runtime, researcher: Researcher, server: RunningServer) -> tuple[int, int]:
    with runtime.ctx.sessions() as db, db.begin():
        account = accounts.connect_account(
            db,
            ctx=runtime.ctx,
            researcher_id=researcher.id,
            provider="caldav",
            server_url=server.url,
            username=USER,
            password=PASSWORD,
        )
        (work,) = [c for c in account.calendars if c.name == "Work"]
        return account.id, work.id


def offered(client: TestClient, token: str) -> set[datetime]:
    page = client.get(f"/book/{token}", params={"tz": "Europe/Paris", "week": DAY.isoformat()})
    assert page.status_code == 200
    starts = set()
    for chunk in page.text.split('data-start="')[1:]:
        starts.add(datetime.fromisoformat(chunk.split('"', 1)[0]))
    return starts


def book(client: TestClient, token: str, start: datetime) -> int:
    confirm = client.get(f"/book/{token}/confirm", params={"start": start.isoformat(), "tz": "Europe/Paris"})
    form = {
        "csrf_token": csrf_of(confirm.text),
        "start": start.isoformat(),
        "tz": "Europe/Paris",
        "name": "Ada Lovelace",
        "email": "ada@example.org",
    }
    status: int = client.post(f"/book/{token}", data=form).status_code
    return status


def uids(runtime: Runtime, calendar_id: int) -> dict[str, str]:
    with runtime.ctx.sessions() as db:
        rows = db.query(SyncedEvent.remote_id, SyncedEvent.uid).filter(SyncedEvent.calendar_id == calendar_id)
        return {remote.rsplit("/", 1)[-1]: uid for remote, uid in rows}


def sync_state(runtime: Runtime, calendar_id: int) -> CalendarSyncState:
    with runtime.ctx.sessions() as db:
        state = db.get(CalendarSyncState, calendar_id)
        assert state is not None
        return state


def test_events_without_uid_or_with_an_empty_rule_sync_and_block_their_slots(
    runtime: Runtime, client: TestClient, researcher: Researcher, xandikos: RunningServer
) -> None:
    seed(xandikos)
    account_id, calendar_id = connect(runtime, researcher, xandikos)
    report = sync_account(runtime.ctx, account_id=account_id)
    assert report is not None and report.status == "ok", report

    # Every readable event blocks its slot on the booking page; the free hour is offered.
    token = make_session(runtime, researcher, destination=calendar_id).public_token
    slots = offered(client, token)
    assert FREE.astimezone(PARIS) in slots
    for start in (*REPAIRED, VALID):
        assert start.astimezone(PARIS) not in slots, start
    assert book(client, token, NO_UID) == 409
    assert book(client, token, EMPTY_RULE) == 409
    assert book(client, token, FREE) == 200
    assert (report.repaired, report.malformed) == (4, 1), report

    # The derived UIDs: distinct per event, ours, and the same at the next sync.
    first = uids(runtime, calendar_id)
    assert first["no-uid.ics"].startswith("creneau-derived-")
    assert first["two.ics"].startswith("creneau-derived-") and first["two.ics"] != first["no-uid.ics"]
    assert first["empty-rule.ics"] == "empty-rule@x"
    # The server rewrites the object (a new DTSTAMP, a new etag): same content, same UID.
    xandikos.put_event(
        USER, "work", "no-uid.ics", vcalendar(hour(NO_UID, "SUMMARY:old export", stamp="20261201T000000Z"))
    )
    report = sync_account(runtime.ctx, account_id=account_id)
    assert report is not None and report.fetched == 1 and report.repaired == 4, report
    assert uids(runtime, calendar_id) == first

    # What was repaired is said per calendar, in French and in English, and in the API.
    sign_in(client, researcher.email)
    french = seen(client.get("/settings/integrations"))
    assert (
        "4 événements de « Work » ont été lus après réparation (sans UID, ou avec une règle de répétition "
        "vide) ; leurs heures occupées comptent." in french
    )
    assert "1 événement de « Work » n'a pas pu être lu et a été ignoré." in french
    assert "a VEVENT without UID was read under a UID derived from its content" in french
    assert "an empty RRULE was read as no rule" in french
    english = seen(client.get("/settings/integrations", headers={"Accept-Language": "en"}))
    assert (
        "4 events in «Work» were read once repaired (no UID, or an empty repetition rule); their busy "
        "times count." in english
    )
    with runtime.ctx.sessions() as db, db.begin():
        api_token = create_api_token(db, researcher_id=researcher.id, label="tests")
    listed = client.get("/api/v1/accounts", headers={"Authorization": f"Bearer {api_token}"})
    assert listed.status_code == 200
    (calendar,) = [c for a in listed.json()["accounts"] for c in a["calendars"] if c["id"] == calendar_id]
    assert (calendar["repaired_count"], calendar["malformed_count"]) == (4, 1)
    repaired = json.loads(calendar["repaired_detail"])
    assert {key.rsplit("/", 1)[-1] for key in repaired} == {
        "no-uid.ics",
        "two.ics",
        "empty-rule.ics",
        "spaces-rule.ics",
    }
    assert [key.rsplit("/", 1)[-1] for key in json.loads(calendar["malformed_detail"])] == ["no-start.ics"]

    # Deleted on the server, or mended there: no longer reported.
    xandikos.delete_event(USER, "work", "two.ics")
    xandikos.put_event(USER, "work", "empty-rule.ics", vcalendar(hour(EMPTY_RULE, "UID:empty-rule@x")))
    report = sync_account(runtime.ctx, account_id=account_id)
    assert report is not None and (report.repaired, report.malformed) == (2, 1), report
    state = sync_state(runtime, calendar_id)
    assert state.malformed_count == 1
    assert TWO_A.astimezone(PARIS) in offered(client, token)
    assert EMPTY_RULE.astimezone(PARIS) not in offered(client, token)
