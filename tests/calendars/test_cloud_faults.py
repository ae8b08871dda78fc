"""Google and Microsoft Graph accounts through the real sync engine while the servers misbehave.

Each test runs against both emulators: a storm of 429s and random 5xx answers while the calendars change
between runs, an expired sync token / delta link (410), and a refused token (401). After every run the engine
must hold, per calendar, either exactly what it held before (the run failed before that calendar was applied)
or exactly what the emulator holds — never a mixture, a duplicate or a stale event — and a failed run must
leave a retry scheduled. ``sync_account`` is called directly (no job queue), so backoff never makes a test
wait. The expectation comes from the emulators' stored events (tests/calendars/cloud_helpers.py).
"""

from __future__ import annotations

import itertools
import random
from collections import Counter
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest
import sqlalchemy

from creneau.calendars import freebusy
from creneau.calendars.sync import SyncReport, sync_account
from creneau.config import Settings
from creneau.emulators import google as google_emulator
from creneau.emulators import msgraph as graph_emulator
from creneau.runtime import Runtime
from creneau.store.models import CalendarAccount, Researcher
from tests.calendars.cloud_helpers import (
    PARIS,
    Cloud,
    GoogleCloud,
    GraphCloud,
    Series,
    add_account,
    differences,
    local_state,
)
from tests.cloud import point_settings_at

TODAY = datetime.now(UTC).replace(hour=0, minute=0, second=0, microsecond=0)


# -- the world the tests change ------------------------------------------------------------------------------


