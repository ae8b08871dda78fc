"""The sync engine end to end: connect an account on a real Radicale, sync, and read free/busy."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from creneau.calendars import accounts, freebusy
from creneau.calendars.sync import sync_account
from creneau.config import Settings
from creneau.domain.intervals import Interval
from creneau.errors import AuthFailed, NotFound
from creneau.runtime import Runtime
from creneau.store.models import BusyOccurrence, Calendar, CalendarAccount, Researcher, SyncedEvent
from tests.faulty_proxy import FaultyProxy
from tests.providers.contract import MALFORMED
from tests.servers import RunningServer, start_radicale

PASSWORD = "alice-password"
TODAY = datetime.now(UTC).replace(hour=0, minute=0, second=0, microsecond=0)


def ics(uid: str, start: datetime, hours: float = 1, *, extra: str = "", rrule: str = "") -> str:
    fmt = "%Y%m%dT%H%M%SZ"
    end = start + timedelta(hours=hours)
    lines = [
        "BEGIN:VCALENDAR",
        "VERSION:2.0",
        "PRODID:-//creneau tests//EN",
        "BEGIN:VEVENT",
        f"UID:{uid}",
        f"DTSTAMP:{TODAY.strftime(fmt)}",
        f"DTSTART:{start.strftime(fmt)}",
        f"DTEND:{end.strftime(fmt)}",
        f"SUMMARY:{uid}",
    ]
    lines += [f"RRULE:{rrule}"] if rrule else []
    lines += [extra] if extra else []
    lines += ["END:VEVENT", "END:VCALENDAR"]
    return "\r\n".join(lines) + "\r\n"


@pytest.fixture
def radicale(tmp_path: Path) -> Iterator[RunningServer]:
    with start_radicale(tmp_path / "radicale", {"alice": PASSWORD}) as server:
        server.make_calendar("alice", "work", display_name="Work", color="#336699")
        server.make_calendar("alice", "home", display_name="Home")
        server.make_calendar("alice", "tasks", display_name="Tasks", components=("VTODO",))
        yield server


def connect(runtime: Runtime, researcher: Researcher, server: RunningServer, password: str = PASSWORD) -> int:
    """Connect the server's "alice" account as the researcher would; returns the account id."""
    with runtime.ctx.sessions() as session, session.begin():
        account = accounts.connect_account(
            session,
            ctx=runtime.ctx,
            researcher_id=researcher.id,
            provider="caldav",
            server_url=server.url,
            username="alice",
            password=password,
        )
        return account.id


def busy(runtime: Runtime, researcher: Researcher, days: int = 30) -> list[Interval]:
    with runtime.ctx.sessions() as session:
        window = Interval(TODAY - timedelta(days=1), TODAY + timedelta(days=days))
        return freebusy.busy_periods(session, researcher_id=researcher.id, window=window)


def calendar_named(session: Session, researcher: Researcher, account_id: int, name: str) -> Calendar:
    account = accounts.get_account(session, researcher_id=researcher.id, account_id=account_id)
    return next(c for c in account.calendars if c.name == name)


def at(day: int, hour: int) -> datetime:
    return TODAY + timedelta(days=day, hours=hour)


def test_connect_lists_event_calendars_and_sync_fills_free_busy(runtime, researcher, radicale):
    radicale.put_event("alice", "work", "a.ics", ics("a", at(2, 9)))
    radicale.put_event("alice", "home", "b.ics", ics("b", at(3, 18), 2))
    radicale.put_event("alice", "home", "free.ics", ics("free", at(4, 12), extra="TRANSP:TRANSPARENT"))
    account_id = connect(runtime, researcher, radicale)
    with runtime.ctx.sessions() as session:
        listed = accounts.get_account(session, researcher_id=researcher.id, account_id=account_id)
        assert sorted(c.name for c in listed.calendars) == ["Home", "Work"]  # not "Tasks" (VTODO)
        assert {c.name: c.color for c in listed.calendars}["Work"] == "#336699"
    report = sync_account(runtime.ctx, account_id=account_id)
    assert report is not None and report.status == "ok" and report.fetched == 3
    assert busy(runtime, researcher) == [Interval(at(2, 9), at(2, 10)), Interval(at(3, 18), at(3, 20))]
    with runtime.ctx.sessions() as session:
        account = session.get(CalendarAccount, account_id)
        assert account is not None and account.status == "ok" and account.last_sync_at is not None
        assert account.credentials and PASSWORD.encode() not in account.credentials


