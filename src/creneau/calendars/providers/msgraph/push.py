"""Graph change notifications: subscriptions, and reading what Graph POSTs to our webhook.

``subscribe`` asks Graph to watch one calendar's events (``created,updated,deleted``). Before answering,
Graph POSTs ``<notification_url>?validationToken=<token>`` (and the same to ``lifecycle_url``); our web
endpoint must answer 200 with the token as ``text/plain`` within 10 seconds (see :func:`validation_answer`),
else the subscription is refused (``ProviderError``). Subscriptions on events last at most 10,080 minutes
(7 days): renew them before ``Subscription.expires``. Lifecycle notifications say ``reauthorizationRequired``
(renew now), ``missed`` (sync now: changes were lost) or ``subscriptionRemoved`` (subscribe again).
Notifications carry no event data: each one only means "sync this calendar".
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from creneau.calendars.providers.msgraph.session import GraphSession, Json, segment
from creneau.errors import ProviderError

MAX_LIFETIME = timedelta(minutes=10080)
CHANGE_TYPES = "created,updated,deleted"


@dataclass(frozen=True)
class Subscription:
    id: str
    expires: datetime


@dataclass(frozen=True)
class Notification:
    """One item of a notification POST: a change, or a lifecycle event (``lifecycle_event`` set)."""

    subscription_id: str
    client_state: str | None
    change_type: str | None = None
    resource: str | None = None
    lifecycle_event: str | None = None


def _iso(value: datetime) -> str:
    return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.0000000Z")


def parse_offset(text: str) -> datetime:
    """A Graph DateTimeOffset (up to 7 fraction digits, ``Z`` or an offset) in UTC. :raises ValueError:"""
    match = re.fullmatch(r"(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d)(?:\.(\d+))?(Z|[+-]\d\d:\d\d)?", text.strip())
    if match is None:
        raise ValueError(f"not a date-time: {text!r}")
    head, fraction, offset = match.groups()
    value = datetime.fromisoformat(
        head + (f".{fraction[:6]}" if fraction else "") + ("+00:00" if offset in (None, "Z") else offset)
    )
    return value.astimezone(UTC)


def _subscription(data: Json) -> Subscription:
    try:
        return Subscription(id=str(data["id"]), expires=parse_offset(str(data["expirationDateTime"])))
    except (KeyError, ValueError) as exc:
        raise ProviderError("Microsoft Graph answered a subscription without id or expiry") from exc


def subscribe(
    session: GraphSession,
    calendar_id: str,
    *,
    notification_url: str,
    lifecycle_url: str | None,
    client_state: str,
    expires: datetime,
) -> Subscription:
    """:raises ProviderError: when Graph refuses (e.g. our endpoint failed the validation handshake)."""
    body: Json = {
        "changeType": CHANGE_TYPES,
        "notificationUrl": notification_url,
        "resource": f"me/calendars/{segment(calendar_id)}/events",
        "expirationDateTime": _iso(expires),
        "clientState": client_state,
        "latestSupportedTlsVersion": "v1_2",
    }
    if lifecycle_url:
        body["lifecycleNotificationUrl"] = lifecycle_url
    return _subscription(session.json(session.send("POST", session.url("subscriptions"), body=body)))


def renew(session: GraphSession, subscription_id: str, *, expires: datetime) -> Subscription:
    """:raises RemoteNotFound: when the subscription is gone (subscribe again)."""
    url = session.url(f"subscriptions/{segment(subscription_id)}")
    response = session.send("PATCH", url, body={"expirationDateTime": _iso(expires)})
    return _subscription(session.json(response))


def unsubscribe(session: GraphSession, subscription_id: str) -> None:
    """Deleting a subscription that is already gone is fine."""
    session.send("DELETE", session.url(f"subscriptions/{segment(subscription_id)}"), accept=(404,))


def validation_answer(query: dict[str, str]) -> str | None:
    """The text/plain body our webhook must answer when Graph validates it, or None for a real POST."""
    return query.get("validationToken")


def parse_notifications(body: bytes) -> list[Notification]:
    """What a notification POST says; items that are not objects are skipped.

    :raises ValueError: when ``body`` is not a JSON object with a ``value`` list.
    """
    data = json.loads(body)
    if not isinstance(data, dict) or not isinstance(data.get("value"), list):
        raise ValueError("not a Graph notification body")
    found = []
    for item in data["value"]:
        if isinstance(item, dict) and item.get("subscriptionId"):
            found.append(
                Notification(
                    subscription_id=str(item["subscriptionId"]),
                    client_state=item.get("clientState"),
                    change_type=item.get("changeType"),
                    resource=item.get("resource"),
                    lifecycle_event=item.get("lifecycleEvent"),
                )
            )
    return found
