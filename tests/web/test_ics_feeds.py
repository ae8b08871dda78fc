"""Subscribe to a feed, through the real pages and the API, against a feed served on loopback: the feed's
events block the booking page's slots (synced, and by the live check at booking), the feed is never offered
as a destination, and every failure is its own translated message with nothing stored."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select

from creneau.errors import ValidationFailed
from creneau.runtime import Runtime
from creneau.scheduling.studies import SessionSettings, update_settings
from creneau.store.models import Calendar, CalendarAccount, Researcher, SyncedEvent
from tests.providers.ics_harness import FeedFile, FeedServer, Raw, serve_feeds
from tests.providers.test_ics import BROKEN_FEED
from tests.scheduling.conftest import at, day_ahead, ics, make_session
from tests.servers import free_port
from tests.web.conftest import csrf_of, seen
from tests.web.test_api import token_for

PAGE = "/settings/integrations"
FEED = "/timetable.ics"


@pytest.fixture
def feeds() -> Iterator[FeedServer]:
    yield from serve_feeds()


@pytest.fixture
def timetable(feeds: FeedServer) -> FeedFile:
    feed = FeedFile(name="Emploi du temps L3")
    feed.objects["lecture"] = ics("lecture", at(day_ahead(3), 10))
    feeds.feeds[FEED] = feed
    return feed


def subscribe(client: TestClient, token: str, url: str, *, lang: str = "fr", **fields: str) -> httpx.Response:
    data = {"csrf_token": token, "provider": "ics", "server_url": url, **fields}
    response: httpx.Response = client.post(f"{PAGE}/accounts", data=data, headers={"Accept-Language": lang})
    return response


def accounts(runtime: Runtime) -> int:
    with runtime.ctx.sessions() as db:
        return db.scalar(select(func.count()).select_from(CalendarAccount)) or 0


def synced(runtime: Runtime) -> None:
    assert runtime.jobs.wait_idle(timeout=60), "the sync did not finish"


def test_subscribing_stores_one_read_only_calendar_checked_for_conflicts(
    client: TestClient, signed_in: str, runtime: Runtime, feeds: FeedServer, timetable: FeedFile
) -> None:
    page = client.get(PAGE)
    assert 'id="connect-ics"' in page.text and "S'abonner à un agenda" in seen(page)
    answer = subscribe(client, signed_in, feeds.url(FEED))
    assert answer.status_code == 200 and answer.url.path == PAGE
    assert "ICS — Emploi du temps L3" in seen(answer)
    synced(runtime)
    with runtime.ctx.sessions() as db:
        account = db.scalars(select(CalendarAccount)).one()
        assert (account.provider, account.server_url, account.status) == ("ics", feeds.url(FEED), "ok")
        [calendar] = account.calendars
        assert (calendar.name, calendar.read_only, calendar.check_conflicts) == (
            "Emploi du temps L3",
            True,
            True,
        )
        stored = db.scalars(select(SyncedEvent).where(SyncedEvent.calendar_id == calendar.id)).all()
        assert [e.remote_id for e in stored] == ["lecture"]
    # The next sync is one conditional GET answered 304.
    runtime.jobs.enqueue_sync(account.id)
    synced(runtime)
    assert feeds.statuses(FEED)[-1] == 304

    twice = subscribe(client, signed_in, feeds.url(FEED))
    assert twice.status_code == 422 and "vous êtes déjà abonné à cet agenda" in seen(twice)
    # webcal:// is read as https://, which this plain-HTTP server does not speak: the TLS handshake fails.
    webcal = subscribe(client, signed_in, "webcal://" + feeds.url(FEED).removeprefix("http://"))
    assert webcal.status_code == 422 and "Impossible de joindre le serveur de l'agenda" in seen(webcal)
    assert accounts(runtime) == 1


def test_a_feed_grown_too_large_is_an_account_error_and_its_events_still_count(
    client: TestClient, signed_in: str, runtime: Runtime, feeds: FeedServer, timetable: FeedFile
) -> None:
    subscribe(client, signed_in, feeds.url(FEED))
    synced(runtime)
    runtime.settings.ics_max_bytes = 1024
    timetable.extra = "X-PADDING:" + "y" * 2000 + "\r\n"
    timetable.version += 1
    with runtime.ctx.sessions() as db:
        account_id = db.scalars(select(CalendarAccount.id)).one()
    runtime.jobs.enqueue_sync(account_id)
    synced(runtime)
    with runtime.ctx.sessions() as db:
        account = db.get(CalendarAccount, account_id)
        assert account is not None
        assert account.status == "error" and account.status_detail.startswith("too_large: ")
        assert db.scalar(select(func.count()).select_from(SyncedEvent)) == 1  # the lecture still counts
    page = client.get(PAGE, headers={"Accept-Language": "en"})
    assert "larger than this creneau accepts" in seen(page)


def test_a_feed_whose_link_expired_says_so_not_password(
    client: TestClient, signed_in: str, runtime: Runtime, feeds: FeedServer, timetable: FeedFile
) -> None:
    subscribe(client, signed_in, feeds.url(FEED))
    synced(runtime)
    feeds.raw[FEED] = Raw(403, "text/plain", b"this link was revoked")
    with runtime.ctx.sessions() as db:
        account_id = db.scalars(select(CalendarAccount.id)).one()
    runtime.jobs.enqueue_sync(account_id)
    synced(runtime)
    page = seen(client.get(PAGE, headers={"Accept-Language": "en"}))
    assert "the subscription link may have changed or expired" in page
    assert "password" not in page.split("ICS — Emploi du temps L3", 1)[1].split("</section>", 1)[0].lower()


@pytest.mark.parametrize("lang", ["fr", "en"])
def test_each_failure_has_its_own_message_and_stores_nothing(
    client: TestClient, signed_in: str, runtime: Runtime, feeds: FeedServer, timetable: FeedFile, lang: str
) -> None:
    feeds.raw["/page.html"] = Raw(200, "text/html", b"<html><body>Planning</body></html>")
    feeds.raw["/to-lan.ics"] = Raw(302, headers={"Location": "http://10.9.8.7/feed.ics"})
    feeds.raw["/revoked.ics"] = Raw(401, "text/plain", b"expired")
    runtime.settings.ics_max_bytes = 1024
    feeds.feeds["/big.ics"] = FeedFile(extra="X-PADDING:" + "y" * 2000 + "\r\n")
    words = {
        "fr": {
            "/page.html": "ne donne pas un agenda",
            "/missing.ics": "ne donne pas un agenda",
            "/big.ics": "plus grand que ce que ce creneau accepte",
            "/to-lan.ics": "réseau privé",
            "/revoked.ics": "Le serveur de l'agenda a refusé l'accès",
            "closed": "Impossible de joindre le serveur de l'agenda",
            "ftp": "doit commencer par webcal://",
        },
        "en": {
            "/page.html": "does not give a calendar feed",
            "/missing.ics": "does not give a calendar feed",
            "/big.ics": "larger than this creneau accepts",
            "/to-lan.ics": "private network",
            "/revoked.ics": "The feed's server refused access",
            "closed": "Could not reach the feed's server",
            "ftp": "must start with webcal://",
        },
    }[lang]
    for case, expected in words.items():
        if case == "closed":
            url = f"http://127.0.0.1:{free_port()}/feed.ics"
        elif case == "ftp":
            url = "ftp://example.org/feed.ics"
        else:
            url = feeds.url(case)
        answer = subscribe(client, signed_in, url, lang=lang)
        assert answer.status_code in (422, 502), (case, answer.status_code)
        text = seen(answer)
        assert expected in text, (case, text[text.find("form-error") - 200 : text.find("form-error") + 400])
        assert 'id="connect-ics-error"' in answer.text
        assert f'value="{url}"' in answer.text  # what was typed is kept
        assert accounts(runtime) == 0


def test_the_api_subscribes_and_names_each_failure(
    client: TestClient, runtime: Runtime, researcher: Researcher, feeds: FeedServer, timetable: FeedFile
) -> None:
    auth = token_for(runtime, researcher)
    feeds.raw["/page.html"] = Raw(200, "text/html", b"<html></html>")
    bad = client.post("/api/v1/feeds", json={"url": feeds.url("/page.html")}, headers=auth)
    assert bad.status_code == 422
    assert bad.json()["detail"]["code"] == "not_feed" and bad.json()["detail"]["field"] == "server_url"
    feeds.raw["/revoked.ics"] = Raw(403, "text/plain", b"no")
    refused = client.post("/api/v1/feeds", json={"url": feeds.url("/revoked.ics")}, headers=auth)
    assert refused.status_code == 422
    assert refused.json()["detail"]["code"] == "auth_failed"
    assert refused.json()["detail"]["field"] == "server_url"
    wrong = client.post("/api/v1/feeds", json={"url": "gopher://x"}, headers=auth)
    assert wrong.status_code == 422 and wrong.json()["detail"]["field"] == "server_url"
    assert client.post("/api/v1/feeds", json={}, headers=auth).status_code == 422
    assert accounts(runtime) == 0

    made = client.post("/api/v1/feeds", json={"url": feeds.url(FEED)}, headers=auth)
    assert made.status_code == 201, made.text
    body = made.json()
    assert body["provider"] == "ics"
    assert [(c["name"], c["read_only"], c["check_conflicts"]) for c in body["calendars"]] == [
        ("Emploi du temps L3", True, True)
    ]
    twice = client.post("/api/v1/feeds", json={"url": feeds.url(FEED)}, headers=auth)
    assert twice.status_code == 422 and twice.json()["detail"]["field"] == "server_url"
    assert accounts(runtime) == 1


def test_a_feed_event_blocks_the_booking_page_and_is_never_a_destination(
    client: TestClient,
    signed_in: str,
    runtime: Runtime,
    researcher: Researcher,
    feeds: FeedServer,
    timetable: FeedFile,
) -> None:
    runtime.settings.booking_page_sync_seconds = 3600  # the page reads synced data; the booking checks live
    study_session = make_session(runtime, researcher, destination=None)
    settings_page = f"/sessions/{study_session.id}/settings"
    here = client.get(settings_page)
    assert 'id="connect-ics"' in here.text  # "Connect a calendar" right in the appointment settings
    back = subscribe(client, signed_in, feeds.url(FEED), next=settings_page)
    assert back.status_code == 200 and back.url.path == settings_page
    synced(runtime)
    with runtime.ctx.sessions() as db:
        feed_calendar = db.scalars(select(Calendar)).one()
    choice = back.text.split('id="destination-calendar"', 1)[1].split("</select>", 1)[0]
    assert "<option" in choice and f'value="{feed_calendar.id}"' not in choice  # never a destination
    assert "Emploi du temps L3" not in choice
    s = study_session
    wanted = SessionSettings(
        name=s.name,
        manager_id=researcher.id,
        destination_calendar_id=feed_calendar.id,
        event_title=s.event_title,
        duration_minutes=s.duration_minutes,
        location_kind=s.location_kind,
        address=s.address,
        timezone=s.timezone,
        availability=s.availability,
        slot_interval_minutes=s.slot_interval_minutes,
        buffer_before_minutes=s.buffer_before_minutes,
        buffer_after_minutes=s.buffer_after_minutes,
        min_notice_minutes=s.min_notice_minutes,
        horizon_days=s.horizon_days,
        max_per_day=s.max_per_day,
        booking_open=True,
    )
    with runtime.ctx.sessions() as db, db.begin(), pytest.raises(ValidationFailed) as refused:
        update_settings(db, researcher_id=researcher.id, session_id=study_session.id, settings=wanted)
    assert refused.value.field == "destination_calendar_id"

    day = day_ahead(3)
    week = {"tz": "UTC", "week": day.isoformat()}
    page = client.get(f"/book/{study_session.public_token}", params=week)
    assert page.status_code == 200
    offered = page.text
    assert f'data-start="{at(day, 10).isoformat()}"' not in offered  # the lecture, 10:00-11:00
    assert f'data-start="{at(day, 9, 30).isoformat()}"' not in offered  # would overlap it
    assert f'data-start="{at(day, 11).isoformat()}"' in offered
    assert f'data-start="{at(day, 15).isoformat()}"' in offered

    # A seminar appears in the feed after the last sync: the live check at booking reads the feed itself.
    feeds.feeds[FEED].objects["seminar"] = ics("seminar", at(day, 15))
    feeds.feeds[FEED].version += 1

    def book(hour: int) -> httpx.Response:
        start = at(day, hour).isoformat()
        token = study_session.public_token
        confirm = client.get(f"/book/{token}/confirm", params={"start": start, "tz": "UTC"})
        data = {
            "csrf_token": csrf_of(confirm.text),
            "start": start,
            "tz": "UTC",
            "name": "Ada Lovelace",
            "email": "ada@example.org",
        }
        answer: httpx.Response = client.post(f"/book/{token}", data=data, headers={"Accept-Language": "en"})
        return answer

    assert "This slot is no longer free" in seen(book(15))
    assert 'id="booked"' in book(17).text  # a free time is booked as ever


def test_a_broken_feed_is_read_and_its_skipped_and_repaired_events_reported(
    client: TestClient, runtime: Runtime, researcher: Researcher, feeds: FeedServer
) -> None:
    feeds.raw["/broken.ics"] = Raw(200, "text/calendar", BROKEN_FEED.encode())
    auth = token_for(runtime, researcher)
    made = client.post("/api/v1/feeds", json={"url": feeds.url("/broken.ics")}, headers=auth)
    assert made.status_code == 201
    synced(runtime)
    [account] = client.get("/api/v1/accounts", headers=auth).json()["accounts"]
    assert account["status"] == "ok"
    [calendar] = account["calendars"]
    assert calendar["malformed_count"] == 2  # no readable date; no END:VEVENT
    assert "cut-off" in calendar["malformed_detail"] and "no-date" in calendar["malformed_detail"]
    assert calendar["repaired_count"] == 2  # no UID; an empty RRULE
    with runtime.ctx.sessions() as db:
        stored = set(db.scalars(select(SyncedEvent.remote_id)))
    assert {"empty-rule", "named-zone", "floating", "after-cut"} <= stored
