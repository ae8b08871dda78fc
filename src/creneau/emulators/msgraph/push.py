"""Graph subscriptions: the validationToken handshake and notification delivery.

Creating (or renewing) a subscription makes Graph POST ``<notificationUrl>?validationToken=<token>``; the
endpoint must answer 200 with the token as ``text/plain`` within 10 seconds, else the subscription is
refused (400 ``ValidationError``). The same handshake runs for ``lifecycleNotificationUrl``.

Change notifications (``value[]`` of ``subscriptionId``, ``clientState``, ``changeType``, ``resource``,
``resourceData``) and lifecycle notifications (``reauthorizationRequired``, ``missed``,
``subscriptionRemoved``) are POSTed from one background thread; a failed delivery is logged, not fatal.
"""

from __future__ import annotations

import logging
import queue
import re
import secrets
import threading

import httpx

from creneau.emulators.msgraph.model import Json, Subscription, iso_z
from creneau.emulators.msgraph.state import EmulatorError, GraphState

log = logging.getLogger(__name__)

MAX_MINUTES = 10080  # the longest lifetime Graph grants an Outlook event subscription
TENANT = "9188040d-6c67-4c5b-b112-36a304b66dad"
LIFECYCLE_EVENTS = ("reauthorizationRequired", "missed", "subscriptionRemoved")


def validate_endpoint(url: str, timeout: float) -> None:
    """The handshake. :raises EmulatorError: 400 ValidationError when the endpoint does not echo."""
    token = "Validation: Testing client application reachability for subscription Request-Id: " + (
        secrets.token_hex(8)
    )
    failure = EmulatorError(
        400,
        "ValidationError",
        "Subscription validation request failed. Notification endpoint must respond with 200 OK to "
        "validation request.",
    )
    try:
        response = httpx.post(
            url,
            params={"validationToken": token},
            headers={"Content-Type": "text/plain; charset=utf-8"},
            timeout=timeout,
        )
    except httpx.HTTPError as exc:
        log.info("validation of %s failed: %s", url, exc)
        raise failure from exc
    content_type = response.headers.get("content-type", "")
    if response.status_code != 200 or response.text != token or not content_type.startswith("text/plain"):
        log.info("validation of %s failed: HTTP %s", url, response.status_code)
        raise failure


def resource_calendar(state: GraphState, user_id: str, resource: str) -> str | None:
    """The calendar id a subscription resource watches; None for the user's whole mailbox.

    :raises EmulatorError: 400 for a resource the emulator does not support.
    """
    path = resource.strip("/")
    if re.fullmatch(r"(me|users/[^/]+)/events", path):
        return None
    if re.fullmatch(r"(me|users/[^/]+)/calendar/events", path):
        return state.calendar_of(state.users[user_id], None).id
    match = re.fullmatch(r"(?:me|users/[^/]+)/calendars/([^/]+)/events", path)
    if match:
        return state.calendar_of(state.users[user_id], match.group(1)).id
    raise EmulatorError(400, "InvalidRequest", f"Resource '{resource}' is not supported.")


class Notifier:
    """Delivers notifications from one daemon thread; register it with :meth:`attach`."""

    def __init__(self, state: GraphState, *, timeout: float = 5.0) -> None:
        self._state = state
        self._timeout = timeout
        self._queue: queue.Queue[tuple[str, Json] | None] = queue.Queue()
        self._thread = threading.Thread(target=self._run, name="msgraph-emulator-push", daemon=True)
        self.delivered: list[tuple[str, Json]] = []  # (url, body) of every successful delivery
        self.failed: list[tuple[str, str]] = []  # (url, reason)

    def attach(self) -> None:
        self._state.listeners.append(self.on_change)
        self._thread.start()

    def stop(self) -> None:
        self._queue.put(None)
        self._thread.join(timeout=5)

    def on_change(self, user_id: str, calendar_id: str, event_id: str, change: str) -> None:
        state = self._state
        with state.lock:
            targets = []
            for sub in state.subscriptions.values():
                if sub.user_id != user_id or change not in sub.change_type.split(","):
                    continue
                if sub.expires <= state.now():
                    continue
                try:
                    watched = resource_calendar(state, user_id, sub.resource)
                except EmulatorError:
                    continue
                if watched is None or watched == calendar_id:
                    targets.append(sub)
        for sub in targets:
            self._queue.put((sub.notification_url, {"value": [_change(sub, event_id, change)]}))

    def lifecycle(self, subscription_id: str, event: str) -> None:
        """Send a lifecycle notification (``subscriptionRemoved`` also deletes the subscription)."""
        if event not in LIFECYCLE_EVENTS:
            raise ValueError(f"unknown lifecycle event {event!r}")
        with self._state.lock:
            sub = self._state.subscriptions[subscription_id]
            if event == "subscriptionRemoved":
                del self._state.subscriptions[subscription_id]
        body = {
            "value": [
                {
                    "subscriptionId": sub.id,
                    "subscriptionExpirationDateTime": iso_z(sub.expires),
                    "tenantId": TENANT,
                    "clientState": sub.client_state,
                    "lifecycleEvent": event,
                }
            ]
        }
        self._queue.put((sub.lifecycle_url or sub.notification_url, body))

    def _run(self) -> None:
        with httpx.Client(timeout=self._timeout) as client:
            while True:
                job = self._queue.get()
                if job is None:
                    return
                url, body = job
                try:
                    response = client.post(url, json=body)
                    if response.status_code >= 300:
                        raise httpx.HTTPStatusError("refused", request=response.request, response=response)
                except httpx.HTTPError as exc:
                    log.warning("notification to %s failed: %s", url, exc)
                    self.failed.append((url, str(exc)))
                else:
                    self.delivered.append((url, body))


def _change(sub: Subscription, event_id: str, change: str) -> Json:
    return {
        "subscriptionId": sub.id,
        "subscriptionExpirationDateTime": iso_z(sub.expires),
        "changeType": change,
        "resource": f"Users/{sub.user_id}/Events/{event_id}",
        "resourceData": {
            "@odata.type": "#Microsoft.Graph.Event",
            "@odata.id": f"Users/{sub.user_id}/Events/{event_id}",
            "id": event_id,
        },
        "clientState": sub.client_state,
        "tenantId": TENANT,
    }
