"""Realistic demo calendars for two CalDAV accounts, ``alice`` and ``bob``, dated relative to "today".

What each calendar holds, and which sync rule each object exercises, is listed in ``docs/demo.md``.
Every object is a whole VCALENDAR with a stable UID and file name, so re-seeding on another day updates
objects in place instead of duplicating them.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date

from creneau.demo import alice, bob
from creneau.demo.icsgen import Days

ALICE_EMAIL = "alice@example.org"
BOB_EMAIL = "bob@example.org"


@dataclass(frozen=True)
class DemoCalendar:
    name: str
    color: str  # "#rrggbb" (or Apple's "#rrggbbaa", as iCloud writes it)
    components: tuple[str, ...]  # supported-calendar-component-set
    objects: tuple[tuple[str, str], ...]  # (file name, VCALENDAR text)
    description: str = ""

    @property
    def holds_events(self) -> bool:
        return "VEVENT" in self.components


def calendar(
    name: str, color: str, objects: Iterable[tuple[str, str]], *, components: tuple[str, ...] = ("VEVENT",)
) -> DemoCalendar:
    return DemoCalendar(name=name, color=color, components=components, objects=tuple(objects))


def demo_collections(today: date) -> dict[str, dict[str, DemoCalendar]]:
    """user -> calendar slug -> calendar, for the day ``today``."""
    days = Days(today)
    return {
        "alice": {
            "work": calendar("Work", "#1f6feb", alice.work(days)),
            "personal": calendar("Personal", "#2da44e", alice.personal(days)),
            "team-offsites": calendar("Team offsites", "#bf3989", alice.offsites(days)),
            "tasks": calendar("Tasks", "#6e7781", alice.tasks(days), components=("VTODO",)),
        },
        "bob": {
            "research": calendar("Research", "#8250df", bob.research(days)),
            "family": calendar("Family", "#D1242FFF", bob.family(days)),
            "holidays": calendar("Holidays in France", "#9a6700", bob.holidays(days)),
        },
    }


# Collections their owner may read but not change (rights file of demo/radicale.py).
READ_ONLY_COLLECTIONS = ("bob/holidays",)

# Objects built to be skipped by the sync and reported on the Integrations page: (user, slug, file name).
MALFORMED_OBJECTS = (("alice", "personal", "imported-from-old-planner.ics"),)
