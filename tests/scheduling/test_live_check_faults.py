"""The live check at booking never turns a sign-in failure into an error page.

A participant books on the public booking page while the researcher's Google or Microsoft account cannot be
opened: its refresh token was revoked (``invalid_grant``), the token endpoint answers 500 or hangs longer than
the live-check timeout, or the account uses the old Google integration past its removal date. The booking
is confirmed against synced data (noted ``live_check="synced"``), a busy synced time is still refused, the
account shows its state on the Integrations page, and the whole booking takes about the live-check timeout
at most.

The emulators' real token endpoints answer; a small proxy on loopback in front of them fails or stalls the
token requests on demand (the emulators inject faults into their APIs only).
"""

from __future__ import annotations

import json
import select
import socket
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import httpx
import pytest
from fastapi.testclient import TestClient

from creneau.calendars.sync import sync_account
from creneau.config import Settings
from creneau.emulators import google as google_emulator
from creneau.emulators import msgraph as graph_emulator
from creneau.runtime import Runtime
from creneau.store.models import Booking, CalendarAccount, Researcher
from creneau.web.app import create_app
from tests.calendars.cloud_helpers import Cloud, GoogleCloud, GraphCloud, add_account
from tests.cloud import point_settings_at
from tests.scheduling.conftest import at, day_ahead, make_session
from tests.servers import wait_until
from tests.web.conftest import csrf_of, seen, sign_in

LIVE_TIMEOUT = 1.0
HANG = 30.0  # the token endpoint's stall: far beyond the live-check timeout


