"""Exchange (EWS) sync benchmark: creneau's real sync engine against the EWS emulator.

    python bench/exchange_sync_bench.py                      # SQLite; 500 / 5,000 / 20,000 events
    python bench/exchange_sync_bench.py --sizes 500,5k       # sizes accept a "k" suffix
    python bench/exchange_sync_bench.py --database-url postgresql+psycopg://postgres@127.0.0.1:5432/postgres
    python bench/exchange_sync_bench.py --no-record          # print only, do not append to bench/RESULTS.md

The companion of bench/cloud_sync_bench.py (Google and Graph), with the same steps and columns. For each size
the emulator (``creneau.emulators.ews``, in a process of its own, so that its CPU is not creneau's) gets a new
mailbox whose calendar is seeded through the control API (``POST /_emulator/events`` in bulk, then
``/_emulator/events/{id}/occurrences`` for the series' exceptions) with N items, a deterministic mix:

    82 %  single meetings, 30 to 120 minutes, 8 weeks back to 26 weeks ahead, Europe/Paris (85 %), New York or
          UTC; some tentative, 5 % free, about half with a body and a location
     8 %  all-day events of 1 to 3 days, most of them free
    10 %  weekly series of 4 to 26 occurrences, each with one moved and one deleted occurrence

creneau gets a fresh database (a temporary SQLite file, or a new PostgreSQL database created on the given
server and dropped at the end) and one researcher, and the account is connected the way the Exchange form
does it (``connect_exchange_account()``, with the EWS address typed: discovery, then the account and its
calendar folders stored). Then ``sync_account()`` runs, in-process, three times:

    initial sync            the whole sync window (42 days back, 201 ahead)
    no-change resync        nothing changed on the server
    resync after 10 changes 4 added (3 meetings, 1 all-day), 3 modified (2 meetings moved by an hour, one
                            occurrence of a series moved), 3 deleted (2 meetings, 1 whole series)

Measured for each: wall time, creneau's CPU (this process) and the emulator's, the HTTP requests creneau sent
(an event hook on the engine's ``NetworkPolicy``, which creneau's requests adapter for exchangelib calls for
every request, NTLM handshakes included) and the EWS operations the emulator answered (its request log). After
the resync the database is checked against the changes ("verified", as in cloud_sync_bench).

The floor of a resync is one SyncFolderItems per calendar folder: the sync state says "nothing since",
whatever the calendar's size; changed items then cost one GetItem batch (``multiget_chunk_size`` ids each).
The summary says how far above that floor creneau is (folder listing, NTLM challenges).
"""

from __future__ import annotations

import argparse
import dataclasses
import random
import statistics
import tempfile
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import httpx

from benchkit import ChildProcess, fresh_database, machine
from cloud_sync_bench import ChangeSpec, bench_settings, held, row_counts, spread, verify
from creneau.calendars.accounts import connect_exchange_account
from creneau.calendars.context import EngineContext
from creneau.calendars.sync import SyncReport, sync_account
from creneau.config import Settings
from creneau.runtime import Runtime, build_runtime
from creneau.store.migrate import upgrade
from creneau.store.models import Researcher

SIZES = (500, 5000, 20000)
STEPS = ("initial sync", "no-change resync", "resync after 10 changes")
PASSWORD = "Bench-Secret1!"
PARIS, NEW_YORK = ZoneInfo("Europe/Paris"), ZoneInfo("America/New_York")
TOPICS = ("Interview", "Usability test", "Team sync", "Planning", "1:1", "Workshop", "Review", "Lunch")
BODY = "Agenda: introductions, goals of the session, tasks, debrief. Consent form signed beforehand."
RESULTS = Path(__file__).with_name("RESULTS.md")


# ---- the calendar's content --------------------------------------------------------------------------------


@dataclass(frozen=True)
class Planned:
    n: int
    kind: str  # "single", "allday", "series"
    start: datetime  # aware, local
    minutes: int = 60
    days: int = 1
    free_busy: str = "Busy"
    details: bool = False
    weeks: int = 0

    def event(self) -> dict[str, Any]:
        """The control API's JSON for this item (see creneau.emulators.ews.seed)."""
        subject = f"{TOPICS[self.n % len(TOPICS)]} #{self.n}"
        data: dict[str, Any] = {
            "subject": subject,
            "free_busy": self.free_busy,
            "time_zone": str(self.start.tzinfo),
        }
        if self.kind == "allday":
            end = self.start + timedelta(days=self.days)
            data.update(start=self.start.isoformat(), end=end.isoformat(), is_all_day=True)
        else:
            end = self.start + timedelta(minutes=self.minutes)
            data.update(start=self.start.isoformat(), end=end.isoformat())
        if self.details:
            data.update(body=BODY, location="Room 4")
        if self.kind == "series":
            data["recurrence"] = {"pattern": "weekly", "interval": 1, "count": self.weeks}
        return data

    def occurrence(self, index: int) -> datetime:
        return self.start + timedelta(weeks=index)  # the same wall-clock time each week


