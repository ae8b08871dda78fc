"""Alice's calendars (alice@example.org, a research lead in Paris): Work, Personal, Team offsites, Tasks."""

from __future__ import annotations

from datetime import timedelta

from creneau.demo.icsgen import (
    NEW_YORK,
    OUTLOOK_PRODID,
    TOKYO,
    WINDOWS_PARIS,
    Days,
    alarm,
    attendee,
    dates,
    event_object,
    organizer,
    text,
    utc,
    vcalendar,
    vevent,
    vtodo,
    when,
)

ME = ("alice@example.org", "Alice Martin")
BOB = ("bob@example.org", "Bob Durand")
CAROL = ("carol@example.org", "Carol Nguyen")

Objects = list[tuple[str, str]]


def uid(name: str) -> str:
    return f"{name}@demo.creneau.test"


def work(d: Days) -> Objects:
    return [
        ("standup.ics", _standup(d)),
        ("one-on-one-bob.ics", _one_on_one(d)),
        ("design-review.ics", _design_review(d)),
        ("vendor-pitch.ics", _vendor_pitch(d)),
        ("nyc-office-call.ics", _nyc_call(d)),
        ("tokyo-partners.ics", _tokyo_sync(d)),
        ("steering-committee.ics", _steering_outlook(d)),
        ("working-from-home.ics", _working_from_home(d)),
        ("focus-time.ics", _focus_time(d)),
        ("lunch-marie.ics", _lunch_tentative(d)),
        ("kickoff-cancelled.ics", _kickoff_cancelled(d)),
        ("accessibility-training.ics", _training_day(d)),
    ]


def _standup(d: Days) -> str:
    """Weekday stand-up: one occurrence moved, one cancelled by an override, two removed by EXDATE."""
    master = vevent(
        d, uid("alice-standup"), "Team stand-up", d.at(-8, 0, 9, 30), d.at(-8, 0, 9, 45),
        "RRULE:FREQ=WEEKLY;BYDAY=MO,TU,WE,TH,FR",
        dates("EXDATE", [d.at(-2, 0, 9, 30), d.at(1, 3, 9, 30)]),
        text("LOCATION", "Room Lovelace / https://meet.jit.si/creneau-demo-standup"),
        organizer(*ME), attendee(*ME), attendee(*BOB), attendee(*CAROL),
    )  # fmt: skip
    moved = vevent(
        d, uid("alice-standup"), "Team stand-up (moved: all-hands at 9:30)",
        d.at(1, 1, 11), d.at(1, 1, 11, 15),
        when("RECURRENCE-ID", d.at(1, 1, 9, 30)), "SEQUENCE:1", organizer(*ME), attendee(*ME),
    )  # fmt: skip
    cancelled = vevent(
        d, uid("alice-standup"), "Team stand-up", d.at(1, 2, 9, 30), d.at(1, 2, 9, 45),
        when("RECURRENCE-ID", d.at(1, 2, 9, 30)), "STATUS:CANCELLED", "SEQUENCE:1", organizer(*ME),
    )  # fmt: skip
    return vcalendar(master, moved, cancelled)


def _one_on_one(d: Days) -> str:
    until = d.at(12, 1, 23, 59)  # read as UTC: after the last 14:00 Paris occurrence
    return event_object(
        d, uid("alice-1on1-bob"), "1:1 Alice / Bob", d.at(-6, 1, 14), d.at(-6, 1, 14, 30),
        f"RRULE:FREQ=WEEKLY;BYDAY=TU;UNTIL={utc(until)}", organizer(*ME), attendee(*ME), attendee(*BOB),
        *alarm(10),
    )  # fmt: skip


def _design_review(d: Days) -> str:
    """An invitation Alice answered "maybe": PARTSTAT=TENTATIVE on her own ATTENDEE line."""
    return event_object(
        d, uid("carol-design-review"), "Design review: onboarding flow", d.at(0, 3, 15), d.at(0, 3, 16),
        organizer(*CAROL), attendee(*CAROL), attendee(*ME, partstat="TENTATIVE"),
        text("DESCRIPTION", "Walkthrough of the new onboarding screens.\nFigma link in the invite."),
    )  # fmt: skip


