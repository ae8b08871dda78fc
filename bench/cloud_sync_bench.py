"""Cloud calendar sync benchmark: creneau's real sync engine against the Google and Microsoft Graph emulators.

    python bench/cloud_sync_bench.py                  # SQLite; Google and Graph; 500 / 5,000 / 20,000 events
    python bench/cloud_sync_bench.py --database-url postgresql+psycopg://postgres@127.0.0.1:5432/postgres
    python bench/cloud_sync_bench.py --providers google --sizes 5000

For each provider and each size, the emulator (``creneau.emulators.google`` or ``.msgraph``, in a process of
its own, so that its work is not creneau's and the two share the 2 cores as a remote server and creneau would)
is given one account whose calendar holds N events, the same deterministic mix for both providers:

    88 %  single meetings, 30 to 120 minutes, 8 weeks back to 26 weeks ahead, Europe/Paris (85 %), New York or
          UTC; about half with attendees (some invitations from others, the owner tentative or declining),
          some with a description and a location, 5 % marked free
     7 %  all-day events of 1 to 3 days, most of them free (Google's and Outlook's default)
     5 %  weekly series of 4 to 26 occurrences, half of them with one moved occurrence, a third with one
          cancelled occurrence

creneau gets a fresh database (a temporary SQLite file, or a new PostgreSQL database created on the given
server and dropped at the end), one researcher and one account row of that provider (as the OAuth pages would
store it, with a token that cannot expire during the run), and ``creneau.calendars.sync.sync_account()`` runs,
in-process, three times:

    initial sync            the whole sync window (42 days back, 201 ahead)
    no-change resync        nothing changed on the server
    resync after 10 changes 4 added (3 meetings, 1 all-day), 3 modified (2 meetings moved by an hour, one
                            occurrence of a series moved), 3 deleted (2 meetings, 1 whole series)

Measured for each: wall time of ``sync_account()``; creneau's CPU time (this process; on PostgreSQL the
server's own CPU is not in it) and the emulator's (its process); the HTTP requests creneau sent, counted with
an httpx ``request`` event hook on the engine's ``NetworkPolicy`` (by kind), and the bytes of the answers
(``Content-Length``). After the resync the database is checked against the changes made: the added events are
there, the deleted ones gone, the modified ones have a new etag and nothing else changed ("verified").

The emulators set TCP_NODELAY on the connections they accept (``creneau.serving``): without it every request
but the first on a connection waits about 40 ms for a delayed ACK, which is the emulator's doing, not
creneau's. With it, the network costs nothing here: a real Google or Microsoft server
adds its round trips (tens of milliseconds each) to every request counted below.

Everything is done ``--rounds`` times (3 by default, from scratch each time, the providers alternated), since
a shared 2-core machine is noisy. Prints Markdown tables ready for bench/RESULTS.md: requests by calendar
size, wall and CPU time (median and range), the verdict on "incremental sync requests independent of calendar
size", and the last round in full. Writes nothing but temporary files; exits non-zero when a sync does not
end "ok" or the database does not match the changes. About two minutes on 2 cores with the defaults (SQLite).
"""

from __future__ import annotations

import argparse
import cProfile
import dataclasses
import functools
import io
import json
import os
import pstats
import random
import statistics
import tempfile
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from datetime import time as clock
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit
from zoneinfo import ZoneInfo

import httpx
from cryptography.fernet import Fernet
from sqlalchemy import func, select

from benchkit import ChildProcess, fresh_database, machine
from creneau.calendars.context import EngineContext
from creneau.calendars.sync import SyncReport, sync_account
from creneau.config import Settings
from creneau.emulators import google as google_emulator
from creneau.emulators import msgraph as graph_emulator
from creneau.runtime import Runtime, build_runtime
from creneau.store.migrate import upgrade
from creneau.store.models import BusyOccurrence, Calendar, CalendarAccount, Researcher, SyncedEvent

