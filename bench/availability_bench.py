"""Availability benchmark (issue 3): the booking page's slots for a heavy researcher, against the floor.

    python bench/availability_bench.py                # SQLite, 2,000 / 20,000 / 200,000 busy occurrences
    python bench/availability_bench.py --database-url postgresql+psycopg://postgres@127.0.0.1:5432/postgres

For each size, a fresh database (a temporary SQLite file, or a new PostgreSQL database created on the given
server and dropped at the end) holds one researcher with 10 conflict-checked calendars and N busy occurrences
of 30 to 90 minutes, spread over 8 weeks (2 before today, 6 after: a 42/201-day sync window holds more than
the page asks for, so the query must filter), and a session offering 30-minute slots. The page asks for
4 weeks from today, as ``GET /book/{token}/slots.json?start=<today>&days=28&tz=Europe/Paris``. Measured:

    floor          the SELECT of (start, end) that busy_periods() runs, on the driver's own cursor (no
                   SQLAlchemy, no type conversion): what any implementation pays to read the same rows
    SQLAlchemy     the same statement through a Session, rows typed (UTCDateTime)
    busy_periods   synced busy times, clipped and merged into Intervals
    offered_slots  the whole computation, in-process
    HTTP           the slot endpoint on uvicorn (its own process, background jobs off, no access log):
                   1 client, then 50 concurrent clients; p50, p99, requests/s, the server's CPU per request
    floor route    the floor query behind a route that this benchmark adds to the same server (bare cursor,
                   answers the row count), loaded the same way: what the HTTP stack and 50 clients cost
                   even when the handler does nothing but read the rows

Prints Markdown tables ready for bench/RESULTS.md; writes nothing but temporary files (``--profile`` adds a
cProfile of offered_slots() at the largest size to the output).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import cProfile
import io
import itertools
import os
import pstats
import random
import re
import statistics
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from datetime import time as clock
from pathlib import Path
from textwrap import shorten
from typing import Any
from unittest import mock
from zoneinfo import ZoneInfo

import httpx
from fastapi.responses import JSONResponse
from sqlalchemy import Select, event, insert, select

from benchkit import fresh_database, machine
from creneau.calendars.freebusy import busy_periods
from creneau.config import Settings
from creneau.demo.radicale import free_loopback_port
from creneau.domain.intervals import Interval
from creneau.runtime import Runtime, build_runtime
from creneau.scheduling import availability as scheduling_availability
from creneau.scheduling.availability import offered_slots
from creneau.scheduling.studies import create_session, create_study
from creneau.scheduling.workspaces import ensure_workspace
from creneau.store.migrate import upgrade
from creneau.store.models import (
    BusyOccurrence,
    Calendar,
    CalendarAccount,
    Researcher,
    StudySession,
    SyncedEvent,
)

CALENDARS = 10
DAYS = 28  # the window the page asks for
SPREAD = (timedelta(days=-14), timedelta(days=42))  # where busy occurrences fall, around the window's start
ZONE = "Europe/Paris"
CLIENTS = 50
CHUNK = 10_000  # rows per bulk insert
FLOOR_PATH = "/bench/floor"  # added to the app by this benchmark's server only
AVAILABILITY = {  # a full working week; 30-minute slots every 30 minutes
    "weekly": [{"weekday": d, "start": "09:00", "end": "18:00"} for d in range(5)],
    "overrides": [],
}


# ---- one database per size ------------------------------------------------------------------------------


def bench_settings(var_dir: Path, database_url: str) -> Settings:
    # Every value explicit, so neither CRENEAU_* variables nor a .env file can change what is measured.
    return Settings(
        environment="development",
        var_dir=var_dir,
        database_url=database_url,
        secret_keys="",
        session_secret="availability-bench-" + "x" * 32,
        run_background_jobs=False,
        booking_page_sync_seconds=0,
    )


@dataclass
class Seeded:
    researcher_id: int
    session_id: int
    token: str


def seed(runtime: Runtime, *, size: int, window: Interval, rng: random.Random) -> Seeded:
    """The heavy researcher: a session, one account with 10 calendars, ``size`` busy occurrences (one synced
    event each), bulk-inserted with SQLAlchemy Core."""
    with runtime.ctx.sessions() as db, db.begin():
        researcher = Researcher(email="heavy@creneau.test", name="Heavy", password_hash="-", timezone=ZONE)
        db.add(researcher)
        db.flush()
        member = ensure_workspace(db, researcher=researcher)
        study = create_study(db, workspace_id=member.workspace_id, researcher_id=researcher.id, name="Bench")
        study_session = create_session(db, researcher=researcher, study_id=study.id, name="Interview")
        study_session.availability = AVAILABILITY
        study_session.duration_minutes = 30
        study_session.slot_interval_minutes = 30  # min_notice 24 h and horizon 60 days: the defaults
        account = CalendarAccount(
            researcher_id=researcher.id,
            provider="caldav",
            display_name="Bench",
            server_url="https://caldav.example.org/",
            username="heavy",
            credentials=runtime.ctx.vault.encrypt("not-a-real-password"),
            calendars=[
                Calendar(remote_id=f"/heavy/cal-{n}/", name=f"Calendar {n}") for n in range(CALENDARS)
            ],
        )
        db.add(account)
        db.flush()
        calendar_ids = [c.id for c in account.calendars]
        seeded = Seeded(researcher.id, study_session.id, study_session.public_token)
    first = window.start + SPREAD[0]
    minutes = int((SPREAD[1] - SPREAD[0]).total_seconds()) // 60
    with runtime.db.begin() as conn:
        for low in range(0, size, CHUNK):
            events: list[dict[str, Any]] = []
            busy: list[dict[str, Any]] = []
            for n in range(low, min(size, low + CHUNK)):
                calendar_id = calendar_ids[n % CALENDARS]
                start = first + timedelta(minutes=rng.randrange(minutes))
                end = start + timedelta(minutes=rng.randrange(30, 91, 5))
                events.append(
                    {
                        "id": n + 1,
                        "calendar_id": calendar_id,
                        "remote_id": f"/heavy/cal-{n % CALENDARS}/{n}.ics",
                        "etag": '"1"',
                        "uid": f"bench-{n}@creneau.test",
                        "summary": "Busy",
                        "ical": "",  # never read to compute slots
                        "recurring": False,
                    }
                )
                busy.append(
                    {
                        "event_id": n + 1,
                        "calendar_id": calendar_id,
                        "start": start,
                        "end": end,
                        "all_day": False,
                    }
                )
            conn.execute(insert(SyncedEvent), events)
            conn.execute(insert(BusyOccurrence), busy)
    if runtime.db.dialect.name == "postgresql":  # what autovacuum does within a minute of such a load
        with runtime.db.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            conn.exec_driver_sql("VACUUM ANALYZE")
    return seeded


# ---- in-process measures --------------------------------------------------------------------------------


def page_window(today: date) -> Interval:
    """What the slot endpoint asks offered_slots() for: DAYS local days from today's midnight in ZONE."""
    zone = ZoneInfo(ZONE)
    start = datetime.combine(today, clock(0), zone)
    return Interval(start.astimezone(UTC), (start + timedelta(days=DAYS)).astimezone(UTC))


