"""The event-title template: placeholders only, refused through the real settings form when hostile, and the
title written to Radicale by a real booking capped at 1,024 characters."""

from __future__ import annotations

from dataclasses import replace

import icalendar
import pytest
from fastapi.testclient import TestClient

from creneau.scheduling import booking as bookings
from creneau.scheduling.titles import MAX_TITLE_LENGTH, check_template, render_title
from creneau.store.models import Booking, StudySession
from creneau.web.app import create_app
from tests.scheduling.conftest import PARTICIPANT, Setup, at, day_ahead
from tests.scheduling.test_booking import run_outbox
from tests.web.conftest import seen, sign_in


def _summaries(setup: Setup, uid: str) -> list[str]:
    found = []
    for text in setup.work_events():
        for event in icalendar.Calendar.from_ical(text).walk("VEVENT"):
            if str(event["UID"]) == uid:
                found.append(str(event["SUMMARY"]))
    return found


def _written_title(setup: Setup, *, day: int, name: str = PARTICIPANT.name) -> str:
    made = bookings.book(
        setup.runtime.sched,
        token=setup.token,
        start=at(day_ahead(day), 10),
        participant=replace(PARTICIPANT, name=name),
    )
    run_outbox(setup)
    with setup.runtime.ctx.sessions() as db:
        row = db.get(Booking, made.id)
        assert row is not None and row.event_state == "written"
    (summary,) = _summaries(setup, made.uid)
    return summary


def _post_title(client: TestClient, setup: Setup, title: str, *, language: str) -> tuple[int, str]:
    form = {
        "name": "Interview",
        "manager_id": str(setup.researcher.id),
        "destination_calendar_id": str(setup.work_calendar_id),
        "event_title": title,
        "duration_minutes": "60",
        "location_kind": "remote",
        "timezone": "UTC",
        **{f"weekly_{day}": "08:00-20:00" for day in range(7)},
        "slot_interval_minutes": "30",
        "min_notice_hours": "0",
        "horizon_days": "30",
        "booking_open": "on",
    }
    page = client.get(f"/sessions/{setup.session_id}/settings")
    csrf = page.text.split('name="csrf_token" value="', 1)[1].split('"', 1)[0]
    response = client.post(
        f"/sessions/{setup.session_id}/settings",
        data={**form, "csrf_token": csrf},
        headers={"Accept-Language": language},
    )
    return response.status_code, seen(response)


@pytest.fixture
def client(setup: Setup) -> TestClient:
    setup.runtime.settings.run_background_jobs = False
    test_client = TestClient(create_app(setup.runtime), follow_redirects=True)
    sign_in(test_client, setup.researcher.email)
    return test_client


def _stored_template(setup: Setup) -> str:
    with setup.runtime.ctx.sessions() as db:
        row = db.get(StudySession, setup.session_id)
        assert row is not None
        return row.event_title


@pytest.mark.parametrize(
    ("title", "named"),
    [
        ("{study.__class__}", "{study.__class__}"),
        ("{study:>50000000}", "{study:>50000000}"),
        ("{name!r} — {study}", "{name!r}"),
        ("{study[0]}", "{study[0]}"),
        ("{0}", "{0}"),
        ("{email} {participant}", "{email}, {participant}"),
    ],
)
def test_a_title_with_anything_but_the_four_placeholders_is_refused_naming_them(
    setup: Setup, client: TestClient, title: str, named: str
) -> None:
    before = _stored_template(setup)
    status, english = _post_title(client, setup, title, language="en")
    assert status == 422
    assert f"Calendar event title: unknown placeholder in the title: {named}; the title may use" in english
    status, french = _post_title(client, setup, title, language="fr")
    assert status == 422
    assert (
        f"Titre de l'événement dans le calendrier : espace réservé inconnu dans le titre : {named}" in french
    )
    assert _stored_template(setup) == before  # nothing saved
    assert _written_title(setup, day=3) == "Onboarding — Ada"  # and bookings still use the old one


@pytest.mark.parametrize("title", ["{study", "study}", "{study}} — x", "a { b"])
def test_a_lone_brace_is_refused_and_doubled_braces_are_literal(
    setup: Setup, client: TestClient, title: str
) -> None:
    status, english = _post_title(client, setup, title, language="en")
    assert status == 422 and "write a brace of the title twice ({{ or }})" in english
    status, french = _post_title(client, setup, title, language="fr")
    assert status == 422 and "doublez une accolade du titre ({{ ou }})" in french


def test_the_four_placeholders_and_doubled_braces_reach_the_calendar_event(
    setup: Setup, client: TestClient
) -> None:
    status, _ = _post_title(client, setup, "{{{study}}} {session}: {first_name} ({name})", language="en")
    assert status == 200 and _stored_template(setup) == "{{{study}}} {session}: {first_name} ({name})"
    assert _written_title(setup, day=4) == "{Onboarding} Interview: Ada (Ada Lovelace)"


def test_a_long_participant_name_is_cut_at_1024_characters_in_the_event(
    setup: Setup, client: TestClient
) -> None:
    status, _ = _post_title(client, setup, " ".join(["{name}"] * 12), language="en")
    assert status == 200
    long_name = "Ada " + "L" * 190  # the booking form takes up to 200 characters
    title = _written_title(setup, day=5, name=long_name)
    assert len(title) == MAX_TITLE_LENGTH
    assert title.startswith(f"{long_name} {long_name} ") and title.endswith("…")


def test_a_template_stored_before_the_check_is_written_as_text_not_evaluated(setup: Setup) -> None:
    # An old row: the previous validation (str.format) accepted attribute access and format specs.
    with setup.runtime.ctx.sessions() as db, db.begin():
        row = db.get(StudySession, setup.session_id)
        assert row is not None
        row.event_title = "{study.__class__} {study:>5000} {first_name}"
    assert _written_title(setup, day=6) == "{study.__class__} {study:>5000} Ada"


def test_a_title_longer_than_the_column_or_with_a_line_break_is_refused(
    setup: Setup, client: TestClient
) -> None:
    status, english = _post_title(client, setup, "{study}" + "x" * 300, language="en")
    assert status == 422 and "the title may be at most 300 characters long" in english
    status, french = _post_title(client, setup, "{study}\n{name}", language="fr")
    assert (
        status == 422 and "le titre ne peut contenir ni retour à la ligne ni caractère de contrôle" in french
    )


def test_render_never_raises_and_check_accepts_what_render_fills() -> None:
    values = {"study": "S", "session": "T", "first_name": "F", "name": "N"}
    assert render_title(check_template("  "), values) == "S — F"
    assert render_title("{{name}} {name} }{ {x", values) == "{name} N }{ {x"
    assert render_title("{name}", {"name": "x" * 5000}) == "x" * 1023 + "…"