def plan(size: int, *, seed: int, today: date) -> list[Planned]:
    rng = random.Random(seed * 1_000_003 + size)
    events = []
    for n in range(size):
        roll = rng.random()
        day = today + timedelta(days=rng.randint(-56, 182))
        zone = PARIS if rng.random() < 0.85 else rng.choice((NEW_YORK, ZoneInfo("UTC")))
        local = datetime(day.year, day.month, day.day, rng.randint(8, 18), rng.choice((0, 15, 30, 45)))
        if roll < 0.10:
            weeks = rng.randint(4, 26)
            events.append(
                Planned(n, "series", local.replace(tzinfo=PARIS), rng.choice((30, 60)), weeks=weeks)
            )
        elif roll < 0.18:
            start = datetime(day.year, day.month, day.day, tzinfo=PARIS)
            free = "Free" if rng.random() < 0.8 else "Busy"
            events.append(Planned(n, "allday", start, days=rng.randint(1, 3), free_busy=free))
        else:
            status = rng.choices(("Busy", "Tentative", "Free"), (85, 10, 5))[0]
            minutes = rng.choice((30, 45, 60, 60, 90, 120))
            events.append(
                Planned(
                    n,
                    "single",
                    local.replace(tzinfo=zone),
                    minutes,
                    free_busy=status,
                    details=rng.random() < 0.5,
                )
            )
    return events


# ---- the emulator, in a process of its own -----------------------------------------------------------------


class Emulator:
    """Runs the EWS emulator in the child process; everything else goes through its HTTP control API."""

    def __init__(self) -> None:
        from creneau.emulators.ews import start

        self.running: Any = start()

    def url(self) -> str:
        return str(self.running.url)

    def stop(self) -> None:
        self.running.stop()


