"""An Exchange account through the real sync engine while the EWS emulator misbehaves (as
tests/calendars/test_cloud_faults.py does for Google and Graph): a throttling storm (ErrorServerBusy with
BackOffMilliseconds) and random 5xx while the calendars change between runs, then an invalid sync state.
After every run the engine holds, per calendar, either exactly what it held before or exactly what the
emulator holds (remote ids and summaries), and a failed run leaves a retry scheduled."""

from __future__ import annotations

import itertools
import random
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from sqlalchemy import select

pytest.importorskip("exchangelib")

from creneau.calendars.sync import SyncReport, sync_account
from creneau.config import Settings
from creneau.emulators.ews import RunningEmulator, start
from creneau.runtime import Runtime
from creneau.store.models import Calendar, CalendarAccount, Researcher, SyncedEvent

PASSWORD = "Secret1!"
TODAY = datetime.now(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
HTTP = httpx.Client(timeout=10)
_numbers = itertools.count()
State = dict[str, dict[str, str]]  # calendar remote id → {event remote id: summary}


@pytest.fixture(scope="module")
def emulator() -> Iterator[RunningEmulator]:
    running = start()
    yield running
    from exchangelib import close_connections  # type: ignore[import-untyped]

    close_connections()
    running.stop()


@pytest.fixture
def settings(settings: Settings) -> Settings:
    settings.allowed_private_networks = ["127.0.0.0/8"]  # the emulator is on loopback
    settings.multiget_chunk_size = 7  # several GetItem batches per calendar: faults land mid-listing
    return settings


class Mailbox:
    def __init__(self, emulator: RunningEmulator, seed: int) -> None:
        self.emulator = emulator
        number = next(_numbers)
        self.email = f"engine{number:03d}@contoso.example"
        self.logon = f"CONTOSO\\engine{number:03d}"
        box = emulator.state.add_mailbox(self.email, PASSWORD, username=f"engine{number:03d}")
        self.calendars = [box.calendar_id, emulator.state.add_folder(self.email, "Team").id]
        self.rng = random.Random(seed)
        self.events: dict[str, str] = {}  # id → folder
        self._names = itertools.count()

    def control(self, path: str, body: dict[str, Any]) -> dict[str, Any]:
        response = HTTP.post(f"{self.emulator.url}/_emulator/{path}", json=body)
        response.raise_for_status()
        result: dict[str, Any] = response.json()
        return result

    def _when(self) -> tuple[str, str]:
        start = TODAY + timedelta(days=self.rng.randint(-20, 120), hours=self.rng.randint(7, 18))
        return start.isoformat(), (start + timedelta(minutes=self.rng.choice((30, 60)))).isoformat()

    def add(self) -> None:
        folder = self.rng.choice(self.calendars)
        start, end = self._when()
        event: dict[str, Any] = {"subject": f"event {next(self._names)}", "start": start, "end": end}
        if self.rng.random() < 0.2:
            event["recurrence"] = {"pattern": "daily", "interval": 1, "count": 4}
        self.events[str(self.control("events", {"folder_id": folder, "event": event})["id"])] = folder

    def churn(self) -> None:
        for _ in range(3):
            self.add()
        for item_id in self.rng.sample(sorted(self.events), 3):
            start, end = self._when()
            self.control(
                f"events/{item_id}",
                {"event": {"subject": f"moved {next(self._names)}", "start": start, "end": end}},
            )
        for item_id in self.rng.sample(sorted(self.events), 2):
            self.events.pop(item_id)
            assert HTTP.delete(f"{self.emulator.url}/_emulator/events/{item_id}").status_code == 204

    def expected(self) -> State:
        state = self.emulator.state
        with state.lock:
            return {
                folder: {i.id: i.text("Subject") or "" for i in state.items.values() if i.folder_id == folder}
                for folder in self.calendars
            }


def add_account(runtime: Runtime, researcher_id: int, box: Mailbox) -> int:
    """The row connecting an Exchange account stores (discovery already done)."""
    with runtime.ctx.sessions() as session, session.begin():
        account = CalendarAccount(
            researcher_id=researcher_id,
            provider="exchange",
            display_name=box.email,
            server_url=box.emulator.ews_url,
            username=box.logon,
            principal_url=f"mailto:{box.email}",
            home_url=box.emulator.ews_url,
            owner_addresses=box.email,
            timezone="Europe/Paris",
            credentials=runtime.ctx.vault.encrypt(PASSWORD),
            status="syncing",
        )
        session.add(account)
        session.flush()
        return account.id


def held(runtime: Runtime, account_id: int) -> State:
    with runtime.ctx.sessions() as session:
        calendars = dict(
            session.execute(
                select(Calendar.id, Calendar.remote_id).where(Calendar.account_id == account_id)
            ).all()
        )
        rows = session.execute(
            select(SyncedEvent.calendar_id, SyncedEvent.remote_id, SyncedEvent.summary).where(
                SyncedEvent.calendar_id.in_(list(calendars))
            )
        ).all()
    state: State = {remote: {} for remote in calendars.values()}
    for calendar_id, remote_id, summary in rows:
        state[calendars[calendar_id]][remote_id] = summary
    return state


def checked_sync(runtime: Runtime, account_id: int, box: Mailbox) -> SyncReport:
    before, wanted = held(runtime, account_id), box.expected()
    report = sync_account(runtime.ctx, account_id=account_id)
    assert report is not None
    now = held(runtime, account_id)
    for calendar, events in wanted.items():
        if report.status == "ok":
            assert now.get(calendar) == events
        else:
            assert now.get(calendar, {}) in (events, before.get(calendar, {})), "a calendar half applied"
    with runtime.ctx.sessions() as session:
        account = session.get(CalendarAccount, account_id)
        assert account is not None and account.status == report.status and account.next_sync_at is not None
    if report.status != "ok":
        assert report.error.split(":")[0] in ("rate_limited", "transient"), report.error
    return report


def test_throttling_storm_and_random_5xx_lose_nothing(
    runtime: Runtime, researcher: Researcher, emulator: RunningEmulator
) -> None:
    box = Mailbox(emulator, seed=2026)
    for _ in range(40):
        box.add()
    account_id = add_account(runtime, researcher.id, box)
    try:
        emulator.state.faults.busy_next(3, back_off_ms=2000)
        for _ in range(3):
            report = checked_sync(runtime, account_id, box)
            assert report.status == "error" and report.error.startswith("rate_limited: ")
        assert checked_sync(runtime, account_id, box).status == "ok"
        outcomes = []
        for round_ in range(4):
            box.churn()
            emulator.state.faults.error_rate(0.25, status=(500, 503)[round_ % 2])
            outcomes += [checked_sync(runtime, account_id, box).status for _ in range(3)]
            emulator.state.faults.clear()
        assert "error" in outcomes, outcomes  # the faults did hit some runs
        final = checked_sync(runtime, account_id, box)
        assert final.status == "ok" and final.full_resyncs == 0
    finally:
        emulator.state.faults.clear()


def test_an_invalid_sync_state_costs_exactly_one_full_resync(
    runtime: Runtime, researcher: Researcher, emulator: RunningEmulator
) -> None:
    box = Mailbox(emulator, seed=410)
    for _ in range(15):
        box.add()
    account_id = add_account(runtime, researcher.id, box)
    assert checked_sync(runtime, account_id, box).status == "ok"
    emulator.state.invalidate_sync_states()
    box.churn()
    report = checked_sync(runtime, account_id, box)
    assert report.status == "ok" and report.full_resyncs == len(box.calendars)
    again = checked_sync(runtime, account_id, box)
    assert again.full_resyncs == 0 and again.fetched == 0


def test_a_calendar_folder_added_or_removed_on_the_server_follows(
    runtime: Runtime, researcher: Researcher, emulator: RunningEmulator
) -> None:
    box = Mailbox(emulator, seed=7)
    box.add()
    account_id = add_account(runtime, researcher.id, box)
    assert checked_sync(runtime, account_id, box).status == "ok"
    added = emulator.state.add_folder(box.email, "Teaching").id
    box.calendars.append(added)
    box.control(
        "events",
        {
            "folder_id": added,
            "event": {
                "subject": "Lecture",
                "start": TODAY.isoformat(),
                "end": (TODAY + timedelta(hours=2)).isoformat(),
            },
        },
    )
    assert checked_sync(runtime, account_id, box).status == "ok"
    assert list(held(runtime, account_id)[added].values()) == ["Lecture"]
    assert HTTP.delete(f"{emulator.url}/_emulator/folders/{added}").status_code == 204
    box.calendars.remove(added)
    assert checked_sync(runtime, account_id, box).status == "ok"
    assert added not in held(runtime, account_id)