PROVIDERS = ("google", "msgraph")
LABELS = {"google": "Google", "msgraph": "Graph"}
SIZES = (500, 5000, 20000)
TOKEN_LIFETIME = 7 * 86400  # seconds: no access token may expire during a run
PARIS, NEW_YORK = ZoneInfo("Europe/Paris"), ZoneInfo("America/New_York")
GRAPH_ZONES = {
    "Europe/Paris": "Romance Standard Time",
    "America/New_York": "Eastern Standard Time",
    "UTC": "UTC",
}
TOPICS = ("Interview", "Usability test", "Team sync", "Planning", "1:1", "Workshop", "Review", "Lunch")
DESCRIPTION = (
    "Agenda: introductions, goals of the session, tasks, debrief. Consent form signed beforehand. "
    "Recording on, notes in the shared folder; the observer joins by video."
)
RESPONSES = ("accepted", "tentative", "declined", "needsAction")
STEPS = ("initial sync", "no-change resync", "resync after 10 changes")


# ---- the calendar's content: one plan, rendered as Google or Graph JSON ------------------------------------


@dataclass(frozen=True)
class Planned:
    """One event of the calendar, whatever the provider. ``start`` is local (aware) for timed events."""

    n: int
    kind: str  # "single", "allday", "series"
    start: datetime
    minutes: int = 60
    days: int = 1  # all-day length
    summary: str = ""
    free: bool = False
    invited_by: str = ""  # organizer's address when someone else invited the owner
    response: str = "accepted"  # the owner's answer to that invitation (one of RESPONSES)
    guests: tuple[str, ...] = ()
    details: bool = False  # a description and a location
    weeks: int = 0  # occurrences of a weekly series
    moved: int | None = None  # index of the series' moved occurrence
    cancelled: int | None = None  # index of its cancelled occurrence

    def occurrence(self, index: int) -> datetime:
        return self.start + timedelta(weeks=index)  # aware arithmetic: the same wall-clock time each week


def plan(size: int, *, seed: int, today: date) -> list[Planned]:
    rng = random.Random(seed * 1_000_003 + size)
    events = []
    for n in range(size):
        roll = rng.random()
        day = today + timedelta(days=rng.randint(-56, 182))  # ~8 weeks back, ~26 ahead
        zone = PARIS if rng.random() < 0.85 else rng.choice((NEW_YORK, ZoneInfo("UTC")))
        local = datetime(day.year, day.month, day.day, rng.randint(8, 18), rng.choice((0, 15, 30, 45)))
        summary = f"{rng.choice(TOPICS)} #{n}"
        if roll < 0.05:
            weeks = rng.randint(4, 26)
            events.append(
                Planned(
                    n, "series", local.replace(tzinfo=PARIS), rng.choice((30, 60)), summary=summary,
                    weeks=weeks, moved=1 if rng.random() < 0.5 else None,
                    cancelled=2 if rng.random() < 0.33 else None,
                )
            )  # fmt: skip
        elif roll < 0.12:
            start = datetime(day.year, day.month, day.day, tzinfo=PARIS)
            events.append(
                Planned(n, "allday", start, days=rng.randint(1, 3), summary=summary, free=rng.random() < 0.8)
            )
        else:
            invited = rng.random() < 0.2
            guests = tuple(f"guest{rng.randint(1, 400)}@example.org" for _ in range(rng.randint(1, 4)))
            events.append(
                Planned(
                    n, "single", local.replace(tzinfo=zone), rng.choice((30, 45, 60, 60, 90, 120)),
                    summary=summary, free=rng.random() < 0.05,
                    invited_by="alice@example.org" if invited else "",
                    response=rng.choices(RESPONSES, (80, 8, 7, 5))[0] if invited else "accepted",
                    guests=guests if invited or rng.random() < 0.35 else (),
                    details=rng.random() < 0.5,
                )
            )  # fmt: skip
    return events


def _iso(value: datetime) -> str:
    return value.isoformat(timespec="seconds")


def _google_time(value: datetime, *, all_day: bool = False) -> dict[str, str]:
    if all_day:
        return {"date": value.date().isoformat()}
    return {"dateTime": _iso(value), "timeZone": str(value.tzinfo)}


