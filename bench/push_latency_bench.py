"""Push latency: from an event made on the provider's side to that time being busy on the booking page.

    python bench/push_latency_bench.py                  # SQLite; Google and Graph; 100 changes each
    python bench/push_latency_bench.py --database-url postgresql+psycopg://postgres@127.0.0.1:5432/postgres
    python bench/push_latency_bench.py --providers google --changes 300 --poll-ms 20

Three kinds of process, as in production: creneau itself, started with its own command (``creneau serve``:
uvicorn, the web app and the in-process job runner) and configured only by ``CRENEAU_*`` variables, with
``CRENEAU_PUSH_BASE_URL`` naming it; one process per emulator (``creneau.emulators.google`` / ``.msgraph``,
which deliver push to plain http://127.0.0.1 addresses); and this script, which plays the provider's user and
the participant.

Before creneau starts, the database (a temporary SQLite file, or a new PostgreSQL database dropped at the end)
gets, per provider, a researcher with one account of that provider (the rows the OAuth pages store, with a
token that cannot expire during the run) whose calendar already holds ``--events`` events, and a study session
whose destination is that calendar (conflicts checked, 30-minute slots every 30 minutes, 08:00–20:00 UTC every
day, no minimum notice). creneau's ticker syncs the new accounts once; that first sync opens a Google watch
channel / a Graph subscription (after Graph's validationToken handshake with creneau's webhook). The periodic
sync is an hour away (``CRENEAU_SYNC_INTERVAL_SECONDS=3600``, and the safety sync with push on too) and the
booking page's refresh-on-open is off (``CRENEAU_BOOKING_PAGE_SYNC_SECONDS=0``; the JSON endpoint measured
here never triggers a sync anyway): push is the only way a change can reach the page.

Then, ``--changes`` times per provider (the providers alternated, ``--warmup`` more first, not counted), the
script checks that a slot is offered by ``GET /book/<token>/slots.json?start=<day>&days=1&tz=UTC``, creates a
30-minute event over it in the emulator (the clock starts just before the emulator stores it) and asks the
same URL again every ``--poll-ms`` until the slot is gone (the clock stops when that answer is read, so the
figure is an upper bound, by up to one poll interval). Between changes it pauses ``--pause-ms`` (±50 %), so
that each change finds creneau idle, as a researcher's edits would.

Where the time goes, from creneau's own timestamps (same machine, same clock): the channel's
``last_message_at`` (creneau's webhook accepted the notification), the synced event's ``updated_at`` (the sync
job had fetched it and was writing it) and the stop of the clock. Also printed: the time of one slots.json
request on its own, the CPU time creneau's process used per change, and what the emulators delivered.

Prints Markdown ready for bench/RESULTS.md. Exits non-zero when a change did not reach the page within
``--timeout`` seconds. About 2 to 3 minutes on 2 cores with the defaults.
"""

from __future__ import annotations

import argparse
import functools
import json
import math
import os
import random
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections import Counter
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
from cryptography.fernet import Fernet
from sqlalchemy import select

from benchkit import ChildProcess, fresh_database, machine
from creneau.config import Settings
from creneau.runtime import Runtime, build_runtime
from creneau.scheduling.studies import create_session, create_study
from creneau.scheduling.workspaces import ensure_workspace
from creneau.store.migrate import upgrade
from creneau.store.models import CalendarAccount, PushChannel, Researcher, StudySession, SyncedEvent

PROVIDERS = ("google", "msgraph")
LABELS = {"google": "Google", "msgraph": "Graph"}
TOKEN_LIFETIME = 7 * 86400  # seconds: no access token may expire during a run
CLIENT_ID, CLIENT_SECRET = "push-bench-client", "push-bench-secret"
SLOT_MINUTES = 30
FIRST_HOUR, LAST_HOUR = 8, 20  # the session's daily hours, UTC
SLOTS_PER_DAY = (LAST_HOUR - FIRST_HOUR) * 60 // SLOT_MINUTES
TARGET_P99 = 2.0  # seconds


# ---- the emulators, each in a process of its own ----------------------------------------------------------


