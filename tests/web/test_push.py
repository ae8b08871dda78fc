"""Push notifications through the real path: the app served on a loopback port, accounts connected through
the emulators' consent pages, Google channels and Graph subscriptions calling our webhooks, the in-process
job runner syncing what they announce — and what Settings > Integrations says about it.

``settings.sync_interval_seconds`` is an hour here, so a change that shows up within seconds came by push,
never by the periodic sync: before waiting for one, a test checks that the account's next periodic sync is
far away (the ticker only queues accounts whose time has come).
"""

from __future__ import annotations

import html
import logging
import re
import socket
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import select
from sqlalchemy.orm import selectinload

from creneau.config import Settings
from creneau.emulators import google as google_emulator
from creneau.emulators import msgraph as graph_emulator
from creneau.runtime import Runtime
from creneau.store.models import BusyOccurrence, CalendarAccount, PushChannel, Researcher
from tests.cloud import CLIENT_ID, LiveApp, consent, point_settings_at
from tests.conftest import RESEARCHER_PASSWORD
from tests.servers import wait_until
from tests.web.conftest import csrf_of

PAGE = "/settings/integrations"
INSTANT = "Changes arrive instantly (push notifications)."
HOURLY = "Changes are checked every 60 minutes."  # sync_interval_seconds = 3600 in tests
NOT_SET_UP = "Push notifications could not be set up: "
EMAILS = {"google": "{}@gmail.example", "office365": "{}@contoso.example"}
IDLE = 30.0  # seconds the job runner may take to finish what is queued
PUSHED = 10.0  # seconds a pushed change may take to reach the database

Emulators = tuple[google_emulator.RunningEmulator, graph_emulator.RunningEmulator]


@pytest.fixture
def live() -> LiveApp:
    return LiveApp.reserve()


@pytest.fixture
def settings(
    settings: Settings,
    google: google_emulator.RunningEmulator,
    graph: graph_emulator.RunningEmulator,
    live: LiveApp,
) -> Settings:
    settings.base_url = live.url  # the OAuth redirect URI names the live server
    settings.push_base_url = live.url  # and so do the channels' addresses
    return point_settings_at(settings, google, graph)


@pytest.fixture
def served(app: FastAPI, live: LiveApp) -> Iterator[str]:
    """The app on its port; its lifespan starts the in-process job runner (and its ticker)."""
    yield from live.serve(app)


@pytest.fixture
def browser(served: str, researcher: Researcher) -> Iterator[httpx.Client]:
    """The researcher's browser, signed in, reading English pages from the live server."""
    with httpx.Client(
        base_url=served, follow_redirects=True, headers={"Accept-Language": "en"}, timeout=20, trust_env=False
    ) as client:
        token = csrf_of(client.get("/login").text)
        signed = client.post(
            "/login", data={"email": researcher.email, "password": RESEARCHER_PASSWORD, "csrf_token": token}
        )
        assert signed.url.path == "/studies", signed.text
        yield client


# -- helpers -------------------------------------------------------------------------------------------------


def connect(browser: httpx.Client, connector: str, name: str) -> str:
    """Settings > Integrations > Connect …, the provider's consent page, back to our callback; returns the
    account's e-mail."""
    email = EMAILS[connector].format(name)
    started = browser.get(f"{PAGE}/connect/{connector}", follow_redirects=False)
    assert started.status_code == 303, started.text
    back = browser.get(consent(started.headers["location"], email))
    assert back.status_code == 200 and email in back.text, back.text
    return email


def account_of(runtime: Runtime, email: str) -> CalendarAccount:
    with runtime.ctx.sessions() as db:
        account = db.scalar(
            select(CalendarAccount)
            .where(CalendarAccount.username == email)
            .options(selectinload(CalendarAccount.calendars), selectinload(CalendarAccount.channels))
        )
        assert account is not None, email
        return account


def channels_of(runtime: Runtime, account_id: int) -> list[PushChannel]:
    with runtime.ctx.sessions() as db:
        return list(db.scalars(select(PushChannel).where(PushChannel.account_id == account_id)))


def idle(runtime: Runtime) -> None:
    assert runtime.jobs.wait_idle(IDLE), "the job runner did not finish its work"