def google_items(p: Planned, owner: str) -> list[dict[str, Any]]:
    """The items Google lists for ``p``: one event, or a series master and its exceptions."""
    event_id = f"bench{p.n:06d}"  # Google ids are base32hex: a-v and digits
    end = p.start + (timedelta(days=p.days) if p.kind == "allday" else timedelta(minutes=p.minutes))
    item: dict[str, Any] = {
        "id": event_id,
        "iCalUID": f"{event_id}@google.com",
        "summary": p.summary,
        "htmlLink": f"https://www.google.com/calendar/event?eid={event_id}",
        "creator": {"email": p.invited_by or owner, **({} if p.invited_by else {"self": True})},
        "organizer": {"email": p.invited_by or owner, **({} if p.invited_by else {"self": True})},
        "start": _google_time(p.start, all_day=p.kind == "allday"),
        "end": _google_time(end, all_day=p.kind == "allday"),
        "sequence": 0,
        "reminders": {"useDefault": True},
        "eventType": "default",
    }
    if p.free:
        item["transparency"] = "transparent"
    if p.details:
        item["description"] = DESCRIPTION
        item["location"] = "Room 4 / https://meet.example.org/bench"
    if p.guests:
        attendees = [{"email": g, "responseStatus": "needsAction"} for g in p.guests]
        item["attendees"] = [{"email": owner, "self": True, "responseStatus": p.response}, *attendees]
    if p.kind != "series":
        return [item]
    item["recurrence"] = [f"RRULE:FREQ=WEEKLY;COUNT={p.weeks}"]
    items = [item]
    for index, cancelled in ((p.moved, False), (p.cancelled, True)):
        if index is not None:
            items.append(google_exception(item, p.occurrence(index), moved=None if cancelled else 2))
    return items


def google_exception(master: dict[str, Any], original: datetime, *, moved: int | None) -> dict[str, Any]:
    """One occurrence of a series moved by ``moved`` hours, or cancelled (``moved`` None)."""
    exception: dict[str, Any] = {
        "id": f"{master['id']}_{original.astimezone(UTC):%Y%m%dT%H%M%SZ}",
        "iCalUID": master["iCalUID"],
        "recurringEventId": master["id"],
        "originalStartTime": _google_time(original),
    }
    if moved is None:
        return {**exception, "status": "cancelled"}
    length = datetime.fromisoformat(master["end"]["dateTime"]) - datetime.fromisoformat(
        master["start"]["dateTime"]
    )
    start = original + timedelta(hours=moved)
    fields = {k: v for k, v in master.items() if k not in ("id", "recurrence", "iCalUID", "htmlLink")}
    return {**fields, **exception, "start": _google_time(start), "end": _google_time(start + length)}


def _graph_time(value: datetime) -> dict[str, str]:
    zone = GRAPH_ZONES.get(str(value.tzinfo), "UTC")
    return {"dateTime": f"{value.replace(tzinfo=None):%Y-%m-%dT%H:%M:%S}.0000000", "timeZone": zone}


def graph_event(p: Planned, owner: str) -> dict[str, Any]:
    """``p`` as Graph JSON (a series master carries ``recurrence``; its exceptions are put separately)."""
    end = p.start + (timedelta(days=p.days) if p.kind == "allday" else timedelta(minutes=p.minutes))
    event: dict[str, Any] = {
        "id": f"AAMkAGbench{p.n:06d}",
        "subject": p.summary,
        "start": _graph_time(p.start),
        "end": _graph_time(end),
        "isAllDay": p.kind == "allday",
        "showAs": "free" if p.free else "tentative" if p.response == "tentative" else "busy",
    }
    if p.details:
        event["body"] = {"contentType": "html", "content": f"<html><body>{DESCRIPTION}</body></html>"}
        event["location"] = {"displayName": "Room 4", "locationType": "default"}
    if p.guests:
        event["attendees"] = [
            {"type": "required", "status": {"response": "none", "time": "0001-01-01T00:00:00Z"},
             "emailAddress": {"name": g.split("@")[0], "address": g}}
            for g in p.guests
        ]  # fmt: skip
    if p.invited_by:
        event["isOrganizer"] = False
        event["organizer"] = {"emailAddress": {"name": "Alice Martin", "address": p.invited_by}}
        graph_response = {"needsAction": "notResponded", "accepted": "accepted"}.get(p.response, p.response)
        event["responseStatus"] = {"response": graph_response, "time": "2026-11-01T09:00:00Z"}
    if p.kind == "series":
        event["recurrence"] = {
            "pattern": {"type": "weekly", "interval": 1, "firstDayOfWeek": "monday",
                        "daysOfWeek": [f"{p.start:%A}".lower()]},
            "range": {"type": "numbered", "startDate": f"{p.start:%Y-%m-%d}", "numberOfOccurrences": p.weeks},
        }  # fmt: skip
    return event