def _iso(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


class Side:
    """One emulator, its accounts, and the events this script makes in their calendars."""

    def __init__(self, kind: str) -> None:
        self.kind = kind
        if kind == "google":
            from creneau.emulators import google as google_emulator

            self.running: Any = google_emulator.start()
            self.running.state.accounts.access_lifetime = TOKEN_LIFETIME
            self.running.state.add_client(CLIENT_ID, CLIENT_SECRET)
        else:
            from creneau.emulators import msgraph as graph_emulator

            self.running = graph_emulator.start()
            self.running.state.clients[CLIENT_ID] = CLIENT_SECRET

    def urls(self) -> dict[str, str]:
        if self.kind == "google":
            return {"origin": self.running.url, "api": self.running.api_url}
        return {"origin": self.running.url, "api": self.running.graph_url}

    def account(self, email: str, events: int, today: date) -> dict[str, str]:
        """A user whose main calendar holds ``events`` hour-long meetings over the coming weeks, outside the
        hours the session offers (so that every slot this script uses is free before its change)."""
        state = self.running.state
        if self.kind == "google":
            secret = state.add_user(email, timezone="UTC").secret()
            calendar = email
        else:
            state.add_user(email, kind="work", time_zone="UTC")
            secret = json.dumps(state.issue_tokens(email, client_id=CLIENT_ID, lifetime=TOKEN_LIFETIME))
            calendar = state.calendar_of(state.user_by_email(email), None).id
        rng = random.Random(email)
        for n in range(events):
            day = today + timedelta(days=rng.randrange(-30, 60))
            hour = rng.choice([*range(FIRST_HOUR - 1), LAST_HOUR, LAST_HOUR + 1, LAST_HOUR + 2])
            start = datetime(day.year, day.month, day.day, hour, 15, tzinfo=UTC)
            self._put(calendar, start, 60, f"Background meeting {n}", notify=False)
        return {"secret": secret, "calendar": calendar, "url": self.urls()["api"]}

    def _put(self, calendar: str, start: datetime, minutes: int, summary: str, *, notify: bool) -> None:
        end = start + timedelta(minutes=minutes)
        state = self.running.state
        if self.kind == "google":
            state.put_event(calendar, {"summary": summary, "start": {"dateTime": _iso(start)},
                                       "end": {"dateTime": _iso(end)}})  # fmt: skip
        else:
            fmt = "%Y-%m-%dT%H:%M:%S.0000000"
            state.put_event(
                calendar,
                {
                    "subject": summary,
                    "start": {"dateTime": start.strftime(fmt), "timeZone": "UTC"},
                    "end": {"dateTime": end.strftime(fmt), "timeZone": "UTC"},
                },
                notify=notify,
            )

    def change(self, calendar: str, start: str, summary: str) -> float:
        """Make the event; returns the wall-clock time just before the emulator stored it."""
        began = time.time()
        self._put(calendar, datetime.fromisoformat(start), SLOT_MINUTES, summary, notify=True)
        return began

    def deliveries(self) -> dict[str, int]:
        """Push messages sent so far, by outcome."""
        if self.kind == "google":
            with self.running.state.lock:
                found = Counter(
                    f"{state} {status}" for _, state, _, status in self.running.state.notifier.delivered
                )
        else:
            notifier = self.running.notifier
            found = Counter(
                "lifecycle" if "lifecycleEvent" in body["value"][0] else "change 2xx"
                for _, body in list(notifier.delivered)
            )
            found["failed"] = len(notifier.failed)
        return dict(found)

    def stop(self) -> None:
        self.running.stop()


# ---- creneau: its database, then `creneau serve` -----------------------------------------------------------


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def server_environment(
    var_dir: Path, database_url: str, port: int, urls: dict[str, dict[str, str]]
) -> dict[str, str]:
    """Every setting explicit, so that neither the caller's CRENEAU_* variables nor a .env change it."""
    base = f"http://127.0.0.1:{port}"
    env = {k: v for k, v in os.environ.items() if not k.startswith("CRENEAU_")}
    env.update(
        {
            "CRENEAU_ENVIRONMENT": "production",
            "CRENEAU_VAR_DIR": str(var_dir),
            "CRENEAU_DATABASE_URL": database_url,
            "CRENEAU_SECRET_KEYS": Fernet.generate_key().decode(),
            "CRENEAU_SESSION_SECRET": "push-latency-bench-" + "x" * 32,
            "CRENEAU_BASE_URL": base,
            "CRENEAU_PUSH_BASE_URL": base,
            "CRENEAU_ALLOWED_PRIVATE_NETWORKS": "127.0.0.0/8",
            "CRENEAU_SYNC_INTERVAL_SECONDS": "3600",
            "CRENEAU_PUSH_SAFETY_SYNC_SECONDS": "3600",
            "CRENEAU_BOOKING_PAGE_SYNC_SECONDS": "0",
        }
    )
    if "google" in urls:
        origin = urls["google"]["origin"]
        env.update(
            {
                "CRENEAU_GOOGLE_CLIENT_ID": CLIENT_ID,
                "CRENEAU_GOOGLE_CLIENT_SECRET": CLIENT_SECRET,
                "CRENEAU_GOOGLE_AUTHORIZE_URL": f"{origin}/o/oauth2/v2/auth",
                "CRENEAU_GOOGLE_TOKEN_URL": f"{origin}/token",
                "CRENEAU_GOOGLE_REVOKE_URL": f"{origin}/revoke",
                "CRENEAU_GOOGLE_API_URL": urls["google"]["api"],
            }
        )
    if "msgraph" in urls:
        env.update(
            {
                "CRENEAU_MICROSOFT_CLIENT_ID": CLIENT_ID,
                "CRENEAU_MICROSOFT_CLIENT_SECRET": CLIENT_SECRET,
                "CRENEAU_MICROSOFT_LOGIN_URL": urls["msgraph"]["origin"],
                "CRENEAU_MICROSOFT_GRAPH_URL": urls["msgraph"]["api"],
            }
        )
    return env


def settings_of(env: dict[str, str]) -> Settings:
    """The same settings as the server's, for writing its rows beforehand (same encryption keys)."""
    values = {k.removeprefix("CRENEAU_").lower(): v for k, v in env.items() if k.startswith("CRENEAU_")}
    values["run_background_jobs"] = "false"
    return Settings.model_validate(values)  # validation only: no environment, no .env


@dataclass
class Subject:
    """One provider's account in creneau, and the booking page that must show its changes."""

    provider: str
    email: str
    calendar: str  # the emulator's calendar id
    account_id: int
    session_id: int
    token: str


def seed_rows(runtime: Runtime, provider: str, account: dict[str, str], email: str) -> Subject:
    """A researcher, their account of ``provider`` (what the OAuth pages store) and a study session."""
    with runtime.ctx.sessions() as db, db.begin():
        researcher = Researcher(email=f"researcher-{email}", name="Bench", password_hash="-")
        db.add(researcher)
        db.flush()
        row = CalendarAccount(
            researcher_id=researcher.id,
            provider=provider,
            connector="office365" if provider == "msgraph" else None,
            display_name=email,
            server_url=account["url"],
            username=email,
            owner_addresses=email,
            timezone="UTC",
            credentials=runtime.ctx.vault.encrypt(account["secret"]),
            status="syncing",
        )
        db.add(row)
        db.flush()
        member = ensure_workspace(db, researcher=researcher)
        study = create_study(db, workspace_id=member.workspace_id, researcher_id=researcher.id, name="Bench")
        session = create_session(db, researcher=researcher, study_id=study.id, name=LABELS[provider])
        session.availability = {
            "weekly": [
                {"weekday": d, "start": f"{FIRST_HOUR:02d}:00", "end": f"{LAST_HOUR:02d}:00"}
                for d in range(7)
            ],
            "overrides": [],
        }
        session.timezone = "UTC"
        session.duration_minutes = SLOT_MINUTES
        session.slot_interval_minutes = SLOT_MINUTES
        session.min_notice_minutes = 0
        session.horizon_days = 30
        db.flush()
        return Subject(provider, email, account["calendar"], row.id, session.id, session.public_token)


def ready(runtime: Runtime, subject: Subject) -> bool:
    """Synced once, with a channel on every calendar; then the session's destination is its calendar."""
    with runtime.ctx.sessions() as db, db.begin():
        account = db.get(CalendarAccount, subject.account_id)
        if account is None or account.last_sync_at is None or not account.calendars:
            return False
        if account.status != "ok":
            raise SystemExit(
                f"{subject.provider}: first sync ended {account.status}: {account.status_detail}"
            )
        channels = {c.calendar_id for c in account.channels}
        if any(c.id not in channels for c in account.calendars):
            if account.push_detail:
                raise SystemExit(f"{subject.provider}: push not set up: {account.push_detail}")
            return False
        session = db.get(StudySession, subject.session_id)
        assert session is not None
        session.destination_calendar_id = next(
            c.id for c in account.calendars if c.remote_id == subject.calendar
        )
        return True


class Server:
    """``creneau serve`` in a process of its own, its output in ``log``."""

    def __init__(self, env: dict[str, str], port: int, cwd: Path) -> None:
        self.log = cwd / "creneau-serve.log"
        self._out = self.log.open("wb")
        command = [sys.executable, "-c", "from creneau.cli import main; main()", "serve", "--port", str(port)]
        self.process = subprocess.Popen(command, env=env, cwd=cwd, stdout=self._out, stderr=subprocess.STDOUT)
        self.url = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 60
        while True:
            if self.process.poll() is not None:
                raise SystemExit(f"creneau serve exited: {self.log.read_text()[-3000:]}")
            try:
                if httpx.get(f"{self.url}/login", timeout=2, trust_env=False).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            if time.monotonic() > deadline:
                raise SystemExit("creneau serve did not answer within 60 s")
            time.sleep(0.2)

    def cpu(self) -> float:
        """User + system CPU seconds of the server process (/proc/<pid>/stat)."""
        fields = Path(f"/proc/{self.process.pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")

    def stop(self) -> None:
        self.process.terminate()
        try:
            self.process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
        self._out.close()


# ---- the measurement ---------------------------------------------------------------------------------------


@dataclass
class Change:
    provider: str
    latency: float  # event stored → slot gone from the page (upper bound: + up to one poll interval)
    to_webhook: float | None  # event stored → creneau's webhook accepted the notification
    to_stored: float | None  # → the sync job was writing the event
    to_page: float | None  # → the page no longer offered the slot (the clock stopped)
    polls: int
    server_cpu: float


def slot_of(index: int, today: date) -> datetime:
    day = today + timedelta(days=2 + index // SLOTS_PER_DAY)
    minutes = FIRST_HOUR * 60 + (index % SLOTS_PER_DAY) * SLOT_MINUTES
    return datetime(day.year, day.month, day.day, tzinfo=UTC) + timedelta(minutes=minutes)


def offered(client: httpx.Client, subject: Subject, slot: datetime) -> bool:
    answer = client.get(
        f"/book/{subject.token}/slots.json", params={"start": slot.date().isoformat(), "days": 1, "tz": "UTC"}
    )
    answer.raise_for_status()
    return any(datetime.fromisoformat(s["start"]) == slot for s in answer.json()["slots"])


def timestamps(runtime: Runtime, subject: Subject, summary: str) -> tuple[datetime | None, datetime | None]:
    """When creneau's webhook last accepted a message of the account's channel; when the sync wrote the
    event."""
    with runtime.ctx.sessions() as db:
        message = db.scalar(
            select(PushChannel.last_message_at).where(PushChannel.account_id == subject.account_id)
        )
        stored = db.scalar(select(SyncedEvent.updated_at).where(SyncedEvent.summary == summary))
        return message, stored


def measure_one(
    client: httpx.Client,
    runtime: Runtime,
    server: Server,
    emulator: ChildProcess,
    subject: Subject,
    index: int,
    today: date,
    args: argparse.Namespace,
) -> Change:
    slot = slot_of(index, today)
    if not offered(client, subject, slot):
        raise SystemExit(f"{subject.provider}: slot {slot:%Y-%m-%d %H:%M} is not offered before the change")
    summary = f"push bench {subject.provider} {index}"
    cpu = server.cpu()
    began = emulator.call("change", calendar=subject.calendar, start=slot.isoformat(), summary=summary)
    polls = 0
    while True:
        polls += 1
        gone = not offered(client, subject, slot)
        now = time.time()
        if gone:
            break
        if now - began > args.timeout:
            raise SystemExit(f"{subject.provider}: change {index} not on the page after {args.timeout} s")
        time.sleep(args.poll_ms / 1000)
    message, stored = timestamps(runtime, subject, summary)
    after = server.cpu() - cpu

    def since(moment: datetime | None) -> float | None:
        return None if moment is None else moment.timestamp() - began

    to_webhook, to_stored = since(message), since(stored)
    return Change(subject.provider, now - began, to_webhook, to_stored, now - began, polls, after)


# ---- report ------------------------------------------------------------------------------------------------


def quantile(values: list[float], q: float) -> float:
    """Nearest-rank quantile (p99 of 100 values is the 99th smallest)."""
    ordered = sorted(values)
    rank = max(1, math.ceil(round(len(ordered) * q, 9)))
    return ordered[rank - 1]


def _ms(value: float) -> str:
    return f"{value * 1000:.0f} ms"


def render(changes: list[Change], providers: list[str], request_ms: dict[str, list[float]]) -> str:
    lines = [
        "| Provider | Changes | p50 | p90 | p99 | max | mean | p99 < 2 s? |",
        "|---|---:|---:|---:|---:|---:|---:|---|",
    ]
    for provider in providers:
        found = [c.latency for c in changes if c.provider == provider]
        p99 = quantile(found, 0.99)
        lines.append(
            f"| {LABELS[provider]} | {len(found)} | {_ms(quantile(found, 0.5))} "
            f"| {_ms(quantile(found, 0.9))} | {_ms(p99)} | {_ms(max(found))} "
            f"| {_ms(statistics.fmean(found))} | {'**yes**' if p99 < TARGET_P99 else '**no**'} |"
        )
    lines += [
        "",
        "Where the time goes (median / p99 of each step's share; the clock starts when the emulator stores "
        "the event):",
        "",
        "| Provider | emulator → our webhook accepted it | webhook → sync job writing the event "
        "| → slot gone from the page | slots.json alone (p50) | creneau CPU per change (median) |",
        "|---|---:|---:|---:|---:|---:|",
    ]
    for provider in providers:
        mine = [c for c in changes if c.provider == provider]
        hooks = [c.to_webhook for c in mine if c.to_webhook is not None]
        fetch = [
            c.to_stored - c.to_webhook for c in mine if c.to_stored is not None and c.to_webhook is not None
        ]
        page = [c.latency - c.to_stored for c in mine if c.to_stored is not None]

        def pair(values: list[float]) -> str:
            if not values:
                return "n/a"
            return f"{_ms(statistics.median(values))} / {_ms(quantile(values, 0.99))}"

        lines.append(
            f"| {LABELS[provider]} | {pair(hooks)} | {pair(fetch)} | {pair(page)} "
            f"| {statistics.median(request_ms[provider]):.0f} ms "
            f"| {_ms(statistics.median(c.server_cpu for c in mine))} |"
        )
    return "\n".join(lines)


# ---- main --------------------------------------------------------------------------------------------------


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--providers", default=",".join(PROVIDERS), help="google,msgraph (default: both)")
    parser.add_argument("--changes", type=int, default=100, help="measured changes per provider")
    parser.add_argument("--warmup", type=int, default=3, help="changes per provider first, not counted")
    parser.add_argument("--events", type=int, default=200, help="events already in each calendar")
    parser.add_argument("--database-url", default="", help="a PostgreSQL server URL (default: a SQLite file)")
    parser.add_argument("--poll-ms", type=float, default=25, help="pause between two reads of the page")
    parser.add_argument("--pause-ms", type=float, default=300, help="pause between changes (±50 %%)")
    parser.add_argument("--timeout", type=float, default=30, help="seconds a change may take to show")
    parser.add_argument("--seed", type=int, default=1, help="random seed of the pauses")
    parser.add_argument("--keep", action="store_true", help="keep the temporary folder (creneau's log)")
    args = parser.parse_args()
    args.providers = [p.strip() for p in args.providers.split(",") if p.strip()]
    if (
        set(args.providers) - set(PROVIDERS)
        or args.changes < 1
        or args.changes + args.warmup > 5 * SLOTS_PER_DAY
    ):
        parser.error(f"providers among {', '.join(PROVIDERS)}; 1 to {5 * SLOTS_PER_DAY} changes in all")
    return args


def main() -> None:
    args = parse_args()
    started = time.perf_counter()
    today = datetime.now(UTC).date()
    rng = random.Random(args.seed)
    load = os.getloadavg()[0]
    folder = Path(tempfile.mkdtemp(prefix="push-bench-"))
    emulators = {p: ChildProcess(functools.partial(Side, p), f"{p}-emulator") for p in args.providers}
    server: Server | None = None
    changes: list[Change] = []
    request_ms: dict[str, list[float]] = {p: [] for p in args.providers}
    try:
        urls = {p: e.call("urls") for p, e in emulators.items()}
        with fresh_database(args.database_url, folder) as database_url:
            port = free_port()
            env = server_environment(folder, database_url, port, urls)
            settings = settings_of(env)
            upgrade(settings)
            runtime = build_runtime(settings)
            subjects = {}
            for provider, emulator in emulators.items():
                email = f"push-bench-{provider}@example.org"
                account = emulator.call("account", email=email, events=args.events, today=today)
                subjects[provider] = seed_rows(runtime, provider, account, email)
            server = Server(env, port, folder)
            deadline = time.monotonic() + 60  # the ticker (every 5 s) syncs the new accounts once
            while not all(ready(runtime, s) for s in subjects.values()):
                if time.monotonic() > deadline:
                    raise SystemExit("the accounts were not synced with push on within 60 s")
                time.sleep(0.2)
            print(f"creneau serve on {server.url}, accounts synced, channels open", flush=True)
            with httpx.Client(base_url=server.url, timeout=10, trust_env=False) as client:
                for provider, subject in subjects.items():  # the cost of one read of the page, alone
                    for n in range(20):
                        began = time.perf_counter()
                        offered(client, subject, slot_of(SLOTS_PER_DAY * 4 + n, today))
                        request_ms[provider].append((time.perf_counter() - began) * 1000)
                for index in range(args.warmup + args.changes):
                    for provider, subject in subjects.items():
                        change = measure_one(
                            client, runtime, server, emulators[provider], subject, index, today, args
                        )
                        if index >= args.warmup:
                            changes.append(change)
                        time.sleep(args.pause_ms / 1000 * rng.uniform(0.5, 1.5))
                    if (index + 1) % 20 == 0:
                        print(f"  {index + 1} changes per provider", flush=True)
            delivered = {p: e.call("deliveries") for p, e in emulators.items()}
            runtime.db.dispose()
    finally:
        if server is not None:
            server.stop()
        for emulator in emulators.values():
            emulator.stop()
        if not args.keep:
            shutil.rmtree(folder, ignore_errors=True)
    database = "PostgreSQL" if args.database_url else "SQLite"
    host = machine(packages=("uvicorn", "httpx"))
    print(
        f"\n{database}; {host}; load {load:.1f} at the start, {os.getloadavg()[0]:.1f} at the end. "
        f"Whole run: {time.perf_counter() - started:.0f} s; page read every {args.poll_ms:.0f} ms; "
        f"{args.events} events per calendar."
    )
    print()
    print(render(changes, args.providers, request_ms))
    print()
    for provider, counts in delivered.items():
        described = ", ".join(f"{k}: {v}" for k, v in sorted(counts.items()))
        print(f"- {LABELS[provider]} emulator deliveries: {described}")
    if args.keep:
        print(f"- creneau's log: {folder / 'creneau-serve.log'}")


if __name__ == "__main__":
    main()
