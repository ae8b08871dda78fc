"""EWS notifications through exchangelib's public API: pull subscriptions with GetEvents, push subscriptions
delivered to a loopback receiver that parses them with exchangelib's own ``SendNotification``."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from typing import Any

import pytest

pytest.importorskip("exchangelib")

from exchangelib.errors import ErrorSubscriptionNotFound  # type: ignore[import-untyped]
from exchangelib.services import SendNotification  # type: ignore[import-untyped]
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from creneau.emulators.ews import RunningEmulator
from creneau.serving import serve_in_thread
from tests.emulators.ews.client import connect, control
from tests.emulators.ews.conftest import HTTP, Box


def seed(emulator: RunningEmulator, box: Box, subject: str) -> str:
    event = {"subject": subject, "start": "2026-12-11T09:00:00Z", "end": "2026-12-11T10:00:00Z"}
    made: str = control(emulator, "events", {"folder_id": box.mailbox.calendar_id, "event": event})["id"]
    return made


def test_pull_subscription_reports_created_modified_and_deleted_items(
    emulator: RunningEmulator, box: Box
) -> None:
    account = connect(emulator, box)
    calendar = account.calendar
    subscription_id, watermark = calendar.subscribe_to_pull()
    first = list(calendar.get_events(subscription_id, watermark))
    assert [type(e).__name__ for n in first for e in n.events] == ["StatusEvent"]  # nothing yet

    made = seed(emulator, box, "New")
    control(
        emulator,
        f"events/{made}",
        {"event": {"subject": "Renamed", "start": "2026-12-11T09:00:00Z", "end": "2026-12-11T10:00:00Z"}},
    )
    HTTP.delete(f"{emulator.url}/_emulator/events/{made}").raise_for_status()
    control(emulator, "folders", {"email": box.email, "name": "Elsewhere"})  # a folder under the calendar
    notes = list(calendar.get_events(subscription_id, watermark))
    events = [
        (type(e).__name__, e.item_id.id if e.item_id else e.folder_id.id) for n in notes for e in n.events
    ]
    assert [kind for kind, _ in events] == ["CreatedEvent", "ModifiedEvent", "DeletedEvent", "CreatedEvent"]
    assert {ident for kind, ident in events[:3]} == {made}

    last = notes[-1].events[-1].watermark
    assert [type(e).__name__ for n in calendar.get_events(subscription_id, last) for e in n.events] == [
        "StatusEvent"
    ]
    assert calendar.unsubscribe(subscription_id) is True
    with pytest.raises(ErrorSubscriptionNotFound):
        list(calendar.get_events(subscription_id, last))


class Receiver:
    """A push-notification endpoint on 127.0.0.1, as exchangelib's documentation shows one."""

    def __init__(self, answer: str = "OK") -> None:
        self.answer = answer
        self.notifications: list[Any] = []
        self.changed = threading.Condition()

        async def hook(request: Request) -> Response:
            service = SendNotification(protocol=None)
            received = list(service.parse(await request.body()))
            with self.changed:
                self.notifications.extend(received)
                self.changed.notify_all()
            payload = service.ok_payload() if self.answer == "OK" else service.unsubscribe_payload()
            return Response(payload, media_type="text/xml; charset=utf-8")

        self.server = serve_in_thread(
            Starlette(routes=[Route("/hook", hook, methods=["POST"])]), name="ews-push"
        )
        self.url = f"{self.server.url}/hook"

    def events(self, count: int, timeout: float = 10.0) -> list[tuple[str, Any]]:
        deadline = time.monotonic() + timeout
        with self.changed:
            while True:
                found = [(type(e).__name__, e) for n in self.notifications for e in n.events]
                if len(found) >= count or time.monotonic() > deadline:
                    return found
                self.changed.wait(timeout=max(0.0, deadline - time.monotonic()))


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    hook = Receiver()
    yield hook
    hook.server.stop()


def test_push_subscription_delivers_changes_within_seconds(
    emulator: RunningEmulator, box: Box, receiver: Receiver
) -> None:
    account = connect(emulator, box)
    subscription_id, _ = account.calendar.subscribe_to_push(callback_url=receiver.url)
    made = seed(emulator, box, "Pushed")
    events = receiver.events(1)
    assert [(kind, e.item_id.id) for kind, e in events] == [("CreatedEvent", made)]
    assert receiver.notifications[0].subscription_id == subscription_id

    HTTP.post(f"{emulator.url}/_emulator/push-status").raise_for_status()
    assert [kind for kind, _ in receiver.events(2)] == ["CreatedEvent", "StatusEvent"]


def test_push_subscription_ends_when_the_client_answers_unsubscribe(
    emulator: RunningEmulator, box: Box, receiver: Receiver
) -> None:
    receiver.answer = "Unsubscribe"
    account = connect(emulator, box)
    subscription_id, _ = account.calendar.subscribe_to_push(callback_url=receiver.url)
    seed(emulator, box, "Once")
    assert len(receiver.events(1)) == 1
    deadline = time.monotonic() + 5
    while subscription_id in emulator.state.subscriptions and time.monotonic() < deadline:
        time.sleep(0.02)
    assert subscription_id not in emulator.state.subscriptions
    seed(emulator, box, "Never delivered")
    assert len(receiver.events(2, timeout=0.5)) == 1


def test_push_subscription_to_an_unreachable_url_ends_after_repeated_failures(
    emulator: RunningEmulator, box: Box
) -> None:
    import socket

    with socket.socket() as closed:
        closed.bind(("127.0.0.1", 0))
        port = closed.getsockname()[1]
    account = connect(emulator, box)
    subscription_id, _ = account.calendar.subscribe_to_push(callback_url=f"http://127.0.0.1:{port}/hook")
    for n in range(3):  # each change is an attempt (the undelivered events are kept for the next one)
        seed(emulator, box, f"Lost {n}")
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline:
            held = emulator.state.subscriptions.get(subscription_id)
            if held is None or len(getattr(held, "failures", [])) > n:
                break
            time.sleep(0.02)
    assert subscription_id not in emulator.state.subscriptions


def test_streaming_subscription_delivers_events_on_an_open_connection(
    emulator: RunningEmulator, box: Box
) -> None:
    account = connect(emulator, box)
    calendar = account.calendar
    subscription_id = calendar.subscribe_to_streaming()
    made: list[str] = []
    # the change happens while the connection is open, from another thread (another client)
    timer = threading.Timer(0.3, lambda: made.append(seed(emulator, box, "Streamed")))
    timer.start()
    notes = list(
        calendar.get_streaming_events(subscription_id, connection_timeout=1, max_notifications_returned=1)
    )
    timer.join()
    assert [(type(e).__name__, e.item_id.id) for n in notes for e in n.events] == [("CreatedEvent", made[0])]
    assert notes[0].subscription_id == subscription_id
    assert calendar.unsubscribe(subscription_id) is True