def graph_occurrence_id(master_id: str, original: datetime) -> str:
    return f"{master_id}_{original.astimezone(UTC):%Y%m%dT%H%M%S}"


# ---- the emulator, in a process of its own -----------------------------------------------------------------


@dataclass
class ChangeSpec:
    """Ten changes made on the server, as remote ids creneau must see added, modified and deleted."""

    added: list[str]
    modified: list[str]
    deleted: list[str]
    deleted_prefixes: list[str] = field(default_factory=list)  # Graph: every occurrence of a deleted series


class Side:
    """One emulator with one account: seeds its calendar from the plan and makes changes to it."""

    def __init__(self, kind: str) -> None:
        self.kind = kind
        self.running: Any = None
        self.planned: list[Planned] = []
        self.calendar = ""
        self.owner = ""

    def seed(self, size: int, seed: int, today: date) -> dict[str, Any]:
        """A fresh emulator whose account's main calendar holds ``size`` planned events."""
        self.stop()
        self.planned = plan(size, seed=seed, today=today)
        self.owner = f"researcher{size}@example.org"
        if self.kind == "google":
            self.running = google_emulator.start()
            state = self.running.state
            state.accounts.access_lifetime = TOKEN_LIFETIME
            secret = state.add_user(self.owner, timezone="Europe/Paris").secret()
            self.calendar, url = self.owner, self.running.api_url
            for p in self.planned:
                for item in google_items(p, self.owner):
                    state.put_event(self.calendar, item)
        else:
            self.running = graph_emulator.start()
            state = self.running.state
            state.add_user(self.owner, kind="work")
            secret = json.dumps(state.issue_tokens(self.owner, lifetime=TOKEN_LIFETIME))
            self.calendar = state.calendar_of(state.user_by_email(self.owner), None).id
            url = self.running.graph_url
            for p in self.planned:
                event = graph_event(p, self.owner)
                state.put_event(self.calendar, event, notify=False)
                for index, moved in ((p.moved, True), (p.cancelled, False)):
                    if index is not None:
                        original = p.occurrence(index)
                        fields = self._graph_moved(p, original) if moved else None
                        state.put_exception(event["id"], original, fields)
        return {"url": url, "owner": self.owner, "secret": secret}

    @staticmethod
    def _graph_moved(p: Planned, original: datetime) -> dict[str, Any]:
        start = original + timedelta(hours=2)
        return {"start": _graph_time(start), "end": _graph_time(start + timedelta(minutes=p.minutes))}

    def change(self, seed: int, today: date) -> ChangeSpec:
        """Add 4 events, modify 3, delete 3, all well inside the sync window (once per seeded calendar)."""
        rng = random.Random(seed)
        soon, later = today + timedelta(days=7), today + timedelta(days=150)
        singles = [p for p in self.planned if p.kind == "single" and soon <= p.start.date() <= later]
        first, last = today - timedelta(days=30), today + timedelta(days=60)
        series = [
            p
            for p in self.planned
            if p.kind == "series" and first <= p.start.date() <= last and p.weeks >= 12
        ]
        picked = rng.sample(singles, 4)
        moved, gone = picked[:2], picked[2:]
        changed_series, gone_series = rng.sample(series, 2)
        week = next(i for i in range(4, changed_series.weeks) if changed_series.occurrence(i).date() > soon)
        original = changed_series.occurrence(week)
        day = datetime.combine(today + timedelta(days=20), clock(0), PARIS)
        fresh = [
            *(
                Planned(900_000 + j, "single", day + timedelta(days=j, hours=10), summary="Added")
                for j in range(3)
            ),
            Planned(900_003, "allday", day + timedelta(days=5), days=2, summary="Offsite"),
        ]
        if self.kind == "google":
            return self._change_google(fresh, moved, gone, changed_series, original, gone_series)
        return self._change_graph(fresh, moved, gone, changed_series, original, gone_series)

    def _change_google(
        self,
        fresh: list[Planned],
        moved: list[Planned],
        gone: list[Planned],
        changed_series: Planned,
        original: datetime,
        gone_series: Planned,
    ) -> ChangeSpec:
        state, cal = self.running.state, self.calendar
        added = []
        for p in fresh:
            (item,) = google_items(p, self.owner)
            item["id"] = item["id"].replace("bench", "added")
            state.put_event(cal, {**item, "iCalUID": f"{item['id']}@google.com"})
            added.append(item["id"])
        modified = []
        for p in moved:
            item = state.event(cal, f"bench{p.n:06d}")
            for key in ("start", "end"):
                later = datetime.fromisoformat(item[key]["dateTime"]) + timedelta(hours=1)
                item[key] = {**item[key], "dateTime": _iso(later)}
            item["summary"] += " (moved)"
            item["sequence"] = int(item.get("sequence", 0)) + 1
            state.put_event(cal, item)
            modified.append(item["id"])
        master = state.event(cal, f"bench{changed_series.n:06d}")
        state.put_event(cal, google_exception(master, original, moved=3))
        modified.append(master["id"])
        deleted = [f"bench{p.n:06d}" for p in (*gone, gone_series)]
        for event_id in deleted:
            state.store.delete(cal, event_id, if_match=None)
        return ChangeSpec(added, modified, deleted)

    def _change_graph(
        self,
        fresh: list[Planned],
        moved: list[Planned],
        gone: list[Planned],
        changed_series: Planned,
        original: datetime,
        gone_series: Planned,
    ) -> ChangeSpec:
        state, cal = self.running.state, self.calendar
        added = []
        for p in fresh:
            event = graph_event(p, self.owner)
            event["id"] = event["id"].replace("bench", "added")
            added.append(state.put_event(cal, event))
        modified = []
        for p in moved:
            stored = state.get_event(graph_event(p, self.owner)["id"])
            data = dict(stored.data)
            later = p.start + timedelta(hours=1)
            data.update(start=_graph_time(later), end=_graph_time(later + timedelta(minutes=p.minutes)))
            data["subject"] += " (moved)"
            modified.append(state.put_event(cal, data))
        master_id = graph_event(changed_series, self.owner)["id"]
        state.put_exception(
            master_id, original, self._graph_moved(changed_series, original + timedelta(hours=1))
        )
        modified.append(graph_occurrence_id(master_id, original))
        deleted = [graph_event(p, self.owner)["id"] for p in (*gone, gone_series)]
        for event_id in deleted:
            state.delete_event(event_id)
        return ChangeSpec(added, modified, deleted[:-1], deleted_prefixes=[deleted[-1] + "_"])

    def stop(self) -> None:
        if self.running is not None:
            self.running.stop()
            self.running = None