def test_incremental_sync_applies_add_change_delete(runtime, researcher, radicale):
    radicale.put_event("alice", "work", "a.ics", ics("a", at(2, 9)))
    radicale.put_event("alice", "work", "b.ics", ics("b", at(3, 9)))
    account_id = connect(runtime, researcher, radicale)
    sync_account(runtime.ctx, account_id=account_id)
    radicale.put_event("alice", "work", "c.ics", ics("c", at(5, 9)))  # added
    radicale.put_event("alice", "work", "a.ics", ics("a", at(2, 14)))  # moved
    radicale.delete_event("alice", "work", "b.ics")  # deleted
    report = sync_account(runtime.ctx, account_id=account_id)
    assert report is not None and report.fetched == 2 and report.deleted == 1
    assert busy(runtime, researcher) == [Interval(at(2, 14), at(2, 15)), Interval(at(5, 9), at(5, 10))]


def test_recurring_meeting_with_cancelled_occurrence(runtime, researcher, radicale):
    start = at(1, 10)
    master = ics("weekly", start, rrule="FREQ=DAILY;COUNT=3")
    cancelled = (
        "BEGIN:VEVENT\r\nUID:weekly\r\nDTSTAMP:20260101T000000Z\r\n"
        f"RECURRENCE-ID:{(start + timedelta(days=1)).strftime('%Y%m%dT%H%M%SZ')}\r\n"
        f"DTSTART:{(start + timedelta(days=1)).strftime('%Y%m%dT%H%M%SZ')}\r\n"
        f"DTEND:{(start + timedelta(days=1, hours=1)).strftime('%Y%m%dT%H%M%SZ')}\r\n"
        "STATUS:CANCELLED\r\nEND:VEVENT\r\n"
    )
    with_override = master.replace("END:VCALENDAR", cancelled + "END:VCALENDAR")
    radicale.put_event("alice", "work", "weekly.ics", with_override)
    account_id = connect(runtime, researcher, radicale)
    sync_account(runtime.ctx, account_id=account_id)
    assert busy(runtime, researcher) == [Interval(at(1, 10), at(1, 11)), Interval(at(3, 10), at(3, 11))]


def test_malformed_object_is_skipped_and_reported(runtime, researcher, radicale):
    radicale.put_event("alice", "work", "good.ics", ics("good", at(2, 9)))
    # Radicale refuses most broken objects at PUT time, but stores this one: a VCALENDAR with no component.
    radicale.put_event("alice", "work", "broken.ics", MALFORMED["no-event.ics"])
    account_id = connect(runtime, researcher, radicale)
    report = sync_account(runtime.ctx, account_id=account_id)
    assert report is not None and report.status == "ok" and report.malformed == 1
    assert busy(runtime, researcher) == [Interval(at(2, 9), at(2, 10))]
    with runtime.ctx.sessions() as session:
        work = calendar_named(session, researcher, account_id, "Work")
        assert work.sync_state is not None and work.sync_state.malformed_count == 1
        assert "broken.ics" in work.sync_state.malformed_detail


def test_window_growth_adds_occurrences_without_server_change(runtime, researcher, radicale, settings):
    radicale.put_event("alice", "work", "daily.ics", ics("daily", at(0, 8), rrule="FREQ=DAILY"))
    account_id = connect(runtime, researcher, radicale)

    def expected() -> int:  # daily 08:00-09:00 from today, inside both the sync window and busy()'s window
        synced = runtime.ctx.sync_window()
        return sum(1 for d in range(30) if at(d, 8) < min(synced.end, at(20, 0)) and at(d, 9) > synced.start)

    settings.sync_days_ahead = 5
    sync_account(runtime.ctx, account_id=account_id)
    assert len(busy(runtime, researcher, days=20)) == expected() >= 5
    settings.sync_days_ahead = 10
    report = sync_account(runtime.ctx, account_id=account_id)
    assert report is not None and report.fetched == 0
    assert len(busy(runtime, researcher, days=20)) == expected() >= 10


