"""Booking against a real Radicale: one event per booking, the live check, cancel and move, the outbox."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import icalendar
import pytest

from creneau.errors import SlotUnavailable
from creneau.jobs import tasks
from creneau.scheduling import booking as bookings
from creneau.scheduling import outbox
from creneau.store.models import Booking, OutboxItem
from tests.scheduling.conftest import PARTICIPANT, Setup, at, day_ahead, ics
from tests.servers import start_radicale


def run_outbox(setup: Setup, *, later: timedelta = timedelta(0)) -> None:
    """Process every due item once, as the runner's ticker would (``later``: pretend time has passed)."""
    sched = setup.runtime.sched
    for item_id in outbox.due_items(sched, now=datetime.now(UTC) + later):
        outbox.process(sched, item_id=item_id, now=datetime.now(UTC) + later)


def booking(setup: Setup, booking_id: int) -> Booking:
    with setup.runtime.ctx.sessions() as db:
        found = db.get(Booking, booking_id)
        assert found is not None
        return found


def events_with_uid(setup: Setup, uid: str) -> list[icalendar.cal.Component]:
    found = []
    for text in setup.work_events():
        for event in icalendar.Calendar.from_ical(text).walk("VEVENT"):
            if str(event["UID"]) == uid:
                found.append(event)
    return found


def test_a_booking_lands_once_in_the_destination_calendar_with_its_video_link(setup: Setup) -> None:
    start = at(day_ahead(3), 10)
    made = bookings.book(setup.runtime.sched, token=setup.token, start=start, participant=PARTICIPANT)
    assert made.join_url.startswith("https://meet.jit.si/")
    run_outbox(setup)
    run_outbox(setup)  # replaying does nothing more
    stored = booking(setup, made.id)
    assert stored.event_state == "written"
    events = events_with_uid(setup, made.uid)
    assert len(events) == 1
    event = events[0]
    assert event.decoded("DTSTART") == start
    assert made.join_url in str(event["DESCRIPTION"]) and str(event["LOCATION"]) == made.join_url
    assert str(event["SUMMARY"]) == "Onboarding — Ada"
    # Processing the same item again (a runner retrying after a crash) still leaves one event.
    with setup.runtime.ctx.sessions() as db, db.begin():
        for item in db.query(OutboxItem).filter_by(kind="calendar"):
            item.state = "pending"
        stored_row = db.get(Booking, made.id)
        assert stored_row is not None
        stored_row.remote_id = None  # as if the answer of the create had been lost
    run_outbox(setup)
    assert len(events_with_uid(setup, made.uid)) == 1


def test_an_event_added_a_moment_ago_blocks_overlapping_slots(setup: Setup) -> None:
    day = day_ahead(4)
    # Added straight into Radicale: sync has not seen it, only the live check can.
    setup.radicale.put_event("alice", "home", "dentist.ics", ics("dentist", at(day, 10, 30), minutes=60))
    for start in (at(day, 10), at(day, 11)):  # overlapping, not identical
        with pytest.raises(SlotUnavailable):
            bookings.book(setup.runtime.sched, token=setup.token, start=start, participant=PARTICIPANT)
    made = bookings.book(setup.runtime.sched, token=setup.token, start=at(day, 12), participant=PARTICIPANT)
    assert made.live_check == "live"


def test_cancel_and_move_follow_in_the_calendar(setup: Setup) -> None:
    day = day_ahead(5)
    made = bookings.book(setup.runtime.sched, token=setup.token, start=at(day, 9), participant=PARTICIPANT)
    run_outbox(setup)
    setup.sync()  # our own event is now also a synced busy time: moving must not collide with it
    moved = bookings.move(setup.runtime.sched, booking_id=made.id, start=at(day, 9, 30))
    assert moved.sequence == 1 and moved.link_nonce != made.link_nonce
    run_outbox(setup)
    [event] = events_with_uid(setup, made.uid)
    assert event.decoded("DTSTART") == at(day, 9, 30)
    bookings.cancel(setup.runtime.sched, booking_id=made.id, by="participant")
    run_outbox(setup)
    assert events_with_uid(setup, made.uid) == []
    assert booking(setup, made.id).event_state == "deleted"


def test_bookings_made_while_the_server_is_down_each_get_exactly_one_event(setup: Setup) -> None:
    day = day_ahead(6)
    port, root = setup.radicale.port, setup.radicale.root
    setup.radicale.stop()
    made = [
        bookings.book(setup.runtime.sched, token=setup.token, start=at(day, hour), participant=PARTICIPANT)
        for hour in (9, 11, 14)
    ]
    assert all(b.live_check == "synced" and "unreachable" in b.live_check_detail for b in made)
    run_outbox(setup)
    assert {booking(setup, b.id).event_state for b in made} == {"failing"}
    with start_radicale(root, {"alice": "alice-password"}, port=port) as again:
        setup.radicale = again
        run_outbox(setup, later=timedelta(hours=1))
        assert {booking(setup, b.id).event_state for b in made} == {"written"}
        for b in made:
            assert len(events_with_uid(setup, b.uid)) == 1
        run_outbox(setup, later=timedelta(hours=2))
        assert sum(len(events_with_uid(setup, b.uid)) for b in made) == 3


def test_the_runner_writes_events_soon_after_booking(setup: Setup) -> None:
    setup.runtime.jobs.start()
    made = bookings.book(
        setup.runtime.sched, token=setup.token, start=at(day_ahead(7), 15), participant=PARTICIPANT
    )
    assert setup.runtime.jobs.wait_idle(timeout=30)
    assert booking(setup, made.id).event_state == "written"
    assert tasks.due_outbox_items(setup.runtime.sched) == []