# ---- creneau's side ----------------------------------------------------------------------------------------


def bench_settings(var_dir: Path, database_url: str, batch_size: int) -> Settings:
    # Every value explicit, so that neither CRENEAU_* variables nor a .env file change what is measured.
    return Settings(
        environment="development",
        var_dir=var_dir,
        database_url=database_url,
        secret_keys=Fernet.generate_key().decode(),
        session_secret="cloud-sync-bench-" + "x" * 32,
        allowed_private_networks=["127.0.0.0/8"],
        run_background_jobs=False,
        multiget_chunk_size=batch_size,
        sync_days_back=42,
        sync_days_ahead=201,
        http_timeout_seconds=20.0,
    )


class RequestLog:
    """httpx event hooks: every request creneau sends (by kind) and the size of every answer."""

    def __init__(self, label: Callable[[httpx.Request], str]) -> None:
        self.label = label
        self.requests: Counter[str] = Counter()
        self.received = 0

    def on_request(self, request: httpx.Request) -> None:
        self.requests[self.label(request)] += 1

    def on_response(self, response: httpx.Response) -> None:
        self.received += int(response.headers.get("content-length") or 0)

    def take(self) -> tuple[Counter[str], int]:
        taken = (self.requests, self.received)
        self.requests, self.received = Counter(), 0
        return taken


def google_label(request: httpx.Request) -> str:
    path = request.url.path.split("/calendar/v3/", 1)[-1]
    query = parse_qs(request.url.query.decode())
    if path.startswith("users/me/calendarList"):
        return "calendarList"
    if path.endswith("/events"):
        for name in ("syncToken", "iCalUID", "pageToken"):
            if name in query:
                return f"events.list {name}"
        return "events.list"
    return f"events.{request.method.lower()}" if "/events/" in path else f"{request.method} {path}"


def graph_label(request: httpx.Request) -> str:
    path = request.url.path.split("/v1.0/", 1)[-1]
    query = parse_qs(urlsplit(str(request.url)).query)
    if "calendarView/delta" in path:
        for name in ("$deltatoken", "$skiptoken"):
            if name in query:
                return f"delta {name}"
        return "delta"
    return path if path.startswith("me") and path.count("/") <= 1 else f"{request.method} {path}"


