"""Google Meet and Microsoft Teams links made with the booking's calendar event, and the fall-back to Jitsi
when the calendar makes none — through booking, the outbox and the emulators."""

from __future__ import annotations

import json
from dataclasses import dataclass, replace
from datetime import timedelta

import pytest

from creneau.calendars.accounts import connect_oauth_account
from creneau.calendars.oauth import TokenSet
from creneau.calendars.sync import sync_account
from creneau.config import Settings
from creneau.emulators import google as google_emulator
from creneau.emulators import msgraph as graph_emulator
from creneau.errors import SlotUnavailable
from creneau.runtime import Runtime
from creneau.scheduling import outbox
from creneau.scheduling.booking import book, move, native_conferencing
from creneau.store.models import Booking, Calendar, OutboxItem, Researcher, StudySession
from tests.cloud import point_settings_at
from tests.scheduling.conftest import PARTICIPANT, at, day_ahead, make_session


@pytest.fixture
def settings(
    settings: Settings, google: google_emulator.RunningEmulator, graph: graph_emulator.RunningEmulator
) -> Settings:
    return point_settings_at(settings, google, graph)


@dataclass
class Remote:
    runtime: Runtime
    account_id: int
    calendar_id: int
    remote_calendar: str
    session_id: int
    token: str


def remote_session(
    runtime: Runtime, researcher: Researcher, *, connector: str, secret: str, calendar_name: str
) -> Remote:
    with runtime.ctx.sessions() as db, db.begin():
        account, _ = connect_oauth_account(
            db, ctx=runtime.ctx, researcher_id=researcher.id, connector=connector,
            tokens=TokenSet.from_secret(secret),
        )  # fmt: skip
        calendar = next(c for c in account.calendars if c.name == calendar_name)
        ids = account.id, calendar.id, calendar.remote_id
    sync_account(runtime.ctx, account_id=ids[0])
    study_session = make_session(runtime, researcher, destination=ids[1], location_kind="remote")
    return Remote(runtime, ids[0], ids[1], ids[2], study_session.id, study_session.public_token)


def items(runtime: Runtime, booking_id: int, kind: str) -> list[int]:
    with runtime.ctx.sessions() as db:
        return [
            i.id
            for i in db.query(OutboxItem).filter_by(booking_id=booking_id, kind=kind).order_by(OutboxItem.id)
        ]


def load(runtime: Runtime, booking_id: int) -> Booking:
    with runtime.ctx.sessions() as db:
        found = db.get(Booking, booking_id)
        assert found is not None
        return found


def test_google_calendar_gets_a_meet_link_and_the_email_waits_for_it(
    runtime: Runtime, researcher: Researcher, google: google_emulator.RunningEmulator
) -> None:
    email = "meet@gmail.example"
    remote = remote_session(
        runtime,
        researcher,
        connector="google",
        secret=google.state.add_user(email).secret(),
        calendar_name=email,
    )
    with runtime.ctx.sessions() as db:
        study_session = db.get(StudySession, remote.session_id)
        assert study_session is not None and native_conferencing(study_session) == "google_meet"
    booking = book(runtime.sched, token=remote.token, start=at(day_ahead(3), 10), participant=PARTICIPANT)
    assert booking.conference_provider == "google_meet" and booking.join_url == ""

    # The confirmation email waits for the link (no attempt counted), the calendar write brings it.
    (mail_item,) = items(runtime, booking.id, "email")
    assert outbox.process(runtime.sched, item_id=mail_item) == "pending"
    with runtime.ctx.sessions() as db:
        waiting = db.get(OutboxItem, mail_item)
        assert waiting is not None and waiting.attempts == 0
    (calendar_item,) = items(runtime, booking.id, "calendar")
    assert outbox.process(runtime.sched, item_id=calendar_item) == "done"
    written = load(runtime, booking.id)
    assert written.join_url.startswith("https://meet.google.com/"), written.join_url
    event = google.state.event(remote.remote_calendar, written.remote_id or "")
    assert event is not None
    entry = event["conferenceData"]["entryPoints"][0]["uri"]
    assert (
        entry == written.join_url
        and event["conferenceData"]["conferenceSolution"]["key"]["type"] == "hangoutsMeet"
    )


def test_office365_calendar_gets_a_teams_link(
    runtime: Runtime, researcher: Researcher, graph: graph_emulator.RunningEmulator
) -> None:
    email = "teams@contoso.example"
    graph.state.add_user(email, kind="work")
    secret = json.dumps(graph.state.issue_tokens(email))
    remote = remote_session(
        runtime, researcher, connector="office365", secret=secret, calendar_name="Calendar"
    )
    booking = book(runtime.sched, token=remote.token, start=at(day_ahead(3), 11), participant=PARTICIPANT)
    assert booking.conference_provider == "teams"
    (calendar_item,) = items(runtime, booking.id, "calendar")
    assert outbox.process(runtime.sched, item_id=calendar_item) == "done"
    written = load(runtime, booking.id)
    assert written.join_url.startswith("https://teams."), written.join_url
    stored = graph.state.get_event(written.remote_id or "")
    assert stored is not None and stored.data["isOnlineMeeting"] is True
    assert stored.data["onlineMeeting"]["joinUrl"] == written.join_url


