"""Watch channels and the thread that delivers their notifications.

``events.watch`` opens a channel on one calendar; the emulator then POSTs (empty body) to its address with
Google's headers: first ``X-Goog-Resource-State: sync`` (message number 1), then ``exists`` each time an event
of the calendar changes. Deliveries run in one background thread, in order; a failed delivery is logged and
dropped (Google retries with backoff; the emulator does not). Unlike Google, plain ``http://`` addresses are
accepted so that tests can listen on 127.0.0.1.
"""

from __future__ import annotations

import email.utils
import logging
import queue
import threading
import time
from dataclasses import dataclass, field

import httpx

log = logging.getLogger(__name__)
DEFAULT_TTL = 7 * 24 * 3600  # seconds, Google's default for events channels
MAX_TTL = 30 * 24 * 3600


@dataclass
class Channel:
    id: str
    resource_id: str
    resource_uri: str
    calendar_id: str
    address: str
    token: str | None
    expiration: float  # epoch seconds
    message_number: int = 0
    stopped: bool = False


@dataclass
class Delivery:
    channel: Channel
    state: str
    number: int


@dataclass
class Notifier:
    """Channels by id, and the delivery thread (started lazily, stopped by :meth:`close`)."""

    lock: threading.RLock
    channels: dict[str, Channel] = field(default_factory=dict)
    delivered: list[tuple[str, str, int, int]] = field(
        default_factory=list
    )  # (channel, state, number, status)
    timeout: float = 5.0
    _queue: queue.Queue[Delivery | None] = field(default_factory=queue.Queue)
    _thread: threading.Thread | None = None

    def open(self, channel: Channel) -> Channel:
        with self.lock:
            self.channels[channel.id] = channel
            self._enqueue(channel, "sync")
            return channel

    def stop(self, channel_id: str, resource_id: str) -> bool:
        with self.lock:
            channel = self.channels.get(channel_id)
            if channel is None or channel.resource_id != resource_id or channel.stopped:
                return False
            channel.stopped = True
            return True

    def changed(self, calendar_id: str) -> None:
        """Called by the store after a change: one ``exists`` message per live channel on the calendar."""
        now = time.time()
        with self.lock:
            for channel in self.channels.values():
                if channel.calendar_id == calendar_id and not channel.stopped and channel.expiration > now:
                    self._enqueue(channel, "exists")

    def _enqueue(self, channel: Channel, state: str) -> None:
        channel.message_number += 1
        self._queue.put(Delivery(channel, state, channel.message_number))
        if self._thread is None:
            self._thread = threading.Thread(target=self._run, name="google-emulator-push", daemon=True)
            self._thread.start()

    def _run(self) -> None:
        with httpx.Client(timeout=self.timeout, trust_env=False) as client:
            while (item := self._queue.get()) is not None:
                status = self._deliver(client, item)
                with self.lock:
                    self.delivered.append((item.channel.id, item.state, item.number, status))

    def _deliver(self, client: httpx.Client, item: Delivery) -> int:
        channel = item.channel
        headers = {
            "X-Goog-Channel-ID": channel.id,
            "X-Goog-Channel-Expiration": email.utils.formatdate(channel.expiration, usegmt=True),
            "X-Goog-Resource-ID": channel.resource_id,
            "X-Goog-Resource-URI": channel.resource_uri,
            "X-Goog-Resource-State": item.state,
            "X-Goog-Message-Number": str(item.number),
        }
        if channel.token is not None:
            headers["X-Goog-Channel-Token"] = channel.token
        try:
            response = client.post(channel.address, headers=headers, content=b"")
        except httpx.HTTPError as exc:
            log.warning("push to channel %s failed: %s", channel.id, exc)
            return 0
        if response.status_code >= 300:
            log.warning("push to channel %s answered HTTP %s", channel.id, response.status_code)
        return response.status_code

    def close(self) -> None:
        if self._thread is not None:
            self._queue.put(None)
            self._thread.join(timeout=self.timeout + 1)
            self._thread = None