@dataclass
class Step:
    provider: str
    size: int
    name: str
    wall: float
    cpu: float
    emulator_cpu: float
    requests: Counter[str]
    received: int
    report: SyncReport
    outcome: str
    rows: tuple[int, int] = (0, 0)  # synced events, busy occurrences after the step
    round: int = 0


def add_account(runtime: Runtime, provider: str, seeded: dict[str, Any]) -> int:
    """The rows the OAuth pages store: a researcher, then the account with its encrypted token JSON."""
    with runtime.ctx.sessions() as db, db.begin():
        researcher = Researcher(email=f"{provider}-{seeded['owner']}", name="Bench", password_hash="-")
        db.add(researcher)
        db.flush()
        account = CalendarAccount(
            researcher_id=researcher.id,
            provider=provider,
            display_name=seeded["owner"],
            server_url=seeded["url"],
            username=seeded["owner"],
            owner_addresses=seeded["owner"],
            timezone="Europe/Paris",
            credentials=runtime.ctx.vault.encrypt(seeded["secret"]),
            status="syncing",
        )
        db.add(account)
        db.flush()
        return account.id


def held(runtime: Runtime, account_id: int) -> dict[str, str]:
    """remote id → etag of every event creneau holds for the account."""
    with runtime.ctx.sessions() as db:
        rows = db.execute(
            select(SyncedEvent.remote_id, SyncedEvent.etag)
            .join(Calendar, Calendar.id == SyncedEvent.calendar_id)
            .where(Calendar.account_id == account_id)
        )
        return {remote: etag for remote, etag in rows}


def row_counts(runtime: Runtime) -> tuple[int, int]:
    with runtime.ctx.sessions() as db:
        events = db.scalar(select(func.count()).select_from(SyncedEvent)) or 0
        busy = db.scalar(select(func.count()).select_from(BusyOccurrence)) or 0
    return events, busy


def verify(before: dict[str, str], after: dict[str, str], spec: ChangeSpec) -> str:
    """'verified' when the database changed exactly as the server did, else what differs."""
    gone = set(spec.deleted) | {k for k in before for p in spec.deleted_prefixes if k.startswith(p)}
    touched = set(spec.modified) | gone
    problems = []
    prefixes_held = all(any(k.startswith(p) for k in before) for p in spec.deleted_prefixes)
    if not touched <= set(before) or not prefixes_held:
        problems.append("the changed events were not all held before")
    expected = (set(before) - gone) | set(spec.added)
    if set(after) != expected:
        problems.append(f"{len(set(after) - expected)} unexpected, {len(expected - set(after))} missing")
    changed = {k for k, etag in after.items() if before.get(k) != etag}
    if changed != set(spec.added) | set(spec.modified):
        problems.append(
            f"new etags on {len(changed)} events, {len(spec.added) + len(spec.modified)} expected"
        )
    return "verified" if not problems else "MISMATCH: " + "; ".join(problems)


def outcome(report: SyncReport) -> str:
    keys = ("fetched", "deleted", "unchanged", "malformed", "full_resyncs")
    counts = ", ".join(f"{k.replace('_', ' ')} {getattr(report, k):,}" for k in keys if getattr(report, k))
    return f"{report.status}: {counts or 'nothing to do'}" + (f" ({report.error})" if report.error else "")


def run_size(
    emulator: ChildProcess,
    provider: str,
    size: int,
    args: argparse.Namespace,
    today: date,
    profile: cProfile.Profile | None = None,
) -> list[Step]:
    with tempfile.TemporaryDirectory(prefix="cloud-sync-bench-") as tmp:
        var_dir = Path(tmp)
        with fresh_database(args.database_url, var_dir) as url:
            settings = bench_settings(var_dir, url, args.batch_size)
            upgrade(settings)
            runtime = build_runtime(settings)
            try:
                return measure(emulator, runtime, provider, size, args, today, profile)
            finally:
                runtime.close()


