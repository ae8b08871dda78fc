"""Bob's calendars (bob@example.org, a UX researcher in Paris): Research, Family, Holidays in France."""

from __future__ import annotations

from datetime import date, timedelta

from creneau.demo.icsgen import (
    NEW_YORK,
    TOKYO,
    UTC,
    Days,
    attendee,
    dates,
    event_object,
    organizer,
    text,
    vcalendar,
    vevent,
    when,
)

ME = ("bob@example.org", "Bob Durand")
ALICE = ("alice@example.org", "Alice Martin")

Objects = list[tuple[str, str]]


def uid(name: str) -> str:
    return f"{name}@demo.creneau.test"


def research(d: Days) -> Objects:
    return [
        ("diary-check-in.ics", _diary_check_in(d)),
        ("interview-p04.ics", event_object(
            d, uid("bob-interview-p04"), "Interview: P04 (remote, New York)", d.at(0, 3, 9), d.at(0, 3, 10),
            text("LOCATION", "https://meet.jit.si/creneau-demo-p04"), organizer(*ME), attendee(*ME),
            tz=NEW_YORK)),
        ("interview-p05.ics", event_object(
            d, uid("bob-interview-p05"), "Interview: P05 (remote, Tokyo)", d.at(1, 3, 18), d.at(1, 3, 19),
            tz=TOKYO)),
        ("usability-test-p06.ics", event_object(
            d, uid("bob-usability-p06"), "Usability test: P06 (lab)", d.at(1, 4, 13), d.at(1, 4, 14, 30),
            text("LOCATION", "UX lab, 2nd floor"), tz=UTC)),
        ("research-sprint.ics", event_object(
            d, uid("bob-sprint"), "Research sprint (two days)", d.at(1, 1, 9), d.at(1, 2, 18))),
        ("ux-guild.ics", _ux_guild(d)),
        ("all-hands.ics", event_object(
            d, uid("alice-all-hands"), "All-hands Q&A", d.at(1, 1, 9, 30), d.at(1, 1, 10, 30),
            organizer(*ALICE), attendee(*ALICE), attendee(*ME, partstat="DECLINED"), "SEQUENCE:1")),
        ("recruitment-agency.ics", event_object(
            d, uid("agency-call"), "Recruitment agency call", d.at(0, 4, 10), d.at(0, 4, 10, 30),
            organizer("planning@agency.example", "Panel Agency"), attendee(*ME, partstat="NEEDS-ACTION"))),
        ("check-in-carol.ics", event_object(
            d, uid("bob-carol-check-in"), "Quick check-in with Carol", d.at(0, 2, 11, 45),
            timedelta(minutes=15))),
        ("working-from-home.ics", event_object(
            d, uid("bob-wfh"), "Working from home", d.at(-6, 2, 9), d.at(-6, 2, 18),
            "RRULE:FREQ=WEEKLY;BYDAY=WE", "TRANSP:TRANSPARENT")),
    ]  # fmt: skip


def _diary_check_in(d: Days) -> str:
    """Daily for three weeks: one occurrence moved later, one removed by EXDATE."""
    master = vevent(
        d, uid("bob-diary"), "Diary study check-in", d.at(-1, 0, 17), d.at(-1, 0, 17, 20),
        "RRULE:FREQ=DAILY;COUNT=21", dates("EXDATE", [d.at(0, 6, 17)]),
    )  # fmt: skip
    moved = vevent(
        d, uid("bob-diary"), "Diary study check-in (late)", d.at(0, 2, 18, 30), d.at(0, 2, 18, 50),
        when("RECURRENCE-ID", d.at(0, 2, 17)), "SEQUENCE:1",
    )  # fmt: skip
    return vcalendar(master, moved)


def _ux_guild(d: Days) -> str:
    """Monthly on the first Thursday, since two months ago."""
    first = first_weekday(d.today.replace(day=1) - timedelta(days=45), weekday=3)
    start = d.at(0, 0, 12, 30).replace(year=first.year, month=first.month, day=first.day)
    return event_object(
        d, uid("ux-guild"), "UX guild", start, start + timedelta(hours=1), "RRULE:FREQ=MONTHLY;BYDAY=1TH",
        organizer(*ALICE), attendee(*ME),
    )  # fmt: skip