def test_refused_password_needs_reconnect_and_keeps_busy_times(runtime, researcher, radicale):
    radicale.put_event("alice", "work", "a.ics", ics("a", at(2, 9)))
    account_id = connect(runtime, researcher, radicale)
    sync_account(runtime.ctx, account_id=account_id)
    with runtime.ctx.sessions() as session, session.begin():
        account = session.get(CalendarAccount, account_id)
        assert account is not None
        account.credentials = runtime.ctx.vault.encrypt("a-password-that-was-changed")
    report = sync_account(runtime.ctx, account_id=account_id)
    assert report is not None and report.status == "reconnect_needed"
    with runtime.ctx.sessions() as session:
        account = session.get(CalendarAccount, account_id)
        assert account is not None and account.status == "reconnect_needed"
        assert "a-password-that-was-changed" not in account.status_detail
    assert busy(runtime, researcher) == [Interval(at(2, 9), at(2, 10))]


def test_server_down_keeps_previous_state_and_backs_off(runtime, researcher, radicale):
    radicale.put_event("alice", "work", "a.ics", ics("a", at(2, 9)))
    account_id = connect(runtime, researcher, radicale)
    sync_account(runtime.ctx, account_id=account_id)
    radicale.stop()
    report = sync_account(runtime.ctx, account_id=account_id)
    assert report is not None and report.status == "error"
    with runtime.ctx.sessions() as session:
        account = session.get(CalendarAccount, account_id)
        assert account is not None and account.failures == 1 and account.next_sync_at is not None
        assert account.next_sync_at > datetime.now(UTC) + timedelta(seconds=10)
        assert account.status_detail.startswith("unreachable: ")  # the pages translate the code
    assert busy(runtime, researcher) == [Interval(at(2, 9), at(2, 10))]


def test_wrong_password_at_connect_stores_nothing(runtime, researcher, radicale):
    with pytest.raises(AuthFailed):
        connect(runtime, researcher, radicale, password="wrong")
    with runtime.ctx.sessions() as session:
        assert session.scalar(select(func.count()).select_from(CalendarAccount)) == 0


def test_delete_account_removes_everything_only_for_its_owner(
    runtime, researcher, other_researcher, radicale
):
    radicale.put_event("alice", "work", "a.ics", ics("a", at(2, 9)))
    account_id = connect(runtime, researcher, radicale)
    sync_account(runtime.ctx, account_id=account_id)
    with runtime.ctx.sessions() as session, session.begin(), pytest.raises(NotFound):
        accounts.delete_account(session, researcher_id=other_researcher.id, account_id=account_id)
    with runtime.ctx.sessions() as session, session.begin():
        report = accounts.delete_account(session, researcher_id=researcher.id, account_id=account_id)
    assert report.calendars == 2 and report.events == 1
    assert busy(runtime, researcher) == []
    with runtime.ctx.sessions() as session:
        for model in (CalendarAccount, SyncedEvent, BusyOccurrence):
            assert session.scalar(select(func.count()).select_from(model)) == 0


def test_two_accounts_of_same_provider_and_delete_all(runtime, researcher, radicale, tmp_path):
    with start_radicale(tmp_path / "second", {"alice": PASSWORD}) as second:
        second.make_calendar("alice", "other", display_name="Other")
        second.put_event("alice", "other", "x.ics", ics("x", at(6, 9)))
        radicale.put_event("alice", "work", "a.ics", ics("a", at(2, 9)))
        ids = [connect(runtime, researcher, radicale), connect(runtime, researcher, second)]
        for account_id in ids:
            sync_account(runtime.ctx, account_id=account_id)
    assert len(busy(runtime, researcher)) == 2
    with runtime.ctx.sessions() as session, session.begin():
        report = accounts.delete_all_accounts(session, researcher_id=researcher.id)
    assert len(report.accounts) == 2 and report.events == 2
    assert busy(runtime, researcher) == []