def measure(
    emulator: ChildProcess,
    runtime: Runtime,
    provider: str,
    size: int,
    args: argparse.Namespace,
    today: date,
    profile: cProfile.Profile | None,
) -> list[Step]:
    """The three syncs of one account; with ``profile``, only the initial sync, under that profiler."""
    seed = args.seed
    seeded = emulator.call("seed", size=size, seed=seed, today=today)
    account_id = add_account(runtime, provider, seeded)
    log = RequestLog(google_label if provider == "google" else graph_label)
    hooks: dict[str, list[Callable[..., Any]]] = {"request": [log.on_request], "response": [log.on_response]}
    ctx: EngineContext = dataclasses.replace(
        runtime.ctx, policy=dataclasses.replace(runtime.ctx.policy, event_hooks=hooks)
    )
    steps = []
    for name in STEPS[:1] if profile else STEPS:
        spec = emulator.call("change", seed=seed, today=today) if name.endswith("changes") else None
        before = held(runtime, account_id) if spec else {}
        emulator_cpu, cpu, started = emulator.call("cpu"), time.process_time(), time.perf_counter()
        if profile is not None:
            profile.enable()
        report = sync_account(ctx, account_id=account_id)
        if profile is not None:
            profile.disable()
        wall, cpu = time.perf_counter() - started, time.process_time() - cpu
        emulator_cpu = emulator.call("cpu") - emulator_cpu
        assert report is not None
        requests, received = log.take()
        result = outcome(report)
        if spec is not None:
            result += "; " + verify(before, held(runtime, account_id), spec)
        steps.append(
            Step(
                provider,
                size,
                name,
                wall,
                cpu,
                emulator_cpu,
                requests,
                received,
                report,
                result,
                row_counts(runtime),
            )
        )
        print(
            f"  {LABELS[provider]} {size:,} {name}: {wall:.2f} s, {sum(requests.values())} req.; {result}",
            flush=True,
        )
    return steps


# ---- report ------------------------------------------------------------------------------------------------


def _mib(size: int) -> str:
    return f"{size / 1024 / 1024:.1f} MiB" if size >= 1024 * 1024 else f"{size / 1024:.0f} KiB"


def render(steps: list[Step]) -> str:
    lines = [
        "| Provider | Events | Step | sync_account() wall | creneau CPU | Emulator CPU | HTTP requests "
        "| By kind | Received | Rows after (events / busy) | Outcome |",
        "|---|---:|---|---:|---:|---:|---:|---|---:|---:|---|",
    ]
    for s in steps:
        kinds = ", ".join(f"{k} {v}" for k, v in sorted(s.requests.items()))
        lines.append(
            f"| {LABELS[s.provider]} | {s.size:,} | {s.name} | {s.wall:.2f} s | {s.cpu:.2f} s "
            f"| {s.emulator_cpu:.2f} s | {sum(s.requests.values())} | {kinds} | {_mib(s.received)} "
            f"| {s.rows[0]:,} / {s.rows[1]:,} "
            f"| {s.outcome} |"
        )
    return "\n".join(lines)


def spread(values: list[float]) -> str:
    """Wall times of the rounds: the one figure, or the median and the range."""
    values = sorted(values)
    if len(values) == 1:
        return f"{values[0]:.2f} s"
    return f"{statistics.median(values):.2f} s ({values[0]:.2f}–{values[-1]:.2f})"


def summarize(steps: list[Step], sizes: list[int]) -> str:
    """Requests, wall and CPU time (medians over the rounds) by calendar size; the verdict on the target."""
    header = " | ".join(f"{n:,} events" for n in sizes)
    rounds = len({s.round for s in steps})
    requests = [f"| Provider | Step | {header} |", "|---|---|" + "---:|" * len(sizes)]
    times = list(requests)
    verdicts = []
    for provider in dict.fromkeys(s.provider for s in steps):
        for name in STEPS:
            req_cells, time_cells = [], []
            for n in sizes:
                same = [s for s in steps if (s.provider, s.name, s.size) == (provider, name, n)]
                counts = sorted({sum(s.requests.values()) for s in same})
                req_cells.append("/".join(map(str, counts)) or "-")
                cpu = statistics.median(s.cpu for s in same) if same else 0.0
                time_cells.append(f"{spread([s.wall for s in same])}, CPU {cpu:.2f} s" if same else "-")
            requests.append(f"| {LABELS[provider]} | {name} | {' | '.join(req_cells)} |")
            times.append(f"| {LABELS[provider]} | {name} | {' | '.join(time_cells)} |")
            if name != "initial sync" and len(sizes) > 1:
                constant = len(set(req_cells)) == 1 and "/" not in req_cells[0]
                verdict = "the same at every size" if constant else "NOT the same at every size"
                verdicts.append(f"- {LABELS[provider]}, {name}: {verdict} ({', '.join(req_cells)} requests)")
    return "\n".join(
        [
            "HTTP requests creneau sent:",
            "",
            *requests,
            "",
            f"sync_account() wall time, median of {rounds} round(s) (min–max), and creneau's CPU (median):",
            "",
            *times,
            "",
            *verdicts,
        ]
    )