class Control:
    """The emulator's control API (``/_emulator/``), from this process."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.http = httpx.Client(base_url=f"{url}/_emulator/", timeout=120)

    def post(self, path: str, body: dict[str, Any]) -> dict[str, Any]:
        response = self.http.post(path, json=body)
        response.raise_for_status()
        result: dict[str, Any] = response.json()
        return result

    def delete(self, path: str) -> None:
        self.http.delete(path).raise_for_status()

    def operations(self) -> Counter[str]:
        """The EWS operations answered since the last call."""
        response = self.http.get("requests", params={"reset": "1"})
        response.raise_for_status()
        return Counter(response.json()["operations"])


@dataclass
class Mailbox:
    email: str
    logon: str  # DOMAIN\\user, as the Exchange form wants it
    calendar_id: str
    planned: list[Planned]
    ids: list[str]  # item id of planned[i]


def seed(control: Control, size: int, *, seed: int, today: date) -> Mailbox:
    email = f"bench{size}-{time.monotonic_ns() % 10**9}@contoso.example"
    box = control.post("mailboxes", {"email": email, "password": PASSWORD, "username": email.split("@")[0]})
    planned = plan(size, seed=seed, today=today)
    ids: list[str] = []
    for first in range(0, size, 1000):
        chunk = [p.event() for p in planned[first : first + 1000]]
        made = control.post("events", {"folder_id": box["calendar_id"], "events": chunk})["events"]
        ids += [str(e["id"]) for e in made]
    for p, item_id in zip(planned, ids, strict=True):
        if p.kind == "series":  # occurrence 1 moved by two hours, occurrence 2 deleted
            moved = p.occurrence(1) + timedelta(hours=2)
            end = moved + timedelta(minutes=p.minutes)
            control.post(
                f"events/{item_id}/occurrences",
                {
                    "original_start": p.occurrence(1).isoformat(),
                    "event": {"start": moved.isoformat(), "end": end.isoformat()},
                },
            )
            control.post(
                f"events/{item_id}/occurrences",
                {"original_start": p.occurrence(2).isoformat(), "delete": True},
            )
    return Mailbox(email, str(box["logon"]), str(box["calendar_id"]), planned, ids)


def change(control: Control, box: Mailbox, *, seed: int, today: date) -> ChangeSpec:
    """Add 4 items, modify 3, delete 3, all well inside the sync window."""
    rng = random.Random(seed)
    soon, later = today + timedelta(days=7), today + timedelta(days=150)
    singles = [i for i, p in enumerate(box.planned) if p.kind == "single" and soon <= p.start.date() <= later]
    first, last = today - timedelta(days=30), today + timedelta(days=60)
    series = [
        i
        for i, p in enumerate(box.planned)
        if p.kind == "series" and first <= p.start.date() <= last and p.weeks >= 12
    ]
    picked = rng.sample(singles, 4)
    moved, gone = picked[:2], picked[2:]
    changed_series, gone_series = rng.sample(series, 2)
    day = datetime.combine(today + timedelta(days=20), datetime.min.time(), PARIS)
    fresh = [Planned(900_000 + j, "single", day + timedelta(days=j, hours=10)) for j in range(3)]
    fresh.append(Planned(900_003, "allday", day + timedelta(days=5), days=2))
    added = [
        str(control.post("events", {"folder_id": box.calendar_id, "event": p.event()})["id"]) for p in fresh
    ]
    modified = []
    for i in moved:
        p = box.planned[i]
        start = p.start + timedelta(hours=1)
        event = {
            "subject": f"Moved #{p.n}",
            "start": start.isoformat(),
            "end": (start + timedelta(minutes=p.minutes)).isoformat(),
        }
        control.post(f"events/{box.ids[i]}", {"event": event})
        modified.append(box.ids[i])
    s = box.planned[changed_series]
    week = next(w for w in range(4, s.weeks) if s.occurrence(w).date() > soon)
    start = s.occurrence(week) + timedelta(hours=1)
    control.post(
        f"events/{box.ids[changed_series]}/occurrences",
        {
            "original_start": s.occurrence(week).isoformat(),
            "event": {"start": start.isoformat(), "end": (start + timedelta(minutes=s.minutes)).isoformat()},
        },
    )
    modified.append(box.ids[changed_series])
    deleted = [box.ids[i] for i in (*gone, gone_series)]
    for item_id in deleted:
        control.delete(f"events/{item_id}")
    return ChangeSpec(added, modified, deleted)


# ---- creneau's side ----------------------------------------------------------------------------------------


class RequestLog:
    """The request hook creneau's exchangelib adapter calls: every HTTP request sent (by method and path)."""

    def __init__(self) -> None:
        self.requests: Counter[str] = Counter()

    def on_request(self, request: httpx.Request) -> None:
        self.requests[f"{request.method} {request.url.path}"] += 1

    def take(self) -> Counter[str]:
        taken, self.requests = self.requests, Counter()
        return taken


@dataclass
class Step:
    size: int
    name: str
    wall: float
    cpu: float
    emulator_cpu: float
    http: int
    operations: Counter[str]
    report: SyncReport
    outcome: str
    rows: tuple[int, int] = (0, 0)
    round: int = 0

    @property
    def objects(self) -> int:
        return self.report.fetched + self.report.unchanged + self.report.deleted


def outcome(report: SyncReport) -> str:
    keys = ("fetched", "deleted", "unchanged", "malformed", "full_resyncs")
    counts = ", ".join(f"{k.replace('_', ' ')} {getattr(report, k):,}" for k in keys if getattr(report, k))
    return f"{report.status}: {counts or 'nothing to do'}" + (f" ({report.error})" if report.error else "")


def connect(runtime: Runtime, ctx: EngineContext, url: str, email: str, logon: str) -> int:
    with runtime.ctx.sessions() as db, db.begin():
        researcher = Researcher(email=f"researcher-{email}", name="Bench", password_hash="-")
        db.add(researcher)
        db.flush()
        account = connect_exchange_account(
            db,
            ctx=ctx,
            researcher_id=researcher.id,
            email=email,
            username=logon,
            password=PASSWORD,
            ews_url=f"{url}/EWS/Exchange.asmx",
        )
        db.flush()
        return account.id