def connected(
    runtime: Runtime, browser: httpx.Client, emulators: Emulators, connector: str, name: str
) -> CalendarAccount:
    """Connect, wait for the first sync, the channels it opens and Google's first ("sync") message to each;
    the account, synced and "ok"."""
    email = connect(browser, connector, name)
    wait_until(lambda: account_of(runtime, email).last_sync_at is not None, timeout=IDLE, what="first sync")
    idle(runtime)
    account = account_of(runtime, email)
    assert account.status == "ok", account.status_detail
    google, _ = emulators
    opened = [c.channel_id for c in account.channels if c.kind == "google"]
    wait_until(
        lambda: all(greeted(google, c) for c in opened),
        timeout=PUSHED,
        what="Google's first message to the new channel",
    )
    return account


def greeted(google: google_emulator.RunningEmulator, channel_id: str) -> bool:
    """Whether the emulator has delivered the channel's first ("sync") message (and had our answer)."""
    with google.state.lock:
        return any(d[0] == channel_id and d[1] == "sync" for d in google.state.notifier.delivered)


def sync_mode(browser: httpx.Client, account_id: int) -> str:
    """The account's sync-mode line on Settings > Integrations, as a reader sees it."""
    page = browser.get(PAGE)
    assert page.status_code == 200
    article = page.text.split(f'id="account-{account_id}"', 1)[1].split("</article>", 1)[0]
    line = article.split('class="sync-mode', 1)[1].split("</p>", 1)[0]
    return " ".join(_text(line).split())


def _text(fragment: str) -> str:
    return html.unescape(re.sub(r"<[^>]+>", " ", fragment.split(">", 1)[1]))


def far_from_periodic_sync(runtime: Runtime, account_id: int) -> None:
    """The ticker cannot sync the account during the test: its next periodic sync is most of an hour away."""
    with runtime.ctx.sessions() as db:
        account = db.get(CalendarAccount, account_id)
        assert account is not None and account.next_sync_at is not None
        assert account.next_sync_at > datetime.now(UTC) + timedelta(minutes=50), account.next_sync_at


def tomorrow_at(hour: int) -> datetime:
    day = (datetime.now(UTC) + timedelta(days=1)).date()
    return datetime(day.year, day.month, day.day, hour, tzinfo=UTC)


def add_event(
    emulators: Emulators, account: CalendarAccount, start: datetime, *, notify: bool = True
) -> None:
    """An hour-long busy event in the account's first calendar, made on the provider's side."""
    google, graph = emulators
    calendar = account.calendars[0].remote_id
    end = start + timedelta(hours=1)
    if account.provider == "google":
        assert notify, "Google's emulator always notifies"
        google.state.put_event(
            calendar,
            {
                "summary": "Made on the provider's side",
                "start": {"dateTime": start.strftime("%Y-%m-%dT%H:%M:%SZ")},
                "end": {"dateTime": end.strftime("%Y-%m-%dT%H:%M:%SZ")},
            },
        )
    else:
        graph.state.put_event(
            calendar,
            {
                "subject": "Made on the provider's side",
                "start": {"dateTime": start.strftime("%Y-%m-%dT%H:%M:%S.0000000"), "timeZone": "UTC"},
                "end": {"dateTime": end.strftime("%Y-%m-%dT%H:%M:%S.0000000"), "timeZone": "UTC"},
            },
            notify=notify,
        )


def busy_at(runtime: Runtime, account: CalendarAccount, start: datetime) -> bool:
    with runtime.ctx.sessions() as db:
        found = db.scalar(
            select(BusyOccurrence.id).where(
                BusyOccurrence.calendar_id.in_([c.id for c in account.calendars]),
                BusyOccurrence.start == start,
            )
        )
        return found is not None


def last_sync(runtime: Runtime, account_id: int) -> datetime | None:
    with runtime.ctx.sessions() as db:
        account = db.get(CalendarAccount, account_id)
        assert account is not None
        return account.last_sync_at


def google_channel(google: google_emulator.RunningEmulator, channel_id: str) -> Any:
    with google.state.lock:
        return google.state.notifier.channels.get(channel_id)


def graph_subscription(graph: graph_emulator.RunningEmulator, subscription_id: str) -> Any:
    with graph.state.lock:
        return graph.state.subscriptions.get(subscription_id)