@dataclass
class BusyRead:
    """How offered_slots() reads the synced busy times, recorded from a real call (so the floor reads exactly
    the same rows however picture() widens the window): the arguments it gives busy_periods() and the SQL
    and parameters that reach the driver."""

    arguments: dict[str, Any]
    sql: str
    params: Any


def record_busy_read(runtime: Runtime, session_id: int, window: Interval, now: datetime) -> BusyRead:
    statements: list[tuple[str, Any]] = []

    def listen(_conn: Any, _cursor: Any, sql: str, params: Any, _context: Any, _many: bool) -> None:
        if re.search(r"\bFROM busy_occurrences\b", sql):
            statements.append((sql, params))

    event.listen(runtime.db, "before_cursor_execute", listen)
    try:
        with (
            runtime.ctx.sessions() as db,
            mock.patch.object(scheduling_availability, "busy_periods", wraps=busy_periods) as spy,
        ):
            study_session = db.get(StudySession, session_id)
            assert study_session is not None
            offered_slots(db, study_session=study_session, window=window, now=now)
    finally:
        event.remove(runtime.db, "before_cursor_execute", listen)
    if spy.call_count != 1 or len(statements) != 1:
        raise RuntimeError(
            f"expected one busy read, saw {spy.call_count} calls and {len(statements)} queries"
        )
    return BusyRead(dict(spy.call_args.kwargs), *statements[0])