class TokenProxy:
    """Forwards POSTs to an emulator (its token endpoints) or, by ``mode``, answers 500 or stalls."""

    def __init__(self, upstream: str) -> None:
        self.upstream = upstream.rstrip("/")
        self.mode = "forward"  # "forward", "error" (HTTP 500) or "hang"
        self.requests = 0
        self.in_flight = 0
        self.abandoned = 0  # stalled requests whose client gave up and closed the connection
        self.released = threading.Event()  # ends the stalls
        self._lock = threading.Lock()
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self._server.server_address[1]}"

    def release(self) -> None:
        """End every stall (they answer 500), and wait until no request is being answered."""
        self.mode = "error"
        self.released.set()
        deadline = time.monotonic() + 10
        while self.in_flight and time.monotonic() < deadline:
            time.sleep(0.02)
        assert not self.in_flight, "a token request is still being answered"

    def close(self) -> None:
        self.release()
        self._server.shutdown()
        self._server.server_close()

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        proxy = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, format: str, *args: object) -> None:
                pass

            def do_POST(self) -> None:
                with proxy._lock:
                    proxy.requests += 1
                    proxy.in_flight += 1
                try:
                    self._answer()
                finally:
                    with proxy._lock:
                        proxy.in_flight -= 1

            def _answer(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                if proxy.mode == "hang" and self._client_left_while_stalled():
                    with proxy._lock:
                        proxy.abandoned += 1
                    return
                if proxy.mode != "forward":
                    self._send(500, b'{"error": "server_error"}', "application/json")
                    return
                answer = httpx.post(
                    proxy.upstream + self.path,
                    content=body,
                    headers={"Content-Type": self.headers.get("Content-Type", "")},
                    timeout=10,
                )
                self._send(answer.status_code, answer.content, answer.headers.get("content-type", ""))

            def _client_left_while_stalled(self) -> bool:
                """Stall until released (or ``HANG`` seconds); True as soon as the client hangs up."""
                deadline = time.monotonic() + HANG
                while not proxy.released.is_set() and time.monotonic() < deadline:
                    ready, _, _ = select.select([self.connection], [], [], 0.05)
                    if ready and not self.connection.recv(1, socket.MSG_PEEK):
                        return True
                return False

            def _send(self, status: int, content: bytes, kind: str) -> None:
                try:
                    self.send_response(status)
                    self.send_header("Content-Type", kind)
                    self.send_header("Content-Length", str(len(content)))
                    self.end_headers()
                    self.wfile.write(content)
                except OSError:  # the client gave up waiting
                    pass

        return Handler


@pytest.fixture
def google_tokens(google: google_emulator.RunningEmulator) -> Iterator[TokenProxy]:
    proxy = TokenProxy(google.url)
    yield proxy
    proxy.close()


@pytest.fixture
def graph_tokens(graph: graph_emulator.RunningEmulator) -> Iterator[TokenProxy]:
    proxy = TokenProxy(graph.url)
    yield proxy
    proxy.close()


@pytest.fixture
def settings(
    settings: Settings,
    google: google_emulator.RunningEmulator,
    graph: graph_emulator.RunningEmulator,
    google_tokens: TokenProxy,
    graph_tokens: TokenProxy,
) -> Settings:
    point_settings_at(settings, google, graph)
    settings.google_token_url = f"{google_tokens.url}/token"
    settings.microsoft_login_url = graph_tokens.url  # the token URLs are under it
    settings.live_check_timeout_seconds = LIVE_TIMEOUT
    settings.run_background_jobs = False
    return settings


@pytest.fixture
def client(runtime: Runtime) -> Iterator[TestClient]:
    with TestClient(create_app(runtime), follow_redirects=True) as test_client:
        yield test_client


@dataclass
class Booked:
    """A researcher's cloud account, synced with one busy meeting, and a booking page on its busy times."""

    cloud: Cloud
    account_id: int
    token: str
    busy: datetime  # the synced meeting's start (one hour)
    free: datetime  # a free slot the same day


def prepare(runtime: Runtime, researcher: Researcher, cloud: Cloud, *, connector: str = "") -> Booked:
    account_id = add_account(runtime, researcher.id, cloud)
    if connector:
        with runtime.ctx.sessions() as db, db.begin():
            account = db.get(CalendarAccount, account_id)
            assert account is not None
            account.connector = connector
    day = day_ahead(3)
    busy, free = at(day, 10), at(day, 14)
    cloud.add_single(cloud.calendars[0], busy, busy + timedelta(hours=1), "Synced meeting", "busy")
    report = sync_account(runtime.ctx, account_id=account_id)
    assert report is not None and report.status == "ok", report
    study_session = make_session(runtime, researcher, destination=None)
    return Booked(cloud, account_id, study_session.public_token, busy, free)


def expire_stored_token(runtime: Runtime, account_id: int) -> None:
    """The stored access token is past its expiry: opening the account must refresh it first."""
    with runtime.ctx.sessions() as db, db.begin():
        account = db.get(CalendarAccount, account_id)
        assert account is not None
        secret = json.loads(runtime.ctx.vault.decrypt(account.credentials))
        secret["expires_at"] = time.time() - 60
        account.credentials = runtime.ctx.vault.encrypt(json.dumps(secret))


def book(client: TestClient, token: str, start: datetime) -> tuple[httpx.Response, float]:
    """The participant confirms ``start`` on the booking page; returns the answer and how long it took."""
    confirm = client.get(f"/book/{token}/confirm", params={"start": start.isoformat(), "tz": "Europe/Paris"})
    assert confirm.status_code == 200, confirm.text
    form = {
        "csrf_token": csrf_of(confirm.text),
        "start": start.isoformat(),
        "tz": "Europe/Paris",
        "name": "Ada Lovelace",
        "email": "ada@example.org",
    }
    began = time.monotonic()
    answer = client.post(f"/book/{token}", data=form)
    return answer, time.monotonic() - began


def bookings(runtime: Runtime) -> list[Booking]:
    with runtime.ctx.sessions() as db:
        return list(db.query(Booking).order_by(Booking.id))


def account_status(runtime: Runtime, account_id: int) -> tuple[str, str]:
    with runtime.ctx.sessions() as db:
        account = db.get(CalendarAccount, account_id)
        assert account is not None
        return account.status, account.status_detail or ""


def assert_confirmed_on_synced_data(runtime: Runtime, client: TestClient, booked: Booked) -> Booking:
    answer, took = book(client, booked.token, booked.free)
    assert answer.status_code == 200 and "Votre session est réservée" in seen(answer), answer.text
    assert took < LIVE_TIMEOUT + 3, f"the booking took {took:.1f}s"
    (booking,) = bookings(runtime)
    assert booking.start == booked.free and booking.status == "confirmed"
    assert booking.live_check == "synced", booking.live_check_detail
    assert booked.cloud.email in booking.live_check_detail

    # The synced meeting still blocks its slot: the participant is shown the other free slots.
    refused, took = book(client, booked.token, booked.busy)
    assert refused.status_code == 409, refused.text
    assert took < LIVE_TIMEOUT + 3, f"the refusal took {took:.1f}s"
    assert len(bookings(runtime)) == 1
    return booking


def integrations_page(client: TestClient, researcher: Researcher) -> str:
    sign_in(client, researcher.email)
    page = client.get("/settings/integrations", headers={"Accept-Language": "en"})
    assert page.status_code == 200
    return seen(page)


@pytest.mark.parametrize("kind", ["google", "graph"])
def test_a_refused_refresh_books_on_synced_data_and_flags_the_account(
    runtime: Runtime,
    client: TestClient,
    researcher: Researcher,
    google: google_emulator.RunningEmulator,
    graph: graph_emulator.RunningEmulator,
    kind: str,
) -> None:
    cloud: Cloud = GoogleCloud(google) if kind == "google" else GraphCloud(graph)
    booked = prepare(runtime, researcher, cloud)
    expire_stored_token(runtime, booked.account_id)
    cloud.refuse_access()  # the researcher removed creneau's access: the refresh answers invalid_grant

    booking = assert_confirmed_on_synced_data(runtime, client, booked)
    assert "reconnect_needed" in booking.live_check_detail or "auth_expired" in booking.live_check_detail
    status, detail = account_status(runtime, booked.account_id)
    assert status == "reconnect_needed" and detail.startswith("auth_expired"), (status, detail)
    page = integrations_page(client, researcher)
    assert "creneau no longer has access to this account" in page


@pytest.mark.parametrize("mode", ["error", "hang"])
def test_a_failing_token_endpoint_books_on_synced_data_within_the_timeout(
    runtime: Runtime,
    client: TestClient,
    researcher: Researcher,
    google: google_emulator.RunningEmulator,
    google_tokens: TokenProxy,
    mode: str,
) -> None:
    booked = prepare(runtime, researcher, GoogleCloud(google))
    expire_stored_token(runtime, booked.account_id)
    google_tokens.mode = mode
    try:
        booking = assert_confirmed_on_synced_data(runtime, client, booked)
        assert google_tokens.requests >= 1  # the live check did try to refresh
        if mode == "hang":
            assert "timeout" in booking.live_check_detail or "unreachable" in booking.live_check_detail
            # The token request itself gave up after the live-check timeout: no refresh left hanging
            # (holding the account's row) long after the participant was answered.
            wait_until(lambda: google_tokens.abandoned == 1, timeout=LIVE_TIMEOUT + 2, what="abandoned")
        else:
            assert "transient" in booking.live_check_detail, booking.live_check_detail
    finally:
        google_tokens.release()
    # A token endpoint that fails says nothing about the grant: the account is not flagged.
    status, _ = account_status(runtime, booked.account_id)
    assert status == "ok"


def test_refreshes_of_several_accounts_stall_together_not_one_after_another(
    runtime: Runtime,
    client: TestClient,
    researcher: Researcher,
    google: google_emulator.RunningEmulator,
    graph: graph_emulator.RunningEmulator,
    google_tokens: TokenProxy,
    graph_tokens: TokenProxy,
) -> None:
    """Three accounts whose token endpoints all stall: the booking still waits about one timeout."""
    booked = prepare(runtime, researcher, GoogleCloud(google))
    others = [GoogleCloud(google), GraphCloud(graph)]
    for cloud in others:
        account_id = add_account(runtime, researcher.id, cloud)
        report = sync_account(runtime.ctx, account_id=account_id)
        assert report is not None and report.status == "ok", report
    with runtime.ctx.sessions() as db:
        ids = [a.id for a in db.query(CalendarAccount).filter_by(researcher_id=researcher.id)]
    for account_id in ids:
        expire_stored_token(runtime, account_id)
    google_tokens.mode = graph_tokens.mode = "hang"
    try:
        answer, took = book(client, booked.token, booked.free)
        assert answer.status_code == 200 and "Votre session est réservée" in seen(answer), answer.text
        assert took < LIVE_TIMEOUT + 3, f"the booking took {took:.1f}s"
        (booking,) = bookings(runtime)
        assert booking.live_check == "synced"
        for cloud in (booked.cloud, *others):
            assert cloud.email in booking.live_check_detail, booking.live_check_detail
        assert google_tokens.requests == 2 and graph_tokens.requests == 1
    finally:
        google_tokens.release()
        graph_tokens.release()


def test_the_old_google_integration_past_its_removal_date_books_on_synced_data(
    runtime: Runtime,
    client: TestClient,
    researcher: Researcher,
    google: google_emulator.RunningEmulator,
) -> None:
    booked = prepare(runtime, researcher, GoogleCloud(google), connector="google_legacy")
    runtime.settings.legacy_google_removal_date = (datetime.now(UTC) - timedelta(days=1)).date()

    booking = assert_confirmed_on_synced_data(runtime, client, booked)
    assert "integration_retired" in booking.live_check_detail, booking.live_check_detail
    status, detail = account_status(runtime, booked.account_id)
    assert status == "reconnect_needed" and detail.startswith("integration_retired"), (status, detail)
    page = integrations_page(client, researcher)
    assert "The old Google integration has been removed" in page