def live_remote(emulators: Emulators, channel: PushChannel) -> bool:
    """Whether the provider still knows the channel and would notify it."""
    google, graph = emulators
    if channel.kind == "google":
        found = google_channel(google, channel.channel_id)
        return found is not None and not found.stopped
    return graph_subscription(graph, channel.channel_id) is not None


def set_expiry(runtime: Runtime, channel_row_id: int, expires_at: datetime) -> None:
    with runtime.ctx.sessions() as db, db.begin():
        channel = db.get(PushChannel, channel_row_id)
        assert channel is not None
        channel.expires_at = expires_at


def sync_now(browser: httpx.Client, account_id: int) -> None:
    """The "Sync now" button of the account on Settings > Integrations."""
    token = csrf_of(browser.get(PAGE).text)
    answer = browser.post(f"{PAGE}/accounts/{account_id}/sync", data={"csrf_token": token})
    assert answer.status_code == 200, answer.text


@pytest.fixture
def emulators(google: google_emulator.RunningEmulator, graph: graph_emulator.RunningEmulator) -> Emulators:
    return google, graph


# -- 1. a change reaches the database by push, not by the periodic sync -------------------------------------


@pytest.mark.parametrize("connector", ["google", "office365"])
def test_a_change_arrives_by_push_within_seconds(
    runtime: Runtime, browser: httpx.Client, emulators: Emulators, served: str, connector: str
) -> None:
    account = connected(runtime, browser, emulators, connector, f"instant-{connector}")
    (channel,) = channels_of(runtime, account.id)
    assert channel.calendar_id == account.calendars[0].id
    assert channel.expires_at > datetime.now(UTC) + timedelta(days=6)
    assert live_remote(emulators, channel)
    google, graph = emulators
    if connector == "google":
        remote = google_channel(google, channel.channel_id)
        assert remote.address == f"{served}/webhooks/google"
        assert remote.calendar_id == account.calendars[0].remote_id
    else:
        remote = graph_subscription(graph, channel.channel_id)
        assert remote.notification_url == f"{served}/webhooks/microsoft"
        assert remote.lifecycle_url == f"{served}/webhooks/microsoft/lifecycle"
        assert remote.resource == f"me/calendars/{account.calendars[0].remote_id}/events"
    assert sync_mode(browser, account.id) == INSTANT
    far_from_periodic_sync(runtime, account.id)

    start = tomorrow_at(10)
    assert not busy_at(runtime, account, start)
    before = last_sync(runtime, account.id)
    add_event(emulators, account, start)
    wait_until(lambda: busy_at(runtime, account, start), timeout=PUSHED, what="the pushed event, busy")
    idle(runtime)  # the busy rows are committed before the sync records its end
    after = last_sync(runtime, account.id)
    assert before is not None and after is not None and after > before
    # The notification was received and accepted: the provider saw our 2xx, we noted the message.
    (noted,) = channels_of(runtime, account.id)
    assert noted.last_message_at is not None and noted.last_message_at > before
    if connector == "google":
        with google.state.lock:
            assert (channel.channel_id, "exists", 2, 200) in google.state.notifier.delivered
    else:
        assert any(
            url.endswith("/webhooks/microsoft") and body["value"][0]["subscriptionId"] == channel.channel_id
            for url, body in list(graph.notifier.delivered)
        )


# -- 2. forged notifications are refused, logged, and sync nothing -------------------------------------------


