"""What crosses the provider contract for push (``CalendarProvider.open_channel`` and its siblings).

A *channel* is whatever the server calls it (a Google watch channel, a Graph subscription, an EWS push
subscription): the server POSTs to one of our webhooks when a calendar changes, presenting a secret we chose
for that channel. The engine (``calendars/push.py``) stores channels, checks secrets and decides what to
sync; providers only speak the wire: open, renew, stop, and read a webhook request.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime


@dataclass(frozen=True)
class ChannelRequest:
    """What the engine asks for when it opens a channel on one calendar."""

    calendar_id: str  # the calendar's remote id
    channel_id: str  # a fresh id of ours; servers that name channels themselves ignore it
    secret: str  # random per channel; the server presents it with each notification
    address: str  # where notifications go: https://…/webhooks/<the provider's first webhook>
    webhook_base: str  # https://…/webhooks, for servers that take more than one address (Graph lifecycle)


@dataclass(frozen=True)
class Channel:
    """An open channel as the engine stores it."""

    channel_id: str
    expires: datetime  # UTC
    resource_id: str = ""  # what the server needs besides the id to stop it (Google), else ""


@dataclass(frozen=True)
class Webhook:
    """One request to ``/webhooks/<path>``, as the web layer received it."""

    path: str  # below /webhooks/, e.g. "microsoft/lifecycle"
    headers: Mapping[str, str]  # names in any case
    query: Mapping[str, str]
    body: bytes


@dataclass(frozen=True)
class Notice:
    """One notification in a webhook request, not yet trusted: the engine compares ``secret`` (and
    ``resource_id`` when both sides know it) with the stored channel's."""

    channel_id: str
    secret: str | None
    resource_id: str | None = None
    sync: bool = True  # the calendar changed (or changes may have been missed): sync the account
    renew: bool = False  # the server asks for the channel to be renewed, or made again


@dataclass(frozen=True)
class WebhookReading:
    """What a provider read in a webhook request."""

    notices: list[Notice] = field(default_factory=list)
    # A validation handshake (Graph's ``validationToken``): answered as text/plain 200, nothing else done.
    handshake: str | None = None
    unreadable: int = 0  # parts that are not notifications of this server (refused and logged)
    accepted_status: int = 202  # the answer when at least one notice was accepted (Google wants 200)