def busy_statement(researcher_id: int, wide: Interval) -> Select[datetime, datetime]:
    """busy_periods()'s SELECT (without ``ignore_uid``), written out again to time it without what
    busy_periods() does with the rows."""
    return (
        select(BusyOccurrence.start, BusyOccurrence.end)
        .join(Calendar, Calendar.id == BusyOccurrence.calendar_id)
        .join(CalendarAccount, CalendarAccount.id == Calendar.account_id)
        .where(
            CalendarAccount.researcher_id == researcher_id,
            Calendar.check_conflicts.is_(True),
            BusyOccurrence.start < wide.end,
            BusyOccurrence.end > wide.start,
        )
    )


def timed(fn: Callable[[], object], *, budget: float, least: int = 5, most: int = 300) -> list[float]:
    """Durations of repeated calls of ``fn``, after one untimed call (warm caches, compiled statements)."""
    fn()
    times: list[float] = []
    deadline = time.perf_counter() + budget
    while len(times) < least or (len(times) < most and time.perf_counter() < deadline):
        started = time.perf_counter()
        fn()
        times.append(time.perf_counter() - started)
    return times


def percentile_of(values: list[float], percent: int) -> float:
    return statistics.quantiles(values, n=100, method="inclusive")[percent - 1]


@dataclass
class InProcess:
    rows: int
    slots: int
    floor: list[float]
    sqlalchemy: list[float]
    busy_periods: list[float]
    offered_slots: list[float]
    plan: str


def measure_in_process(runtime: Runtime, seeded: Seeded, window: Interval, now: datetime) -> InProcess:
    read = record_busy_read(runtime, seeded.session_id, window, now)
    raw = runtime.db.raw_connection()
    try:
        cursor = raw.cursor()

        def bare() -> int:
            cursor.execute(read.sql, read.params)
            return len(cursor.fetchall())

        rows = bare()
        floor = timed(bare, budget=2.0, least=10)
        explain = "EXPLAIN QUERY PLAN " if runtime.db.dialect.name == "sqlite" else "EXPLAIN "
        cursor.execute(explain + read.sql, read.params)
        plan = "; ".join(str(line[-1]).strip() for line in cursor.fetchall())
        cursor.close()
        raw.rollback()
    finally:
        raw.close()
    statement = busy_statement(seeded.researcher_id, read.arguments["window"])
    with runtime.ctx.sessions() as db:
        study_session = db.get(StudySession, seeded.session_id)
        assert study_session is not None
        if len(db.execute(statement).all()) != rows:
            raise RuntimeError("busy_statement() no longer reads what busy_periods() reads")
        typed = timed(lambda: db.execute(statement).all(), budget=2.0)
        periods = timed(lambda: busy_periods(db, **read.arguments), budget=2.0)

        def compute() -> list[Interval]:
            return offered_slots(db, study_session=study_session, window=window, now=now)

        slots = len(compute())
        whole = timed(compute, budget=3.0)
    return InProcess(rows, slots, floor, typed, periods, whole, plan)