def test_outlook_personal_calendar_falls_back_to_jitsi_and_says_so(
    runtime: Runtime, researcher: Researcher, graph: graph_emulator.RunningEmulator
) -> None:
    email = "someone@outlook.com"
    graph.state.add_user(email, kind="personal")
    secret = json.dumps(graph.state.issue_tokens(email))
    remote = remote_session(runtime, researcher, connector="outlook", secret=secret, calendar_name="Calendar")
    with runtime.ctx.sessions() as db:
        calendar = db.get(Calendar, remote.calendar_id)
        assert calendar is not None and calendar.conferencing is None
    booking = book(runtime.sched, token=remote.token, start=at(day_ahead(3), 12), participant=PARTICIPANT)
    assert booking.conference_provider == "jitsi" and booking.join_url.startswith("https://meet.jit.si/")


def test_a_tenant_that_stops_allowing_teams_gets_jitsi_in_the_event(
    runtime: Runtime, researcher: Researcher, graph: graph_emulator.RunningEmulator
) -> None:
    email = "no-teams@contoso.example"
    graph.state.add_user(email, kind="work")
    secret = json.dumps(graph.state.issue_tokens(email))
    remote = remote_session(
        runtime, researcher, connector="office365", secret=secret, calendar_name="Calendar"
    )
    with graph.state.lock:  # the administrator turns Teams off after the calendar was synced
        calendar = graph.state.calendars[remote.remote_calendar]
        graph.state.calendars[remote.remote_calendar] = replace(calendar, allowed_providers=())
    booking = book(runtime.sched, token=remote.token, start=at(day_ahead(4), 9), participant=PARTICIPANT)
    (calendar_item,) = items(runtime, booking.id, "calendar")
    assert outbox.process(runtime.sched, item_id=calendar_item) == "done"
    written = load(runtime, booking.id)
    assert written.conference_provider == "jitsi" and written.join_url.startswith("https://meet.jit.si/")
    stored = graph.state.get_event(written.remote_id or "")
    assert stored is not None and stored.data["location"]["displayName"] == written.join_url


def test_a_calendar_that_cannot_be_written_in_time_gives_jitsi_to_the_email_and_the_event(
    runtime: Runtime, researcher: Researcher, google: google_emulator.RunningEmulator
) -> None:
    runtime.sched.engine.settings.native_link_wait_seconds = 0
    email = "slow@gmail.example"
    remote = remote_session(
        runtime,
        researcher,
        connector="google",
        secret=google.state.add_user(email).secret(),
        calendar_name=email,
    )
    booking = book(runtime.sched, token=remote.token, start=at(day_ahead(5), 9), participant=PARTICIPANT)
    google.state.faults.rate_limit(1, retry_after=0, status=503)
    (calendar_item,) = items(runtime, booking.id, "calendar")
    assert outbox.process(runtime.sched, item_id=calendar_item) == "pending"  # Google is down
    (mail_item,) = items(runtime, booking.id, "email")
    outbox.process(runtime.sched, item_id=mail_item)  # waits no longer: Jitsi, and the event is owed again
    fallen = load(runtime, booking.id)
    assert fallen.conference_provider == "jitsi" and fallen.join_url.startswith("https://meet.jit.si/")
    google.state.faults.clear()
    assert outbox.process(runtime.sched, item_id=calendar_item) == "done"
    written = load(runtime, booking.id)
    event = google.state.event(remote.remote_calendar, written.remote_id or "")
    assert event is not None and "conferenceData" not in event
    assert event["location"] == fallen.join_url


@pytest.mark.parametrize("connector", ["google", "office365"])
def test_a_booking_moves_to_a_time_overlapping_its_own_event(
    runtime: Runtime,
    researcher: Researcher,
    google: google_emulator.RunningEmulator,
    graph: graph_emulator.RunningEmulator,
    connector: str,
) -> None:
    """Graph lists our event under Exchange's UID and free/busy answers carry no UID at all: the booking's
    own event must still not block its move half an hour later (live check and synced data)."""
    if connector == "google":
        email = "mover@gmail.example"
        secret, calendar_name = google.state.add_user(email).secret(), email
    else:
        email = "mover@contoso.example"
        graph.state.add_user(email, kind="work")
        secret, calendar_name = json.dumps(graph.state.issue_tokens(email)), "Calendar"
    remote = remote_session(
        runtime, researcher, connector=connector, secret=secret, calendar_name=calendar_name
    )
    first = at(day_ahead(6), 10)
    booking = book(runtime.sched, token=remote.token, start=first, participant=PARTICIPANT)
    (calendar_item,) = items(runtime, booking.id, "calendar")
    assert outbox.process(runtime.sched, item_id=calendar_item) == "done"
    sync_account(runtime.ctx, account_id=remote.account_id)  # our event is now in the synced data too
    moved = move(runtime.sched, booking_id=booking.id, start=first + timedelta(minutes=30))
    assert moved.start == first + timedelta(minutes=30) and moved.live_check == "live"
    # Another booking at the old time is refused while the moved one overlaps it.
    with pytest.raises(SlotUnavailable):
        book(runtime.sched, token=remote.token, start=first, participant=PARTICIPANT)
