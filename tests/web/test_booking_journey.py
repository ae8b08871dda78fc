"""The whole journey in a real Chromium against Radicale: the researcher connects an account from a session's
appointment settings, chooses the destination calendar; a participant in another time zone books from the
public page; the event appears in Radicale with the Jitsi link; an event added straight into Radicale removes
the overlapping slot from the page; cancelling the booking removes the event from Radicale."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import icalendar
import pytest

from creneau.runtime import Runtime
from creneau.store.models import Researcher
from tests.conftest import RESEARCHER_PASSWORD
from tests.servers import RunningServer, wait_until
from tests.web.conftest import RADICALE_PASSWORD, RADICALE_USER, ics
from tests.web.test_browser import TIMEOUT_MS, browser_page, live_server  # noqa: F401 - fixtures

pytestmark = pytest.mark.browser
playwright_sync = pytest.importorskip("playwright.sync_api")


def work_events(radicale: RunningServer) -> list[icalendar.cal.Component]:
    found = []
    for text in radicale.stored_events(RADICALE_USER, "work"):
        found.extend(icalendar.Calendar.from_ical(text).walk("VEVENT"))
    return found


def test_a_participant_books_and_the_calendar_follows(
    browser_page: Any,  # noqa: F811 - the imported fixture
    live_server: str,  # noqa: F811
    runtime: Runtime,
    researcher: Researcher,
    radicale: RunningServer,
) -> None:
    runtime.settings.booking_page_sync_seconds = 1  # opening the booking page syncs what is older
    page = browser_page
    expect = playwright_sync.expect

    page.goto("/studies")
    page.get_by_label("E-mail").fill(researcher.email)
    page.get_by_label("Mot de passe").fill(RESEARCHER_PASSWORD)
    page.locator("main button[type=submit]").click()
    expect(page.get_by_role("heading", name="Études", level=1)).to_be_visible()
    page.get_by_label("Nom de l'étude").fill("Étude pilote")
    page.get_by_role("button", name="Créer une étude").click()
    page.get_by_label("Nom de la session").fill("Entretien")
    page.get_by_role("button", name="Ajouter une session").click()
    expect(page.get_by_role("heading", level=1)).to_contain_text("Paramètres des rendez-vous")

    # No calendar yet: "Connect a calendar" is offered right here, and brings us back.
    here = page.locator("#connect-here")
    expect(here).to_be_visible()
    form = here.locator("#connect-caldav")
    form.get_by_label("Adresse du serveur").fill(radicale.url)
    form.get_by_label("Nom d'utilisateur").fill(RADICALE_USER)
    form.get_by_label("Mot de passe").fill(RADICALE_PASSWORD)
    form.get_by_role("button", name="Connecter un calendrier").click()
    expect(page.get_by_role("heading", level=1)).to_contain_text("Paramètres des rendez-vous")
    expect(page.locator("#connect-here")).to_have_count(0)
    destination = page.locator("#destination-calendar")
    expect(destination.locator("option:checked")).not_to_have_attribute("value", "none")  # preselected
    work = destination.locator("option", has_text="Work")
    expect(work).to_contain_text(RADICALE_USER)  # each calendar is labelled with its account
    destination.select_option(work.get_attribute("value"))
    for day in range(7):
        page.locator(f"input[name=weekly_{day}]").fill("08:00-20:00")
    page.locator("input[name=min_notice_hours]").fill("0")
    page.locator("select[name=timezone]").select_option("Europe/Paris")
    page.get_by_role("button", name="Enregistrer").click()
    expect(page.get_by_text("Les paramètres des rendez-vous sont enregistrés.")).to_be_visible()
    booking_path = page.locator("a.public-link").first.get_attribute("href")
    assert booking_path and booking_path.startswith("/book/")

    # The participant: another browser context, in English, in New York.
    participant = page.context.browser.new_context(
        locale="en-US", timezone_id="America/New_York", base_url=live_server
    )
    participant.set_default_timeout(TIMEOUT_MS)
    p = participant.new_page()
    next_week = (datetime.now(ZoneInfo("America/New_York")) + timedelta(days=7)).date()
    p.goto(f"{booking_path}?week={next_week.isoformat()}")
    expect(p.locator("#tz-select")).to_have_value("America/New_York")  # the browser's zone, by itself
    slots = p.locator("a.slot")
    expect(slots.first).to_be_visible()
    first_start = datetime.fromisoformat(slots.first.get_attribute("data-start") or "")
    assert first_start.utcoffset() in (timedelta(hours=-5), timedelta(hours=-4))
    slots.first.click()
    p.get_by_label("Your name").fill("Ada Lovelace")
    p.get_by_label("Your email").fill("ada@example.org")
    p.get_by_role("button", name="Book this slot").click()
    expect(p.locator("#booked")).to_be_visible()
    join_url = p.locator("#join-url").inner_text()
    assert join_url.startswith("https://meet.jit.si/")

    def booked_event() -> list[Any]:
        return [e for e in work_events(radicale) if join_url in str(e.get("DESCRIPTION", ""))]

    wait_until(lambda: len(booked_event()) == 1, timeout=30, what="the booking's event in Radicale")
    (event,) = booked_event()
    assert event.decoded("DTSTART") == first_start.astimezone(UTC)
    assert str(event["SUMMARY"]) == "Étude pilote — Ada"

    # The researcher adds an event in their calendar app; the booking page stops offering that time.
    def offered() -> list[str]:
        p.goto(f"{booking_path}?week={next_week.isoformat()}&tz=America%2FNew_York")
        return [s.get_attribute("data-start") or "" for s in p.locator("a.slot").all()]

    before = offered()
    assert first_start.isoformat() not in before  # booked, so not offered any more
    later = datetime.fromisoformat(before[3])
    radicale.put_event(RADICALE_USER, "home", "call.ics", ics("call", later.astimezone(UTC), hours=0.5))

    wait_until(lambda: later.isoformat() not in offered(), timeout=30, what="the busy slot to disappear")
    assert before[4] in offered()  # only what overlaps the new event went away

    # The researcher cancels the booking; the event leaves Radicale.
    page.goto(page.url.split("/settings")[0] + "/bookings")
    page.once("dialog", lambda dialog: dialog.accept())
    page.get_by_role("button", name="Annuler la réservation").click()
    expect(page.get_by_role("cell", name="Annulée")).to_be_visible()
    wait_until(lambda: booked_event() == [], timeout=30, what="the event to leave Radicale")
    participant.close()