def profile(runtime: Runtime, seeded: Seeded, window: Interval, now: datetime, calls: int = 3) -> str:
    """The top of a cProfile of offered_slots(), by own time."""
    with runtime.ctx.sessions() as db:
        study_session = db.get(StudySession, seeded.session_id)
        assert study_session is not None
        offered_slots(db, study_session=study_session, window=window, now=now)
        profiler = cProfile.Profile()
        profiler.enable()
        for _ in range(calls):
            offered_slots(db, study_session=study_session, window=window, now=now)
        profiler.disable()
    out = io.StringIO()
    pstats.Stats(profiler, stream=out).sort_stats("tottime").print_stats(18)
    return re.sub(r"/\S*/(site-packages|src)/", "", out.getvalue())


# ---- HTTP ---------------------------------------------------------------------------------------------


def serve(argv: list[str]) -> None:
    """The server side, run as ``availability_bench.py serve`` in its own process."""
    import uvicorn

    from creneau.serving import KEEP_ALIVE_SECONDS
    from creneau.web.app import create_app

    parser = argparse.ArgumentParser()
    parser.add_argument("--var-dir", type=Path, required=True)
    parser.add_argument("--database-url", required=True)
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--session-id", type=int, required=True)
    parser.add_argument("--today", type=date.fromisoformat, required=True)
    args = parser.parse_args(argv)
    runtime = build_runtime(bench_settings(args.var_dir, args.database_url))
    app = create_app(runtime)
    read = record_busy_read(runtime, args.session_id, page_window(args.today), datetime.now(UTC))

    def floor() -> JSONResponse:
        """The floor over HTTP (this benchmark's server only): the page's busy rows read bare, counted."""
        raw = runtime.db.raw_connection()
        try:
            cursor = raw.cursor()
            cursor.execute(read.sql, read.params)
            rows = len(cursor.fetchall())
            cursor.close()
            raw.rollback()
        finally:
            raw.close()
        return JSONResponse({"rows": rows})

    app.add_api_route(FLOOR_PATH, floor, methods=["GET"], include_in_schema=False)
    uvicorn.run(
        app,
        host="127.0.0.1",
        port=args.port,
        log_level="warning",
        access_log=False,
        timeout_keep_alive=int(KEEP_ALIVE_SECONDS),  # longer than the clients' (creneau.serving)
    )


@contextmanager
def running_server(
    var_dir: Path, database_url: str, ready_path: str, *extra: str
) -> Iterator[tuple[int, int]]:
    """Start the server, wait until ``ready_path`` answers 200; yields (port, pid)."""
    port = free_loopback_port()
    log = var_dir / "server.log"
    cmd = [sys.executable, __file__, "serve", "--var-dir", str(var_dir), "--database-url", database_url]
    with log.open("wb") as out:
        proc = subprocess.Popen([*cmd, "--port", str(port), *extra], stdout=out, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                if httpx.get(f"http://127.0.0.1:{port}{ready_path}", timeout=30).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            if proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"the server did not start:\n{log.read_text()[-3000:]}")
            time.sleep(0.1)
        yield port, proc.pid
    except BaseException:
        print(f"the server's output:\n{log.read_text()[-3000:]}", file=sys.stderr)
        raise
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _content_length(head: bytes) -> int:
    found = re.search(rb"\r\ncontent-length:\s*(\d+)", head, re.I)
    if found is None:
        raise RuntimeError(f"no Content-Length in {head[:200]!r}")
    return int(found.group(1))