def _vendor_pitch(d: Days) -> str:
    """A declined invitation: it must not block Alice's time."""
    return event_object(
        d, uid("vendor-pitch"), "Vendor pitch: survey tool", d.at(1, 0, 11), d.at(1, 0, 12),
        organizer("sales@surveytool.example", "Survey Tool Sales"), attendee(*ME, partstat="DECLINED"),
        "SEQUENCE:2", text("LOCATION", "https://vendor.example/webinar/42"),
    )  # fmt: skip


def _nyc_call(d: Days) -> str:
    """10:00 in New York: 16:00 in Paris (15:00 in the weeks the two DST calendars disagree)."""
    return event_object(
        d, uid("alice-nyc-call"), "Call with the NYC office", d.at(1, 2, 10), d.at(1, 2, 11),
        organizer("dana@example.com", "Dana Brooks"), attendee(*ME), tz=NEW_YORK,
    )  # fmt: skip


def _tokyo_sync(d: Days) -> str:
    """Every other Thursday at 17:00 in Tokyo (the morning in Paris)."""
    return event_object(
        d, uid("alice-tokyo-sync"), "Sync with Tokyo partners", d.at(-4, 3, 17), d.at(-4, 3, 17, 45),
        "RRULE:FREQ=WEEKLY;INTERVAL=2;BYDAY=TH", organizer("kenji@example.jp", "Kenji Sato"), attendee(*ME),
        tz=TOKYO,
    )  # fmt: skip


def _steering_outlook(d: Days) -> str:
    """As Outlook exports it: Windows TZID, Outlook's VTIMEZONE, METHOD, Microsoft X- properties."""
    event = vevent(
        d, "040000008200E00074C5B7101A82E00800000000A0B1C2D3E4F5A6B7C8D9E0F1A2B3C4D5E6F7A8B9C0D1E2F3",
        "Steering committee", d.at(-2, 4, 10), d.at(-2, 4, 11, 30),
        f"RRULE:FREQ=WEEKLY;UNTIL={utc(d.at(16, 4, 9))};INTERVAL=2;BYDAY=FR;WKST=MO",
        "CLASS:PUBLIC", "PRIORITY:5", "SEQUENCE:0", "TRANSP:OPAQUE",
        organizer("erik@example.de", "Erik Vogel"), attendee(*ME),
        "X-MICROSOFT-CDO-BUSYSTATUS:BUSY", "X-MICROSOFT-CDO-IMPORTANCE:1",
        "X-MICROSOFT-DISALLOW-COUNTER:FALSE", "X-MS-OLK-AUTOFILLLOCATION:FALSE",
        tz=WINDOWS_PARIS,
    )  # fmt: skip
    header = ["METHOD:PUBLISH", "X-MS-OLK-FORCEINSPECTOROPEN:TRUE"]
    return vcalendar(event, prodid=OUTLOOK_PRODID, header=header)


def _working_from_home(d: Days) -> str:
    """Every Friday, all day, TRANSPARENT: shown as free."""
    return event_object(
        d, uid("alice-wfh"), "Working from home", d.day(-6, 4), d.day(-6, 5),
        "RRULE:FREQ=WEEKLY;BYDAY=FR", "TRANSP:TRANSPARENT",
    )  # fmt: skip


def _focus_time(d: Days) -> str:
    """Floating time: 8:00 wherever Alice happens to be (no TZID, no Z)."""
    return event_object(
        d, uid("alice-focus"), "Focus time (no meetings)", d.at(1, 1, 8), d.at(1, 1, 9), tz=None
    )


def _lunch_tentative(d: Days) -> str:
    """Tentative at the event level (STATUS:TENTATIVE), no attendees."""
    return event_object(
        d, uid("alice-lunch-marie"), "Lunch with Marie?", d.at(0, 4, 12, 30), d.at(0, 4, 14),
        "STATUS:TENTATIVE", text("LOCATION", "Le Petit Zinc, 11 rue Saint-Benoît, Paris"),
    )  # fmt: skip


