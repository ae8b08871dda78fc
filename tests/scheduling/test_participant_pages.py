"""The participant's side through HTTP: the booking page, the email with its .ics and signed links, cancel and
reschedule through those links, and every bad input answered clearly in the participant's language."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from datetime import datetime
from zoneinfo import ZoneInfo

import httpx
import icalendar
import pytest
from fastapi.testclient import TestClient

from creneau.scheduling import outbox
from creneau.scheduling.disconnect import disconnect_account
from creneau.store.models import Booking, StudySession
from creneau.web.app import create_app
from tests.mail.conftest import SmtpServer
from tests.scheduling.conftest import Setup, at, day_ahead, ics
from tests.web.conftest import csrf_of


@pytest.fixture
def client(setup: Setup) -> Iterator[TestClient]:
    setup.runtime.settings.run_background_jobs = False  # the tests run the outbox themselves
    with TestClient(create_app(setup.runtime), follow_redirects=True) as test_client:
        yield test_client


def run_outbox(setup: Setup) -> None:
    for item_id in outbox.due_items(setup.runtime.sched):
        outbox.process(setup.runtime.sched, item_id=item_id)


def book(
    client: TestClient, setup: Setup, start: datetime, *, lang: str = "fr", **fields: str
) -> httpx.Response:
    confirm = client.get(
        f"/book/{setup.token}/confirm",
        params={"start": start.isoformat(), "tz": "Europe/Paris"},
        headers={"Accept-Language": lang},
    )
    assert confirm.status_code == 200, confirm.text
    data = {
        "csrf_token": csrf_of(confirm.text),
        "start": start.isoformat(),
        "tz": "Europe/Paris",
        "name": "Ada Lovelace",
        "email": "ada@example.org",
    }
    data.update(fields)
    answer: httpx.Response = client.post(f"/book/{setup.token}", data=data, headers={"Accept-Language": lang})
    return answer


def test_booking_by_email_then_cancel_through_the_signed_link(
    client: TestClient, setup: Setup, smtp_server: Callable[..., SmtpServer]
) -> None:
    smtp = smtp_server()
    setup.runtime.sched.mail = smtp.settings()
    start = at(day_ahead(3), 10)
    page = client.get(f"/book/{setup.token}", params={"tz": "Europe/Paris", "week": start.date().isoformat()})
    assert page.status_code == 200
    assert f'data-start="{start.astimezone(ZoneInfo("Europe/Paris")).isoformat()}"' in page.text

    answer = book(client, setup, start)
    assert answer.status_code == 200 and "Votre session est réservée" in answer.text
    run_outbox(setup)
    (mail,) = smtp.received
    message = mail.message
    assert mail.rcpt_tos == ["ada@example.org"]
    body = message.get_body(preferencelist=("plain",))
    assert body is not None
    text = body.get_content()
    join_url = re.search(r"https://meet\.jit\.si/\S+", text)
    cancel_url = re.search(r"http://127\.0\.0\.1:8000(/booking/\S+/cancel)", text)
    assert join_url and cancel_url, text
    (attachment,) = [p for p in message.iter_attachments() if p.get_content_type() == "text/calendar"]
    event = icalendar.Calendar.from_ical(attachment.get_content()).walk("VEVENT")[0]
    assert event.decoded("DTSTART") == start

    # The link works; a tampered one says so (in English for an English reader) and changes nothing.
    path = cancel_url.group(1)
    assert client.get(path).status_code == 200
    tampered = client.get(path.replace("/cancel", "x/cancel"), headers={"Accept-Language": "en"})
    assert tampered.status_code == 404 and "This link is not valid" in tampered.text
    form = client.get(path)
    done = client.post(path, data={"csrf_token": csrf_of(form.text)})
    assert done.status_code == 200 and "annulée" in done.text
    run_outbox(setup)
    assert len(smtp.received) == 2 and "CANCEL" in smtp.received[1].content.decode(errors="replace")
    again = client.get(path)
    assert again.status_code == 410  # "this booking is cancelled"


def test_moving_through_the_link_renews_it_and_moves_the_event(client: TestClient, setup: Setup) -> None:
    start = at(day_ahead(4), 9)
    first = book(client, setup, start)
    manage = first.url.path
    page = client.get(f"{manage}/reschedule")
    assert page.status_code == 200
    new_start = at(day_ahead(4), 15)
    moved = client.post(
        f"{manage}/reschedule", data={"csrf_token": csrf_of(page.text), "start": new_start.isoformat()}
    )
    assert moved.status_code == 200 and moved.url.path != manage
    old = client.get(manage, headers={"Accept-Language": "en"})
    assert old.status_code == 410 and "replaced" in old.text
    run_outbox(setup)
    with setup.runtime.ctx.sessions() as db:
        (booking,) = db.query(Booking).all()
        assert booking.start == new_start and booking.sequence == 1 and booking.event_state == "written"


def test_bad_input_is_refused_clearly_and_nothing_is_written(client: TestClient, setup: Setup) -> None:
    start = at(day_ahead(5), 11)
    bad_email = book(client, setup, start, email="not-an-address")
    assert bad_email.status_code == 422 and "adresse" in bad_email.text.lower()
    bad_zone = client.get(
        f"/book/{setup.token}", params={"tz": "Mars/Olympus"}, headers={"Accept-Language": "en"}
    )
    assert bad_zone.status_code == 422 and "time zone does not exist" in bad_zone.text
    with setup.runtime.ctx.sessions() as db:
        assert db.query(Booking).count() == 0

    # The slot is taken meanwhile (an event in the researcher's calendar): other free slots are shown.
    setup.radicale.put_event("alice", "home", "meeting.ics", ics("meeting", start))
    taken = book(client, setup, start, lang="en")
    assert taken.status_code == 409
    assert "no longer free" in taken.text and 'class="slot"' in taken.text
    assert "meeting" not in taken.text  # never says why a time is busy


def test_deleting_the_destination_account_keeps_bookings_and_flags_the_session(
    client: TestClient, setup: Setup
) -> None:
    book(client, setup, at(day_ahead(6), 10))
    with setup.runtime.ctx.sessions() as db, db.begin():
        report = disconnect_account(
            db, ctx=setup.runtime.ctx, researcher_id=setup.researcher.id, account_id=setup.account_id
        )
    assert report.sessions_flagged == ["Onboarding — Interview"]
    run_outbox(setup)
    with setup.runtime.ctx.sessions() as db:
        (booking,) = db.query(Booking).all()
        assert booking.status == "confirmed" and booking.event_state == "abandoned"
        study_session = db.get(StudySession, setup.session_id)
        assert study_session is not None and study_session.destination_lost
    # New bookings still work; they are written nowhere, and the page says why.
    later = book(client, setup, at(day_ahead(6), 14))
    assert later.status_code == 200
    with setup.runtime.ctx.sessions() as db:
        assert {b.event_state for b in db.query(Booking).all()} == {"abandoned", "none"}