async def _load(port: int, path: str, clients: int, total: int) -> tuple[list[float], list[str]]:
    """``total`` GETs of ``path`` by ``clients`` keep-alive connections, each sending its next request
    when the previous answer is read. A bare asyncio client: httpx would spend more of the 2 cores than
    the server does on small answers. Returns the latencies of the 200 answers and what went wrong with the
    others (a refused request costs its connection: the next one opens a new one)."""
    tickets = iter(range(total))
    latencies: list[float] = []
    failures: list[str] = []
    request = f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nAccept: application/json\r\n\r\n".encode()

    async def client() -> None:
        connection: tuple[asyncio.StreamReader, asyncio.StreamWriter] | None = None
        for _ in tickets:
            started = time.perf_counter()
            try:
                if connection is None:
                    connection = await asyncio.open_connection("127.0.0.1", port)
                reader, writer = connection
                writer.write(request)
                head = await reader.readuntil(b"\r\n\r\n")
                await reader.readexactly(_content_length(head))
            except (ConnectionError, asyncio.IncompleteReadError) as exc:
                failures.append(f"{type(exc).__name__} after {time.perf_counter() - started:.0f} s")
                connection = None
                continue
            if head.startswith(b"HTTP/1.1 200 "):
                latencies.append(time.perf_counter() - started)
            else:
                failures.append(head.split(b"\r\n", 1)[0].decode())
            if re.search(rb"\r\nconnection:\s*close", head, re.I):
                writer.close()
                connection = None
        if connection is not None:
            connection[1].close()
            with contextlib.suppress(ConnectionError):
                await connection[1].wait_closed()

    await asyncio.gather(*(client() for _ in range(clients)))
    return latencies, failures


@dataclass
class Load:
    clients: int
    latencies: list[float]  # of the requests answered 200
    failures: list[str]
    wall: float
    server_cpu: float

    def percentile(self, percent: int) -> float:
        return percentile_of(self.latencies, percent) if len(self.latencies) > 1 else float("nan")

    @property
    def per_second(self) -> float:
        return len(self.latencies) / self.wall

    @property
    def requests(self) -> int:
        return len(self.latencies) + len(self.failures)

    def cpu_per_request(self) -> float:
        return self.server_cpu / self.requests


def load(port: int, pid: int, path: str, *, clients: int, total: int) -> Load:
    server_cpu = cpu_seconds(pid)
    started = time.perf_counter()
    latencies, failures = asyncio.run(_load(port, path, clients, total))
    wall = time.perf_counter() - started
    return Load(clients, latencies, failures, wall, cpu_seconds(pid) - server_cpu)


# ---- one size -----------------------------------------------------------------------------------------


@dataclass
class Result:
    size: int
    inside: InProcess
    floor_one: Load  # the bare query behind FLOOR_PATH
    floor_many: Load
    one: Load  # the slot endpoint
    many: Load
    seconds: float
    notes: list[str] = field(default_factory=list)


def measure_size(args: argparse.Namespace, size: int, work: Path) -> tuple[Result, str]:
    started = time.perf_counter()
    now = datetime.now(UTC)
    today = now.astimezone(ZoneInfo(ZONE)).date()
    window = page_window(today)
    var_dir = work / f"size-{size}"
    var_dir.mkdir()
    profiled = ""
    with fresh_database(args.database_url, var_dir) as url:
        settings = bench_settings(var_dir, url)
        upgrade(settings)
        runtime = build_runtime(settings)
        try:
            seeded = seed(runtime, size=size, window=window, rng=random.Random(size))
            inside = measure_in_process(runtime, seeded, window, now)
            if args.profile and size == max(args.sizes):
                profiled = profile(runtime, seeded, window, now)
        finally:
            runtime.close()
        path = f"/book/{seeded.token}/slots.json?start={today.isoformat()}&days={DAYS}&tz={ZONE}"
        extra = ("--session-id", str(seeded.session_id), "--today", today.isoformat())
        with running_server(var_dir, url, path, *extra) as (port, pid):
            served = len(httpx.get(f"http://127.0.0.1:{port}{path}", timeout=60).json()["slots"])
            floor_one, floor_many = http_pair(port, pid, FLOOR_PATH, args.requests, args.http_budget / 4)
            one, many = http_pair(port, pid, path, args.requests, args.http_budget)
    result = Result(size, inside, floor_one, floor_many, one, many, time.perf_counter() - started)
    for what, measured in (("floor route", floor_many), ("slot endpoint", many)):
        if measured.requests != args.requests:
            rounds = (
                "a single burst, one per client" if measured.requests == CLIENTS else "to keep the run short"
            )
            result.notes.append(
                f"{size:,} occurrences, {what}: {measured.requests} requests with 50 clients instead of "
                f"{args.requests} ({rounds})"
            )
    loads = (
        ("floor route", floor_one),
        ("floor route", floor_many),
        ("slot endpoint", one),
        ("slot endpoint", many),
    )
    for what, measured in loads:
        if measured.failures:
            result.notes.append(
                f"{size:,} occurrences, {what}, {measured.clients} client(s): {failed(measured)}"
            )
    if served != inside.slots:
        result.notes.append(
            f"{size:,} occurrences: the endpoint offered {served} slots, in-process {inside.slots}"
        )
    return result, profiled


