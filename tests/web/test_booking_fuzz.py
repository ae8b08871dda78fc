"""Hypothesis against the participant's public pages: any query or form value (time zones, weeks, slot
starts, numbers of days, names, emails, links), however odd, is answered below 500."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from urllib.parse import quote

import pytest
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from creneau.runtime import Runtime
from creneau.scheduling import booking as bookings
from creneau.scheduling.notify import participant_links
from creneau.store.models import Researcher
from creneau.web.app import create_app
from tests.scheduling.conftest import PARTICIPANT, day_ahead, make_session
from tests.web.conftest import csrf_of

FUZZ = settings(
    max_examples=60,
    derandomize=True,
    deadline=None,
    database=None,
    suppress_health_check=list(HealthCheck),
)
# Text as a browser or a script may send it, and the values near the edges that broke before.
text = st.one_of(
    st.text(st.characters(exclude_categories=["Cs"]), max_size=80),  # what a client can encode
    st.sampled_from(
        [
            "Europe",
            "Etc",
            "__pycache__",
            "../x",
            "x" * 300,
            "9999-12-31",
            "0001-01-01",
            "0001-01-01T00:00:00+14:00",
            "9999-12-31T23:59:59-12:00",
            "2147483648",
            "-1",
            "\x00",
            "Ada\u202eLovelace",
        ]
    ),
)
numbers = st.one_of(st.integers(), st.text(max_size=30))


@pytest.fixture
def public(runtime: Runtime, researcher: Researcher) -> Iterator[tuple[TestClient, str, str]]:
    """A client, a session's public token and the path of a booking's signed link."""
    runtime.settings.run_background_jobs = False
    token = make_session(runtime, researcher, destination=None).public_token
    start = datetime.combine(day_ahead(3), datetime.min.time(), UTC).replace(hour=10)
    booking = bookings.book(runtime.sched, token=token, start=start, participant=PARTICIPANT)
    link = participant_links(runtime.sched, booking)["manage"].removeprefix(
        runtime.settings.base_url.rstrip("/")
    )
    with TestClient(create_app(runtime)) as client:
        yield client, token, link


def test_query_parameters_of_the_public_pages(public: tuple[TestClient, str, str]) -> None:
    client, token, link = public

    @FUZZ
    @given(tz=text, week=text, start=text, days=numbers)
    def answers(tz: str, week: str, start: str, days: object) -> None:
        for path, params in (
            (f"/book/{token}", {"tz": tz, "week": week}),
            (f"/book/{token}/slots.json", {"tz": tz, "start": week, "days": days}),
            (f"/book/{token}/confirm", {"start": start, "tz": tz}),
            (f"{link}/reschedule", {"week": week}),
            (link, {"new": days}),
        ):
            answer = client.get(path, params=params)
            assert answer.status_code < 500, (path, params, answer.text[:300])

    answers()


def test_form_fields_of_booking_and_rescheduling(public: tuple[TestClient, str, str]) -> None:
    client, token, link = public
    csrf = csrf_of(client.get(f"/book/{token}").text)

    @FUZZ
    @given(start=text, tz=text, name=text, email=text)
    def answers(start: str, tz: str, name: str, email: str) -> None:
        form = {"csrf_token": csrf, "start": start, "tz": tz, "name": name, "email": email}
        answer = client.post(f"/book/{token}", data=form)
        assert answer.status_code < 500, (form, answer.text[:300])
        answer = client.post(f"{link}/reschedule", data={"csrf_token": csrf, "start": start})
        assert answer.status_code < 500, (start, answer.text[:300])

    answers()


def test_paths_of_the_public_pages(public: tuple[TestClient, str, str]) -> None:
    client, _, _ = public

    @FUZZ
    @given(piece=text)
    def answers(piece: str) -> None:
        piece = quote(piece, safe="") or "x"  # as a browser sends it: percent-encoded
        for path in (
            f"/book/{piece}",
            f"/book/{piece}/slots.json",
            f"/booking/{piece}",
            f"/booking/{piece}/cancel",
        ):
            answer = client.get(path)
            assert answer.status_code < 500, (path, answer.text[:300])

    answers()