def _kickoff_cancelled(d: Days) -> str:
    """A whole event cancelled by its organiser and kept by the client: not busy."""
    return event_object(
        d, uid("carol-kickoff"), "Cancelled: project kick-off", d.at(1, 3, 14), d.at(1, 3, 16),
        "STATUS:CANCELLED", "SEQUENCE:3", organizer(*CAROL), attendee(*ME),
    )  # fmt: skip


def _training_day(d: Days) -> str:
    """A single all-day event, busy (RFC 5545's default TRANSP:OPAQUE, left implicit)."""
    return event_object(d, uid("alice-a11y"), "Training: accessibility audits", d.day(2, 1), d.day(2, 2))


def personal(d: Days) -> Objects:
    birthday = (d.today + timedelta(days=10)).replace(year=2016)  # a leap year: 29 February exists
    return [
        ("dentist.ics", event_object(
            d, uid("alice-dentist"), "Dentist", d.at(1, 2, 8, 15), d.at(1, 2, 9),
            *alarm(60, "Dentist at 8:15"))),
        ("yoga.ics", event_object(
            d, uid("alice-yoga"), "Yoga", d.at(-5, 3, 18, 30), d.at(-5, 3, 19, 30),
            "RRULE:FREQ=WEEKLY;BYDAY=TH", dates("EXDATE", [d.at(-1, 3, 18, 30)]))),
        ("weekend-lyon.ics", event_object(
            d, uid("alice-lyon"), "Weekend in Lyon", d.day(2, 4), d.day(3, 0), text("LOCATION", "Lyon"))),
        ("mum-birthday.ics", event_object(
            d, uid("alice-mum-birthday"), "Mum's birthday", birthday, birthday + timedelta(days=1),
            "RRULE:FREQ=YEARLY", "TRANSP:TRANSPARENT")),
        ("imported-from-old-planner.ics", malformed(d)),
    ]  # fmt: skip


def malformed(d: Days) -> str:
    """Deliberately broken, as a buggy export tool would write it. Radicale still serves it (its own
    parser only checks the fields it indexes), but a reader cannot use it: SEQUENCE and PRIORITY are not
    integers, and DTEND comes before DTSTART (RFC 5545 §3.6.1 requires it to be later)."""
    event = vevent(
        d, uid("alice-broken-import"), "Imported from old planner", d.at(1, 4, 16), d.at(1, 4, 15),
        "SEQUENCE:two", "PRIORITY:high",
    )  # fmt: skip
    return vcalendar(event, prodid="-//Old Planner//Export 0.3//EN")


def offsites(d: Days) -> Objects:
    return [
        ("offsite-annecy.ics", event_object(
            d, uid("offsite-annecy"), "Team offsite: Annecy", d.day(3, 2), d.day(3, 5),
            text("LOCATION", "Annecy"), organizer(*ME), attendee(*ME), attendee(*BOB), attendee(*CAROL))),
        ("offsite-dinner.ics", event_object(
            d, uid("offsite-dinner"), "Offsite dinner", d.at(3, 3, 19, 30), d.at(3, 3, 22, 30),
            "STATUS:TENTATIVE")),
        ("offsite-bordeaux.ics", event_object(
            d, uid("offsite-bordeaux"), "Team offsite: Bordeaux", d.day(-5, 3), d.day(-5, 5),
            text("LOCATION", "Bordeaux"))),
    ]  # fmt: skip


def tasks(d: Days) -> Objects:
    """A VTODO-only calendar: creneau must not list it among calendars that hold events."""
    return [
        ("book-rooms.ics", vcalendar(vtodo(
            d, uid("todo-rooms"), "Book rooms for the offsite", d.day(1, 4), "STATUS:NEEDS-ACTION",
            "PRIORITY:1"))),
        ("consent-forms.ics", vcalendar(vtodo(
            d, uid("todo-consent"), "Send consent forms to P05-P08", d.day(0, 4), "STATUS:IN-PROCESS",
            "PERCENT-COMPLETE:50"))),
        ("recruit.ics", vcalendar(vtodo(
            d, uid("todo-recruit"), "Recruit 8 participants", d.day(-1, 4), "STATUS:COMPLETED",
            f"COMPLETED:{utc(d.stamp)}"))),
    ]  # fmt: skip
