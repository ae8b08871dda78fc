"""The emulator's whole state behind one lock, and the control methods tests and the demo call.

::

    state = running.state
    tokens = state.add_user("ada@example.org", timezone="Europe/Paris")   # primary calendar = the email
    work = state.add_calendar("ada@example.org", "Work", background_color="#ff8800")
    state.put_event(work, {"summary": "x", "start": {...}, "end": {...}})   # raw JSON, no validation
    state.expire_sync_tokens()           # next events.list with a syncToken answers 410 fullSyncRequired
    state.revoke(tokens.access_token)    # next API call answers 401
    state.faults.rate_limit(3, retry_after=2)    # three 429 answers with Retry-After: 2
    state.faults.fail_randomly(0.2, seed=1)      # 503 one time in five
    state.faults.slow(0.5)                       # every API answer waits half a second
"""

from __future__ import annotations

import random
import threading
from dataclasses import dataclass, field
from typing import Any

from creneau.emulators.google.accounts import Accounts, Client, TokenSet, User
from creneau.emulators.google.errors import ApiError
from creneau.emulators.google.listing import Listings
from creneau.emulators.google.push import Notifier
from creneau.emulators.google.store import Entry, Store

DEFAULT_SCOPE = "https://www.googleapis.com/auth/calendar"


@dataclass
class Faults:
    """Answers the API gives instead of the real one, for the next requests (OAuth and control are spared)."""

    lock: threading.RLock
    rate_limited: int = 0
    rate_status: int = 429
    retry_after: int | None = None
    error_probability: float = 0.0
    error_status: int = 503
    delay: float = 0.0
    _random: random.Random = field(default_factory=random.Random)

    def rate_limit(self, count: int, *, retry_after: int | None = 1, status: int = 429) -> None:
        """The next ``count`` API calls answer ``status`` (429, or 403 ``rateLimitExceeded``)."""
        with self.lock:
            self.rate_limited, self.retry_after, self.rate_status = count, retry_after, status

    def fail_randomly(self, probability: float, *, status: int = 503, seed: int | None = None) -> None:
        with self.lock:
            self.error_probability, self.error_status = probability, status
            if seed is not None:
                self._random.seed(seed)

    def slow(self, seconds: float) -> None:
        with self.lock:
            self.delay = seconds

    def clear(self) -> None:
        with self.lock:
            self.rate_limited, self.error_probability, self.delay = 0, 0.0, 0.0

    def next(self) -> tuple[float, ApiError | None]:
        """The delay and the error (if any) for the request being answered."""
        with self.lock:
            if self.rate_limited > 0:
                self.rate_limited -= 1
                headers = {"Retry-After": str(self.retry_after)} if self.retry_after is not None else {}
                return self.delay, ApiError(
                    self.rate_status,
                    "rateLimitExceeded",
                    "Rate Limit Exceeded",
                    domain="usageLimits",
                    headers=headers,
                )
            if self.error_probability and self._random.random() < self.error_probability:
                return self.delay, ApiError(self.error_status, "backendError", "Backend Error")
            return self.delay, None


class GoogleState:
    """Everything the emulator knows. Thread-safe: the server is threaded, tests call in from outside."""

    def __init__(self) -> None:
        self.lock = threading.RLock()
        self.base_url = ""  # set by start(): http://127.0.0.1:PORT
        self.accounts = Accounts(self.lock)
        self.store = Store(self.lock)
        self.listings = Listings(self.lock)
        self.notifier = Notifier(self.lock)
        self.faults = Faults(self.lock)
        self.store.on_change = self.notifier.changed

    # -- accounts -----------------------------------------------------------------------------------------

    def add_user(
        self, email: str, *, timezone: str = "Europe/Paris", name: str = "", scope: str = DEFAULT_SCOPE
    ) -> TokenSet:
        """Create the user (once) with their primary calendar (id = the email); return fresh tokens."""
        with self.lock:
            if email not in self.accounts.users:
                self.accounts.users[email] = User(email, timezone, name)
                self.store.add_calendar(email, email, calendar_id=email, timezone=timezone, primary=True)
            return self.accounts.issue(email, scope=scope)

    def add_client(self, client_id: str, client_secret: str, redirect_uris: tuple[str, ...] = ()) -> Client:
        return self.accounts.add_client(client_id, client_secret, redirect_uris)

    def revoke(self, token: str) -> bool:
        return self.accounts.revoke(token)

    def expire_token(self, access_token: str) -> None:
        self.accounts.expire(access_token)

    # -- calendars and events --------------------------------------------------------------------------------

    def add_calendar(self, email: str, summary: str, **options: Any) -> str:
        """A secondary calendar in ``email``'s list; ``options`` as :meth:`Store.add_calendar`."""
        return self.store.add_calendar(email, summary, **options)

    def share(self, calendar_id: str, email: str, *, access_role: str = "reader") -> None:
        """Put an existing calendar in another user's list with ``access_role``."""
        with self.lock:
            self.store.entries.setdefault(email, {})[calendar_id] = Entry(calendar_id, access_role)

    def put_event(self, calendar_id: str, event: dict[str, Any]) -> dict[str, Any]:
        return self.store.put_raw(calendar_id, event)

    def event(self, calendar_id: str, event_id: str) -> dict[str, Any] | None:
        return self.store.get_raw(calendar_id, event_id)

    def events(self, calendar_id: str) -> list[dict[str, Any]]:
        with self.lock:
            ids = list(self.store.calendars[calendar_id].events)
        return [e for e in (self.store.get_raw(calendar_id, i) for i in ids) if e is not None]

    def expire_sync_tokens(self, calendar_id: str | None = None) -> int:
        return self.listings.expire_sync_tokens(calendar_id)

    def set_meet_pending_reads(self, count: int) -> None:
        with self.lock:
            self.store.meet_pending_reads = count

    def summary(self) -> dict[str, Any]:
        """A JSON-able view for the control API: users, calendars with event counts, channels."""
        with self.lock:
            return {
                "users": [{"email": u.email, "timezone": u.timezone} for u in self.accounts.users.values()],
                "calendars": [
                    {"id": c.id, "summary": c.summary, "owner": c.owner, "events": len(c.events)}
                    for c in self.store.calendars.values()
                ],
                "channels": [
                    {"id": c.id, "calendar": c.calendar_id, "address": c.address, "stopped": c.stopped}
                    for c in self.notifier.channels.values()
                ],
                "deliveries": [list(d) for d in self.notifier.delivered],
            }