@pytest.mark.parametrize("connector", ["google", "office365"])
def test_a_forged_notification_is_refused_and_syncs_nothing(
    runtime: Runtime,
    browser: httpx.Client,
    emulators: Emulators,
    served: str,
    connector: str,
    caplog: pytest.LogCaptureFixture,
) -> None:
    account = connected(runtime, browser, emulators, connector, f"forged-{connector}")
    (channel,) = channels_of(runtime, account.id)
    far_from_periodic_sync(runtime, account.id)
    before = last_sync(runtime, account.id)
    caplog.set_level(logging.WARNING, logger="creneau.calendars.push")
    caplog.clear()  # only what the forged requests below cause
    with httpx.Client(base_url=served, timeout=10, trust_env=False) as provider:
        if connector == "google":
            genuine = {
                "X-Goog-Channel-ID": channel.channel_id,
                "X-Goog-Resource-ID": channel.resource_id,
                "X-Goog-Resource-State": "exists",
                "X-Goog-Message-Number": "7",
            }
            forged = [
                {**genuine, "X-Goog-Channel-Token": "not-the-token"},
                genuine,  # no token at all
                {**genuine, "X-Goog-Channel-Token": "x", "X-Goog-Channel-ID": "an-unknown-channel"},
                {**genuine, "X-Goog-Resource-ID": "another-resource"},
            ]
            answers = [provider.post("/webhooks/google", headers=h, content=b"") for h in forged]
        else:

            def note(subscription: str, state: str) -> dict[str, Any]:
                return {
                    "value": [
                        {
                            "subscriptionId": subscription,
                            "clientState": state,
                            "changeType": "created",
                            "resource": "Users/x/Events/y",
                        }
                    ]
                }

            answers = [
                provider.post("/webhooks/microsoft", json=note(channel.channel_id, "not-the-client-state")),
                provider.post("/webhooks/microsoft", json=note("an-unknown-subscription", "whatever")),
                provider.post(
                    "/webhooks/microsoft/lifecycle",
                    json={
                        "value": [
                            {
                                "subscriptionId": channel.channel_id,
                                "clientState": "not-the-client-state",
                                "lifecycleEvent": "missed",
                            }
                        ]
                    },
                ),
            ]
    assert [a.status_code for a in answers] == [403] * len(answers)
    refused = [
        r for r in caplog.records if r.name == "creneau.calendars.push" and "push refused" in r.message
    ]
    assert len(refused) == len(answers) and all(r.levelno == logging.WARNING for r in refused)
    logged = caplog.text
    assert "not-the-" not in logged and runtime.ctx.vault.decrypt(channel.secret) not in logged
    idle(runtime)  # a queued sync would run (and change last_sync_at) before the runner is idle
    assert last_sync(runtime, account.id) == before
    (unchanged,) = channels_of(runtime, account.id)
    assert unchanged.last_message_at == channel.last_message_at


# -- 3. renewal, and Graph's lifecycle notifications --------------------------------------------------------


def test_a_google_channel_close_to_expiry_is_replaced_at_the_next_sync(
    runtime: Runtime, browser: httpx.Client, emulators: Emulators
) -> None:
    google, _ = emulators
    account = connected(runtime, browser, emulators, "google", "renew-google")
    (old,) = channels_of(runtime, account.id)
    set_expiry(runtime, old.id, datetime.now(UTC) + timedelta(minutes=30))  # within push_renew_before
    sync_now(browser, account.id)
    idle(runtime)
    (new,) = channels_of(runtime, account.id)
    assert new.channel_id != old.channel_id and new.calendar_id == old.calendar_id
    assert new.expires_at > datetime.now(UTC) + timedelta(days=6)
    assert google_channel(google, old.channel_id).stopped  # the old one stopped on Google's side
    assert live_remote(emulators, new)
    # The new channel is the one that works.
    far_from_periodic_sync(runtime, account.id)
    start = tomorrow_at(11)
    add_event(emulators, account, start)
    wait_until(lambda: busy_at(runtime, account, start), timeout=PUSHED, what="the pushed event, busy")
    assert sync_mode(browser, account.id) == INSTANT


def test_a_graph_subscription_close_to_expiry_is_renewed_or_made_again(
    runtime: Runtime, browser: httpx.Client, emulators: Emulators
) -> None:
    _, graph = emulators
    account = connected(runtime, browser, emulators, "office365", "renew-graph")
    (old,) = channels_of(runtime, account.id)
    soon = datetime.now(UTC) + timedelta(minutes=30)
    set_expiry(runtime, old.id, soon)
    with graph.state.lock:
        graph.state.subscriptions[old.channel_id].expires = soon
    sync_now(browser, account.id)
    idle(runtime)
    (renewed,) = channels_of(runtime, account.id)
    assert renewed.channel_id == old.channel_id  # PATCHed, not replaced
    assert renewed.expires_at > datetime.now(UTC) + timedelta(days=6)
    assert graph_subscription(graph, old.channel_id).expires > datetime.now(UTC) + timedelta(days=6)

    # Graph forgot the subscription meanwhile: the renewal finds it gone and subscribes again.
    with graph.state.lock:
        del graph.state.subscriptions[old.channel_id]
    set_expiry(runtime, old.id, soon)
    sync_now(browser, account.id)
    idle(runtime)
    (again,) = channels_of(runtime, account.id)
    assert again.channel_id != old.channel_id and live_remote(emulators, again)
    far_from_periodic_sync(runtime, account.id)
    start = tomorrow_at(12)
    add_event(emulators, account, start)
    wait_until(lambda: busy_at(runtime, account, start), timeout=PUSHED, what="the pushed event, busy")


