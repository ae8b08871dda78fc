"""Google push: ``events.watch`` channels, ``channels.stop``, and reading a notification's headers.

Google POSTs an empty body to the channel's address with ``X-Goog-*`` headers: first ``sync`` (the channel
works), then ``exists`` whenever the calendar's events change; the receiver checks the channel token and
runs an incremental sync of that calendar. Channels expire (default 7 days on Google's side; ``ttl`` asks
for another lifetime) and must be renewed by opening a new one before ``expiration``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from creneau.calendars.providers.google.api import GoogleSession, calendar_path


@dataclass(frozen=True)
class Channel:
    id: str
    resource_id: str
    expiration: datetime | None  # UTC; None when Google did not say


@dataclass(frozen=True)
class Notification:
    channel_id: str
    token: str | None
    resource_id: str
    state: str  # "sync", "exists" or "not_exists"
    message_number: int | None


def watch(
    session: GoogleSession,
    calendar_id: str,
    *,
    address: str,
    token: str | None,
    channel_id: str,
    ttl: timedelta | None,
) -> Channel:
    body: dict[str, object] = {"id": channel_id, "type": "web_hook", "address": address}
    if token is not None:
        body["token"] = token
    if ttl is not None:
        body["params"] = {"ttl": str(max(1, int(ttl.total_seconds())))}
    data = session.json("POST", f"{calendar_path(calendar_id)}/events/watch", body=body)
    expiration = None
    if str(data.get("expiration") or "").isdigit():
        expiration = datetime.fromtimestamp(int(data["expiration"]) / 1000, UTC)
    return Channel(
        id=str(data.get("id", channel_id)), resource_id=str(data["resourceId"]), expiration=expiration
    )


def stop(session: GoogleSession, channel_id: str, resource_id: str) -> None:
    """Stop a channel; one Google no longer knows (404) is already stopped."""
    session.call("POST", "channels/stop", body={"id": channel_id, "resourceId": resource_id}, accept=(404,))


def parse_notification(headers: Mapping[str, str]) -> Notification | None:
    """A push request's headers (any case) as a :class:`Notification`, or None when they are not Google's."""
    lower = {k.lower(): v for k, v in headers.items()}
    channel = lower.get("x-goog-channel-id")
    resource = lower.get("x-goog-resource-id")
    state = lower.get("x-goog-resource-state")
    if not channel or not resource or not state:
        return None
    number = lower.get("x-goog-message-number", "")
    return Notification(
        channel_id=channel,
        token=lower.get("x-goog-channel-token"),
        resource_id=resource,
        state=state,
        message_number=int(number) if number.isdigit() else None,
    )
