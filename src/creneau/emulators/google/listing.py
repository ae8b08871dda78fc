"""``events.list``: filters, paging, sync tokens — the rules Google documents, and its refusals.

- Without ``syncToken``: every event matching the filters; ``showDeleted=false`` hides cancelled events
  except cancelled *exceptions* of a live recurring event when ``singleEvents`` is false (Google's rule).
- With ``syncToken``: the events changed since the token (deleted ones as minimal ``cancelled`` items);
  ``timeMin``, ``timeMax``, ``q``, ``orderBy``, ``iCalUID``, ``updatedMin`` and the extended-property
  filters are refused with 400, an unknown or expired token with ``410 fullSyncRequired``.
- The result is frozen on the first page; ``nextPageToken`` serves the rest of that snapshot and only the
  last page carries ``nextSyncToken`` (the calendar's sequence number when the snapshot was taken).

``singleEvents=true`` (expanding recurrences server-side) is not emulated and answers 400: creneau expands
recurrences itself.
"""

from __future__ import annotations

import copy
import secrets
import threading
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from creneau.emulators.google import model
from creneau.emulators.google.errors import ApiError, bad_request, out_of_range, time_range_empty
from creneau.emulators.google.store import Calendar

Event = dict[str, Any]
_WITHOUT_SYNC = (
    "timeMin",
    "timeMax",
    "q",
    "orderBy",
    "iCalUID",
    "updatedMin",
    "privateExtendedProperty",
    "sharedExtendedProperty",
)
DEFAULT_PAGE = 250
MAX_PAGE = 2500


@dataclass
class _Snapshot:
    calendar_id: str
    items: list[Event]
    page_size: int
    seq: int
    offset: int = 0


@dataclass
class Listings:
    lock: threading.RLock
    sync_tokens: dict[str, tuple[str, int]] = field(default_factory=dict)  # token → (calendar, sequence)
    pages: dict[str, _Snapshot] = field(default_factory=dict)
    calendar_list_tokens: set[str] = field(default_factory=set)  # calendarList.list's nextSyncTokens

    def expire_sync_tokens(self, calendar_id: str | None = None) -> int:
        """Forget sync tokens (all, or one calendar's): the next use answers 410. Returns how many."""
        with self.lock:
            gone = [t for t, (c, _) in self.sync_tokens.items() if calendar_id in (None, c)]
            for token in gone:
                del self.sync_tokens[token]
            return len(gone)

    def list(self, cal: Calendar, params: Mapping[str, str]) -> dict[str, Any]:
        with self.lock:
            if params.get("pageToken"):
                snapshot = self.pages.pop(params["pageToken"], None)
                if snapshot is None or snapshot.calendar_id != cal.id:
                    raise bad_request("Invalid page token value.")
            else:
                snapshot = self._snapshot(cal, params)
            return self._page(cal, snapshot)

    def _snapshot(self, cal: Calendar, params: Mapping[str, str]) -> _Snapshot:
        size = _int(params.get("maxResults"), DEFAULT_PAGE, "maxResults")
        if size < 1:  # the discovery document's minimum; above 2500 Google silently caps the page
            raise out_of_range("maxResults", str(params.get("maxResults")), 1, MAX_PAGE)
        if params.get("singleEvents", "false").lower() == "true":
            raise bad_request("singleEvents=true is not supported by the creneau emulator.")
        token = params.get("syncToken")
        if token:
            refused = [name for name in _WITHOUT_SYNC if params.get(name)]
            if refused:
                raise bad_request(
                    f"The {refused[0]} parameter cannot be used together with syncToken.",
                    parameter=refused[0],
                )
            if params.get("showDeleted", "").lower() == "false":
                # "All events deleted since the previous list request will always be in the result set
                # and it is not allowed to set showDeleted to False." (events.list reference)
                raise bad_request(
                    "showDeleted cannot be false together with syncToken.", parameter="showDeleted"
                )
            known = self.sync_tokens.get(token)
            if known is None or known[0] != cal.id:
                raise ApiError(
                    410, "fullSyncRequired", "Sync token is no longer valid, a full sync is required."
                )
            items = _changed(cal, known[1])
        else:
            items = _matching(cal, params)
            if params.get("orderBy") == "updated":
                items.sort(key=lambda e: str(e.get("updated", "")))
            elif params.get("orderBy") == "startTime":
                raise bad_request("The requested ordering is not available for the particular query.")
        return _Snapshot(cal.id, items, min(size, MAX_PAGE), cal.seq)

    def _page(self, cal: Calendar, snapshot: _Snapshot) -> dict[str, Any]:
        page = snapshot.items[snapshot.offset : snapshot.offset + snapshot.page_size]
        snapshot.offset += len(page)
        body: dict[str, Any] = {
            "kind": "calendar#events",
            "etag": f'"p{cal.seq}"',
            "summary": cal.summary,
            "description": cal.description,
            "updated": model.rfc3339(datetime.now(ZoneInfo("UTC"))),
            "timeZone": cal.timezone,
            "accessRole": "owner",
            "defaultReminders": [],
            "items": page,
        }
        if snapshot.offset < len(snapshot.items):
            page_token = secrets.token_urlsafe(24)
            self.pages[page_token] = snapshot
            body["nextPageToken"] = page_token
        else:
            sync_token = "C" + secrets.token_urlsafe(24)
            self.sync_tokens[sync_token] = (cal.id, snapshot.seq)
            body["nextSyncToken"] = sync_token
        return body


