"""The benchmark's data: one Radicale collection of N realistic events, written straight into the storage
folder, and batches of ten changes made the same way.

    python bench/bench_data.py seed --storage DIR --events 5000
    python bench/bench_data.py mutate --storage DIR --events 5000 --batch 0

Radicale keys its item cache and sync-token history by file content, so a sync-collection REPORT reports
edits made behind its back (checked: the creneau rows of RESULTS.md show 7 fetched and 3 deleted).
"""

from __future__ import annotations

import argparse
import random
from datetime import date, datetime, timedelta
from pathlib import Path

from creneau.demo.icsgen import (
    NEW_YORK,
    PARIS,
    TOKYO,
    UTC,
    WINDOWS_PARIS,
    Days,
    attendee,
    dates,
    organizer,
    text,
    vcalendar,
    vevent,
    when,
)
from creneau.demo.radicale import collection_path, collection_props, write_collection

USER, SLUG = "bench", "events"
_TOPICS = ("Interview", "Usability test", "Team sync", "Planning", "1:1", "Workshop", "Review", "Lunch")
_DESCRIPTION = (
    "Agenda: introductions, goals of the session, tasks, debrief.\n"
    "Consent form signed beforehand. Recording on, notes in the shared folder."
)


def bench_event(d: Days, n: int, rng: random.Random, *, revision: int = 0) -> str:
    """Event ``n``: 10% recurring with a moved occurrence and an EXDATE, 10% all-day (half of them
    multi-day), 20% in New York / Tokyo / Outlook's Windows zone / UTC, the rest single Paris meetings,
    spread over the default sync window (42 days back, 201 ahead)."""
    kind = n % 20
    day, hour = rng.randint(-42, 201), rng.randint(8, 18)
    start = d.at(0, 0, hour, rng.choice((0, 15, 30))) + timedelta(days=day)
    uid = f"bench-{n:05d}@bench.creneau.test"
    summary = f"{rng.choice(_TOPICS)} #{n}" + (f" (rev {revision})" if revision else "")
    details = [
        text("DESCRIPTION", _DESCRIPTION),
        text("LOCATION", "Room 4 / https://meet.jit.si/bench"),
        organizer("alice@example.org", "Alice Martin"),
        attendee("bob@example.org", "Bob Durand"),
    ]
    if revision:
        details.append(f"SEQUENCE:{revision}")
    if kind in (0, 1):
        return _recurring(d, uid, summary, start, details, daily=kind == 1)
    if kind in (2, 3):
        length = 1 if kind == 2 else rng.randint(2, 5)
        first = start.date()
        return vcalendar(vevent(d, uid, summary, first, first + timedelta(days=length), *details))
    tz = {4: NEW_YORK, 5: TOKYO, 6: WINDOWS_PARIS, 7: UTC}.get(kind, PARIS)
    end = start + timedelta(minutes=rng.choice((30, 45, 60, 90)))
    return vcalendar(vevent(d, uid, summary, start, end, *details, tz=tz))


def _recurring(d: Days, uid: str, summary: str, start: datetime, details: list[str], *, daily: bool) -> str:
    step = timedelta(days=1 if daily else 7)
    rule = "RRULE:FREQ=DAILY;COUNT=20" if daily else "RRULE:FREQ=WEEKLY;COUNT=30"
    end = start + timedelta(minutes=45)
    master = vevent(d, uid, summary, start, end, rule, dates("EXDATE", [start + 3 * step]), *details)
    moved = vevent(
        d, uid, summary, start + 2 * step + timedelta(hours=2), end + 2 * step + timedelta(hours=2),
        when("RECURRENCE-ID", start + 2 * step), "SEQUENCE:1",
    )  # fmt: skip
    return vcalendar(master, moved)


def seed(storage: Path, count: int, today: date) -> None:
    rng = random.Random(20240501)
    objects = ((f"ev-{n:05d}.ics", bench_event(Days(today), n, rng)) for n in range(count))
    props = collection_props(name="Bench events", color="#1f6feb", components=["VEVENT"])
    write_collection(collection_path(storage, USER, SLUG), props=props, objects=objects)


def mutate(storage: Path, count: int, today: date, batch: int) -> str:
    """Batch ``batch`` of ten changes: modify 4 objects, add 3, delete 3 (different objects each batch)."""
    folder = collection_path(storage, USER, SLUG)
    rng = random.Random(batch)
    base = (100 + 200 * batch) % (count - 80)
    base -= base % 20  # so that base is a recurring event, base + 2 all-day, base + 4 in New York
    for n in (base, base + 2, base + 4, base + 11):  # recurring, all-day, New York, Paris
        (folder / f"ev-{n:05d}.ics").write_text(bench_event(Days(today), n, rng, revision=batch + 1))
    for n in range(count + 3 * batch, count + 3 * batch + 3):
        (folder / f"ev-{n:05d}.ics").write_text(bench_event(Days(today), n, rng))
    for n in (base + 50, base + 51, base + 62):
        (folder / f"ev-{n:05d}.ics").unlink()
    return "4 modified, 3 added, 3 deleted"


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("command", choices=["seed", "mutate"])
    parser.add_argument("--storage", type=Path, required=True, help="Radicale's filesystem_folder")
    parser.add_argument("--events", type=int, default=5000)
    parser.add_argument("--batch", type=int, default=0)
    parser.add_argument("--today", type=date.fromisoformat, default=datetime.now().astimezone().date())
    args = parser.parse_args()
    if args.events < 200:
        parser.error("--events must be at least 200")
    if args.command == "seed":
        seed(args.storage, args.events, args.today)
    else:
        print(mutate(args.storage, args.events, args.today, args.batch))


if __name__ == "__main__":
    main()