def profiles(emulators: dict[str, ChildProcess], args: argparse.Namespace, today: date) -> str:
    """One more initial sync per provider at the largest size, under cProfile: top functions by own time."""
    size, out = max(args.sizes), []
    for provider, emulator in emulators.items():
        profile = cProfile.Profile()
        (step,) = run_size(emulator, provider, size, args, today, profile)
        text = io.StringIO()
        pstats.Stats(profile, stream=text).sort_stats("tottime").print_stats(15)
        head = f"{LABELS[provider]}, initial sync of {size:,} events under cProfile ({step.wall:.2f} s):"
        body = text.getvalue().split("\n")
        start = next(i for i, line in enumerate(body) if line.lstrip().startswith("ncalls"))
        out += ["", head, "", "```", *(line.rstrip() for line in body[start:] if line.strip()), "```"]
    return "\n".join(out)


# ---- main --------------------------------------------------------------------------------------------------


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--providers", default=",".join(PROVIDERS), help="google,msgraph (default: both)")
    parser.add_argument(
        "--sizes", default=",".join(map(str, SIZES)), help="events per calendar, comma-separated"
    )
    parser.add_argument("--database-url", default="", help="a PostgreSQL server URL (default: a SQLite file)")
    parser.add_argument(
        "--seed", type=int, default=1, help="random seed of the calendar's content and changes"
    )
    parser.add_argument(
        "--batch-size",
        type=int,
        default=Settings.model_fields["multiget_chunk_size"].default,
        help="items per page, creneau's multiget_chunk_size (default: %(default)s)",
    )
    parser.add_argument(
        "--profile", action="store_true", help="then one more initial sync per provider under cProfile"
    )
    parser.add_argument("--rounds", type=int, default=3, help="rounds of everything, from scratch (median)")
    args = parser.parse_args()
    args.providers = [p.strip() for p in args.providers.split(",") if p.strip()]
    args.sizes = [int(s) for s in args.sizes.split(",") if s.strip()]
    unknown = set(args.providers) - set(PROVIDERS)
    if unknown or any(n < 200 for n in args.sizes) or args.rounds < 1:
        parser.error(f"providers among {', '.join(PROVIDERS)}, sizes of 200 events or more, 1 round or more")
    return args


def main() -> None:
    args = parse_args()
    started = time.perf_counter()
    today = datetime.now(UTC).date()
    load = os.getloadavg()[0]
    emulators = {
        provider: ChildProcess(functools.partial(Side, provider), f"{provider}-emulator")
        for provider in args.providers
    }
    steps: list[Step] = []
    profiled = ""
    try:
        for n in range(args.rounds):  # providers alternated, so that a burst of load hits both
            for provider, emulator in emulators.items():
                for size in args.sizes:
                    for step in run_size(emulator, provider, size, args, today):
                        step.round = n
                        steps.append(step)
        seconds = time.perf_counter() - started
        if args.profile:  # not in the figures above: the profiler slows everything down
            profiled = profiles(emulators, args, today)
    finally:
        for emulator in emulators.values():
            emulator.stop()
    database = "PostgreSQL" if args.database_url else "SQLite"
    host = machine(packages=("sqlalchemy", "httpx", "uvicorn"))
    print(f"\n{database}, batch size {args.batch_size}; {host} (load {load:.1f} at the start).")
    print(f"Whole run: {seconds:.0f} s.\n")
    print(summarize(steps, args.sizes))
    print(f"\nRound {args.rounds} in full:\n")
    print(render([s for s in steps if s.round == args.rounds - 1]))
    print(profiled)
    if any("MISMATCH" in s.outcome or s.report.status != "ok" for s in steps):
        raise SystemExit("some sync did not end as expected (see Outcome)")


if __name__ == "__main__":
    main()