class World:
    """Seeds a cloud account and changes it between syncs; remembers what exists, to pick real targets."""

    def __init__(
        self, cloud: Cloud, *, seed: int, today: datetime, calendars: list[str] | None = None
    ) -> None:
        self.cloud, self.today = cloud, today
        self.rng = random.Random(seed)
        self.calendars = calendars or cloud.calendars
        self.singles: dict[str, tuple[str, bool]] = {}  # event id → (calendar, all-day)
        self.series: dict[str, Series] = {}
        self._names = itertools.count()

    def _name(self, what: str) -> str:
        return f"{what} {next(self._names)}"

    def _moment(self) -> datetime:
        day = self.rng.randint(-30, 140)
        return self.today + timedelta(
            days=day, hours=self.rng.randint(6, 18), minutes=self.rng.choice((0, 30))
        )

    def add_single(self, kind: str = "busy") -> None:
        calendar = self.rng.choice(self.calendars)
        start = self._moment()
        end = start + timedelta(minutes=self.rng.choice((30, 60, 90, 120)))
        event_id = self.cloud.add_single(calendar, start, end, self._name(kind), kind)
        self.singles[event_id] = (calendar, False)

    def add_all_day(self) -> None:
        calendar = self.rng.choice(self.calendars)
        day = self._moment().date()
        event_id = self.cloud.add_all_day(calendar, day, self.rng.choice((1, 1, 2, 3)), self._name("all-day"))
        self.singles[event_id] = (calendar, True)

    def add_series(self, *, start_day: int | None = None, step: str | None = None, count: int = 0) -> str:
        step = step or self.rng.choice(("DAILY", "WEEKLY"))
        day = start_day if start_day is not None else self.rng.randint(-20, 60)
        local = (
            (self.today + timedelta(days=day))
            .astimezone(PARIS)
            .replace(hour=self.rng.randint(8, 17), minute=self.rng.choice((0, 30)), second=0, microsecond=0)
        )
        series = Series(
            self.rng.choice(self.calendars),
            local,
            self.rng.choice((0.5, 1, 1.5)),
            step,
            count or self.rng.randint(6, 14),
        )
        series_id = self.cloud.add_series(series, self._name("series"))
        self.series[series_id] = series
        return series_id

    def change_occurrence(self, *, cancel: bool) -> None:
        series_id = self.rng.choice(sorted(self.series))
        series = self.series[series_id]
        free = sorted(set(range(series.count)) - series.touched)
        if not free:
            return
        index = self.rng.choice(free)
        series.touched.add(index)
        moved_by = None if cancel else timedelta(hours=self.rng.choice((-2, 2, 3)))
        self.cloud.change_occurrence(series_id, series, index, moved_by, self._name("exception"))

    def seed(self, count: int) -> None:
        """About ``count`` items: a few series with exceptions (one across the next DST change), all-day
        events, transparent ones, declined invitations, tentative ones, and plain busy events."""
        dst = _next_dst_change(self.today)
        if dst is not None and dst < 150:
            self.add_series(start_day=max(dst - 21, -20), step="WEEKLY", count=7)
        self.add_series(start_day=-5, step="DAILY", count=10)  # began before today, inside the window
        while len(self.series) < max(2, count // 25):
            self.add_series()
        for _ in range(len(self.series)):
            self.change_occurrence(cancel=True)
            self.change_occurrence(cancel=False)
        kinds = ["all-day"] * (count // 15) + ["free"] * (count // 20) + ["declined"] * (count // 25)
        kinds += ["tentative"] * (count // 40)
        kinds += ["busy"] * max(0, count - len(self.series) - len(kinds))
        for kind in kinds:
            if kind == "all-day":
                self.add_all_day()
            else:
                self.add_single(kind)

    def churn(self) -> None:
        """Add, move and delete events, change and delete occurrences; now and then a whole series goes and
        another comes."""
        for kind in ("busy", "declined", "free"):
            self.add_single(kind)
        self.add_all_day()
        for event_id in self.rng.sample(sorted(self.singles), 3):
            calendar, all_day = self.singles[event_id]
            by = (
                timedelta(days=self.rng.choice((1, 2)))
                if all_day
                else timedelta(hours=self.rng.choice((-3, 1, 26)))
            )
            self.cloud.move(calendar, event_id, by)
        for event_id in self.rng.sample(sorted(self.singles), 2):
            calendar, _ = self.singles.pop(event_id)
            self.cloud.delete(calendar, event_id)
        self.change_occurrence(cancel=True)
        self.change_occurrence(cancel=False)
        if self.rng.random() < 0.5 and len(self.series) > 2:
            series_id = self.rng.choice(sorted(self.series))
            self.cloud.delete(self.series.pop(series_id).calendar, series_id)
            self.add_series()


def _next_dst_change(today: datetime) -> int | None:
    """Days from ``today`` to the first day whose Paris UTC offset differs from the day before."""
    offsets = [(today + timedelta(days=d)).astimezone(PARIS).utcoffset() for d in range(200)]
    return next((d for d in range(1, 200) if offsets[d] != offsets[d - 1]), None)


@pytest.fixture
def settings(
    settings: Settings, google: google_emulator.RunningEmulator, graph: graph_emulator.RunningEmulator
) -> Settings:
    """Both OAuth applications point at the emulators, so the engine can refresh access tokens."""
    return point_settings_at(settings, google, graph)


@pytest.fixture(params=["google", "msgraph"])
def cloud(request: pytest.FixtureRequest) -> Iterator[Cloud]:
    found: Cloud
    if request.param == "google":
        found = GoogleCloud(request.getfixturevalue("google"))
    else:
        found = GraphCloud(request.getfixturevalue("graph"))
    yield found
    found.clear_faults()


def account_row(runtime: Runtime, account_id: int) -> CalendarAccount:
    with runtime.ctx.sessions() as session:
        account = session.get(CalendarAccount, account_id)
        assert account is not None
        session.expunge(account)
        return account


def checked_sync(runtime: Runtime, account_id: int, cloud: Cloud) -> SyncReport:
    """One sync, and what must hold after it whatever the faults did."""
    window = runtime.ctx.sync_window()
    before, wanted = local_state(runtime, account_id), cloud.expected(window)
    failures = account_row(runtime, account_id).failures
    started = datetime.now(UTC)
    report = sync_account(runtime.ctx, account_id=account_id)
    assert report is not None
    held = local_state(runtime, account_id)
    assert set(held) <= set(wanted), "a calendar the server does not have"
    for calendar, events in wanted.items():
        now, then = held.get(calendar, {}), before.get(calendar, {})
        if report.status == "ok":
            assert now == events, f"calendar {calendar} differs from the server: {differences(now, events)}"
        else:  # each calendar is applied whole with its cursor, or not at all
            assert now in (events, then), f"calendar {calendar} half applied: {differences(now, events)}"
    account = account_row(runtime, account_id)
    assert account.status == report.status
    assert account.next_sync_at is not None
    if report.status == "ok":
        assert held == wanted
        assert account.failures == 0 and account.status_detail == ""
        assert account.next_sync_at >= started + timedelta(seconds=runtime.ctx.settings.sync_interval_seconds)
    else:
        assert report.status == "error", report.error
        assert report.error.split(":")[0] in ("rate_limited", "transient"), report.error
        assert account.failures == failures + 1
        # A retry is scheduled, backing off (30 s, then doubling) — never "now" against a limiting server.
        backoff = timedelta(seconds=runtime.ctx.settings.sync_retry_base_seconds)
        assert account.next_sync_at >= started + backoff
    return report


def test_429_storm_and_random_5xx_lose_nothing(
    runtime: Runtime, researcher: Researcher, settings: Settings, cloud: Cloud
) -> None:
    settings.multiget_chunk_size = 40  # several pages per calendar, so faults also land mid-listing
    cloud.add_calendar("Work")
    world = World(cloud, seed=20261124, today=TODAY)
    world.seed(150)
    account_id = add_account(runtime, researcher.id, cloud)

    # A storm of 429s: each run is refused at its first request; nothing is stored, a retry is scheduled.
    cloud.rate_limit(3, retry_after=1)
    for failures in (1, 2, 3):
        report = checked_sync(runtime, account_id, cloud)
        assert report.status == "error" and report.error.startswith("rate_limited: ")
        assert account_row(runtime, account_id).failures == failures
    assert all(not events for events in local_state(runtime, account_id).values())
    assert checked_sync(runtime, account_id, cloud).status == "ok"
    synced = sum(len(events) for events in local_state(runtime, account_id).values())
    assert synced >= 100

    # The calendars change between runs while the server limits us and fails at random.
    outcomes: Counter[str] = Counter()
    for round_ in range(5):
        world.churn()
        cloud.rate_limit(1, retry_after=round_ % 2)
        limited = checked_sync(runtime, account_id, cloud)
        assert limited.status == "error" and limited.error.startswith("rate_limited: ")
        cloud.random_faults(0.2, status=(500, 502, 503)[round_ % 3], seed=round_)
        for _ in range(3):
            outcomes[checked_sync(runtime, account_id, cloud).status] += 1
        cloud.clear_faults()
    assert outcomes["error"] >= 1, outcomes  # the random faults did hit some runs

    # A server asking for a long pause gets it (nobody waits for it here: sync_account is called directly).
    cloud.rate_limit(1, retry_after=900)
    started = datetime.now(UTC)
    assert checked_sync(runtime, account_id, cloud).status == "error"
    next_sync_at = account_row(runtime, account_id).next_sync_at
    assert next_sync_at is not None and next_sync_at >= started + timedelta(seconds=900)

    final = checked_sync(runtime, account_id, cloud)
    assert final.status == "ok" and final.full_resyncs == 0
    assert local_state(runtime, account_id) == cloud.expected(runtime.ctx.sync_window())


def test_expired_sync_token_resyncs_in_full(runtime: Runtime, researcher: Researcher, cloud: Cloud) -> None:
    calendar = cloud.calendars[0]
    world = World(cloud, seed=410, today=TODAY, calendars=[calendar])
    world.seed(30)
    account_id = add_account(runtime, researcher.id, cloud)
    assert checked_sync(runtime, account_id, cloud).status == "ok"
    cloud.expire_cursors(calendar)
    world.churn()  # added, moved and deleted events, a deleted and a moved occurrence
    report = checked_sync(runtime, account_id, cloud)
    assert report.status == "ok" and report.full_resyncs == 1
    assert local_state(runtime, account_id) == cloud.expected(runtime.ctx.sync_window())
    again = checked_sync(runtime, account_id, cloud)  # the new cursor works: no second full sync
    assert again.full_resyncs == 0 and again.fetched == 0


def test_refused_refresh_needs_reconnect_and_keeps_busy_times(
    runtime: Runtime, researcher: Researcher, cloud: Cloud
) -> None:
    """The server answers 401 and refuses the refresh too (the user removed creneau's access)."""
    world = World(cloud, seed=401, today=TODAY, calendars=cloud.calendars[:1])
    world.seed(30)
    account_id = add_account(runtime, researcher.id, cloud)
    assert checked_sync(runtime, account_id, cloud).status == "ok"
    held = local_state(runtime, account_id)
    window = runtime.ctx.sync_window()
    with runtime.ctx.sessions() as session:
        busy = freebusy.busy_periods(session, researcher_id=researcher.id, window=window)
    assert len(busy) >= 20

    cloud.refuse_access()
    world.churn()  # what changes meanwhile cannot be seen, and nothing held may be dropped
    report = sync_account(runtime.ctx, account_id=account_id)
    assert report is not None and report.status == "reconnect_needed"
    account = account_row(runtime, account_id)
    assert account.status == "reconnect_needed"
    assert account.status_detail.startswith("auth_expired: "), account.status_detail  # the pages translate it
    assert not any(token in account.status_detail for token in cloud.tokens())
    assert local_state(runtime, account_id) == held
    with runtime.ctx.sessions() as session:  # the last synced busy times keep counting
        assert freebusy.busy_periods(session, researcher_id=researcher.id, window=window) == busy


def test_access_token_refused_early_is_refreshed_and_sync_goes_on(
    runtime: Runtime, researcher: Researcher, cloud: Cloud
) -> None:
    """The server answers 401 for a token creneau believed valid for another hour (revoked early, clock
    skew): one refresh, and the same run syncs everything."""
    world = World(cloud, seed=4011, today=TODAY, calendars=cloud.calendars[:1])
    world.seed(20)
    account_id = add_account(runtime, researcher.id, cloud)
    assert checked_sync(runtime, account_id, cloud).status == "ok"
    stored = account_row(runtime, account_id).credentials
    cloud.expire_access()
    world.churn()
    refreshes = runtime.ctx.tokens.refreshes
    report = checked_sync(runtime, account_id, cloud)
    assert report.status == "ok"
    assert runtime.ctx.tokens.refreshes == refreshes + 1
    assert account_row(runtime, account_id).credentials != stored  # the new token is kept
    assert checked_sync(runtime, account_id, cloud).status == "ok"  # and works without another refresh
    assert runtime.ctx.tokens.refreshes == refreshes + 1


def test_a_resync_with_nothing_new_does_not_read_the_stored_etags(
    runtime: Runtime, researcher: Researcher, cloud: Cloud
) -> None:
    """The etags of a calendar's events are read only when the provider compares (a full listing, changes):
    a quiet resync costs the same at 50 events as at 50,000."""
    calendar = cloud.calendars[0]
    world = World(cloud, seed=7, today=TODAY, calendars=[calendar])
    world.seed(20)
    account_id = add_account(runtime, researcher.id, cloud)
    assert checked_sync(runtime, account_id, cloud).status == "ok"
    statements: list[str] = []

    def seen(conn: object, cursor: object, statement: str, *args: object) -> None:
        statements.append(statement)

    def etag_reads() -> list[str]:
        return [s for s in statements if s.lstrip().startswith("SELECT") and "synced_events.etag" in s]

    sqlalchemy.event.listen(runtime.db, "before_cursor_execute", seen)
    try:
        assert checked_sync(runtime, account_id, cloud).fetched == 0
        assert etag_reads() == []
        cloud.expire_cursors(calendar)  # a full listing compares every event's etag with ours
        assert checked_sync(runtime, account_id, cloud).full_resyncs == 1
        assert len(etag_reads()) == 1
    finally:
        sqlalchemy.event.remove(runtime.db, "before_cursor_execute", seen)