def test_graph_lifecycle_notifications(runtime: Runtime, browser: httpx.Client, emulators: Emulators) -> None:
    _, graph = emulators
    account = connected(runtime, browser, emulators, "office365", "lifecycle")
    (first,) = channels_of(runtime, account.id)
    far_from_periodic_sync(runtime, account.id)

    # reauthorizationRequired: renewed now, although the expiry is days away.
    in_two_days = datetime.now(UTC) + timedelta(days=2)  # beyond push_renew_before_seconds (a day)
    set_expiry(runtime, first.id, in_two_days)
    with graph.state.lock:
        graph.state.subscriptions[first.channel_id].expires = in_two_days
    graph.notifier.lifecycle(first.channel_id, "reauthorizationRequired")
    wait_until(
        lambda: channels_of(runtime, account.id)[0].expires_at > datetime.now(UTC) + timedelta(days=6),
        timeout=PUSHED,
        what="the subscription renewed",
    )
    idle(runtime)
    (renewed,) = channels_of(runtime, account.id)
    assert renewed.channel_id == first.channel_id
    assert graph_subscription(graph, first.channel_id).expires > datetime.now(UTC) + timedelta(days=6)

    # subscriptionRemoved: Graph dropped it; a new one is made, and the account synced (changes made
    # meanwhile were not announced).
    before = last_sync(runtime, account.id)
    graph.notifier.lifecycle(first.channel_id, "subscriptionRemoved")
    wait_until(
        lambda: [c.channel_id for c in channels_of(runtime, account.id)] not in ([], [first.channel_id]),
        timeout=PUSHED,
        what="a new subscription",
    )
    idle(runtime)
    (second,) = channels_of(runtime, account.id)
    assert graph_subscription(graph, first.channel_id) is None and live_remote(emulators, second)
    synced = last_sync(runtime, account.id)
    assert before is not None and synced is not None and synced > before

    # missed: notifications were lost, so the account is synced — a change Graph never announced arrives.
    start = tomorrow_at(13)
    add_event(emulators, account, start, notify=False)
    graph.notifier.lifecycle(second.channel_id, "missed")
    wait_until(lambda: busy_at(runtime, account, start), timeout=PUSHED, what="the unannounced event, busy")
    assert sync_mode(browser, account.id) == INSTANT


# -- 4. deleting the account stops its channels --------------------------------------------------------------


def test_deleting_the_account_stops_its_channels_and_revokes_google_access(
    runtime: Runtime, browser: httpx.Client, emulators: Emulators
) -> None:
    accounts = [connected(runtime, browser, emulators, c, "deleted") for c in ("google", "office365")]
    channels = {a.id: channels_of(runtime, a.id) for a in accounts}
    assert all(len(found) == 1 and live_remote(emulators, found[0]) for found in channels.values())
    for account in accounts:
        confirm = browser.get(f"{PAGE}/accounts/{account.id}/delete")
        assert "Delete the account" in confirm.text
        gone = browser.post(
            f"{PAGE}/accounts/{account.id}/delete",
            data={"csrf_token": csrf_of(confirm.text), "confirmed": "yes"},
        )
        assert gone.status_code == 200 and gone.url.path == PAGE
        assert f'id="account-{account.id}"' not in gone.text
        (channel,) = channels[account.id]
        assert not live_remote(emulators, channel), f"{account.provider} channel still open"
        assert channels_of(runtime, account.id) == []
    # Google also forgets creneau's grant (Microsoft has no revocation endpoint for it).
    google, _ = emulators
    with google.state.lock:
        ours = [
            t
            for t in google.state.accounts.tokens.values()
            if t.email == accounts[0].username and t.client_id == CLIENT_ID
        ]
    assert {t.kind for t in ours} == {"refresh", "access"} and all(t.revoked for t in ours)


