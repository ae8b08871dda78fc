"""The demo data: every object reads as iCalendar, expands as intended, and Radicale serves all of it."""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import date, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import httpx
import icalendar
import pytest
import recurring_ical_events

from creneau.demo import DemoInfo, prepare_demo
from creneau.demo.calendars import MALFORMED_OBJECTS, DemoCalendar, demo_collections
from creneau.demo.icsgen import Days
from creneau.errors import ConfigurationError
from creneau.runtime import Runtime

# A leap day, New Year's Eve, two DST-change Sundays, and the real today.
DAYS = [date(2024, 2, 29), date(2025, 12, 31), date(2026, 3, 29), date(2026, 10, 25)]
DAYS.append(datetime.now().astimezone().date())
PARIS = ZoneInfo("Europe/Paris")


def all_objects(today: date) -> Iterator[tuple[str, str, DemoCalendar, str, str]]:
    for user, calendars in demo_collections(today).items():
        for slug, calendar in calendars.items():
            for filename, text in calendar.objects:
                yield user, slug, calendar, filename, text


def is_malformed(user: str, slug: str, filename: str) -> bool:
    return (user, slug, filename) in MALFORMED_OBJECTS


@pytest.mark.parametrize("today", DAYS, ids=str)
def test_every_object_is_one_valid_vcalendar(today: date) -> None:
    window_start, window_end = today - timedelta(days=42), today + timedelta(days=202)
    for user, slug, calendar, filename, text in all_objects(today):
        assert text.endswith("\r\n"), filename
        assert all(len(line.encode()) <= 75 for line in text.split("\r\n")), filename
        cal = icalendar.Calendar.from_ical(text)
        components = {c.name for c in cal.subcomponents if c.name != "VTIMEZONE"}
        assert components <= set(calendar.components), (slug, filename, components)
        errors = [e for c in cal.walk() for e in c.errors]
        if is_malformed(user, slug, filename):
            assert errors, "the malformed object must stay malformed"
            continue
        assert not errors, (filename, errors)
        if calendar.holds_events:
            recurring_ical_events.of(cal).between(window_start, window_end)


@pytest.mark.parametrize("today", DAYS, ids=str)
def test_uids_are_unique_and_stable(today: date) -> None:
    seen: dict[str, str] = {}
    for user, slug, _calendar, filename, text in all_objects(today):
        uids = set(re.findall(r"^UID:(.*(?:\r\n .*)*)", text, flags=re.M))
        assert len(uids) == 1, (filename, uids)  # a master and its overrides share one UID
        uid = uids.pop()
        assert uid not in seen, (uid, seen.get(uid))
        seen[uid] = f"{user}/{slug}/{filename}"
    later = {f"{u}/{s}/{f}" for u, s, _c, f, _t in all_objects(today + timedelta(days=3))}
    assert later == set(seen.values()), "file names must not depend on the day"


def occurrences(text: str, day: date) -> list[datetime]:
    cal = icalendar.Calendar.from_ical(text)
    events = recurring_ical_events.of(cal).at(day)
    return sorted(e["DTSTART"].dt for e in events if str(e.get("STATUS", "")) != "CANCELLED")


@pytest.mark.parametrize("today", DAYS, ids=str)
def test_standup_exceptions_land_on_real_occurrences(today: date) -> None:
    days = Days(today)
    text = dict(demo_collections(today)["alice"]["work"].objects)["standup.ics"]
    at = [datetime.combine(days.day(1, n), datetime.min.time(), PARIS) for n in range(5)]
    assert occurrences(text, days.day(1, 0)) == [at[0].replace(hour=9, minute=30)]
    assert occurrences(text, days.day(1, 1)) == [at[1].replace(hour=11)]  # moved
    assert occurrences(text, days.day(1, 2)) == []  # cancelled by an override
    assert occurrences(text, days.day(1, 3)) == []  # EXDATE
    assert occurrences(text, days.day(1, 4)) == [at[4].replace(hour=9, minute=30)]