def run_size(
    emulator: ChildProcess, control: Control, size: int, args: argparse.Namespace, today: date
) -> list[Step]:
    with tempfile.TemporaryDirectory(prefix="exchange-sync-bench-") as tmp:
        var_dir = Path(tmp)
        with fresh_database(args.database_url, var_dir) as url:
            settings = bench_settings(var_dir, url, args.batch_size)
            upgrade(settings)
            runtime = build_runtime(settings)
            try:
                return measure(emulator, control, runtime, size, args, today)
            finally:
                runtime.close()


def measure(
    emulator: ChildProcess,
    control: Control,
    runtime: Runtime,
    size: int,
    args: argparse.Namespace,
    today: date,
) -> list[Step]:
    seeded_at = time.perf_counter()
    box = seed(control, size, seed=args.seed, today=today)
    print(f"  seeded {size:,} items in {time.perf_counter() - seeded_at:.1f} s", flush=True)
    log = RequestLog()
    hooks: dict[str, list[Callable[..., Any]]] = {"request": [log.on_request]}
    ctx: EngineContext = dataclasses.replace(
        runtime.ctx, policy=dataclasses.replace(runtime.ctx.policy, event_hooks=hooks)
    )
    account_id = connect(runtime, ctx, control.url, box.email, box.logon)
    log.take()
    control.operations()
    steps = []
    for name in STEPS:
        spec = change(control, box, seed=args.seed, today=today) if name.endswith("changes") else None
        control.operations()  # the control API's own calls are not in the EWS log, but reset it anyway
        before = held(runtime, account_id) if spec else {}
        emulator_cpu, cpu, started = emulator.call("cpu"), time.process_time(), time.perf_counter()
        report = sync_account(ctx, account_id=account_id)
        wall, cpu = time.perf_counter() - started, time.process_time() - cpu
        emulator_cpu = emulator.call("cpu") - emulator_cpu
        assert report is not None
        result = outcome(report)
        if spec is not None:
            result += "; " + verify(before, held(runtime, account_id), spec)
        http = sum(log.take().values())
        step = Step(
            size,
            name,
            wall,
            cpu,
            emulator_cpu,
            http,
            control.operations(),
            report,
            result,
            row_counts(runtime),
        )
        steps.append(step)
        print(f"  Exchange {size:,} {name}: {wall:.2f} s, {http} req.; {result}", flush=True)
    return steps


# ---- report ------------------------------------------------------------------------------------------------


def _ops(counts: Counter[str]) -> str:
    return ", ".join(f"{k} {v}" for k, v in sorted(counts.items()))


def render(steps: list[Step]) -> str:
    lines = [
        "| Provider | Events | Step | sync_account() wall | creneau CPU | CPU per object | Emulator CPU "
        "| HTTP requests | EWS operations | Rows after (events / busy) | Outcome |",
        "|---|---:|---|---:|---:|---:|---:|---:|---|---:|---|",
    ]
    for s in steps:
        per = f"{s.cpu / s.objects * 1000:.2f} ms" if s.objects else "-"
        lines.append(
            f"| Exchange | {s.size:,} | {s.name} | {s.wall:.2f} s | {s.cpu:.2f} s | {per} "
            f"| {s.emulator_cpu:.2f} s | {s.http} | {_ops(s.operations)} "
            f"| {s.rows[0]:,} / {s.rows[1]:,} | {s.outcome} |"
        )
    return "\n".join(lines)


def summarize(steps: list[Step], sizes: list[int]) -> str:
    header = " | ".join(f"{n:,} events" for n in sizes)
    rounds = len({s.round for s in steps})
    requests = [f"| Provider | Step | {header} |", "|---|---|" + "---:|" * len(sizes)]
    times = list(requests)
    verdicts = []
    for name in STEPS:
        req_cells, time_cells = [], []
        for n in sizes:
            same = [s for s in steps if (s.name, s.size) == (name, n)]
            counts = sorted({s.http for s in same})
            ops = sorted({_ops(s.operations) for s in same})
            req_cells.append("/".join(map(str, counts)) + f" ({'; '.join(ops)})" if same else "-")
            cpu = statistics.median(s.cpu for s in same) if same else 0.0
            time_cells.append(f"{spread([s.wall for s in same])}, CPU {cpu:.2f} s" if same else "-")
        requests.append(f"| Exchange | {name} | {' | '.join(req_cells)} |")
        times.append(f"| Exchange | {name} | {' | '.join(time_cells)} |")
        if name != "initial sync" and len(sizes) > 1:
            constant = len(set(req_cells)) == 1 and "/" not in req_cells[0]
            verdict = "the same at every size" if constant else "NOT the same at every size"
            verdicts.append(f"- Exchange, {name}: {verdict} ({', '.join(req_cells)})")
    return "\n".join(
        [
            "HTTP requests creneau sent (EWS operations the emulator answered):",
            "",
            *requests,
            "",
            f"sync_account() wall time, median of {rounds} round(s) (min–max), and creneau's CPU (median):",
            "",
            *times,
            "",
            *verdicts,
            *floor(steps),
        ]
    )