def _int(text: str | None, default: int, name: str) -> int:
    if text is None:
        return default
    try:
        return int(text)
    except ValueError:
        raise bad_request(f"Invalid value '{text}'.", parameter=name) from None


def _minimal(event: Event) -> Event:
    """How a deleted event looks in an incremental answer: little more than its id."""
    kept: Event = {k: event[k] for k in ("kind", "etag", "id", "status") if k in event}
    for key in ("recurringEventId", "originalStartTime"):
        if key in event:
            kept[key] = event[key]
    return copy.deepcopy(kept)


def _changed(cal: Calendar, since: int) -> list[Event]:
    changed = sorted((seq, eid) for eid, seq in cal.seqs.items() if seq > since)
    out = []
    for _, event_id in changed:
        event = cal.events[event_id]
        out.append(_minimal(event) if event.get("status") == "cancelled" else copy.deepcopy(event))
    return out


def _matching(cal: Calendar, params: Mapping[str, str]) -> list[Event]:
    tz = model.zone(cal.timezone, ZoneInfo("UTC"))
    show_deleted = params.get("showDeleted", "false").lower() == "true"
    try:
        time_min = model.parse_instant(params["timeMin"]) if params.get("timeMin") else None
        time_max = model.parse_instant(params["timeMax"]) if params.get("timeMax") else None
        updated_min = model.parse_instant(params["updatedMin"]) if params.get("updatedMin") else None
    except ValueError:
        # timeMin/timeMax/updatedMin need an RFC 3339 offset ("mandatory time zone offset", reference)
        raise bad_request("Bad Request", reason="badRequest") from None
    if time_min and time_max and time_max <= time_min:
        raise time_range_empty()
    query = (params.get("q") or "").lower()
    ordered = sorted(cal.events.values(), key=lambda e: cal.seqs.get(e["id"], 0))
    found = []
    for event in ordered:
        master = cal.events.get(event.get("recurringEventId") or "")
        cancelled = event.get("status") == "cancelled"
        if cancelled and not show_deleted and not updated_min:
            live_exception = master is not None and master.get("status") != "cancelled"
            if not live_exception:
                continue
        if params.get("iCalUID") and event.get("iCalUID") != params["iCalUID"]:
            continue
        if time_min is not None and not model.ends_after(event, master, time_min, tz):
            continue
        if time_max is not None and not model.starts_before(event, master, time_max, tz):
            continue
        if updated_min is not None and model.parse_instant(str(event.get("updated"))) < updated_min:
            continue
        text = " ".join(str(event.get(k, "")) for k in ("summary", "description", "location")).lower()
        if query and query not in text:
            continue
        found.append(copy.deepcopy(event))
    return found