def test_outlook_windows_time_zone_resolves_to_paris_time() -> None:
    today = date(2026, 1, 14)  # winter: Paris is UTC+1
    text = dict(demo_collections(today)["alice"]["work"].objects)["steering-committee.ics"]
    assert "TZID:W. Europe Standard Time" in text
    start = occurrences(text, Days(today).day(0, 4))[0]
    assert start.utcoffset() == timedelta(hours=1)
    assert start.astimezone(PARIS).hour == 10


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Iterator[DemoInfo]:
    from creneau.demo.radicale import free_loopback_port

    var_dir: Path = tmp_path_factory.mktemp("var")
    for attempt in range(3):  # the free port may be taken between choosing and binding it
        try:
            info = prepare_demo(var_dir, radicale_port=free_loopback_port())
            break
        except ConfigurationError:
            if attempt == 2:
                raise
    yield info
    info.stop()


PROPFIND = """<?xml version="1.0" encoding="utf-8"?>
<d:propfind xmlns:d="DAV:"><d:prop><d:getetag/><d:current-user-privilege-set/></d:prop></d:propfind>"""


def propfind(info: DemoInfo, user: str, path: str) -> httpx.Response:
    response = httpx.request(
        "PROPFIND",
        f"{info.radicale_url}{user}/{path}",
        auth=(user, info.users[user]),
        headers={"Depth": "1", "Content-Type": "application/xml"},
        content=PROPFIND,
    )
    assert response.status_code == 207, response.text
    return response


def test_seeded_radicale_lists_every_object_of_every_calendar(demo: DemoInfo) -> None:
    for user, calendars in demo_collections(demo.today).items():
        for slug, calendar in calendars.items():
            body = propfind(demo, user, f"{slug}/").text
            hrefs = set(re.findall(rf"<href>/{user}/{slug}/([^<]+\.ics)</href>", body))
            assert hrefs == {filename for filename, _ in calendar.objects}, (user, slug)


def test_radicale_serves_the_malformed_object_for_creneau_to_report(demo: DemoInfo) -> None:
    user, slug, filename = MALFORMED_OBJECTS[0]
    response = httpx.get(f"{demo.radicale_url}{user}/{slug}/{filename}", auth=(user, demo.users[user]))
    assert response.status_code == 200
    assert "SEQUENCE:two" in response.text


def test_holidays_calendar_is_read_only_and_others_are_writable(demo: DemoInfo) -> None:
    listing = propfind(demo, "bob", "").text
    blocks = dict(re.findall(r"<href>/bob/([^<]*)</href>(.*?)</response>", listing, flags=re.S))
    assert "<write />" not in blocks["holidays/"] and "<read />" in blocks["holidays/"]
    assert "<write />" in blocks["research/"]
    refused = httpx.put(
        f"{demo.radicale_url}bob/holidays/new.ics",
        auth=("bob", demo.users["bob"]),
        content=dict(demo_collections(demo.today)["bob"]["family"].objects)["family-dinner.ics"],
    )
    assert refused.status_code == 403


def test_wrong_password_is_refused(demo: DemoInfo) -> None:
    response = httpx.request("PROPFIND", f"{demo.radicale_url}alice/", auth=("alice", "nope"))
    assert response.status_code == 401


def test_a_second_demo_on_a_taken_port_says_so(demo: DemoInfo, tmp_path: Path) -> None:
    port = int(demo.radicale_url.rsplit(":", 1)[1].strip("/"))
    with pytest.raises(ConfigurationError, match="already in use"):
        prepare_demo(tmp_path, radicale_port=port)


def test_the_demo_workspace_has_a_colleague_an_invitation_and_a_study(runtime: Runtime) -> None:
    from creneau.demo import DEMO_EMAIL
    from creneau.demo.launch import COLLEAGUE_EMAIL, INVITED_EMAIL, ensure_demo_researcher, ensure_demo_team
    from creneau.scheduling.studies import list_studies
    from creneau.scheduling.workspaces import ensure_workspace, invitations, members
    from creneau.store.models import Researcher

    ensure_demo_researcher(runtime)
    ensure_demo_team(runtime)
    ensure_demo_team(runtime)  # a second start seeds nothing twice
    with runtime.ctx.sessions() as session:
        demo = session.query(Researcher).filter_by(email=DEMO_EMAIL).one()
        member = ensure_workspace(session, researcher=demo)
        assert member.role == "admin"
        emails = {m.researcher.email for m in members(session, workspace_id=member.workspace_id)}
        assert emails == {DEMO_EMAIL, COLLEAGUE_EMAIL}
        assert [i.email for i in invitations(session, workspace_id=member.workspace_id)] == [INVITED_EMAIL]
        (study,) = list_studies(session, workspace_id=member.workspace_id)
        assert [s.name for s in study.sessions] == ["Remote interview"]