def test_conflict_switch_excludes_a_calendar(runtime, researcher, radicale):
    radicale.put_event("alice", "work", "a.ics", ics("a", at(2, 9)))
    radicale.put_event("alice", "home", "b.ics", ics("b", at(3, 9)))
    account_id = connect(runtime, researcher, radicale)
    sync_account(runtime.ctx, account_id=account_id)
    with runtime.ctx.sessions() as session, session.begin():
        home = calendar_named(session, researcher, account_id, "Home")
        accounts.set_check_conflicts(session, researcher_id=researcher.id, calendar_id=home.id, enabled=False)
    assert busy(runtime, researcher) == [Interval(at(2, 9), at(2, 10))]


def test_calendar_deleted_on_server_is_removed(runtime, researcher, radicale):
    account_id = connect(runtime, researcher, radicale)
    sync_account(runtime.ctx, account_id=account_id)
    with radicale.client("alice") as client:
        assert client.delete(radicale.calendar_url("alice", "home")).status_code in (200, 204)
    sync_account(runtime.ctx, account_id=account_id)
    with runtime.ctx.sessions() as session:
        names = [
            c.name
            for c in accounts.get_account(
                session, researcher_id=researcher.id, account_id=account_id
            ).calendars
        ]
    assert names == ["Work"]


def test_passwords_never_reach_the_logs(
    runtime: Runtime, researcher: Researcher, radicale: RunningServer, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    radicale.put_event("alice", "work", "a.ics", ics("a", at(2, 9)))
    with pytest.raises(AuthFailed):
        connect(runtime, researcher, radicale, password="typo-" + PASSWORD)
    account_id = connect(runtime, researcher, radicale)
    sync_account(runtime.ctx, account_id=account_id)
    with runtime.ctx.sessions() as session, session.begin():
        account = session.get(CalendarAccount, account_id)
        assert account is not None
        account.credentials = runtime.ctx.vault.encrypt("changed-" + PASSWORD)
    sync_account(runtime.ctx, account_id=account_id)  # reconnect needed
    radicale.stop()
    sync_account(runtime.ctx, account_id=account_id)  # server down
    assert caplog.records, "nothing was logged: the test would prove nothing"
    assert PASSWORD not in caplog.text


def test_server_failing_mid_sync_keeps_the_previous_state_then_catches_up(
    runtime: Runtime, researcher: Researcher, radicale: RunningServer, settings: Settings
) -> None:
    settings.multiget_chunk_size = 2  # several multigets, so one can fail in the middle
    for n in range(6):
        radicale.put_event("alice", "work", f"e{n}.ics", ics(f"e{n}", at(n + 1, 9)))
    with FaultyProxy(radicale.url) as proxy:
        with runtime.ctx.sessions() as session, session.begin():
            account_id = accounts.connect_account(
                session, ctx=runtime.ctx, researcher_id=researcher.id, provider="caldav",
                server_url=proxy.url, username="alice", password=PASSWORD,
            ).id  # fmt: skip
        sync_account(runtime.ctx, account_id=account_id)
        before = busy(runtime, researcher)
        assert len(before) == 6
        for n in range(5):  # move five events by an hour: three multigets of two, two and one
            radicale.put_event("alice", "work", f"e{n}.ics", ics(f"e{n}", at(n + 1, 10)))
        multigets = iter(range(100))
        proxy.fail_when = lambda method, body: b"calendar-multiget" in body and next(multigets) == 1
        report = sync_account(runtime.ctx, account_id=account_id)
        assert report is not None and report.status == "error" and proxy.failed == 1
        assert busy(runtime, researcher) == before  # nothing half-applied
        proxy.fail_when = lambda _method, _body: False
        report = sync_account(runtime.ctx, account_id=account_id)
    assert report is not None and report.status == "ok" and report.fetched == 5
    assert busy(runtime, researcher) == [Interval(at(n + 1, 10), at(n + 1, 11)) for n in range(5)] + [
        Interval(at(6, 9), at(6, 10))
    ]