def first_weekday(day: date, *, weekday: int) -> date:
    """The first ``weekday`` (0 = Monday) of ``day``'s month."""
    first = day.replace(day=1)
    return first + timedelta(days=(weekday - first.weekday()) % 7)


def family(d: Days) -> Objects:
    return [
        ("school-pick-up.ics", event_object(
            d, uid("bob-school"), "School pick-up", d.at(-8, 0, 16, 15), d.at(-8, 0, 17),
            "RRULE:FREQ=WEEKLY;BYDAY=MO,TU,TH,FR")),
        ("swimming.ics", event_object(
            d, uid("bob-swimming"), "Swimming lessons (Léa)", d.at(-3, 2, 14), d.at(-3, 2, 15),
            "RRULE:FREQ=WEEKLY;BYDAY=WE;COUNT=10", dates("RDATE", [d.at(2, 5, 10)]),
            text("DESCRIPTION", "Make-up lesson on Saturday (RDATE)."))),
        ("family-dinner.ics", event_object(
            d, uid("bob-dinner"), "Family dinner", d.at(0, 5, 19), d.at(0, 5, 22))),
        ("kids-at-grandma.ics", event_object(
            d, uid("bob-grandma"), "Kids at grandma's", d.day(4, 5), d.day(5, 5), "TRANSP:TRANSPARENT")),
    ]  # fmt: skip


_FIXED_HOLIDAYS = (
    ("01-01", "Jour de l'an (New Year's Day)"),
    ("05-01", "Fête du Travail (Labour Day)"),
    ("05-08", "Victoire 1945 (Victory in Europe Day)"),
    ("07-14", "Fête nationale (Bastille Day)"),
    ("08-15", "Assomption (Assumption Day)"),
    ("11-01", "Toussaint (All Saints' Day)"),
    ("11-11", "Armistice 1918"),
    ("12-25", "Noël (Christmas Day)"),
)
_EASTER_HOLIDAYS = (
    ("easter-monday", 1, "Lundi de Pâques (Easter Monday)"),
    ("ascension", 39, "Ascension"),
    ("whit-monday", 50, "Lundi de Pentecôte (Whit Monday)"),
)


def holidays(d: Days) -> Objects:
    """French public holidays, all day and TRANSPARENT (they inform, they do not block): fixed ones as
    yearly rules, Easter-based ones as one date plus RDATEs for the neighbouring years."""
    objects: Objects = []
    for month_day, name in _FIXED_HOLIDAYS:
        first = date.fromisoformat(f"2020-{month_day}")
        ics = event_object(
            d, uid(f"fr-holiday-{month_day}"), name, first, first + timedelta(days=1), "RRULE:FREQ=YEARLY",
            "TRANSP:TRANSPARENT", "CATEGORIES:Holidays",
        )  # fmt: skip
        objects.append((f"fr-{month_day}.ics", ics))
    years = range(d.today.year - 1, d.today.year + 2)
    for slug, offset, name in _EASTER_HOLIDAYS:
        days = [easter(year) + timedelta(days=offset) for year in years]
        ics = event_object(
            d, uid(f"fr-holiday-{slug}"), name, days[0], days[0] + timedelta(days=1),
            dates("RDATE", days[1:]), "TRANSP:TRANSPARENT", "CATEGORIES:Holidays",
        )  # fmt: skip
        objects.append((f"fr-{slug}.ics", ics))
    return objects


def easter(year: int) -> date:
    """Easter Sunday in the Gregorian calendar (the anonymous algorithm, Meeus/Jones/Butcher)."""
    a, b, c = year % 19, year // 100, year % 100
    d, e = b // 4, b % 4
    g = (8 * b + 13) // 25
    h = (19 * a + b - d - g + 15) % 30
    i, k = c // 4, c % 4
    l = (32 + 2 * e + 2 * i - h - k) % 7  # noqa: E741 - the algorithm's own name
    m = (a + 11 * h + 22 * l) // 451
    month, day = divmod(h + l - 7 * m + 114, 31)
    return date(year, month, day + 1)