def failed(measured: Load) -> str:
    reasons = Counter(reason.split(" after ")[0] for reason in measured.failures)
    told = ", ".join(f"{n} × {reason}" for reason, n in reasons.most_common())
    return f"{len(measured.failures)} of {measured.requests} requests failed ({told})"


def http_pair(port: int, pid: int, path: str, most: int, budget: float) -> tuple[Load, Load]:
    """``path`` with 1 client (about 4 s, 10 to 100 requests), then with 50: about ``budget`` seconds of
    load (one process serves about 1 / p50 requests a second), at most ``most`` requests, at least one per
    client."""
    warm_up = load(port, pid, path, clients=1, total=3)  # not counted
    guess = statistics.median(warm_up.latencies)
    one = load(port, pid, path, clients=1, total=max(10, min(100, int(4.0 / guess))))
    total = min(most, max(CLIENTS, int(budget / one.percentile(50))))
    return one, load(port, pid, path, clients=CLIENTS, total=total - total % CLIENTS)


# ---- report -------------------------------------------------------------------------------------------


def ms(seconds: float) -> str:
    return f"{seconds * 1000:.1f} ms" if seconds < 1 else f"{seconds:.2f} s"


def med(values: list[float]) -> float:
    return statistics.median(values)


def render(results: list[Result]) -> str:
    lines = [
        "| Busy occurrences | Rows read | Slots offered | Floor: bare query | offered_slots in-process "
        "| Slot endpoint, 50 clients: p50 | p99 | Failed | Requests/s | p50 / floor |",
        "|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for r in results:
        floor = med(r.inside.floor)
        lines.append(
            f"| {r.size:,} | {r.inside.rows:,} | {r.inside.slots} | {ms(floor)} "
            f"| {ms(med(r.inside.offered_slots))} | {ms(r.many.percentile(50))} "
            f"| {ms(r.many.percentile(99))} | {len(r.many.failures)} of {r.many.requests} "
            f"| {r.many.per_second:.1f} | {r.many.percentile(50) / floor:,.0f}× |"
        )
    lines += [
        "",
        "The same server, the floor query behind a bench-only route (`/bench/floor`, bare cursor, answers "
        "the row count) against the slot endpoint; p50, and the server's CPU time per request:",
        "",
        "| Busy occurrences | Floor route, 1 client | Floor route, 50 clients | Slot endpoint, 1 client "
        "| Slot endpoint, 50 clients | Server CPU / request: floor route, slot endpoint |",
        "|---:|---:|---:|---:|---:|---:|",
    ]
    for r in results:
        lines.append(
            f"| {r.size:,} | {ms(r.floor_one.percentile(50))} | {ms(r.floor_many.percentile(50))} "
            f"| {ms(r.one.percentile(50))} | {ms(r.many.percentile(50))} "
            f"| {ms(r.floor_many.cpu_per_request())}, {ms(r.many.cpu_per_request())} |"
        )
    lines += [
        "",
        "Where the in-process time goes (medians; µs per row read in brackets):",
        "",
        "| Busy occurrences | Floor: bare query | + SQLAlchemy, typed rows | busy_periods() as picture() "
        "calls it | offered_slots(): + bookings, sort and merge, candidates |",
        "|---:|---:|---:|---:|---:|",
    ]
    for r in results:
        cells = [r.inside.floor, r.inside.sqlalchemy, r.inside.busy_periods, r.inside.offered_slots]
        per_row = [f"{ms(med(c))} ({med(c) / max(1, r.inside.rows) * 1e6:.2f})" for c in cells]
        lines.append(f"| {r.size:,} | " + " | ".join(per_row) + " |")
    return "\n".join([*lines, "", *ratios(results)])


def ratios(results: list[Result]) -> list[str]:
    def each(fn: Callable[[Result], float]) -> str:
        return ", ".join(f"{fn(r):,.1f}×" for r in results)

    sizes = " / ".join(f"{r.size:,}" for r in results)
    lines = [
        f"- slot endpoint p50 with 50 clients / floor ({sizes}): "
        + each(lambda r: r.many.percentile(50) / med(r.inside.floor)),
        "- slot endpoint / floor route, same server, p50 with 50 clients: "
        + each(lambda r: r.many.percentile(50) / r.floor_many.percentile(50))
        + "; with 1 client: "
        + each(lambda r: r.one.percentile(50) / r.floor_one.percentile(50)),
        "- offered_slots in-process / floor: "
        + each(lambda r: med(r.inside.offered_slots) / med(r.inside.floor)),
    ]
    for before, after in itertools.pairwise(results):
        growth = {
            "floor": med(after.inside.floor) / med(before.inside.floor),
            "offered_slots": med(after.inside.offered_slots) / med(before.inside.offered_slots),
            "slot endpoint 1-client p50": after.one.percentile(50) / before.one.percentile(50),
            "server CPU / request": after.many.cpu_per_request() / before.many.cpu_per_request(),
        }
        rows = after.inside.rows / max(1, before.inside.rows)
        told = ", ".join(f"{name} ×{value:.1f}" for name, value in growth.items())
        lines.append(f"- {before.size:,} → {after.size:,} occurrences (rows read ×{rows:.1f}): {told}")
    return lines


# ---- main ---------------------------------------------------------------------------------------------


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--sizes", default="2000,20000,200000", help="busy occurrences, comma-separated (default 2k,20k,200k)"
    )
    parser.add_argument("--database-url", default="", help="a PostgreSQL server (default: SQLite)")
    parser.add_argument("--requests", type=int, default=500, help="requests with 50 clients, per size")
    parser.add_argument(
        "--http-budget", type=float, default=30.0, help="about this many seconds of 50-client load per size"
    )
    parser.add_argument("--profile", action="store_true", help="cProfile offered_slots() at the largest size")
    args = parser.parse_args()
    args.sizes = [int(s.replace("_", "")) for s in args.sizes.split(",") if s.strip()]
    return args