# -- 5. polling: no push address, or a channel that cannot be opened ----------------------------------------


@pytest.mark.parametrize("connector", ["google", "office365"])
def test_without_a_push_address_the_account_is_polled(
    runtime: Runtime, browser: httpx.Client, emulators: Emulators, connector: str
) -> None:
    google, graph = emulators
    runtime.settings.push_base_url = ""
    account = connected(runtime, browser, emulators, connector, f"polled-{connector}")
    assert channels_of(runtime, account.id) == []
    remote_calendar = account.calendars[0].remote_id
    with google.state.lock, graph.state.lock:
        assert not any(c.calendar_id == remote_calendar for c in google.state.notifier.channels.values())
        assert not any(remote_calendar in s.resource for s in graph.state.subscriptions.values())
    mode = sync_mode(browser, account.id)
    assert mode == HOURLY and NOT_SET_UP not in mode


def test_a_graph_subscription_that_cannot_be_made_leaves_the_account_on_polling(
    runtime: Runtime, browser: httpx.Client, emulators: Emulators
) -> None:
    """Graph refuses the subscription: its validation request to our webhook address finds nobody there."""
    _, graph = emulators
    with socket.socket() as unused:
        unused.bind(("127.0.0.1", 0))
        runtime.settings.push_base_url = f"http://127.0.0.1:{unused.getsockname()[1]}"
        account = connected(runtime, browser, emulators, "office365", "refused")
    assert channels_of(runtime, account.id) == []
    with graph.state.lock:
        assert not any(
            account.calendars[0].remote_id in s.resource for s in graph.state.subscriptions.values()
        )
    mode = sync_mode(browser, account.id)
    assert mode.startswith(HOURLY + " " + NOT_SET_UP), mode
    assert "ValidationError" in mode, mode  # Graph's reason, as its answer gave it
    assert account_of(runtime, account.username).push_detail


def test_a_google_channel_that_cannot_be_opened_leaves_the_account_on_polling(
    runtime: Runtime, browser: httpx.Client, emulators: Emulators, served: str
) -> None:
    """Push is turned on for an account that was polled; Google answers every call with 503 while its channel
    is being opened (the renewal job, which only opens channels), so the account stays on polling and says
    why; once Google answers again, the next sync opens the channel."""
    google, _ = emulators
    runtime.settings.push_base_url = ""
    account = connected(runtime, browser, emulators, "google", "refused")
    runtime.settings.push_base_url = served
    google.state.faults.fail_randomly(1.0, status=503)
    try:
        runtime.jobs.enqueue_push_renewal(account.id)
        idle(runtime)
    finally:
        google.state.faults.clear()
    assert channels_of(runtime, account.id) == []
    mode = sync_mode(browser, account.id)
    assert mode.startswith(HOURLY + " " + NOT_SET_UP), mode
    far_from_periodic_sync(runtime, account.id)

    sync_now(browser, account.id)
    idle(runtime)
    (channel,) = channels_of(runtime, account.id)
    assert live_remote(emulators, channel)
    assert sync_mode(browser, account.id) == INSTANT


# -- 6. the webhook route: every provider's paths, through the engine ---------------------------------------


def test_the_webhook_route_answers_handshakes_refuses_garbage_and_unknown_paths(served: str) -> None:
    with httpx.Client(base_url=served, timeout=10, trust_env=False) as server:
        handshake = server.post("/webhooks/microsoft/lifecycle?validationToken=check%20me", content=b"")
        assert (handshake.status_code, handshake.text) == (200, "check me")
        assert handshake.headers["content-type"].startswith("text/plain")
        assert server.post("/webhooks/microsoft", content=b"not json").status_code == 400
        assert server.post("/webhooks/microsoft", json={"value": []}).status_code == 202  # nothing to do
        assert server.post("/webhooks/google", content=b"").status_code == 403  # no X-Goog-* headers
        for path in ("/webhooks/caldav", "/webhooks/nowhere", "/webhooks/microsoft/other"):
            assert server.post(path, content=b"{}").status_code == 404, path