def floor(steps: list[Step]) -> list[str]:
    """What a no-change resync costs beside its floor, one SyncFolderItems per calendar folder."""
    quiet = [s for s in steps if s.name == "no-change resync"]
    if not quiet:
        return []
    s = quiet[-1]
    syncs = s.operations["SyncFolderItems"]
    others = sum(s.operations.values()) - syncs
    return [
        f"- Floor of a resync: one SyncFolderItems per calendar folder (one folder here), "
        "plus one GetItem batch when items changed. creneau's no-change resync sends "
        f"{s.http} HTTP requests: {syncs} SyncFolderItems, {others} other EWS operations "
        f"({_ops(Counter({k: v for k, v in s.operations.items() if k != 'SyncFolderItems'}))}: the folder "
        f"listing of every run) and {s.http - sum(s.operations.values())} requests the emulator answered "
        "with a 401 challenge before any operation (NTLM authentication of new connections)."
    ]


# ---- main --------------------------------------------------------------------------------------------------


def _size(text: str) -> int:
    text = text.strip().lower().replace(",", "").replace("_", "")
    return int(float(text[:-1]) * 1000) if text.endswith("k") else int(text)


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--sizes",
        default="500,5k,20k",
        help="events per calendar, comma-separated, e.g. 500,5k,20k (default)",
    )
    parser.add_argument("--database-url", default="", help="a PostgreSQL server URL (default: a SQLite file)")
    parser.add_argument(
        "--seed", type=int, default=1, help="random seed of the calendar's content and changes"
    )
    parser.add_argument(
        "--batch-size",
        type=int,
        default=Settings.model_fields["multiget_chunk_size"].default,
        help="ids per GetItem, creneau's multiget_chunk_size (default: %(default)s)",
    )
    parser.add_argument("--rounds", type=int, default=1, help="rounds of everything, from scratch (median)")
    parser.add_argument(
        "--no-record", action="store_true", help="do not append the results to bench/RESULTS.md"
    )
    args = parser.parse_args()
    try:
        args.sizes = [_size(s) for s in args.sizes.split(";" if ";" in args.sizes else ",") if s.strip()]
    except ValueError:
        parser.error("--sizes: numbers such as 500,5k,20k")
    if not args.sizes or any(n < 200 for n in args.sizes) or args.rounds < 1:
        parser.error("sizes of 200 events or more, 1 round or more")
    return args


def main() -> None:
    args = parse_args()
    started = time.perf_counter()
    today = datetime.now(UTC).date()
    emulator = ChildProcess(Emulator, "ews-emulator")
    steps: list[Step] = []
    try:
        control = Control(emulator.call("url"))
        for n in range(args.rounds):
            for size in args.sizes:
                for step in run_size(emulator, control, size, args, today):
                    step.round = n
                    steps.append(step)
        seconds = time.perf_counter() - started
    finally:
        emulator.stop()
    database = "PostgreSQL" if args.database_url else "SQLite"
    host = machine(packages=("sqlalchemy", "exchangelib", "uvicorn"), database_url=args.database_url)
    when = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
    text = "\n".join(
        [
            f"## Exchange (EWS) sync, {database} — {when}",
            "",
            f"`python bench/exchange_sync_bench.py --sizes {','.join(map(str, args.sizes))}"
            f"{' --database-url …' if args.database_url else ''}`; batch size {args.batch_size}; {host}. "
            f"Whole run: {seconds:.0f} s (seeding included).",
            "",
            summarize(steps, args.sizes),
            "",
            f"Round {args.rounds} in full:",
            "",
            render([s for s in steps if s.round == args.rounds - 1]),
            "",
        ]
    )
    print("\n" + text)
    if not args.no_record:
        with RESULTS.open("a", encoding="utf-8") as out:
            out.write("\n" + text)
        print(f"(appended to {RESULTS})")
    if any("MISMATCH" in s.outcome or s.report.status != "ok" for s in steps):
        raise SystemExit("some sync did not end as expected (see Outcome)")


if __name__ == "__main__":
    main()