def main() -> None:
    args = parse_args()
    started = time.perf_counter()
    load_before = os.getloadavg()[0]
    results: list[Result] = []
    profiled = ""
    with tempfile.TemporaryDirectory(prefix="creneau-availability-") as tmp:
        for size in args.sizes:
            result, found = measure_size(args, size, Path(tmp))
            results.append(result)
            profiled = found or profiled
            print(f"{size:,} occurrences measured in {result.seconds:.0f} s", file=sys.stderr)
    backend = "PostgreSQL" if args.database_url else "SQLite"
    notes = [
        f"1-minute load average {load_before:.1f} at the start, {os.getloadavg()[0]:.1f} at the end",
        *(n for r in results for n in r.notes),
        f"query plan at {results[-1].size:,}: {shorten(results[-1].inside.plan, 600, placeholder=' ...')}",
    ]
    print(f"\n## {datetime.now(UTC):%Y-%m-%d %H:%M} UTC: availability, {backend}\n")
    host = machine(packages=("sqlalchemy", "uvicorn"), database_url=args.database_url)
    print(f"Machine: {host}. Whole run: {time.perf_counter() - started:.0f} s.\n")
    print(render(results) + "\n\n" + "\n".join(f"- {note}" for note in notes))
    if profiled:
        print(f"\ncProfile of offered_slots() at {max(args.sizes):,} occurrences:\n\n{profiled}")


if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] == "serve":
        serve(sys.argv[2:])
    else:
        main()
