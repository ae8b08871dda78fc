"""Listing a calendar's members and downloading objects in bulk.

Objects are downloaded with ``calendar-multiget`` (RFC 4791 §7.9) in chunks, never with one GET per event:
a calendar of 2,000 events costs 8 requests at the default chunk size (250), whatever the server.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime

import httpx

from creneau.calendars.providers.base import BadObject, Progress, Received, RemoteEvent
from creneau.calendars.providers.caldav import xml
from creneau.calendars.providers.caldav.dav import DavSession, canonical_path, failure, multistatus
from creneau.calendars.providers.caldav.objects import classify
from creneau.calendars.providers.http import redact


@dataclass
class Downloaded:
    events: list[RemoteEvent] = field(default_factory=list)
    bad: list[BadObject] = field(default_factory=list)
    gone: list[str] = field(default_factory=list)  # listed, then deleted before we could fetch them
    skipped: list[str] = field(default_factory=list)  # valid objects that are not events (tasks...)


def is_member(collection_path: str, path: str) -> bool:
    """True for an object inside the collection; false for the collection itself and sub-collections
    (iCloud lists the collection among the changes of its own sync report)."""
    return path.rstrip("/") != collection_path.rstrip("/") and not path.endswith("/")


def split_known(
    listing: Mapping[str, str | None], known_etags: Mapping[str, str]
) -> tuple[list[str], list[str]]:
    """``(to_download, unchanged)``: a member whose etag equals the one we hold is not downloaded again."""
    to_download: list[str] = []
    unchanged: list[str] = []
    for path, etag in listing.items():
        if etag and known_etags.get(path) == etag:
            unchanged.append(path)
        else:
            to_download.append(path)
    return to_download, unchanged


def list_etags(session: DavSession, calendar_url: str) -> dict[str, str | None]:
    """PROPFIND Depth 1: every member's path and etag (the fallback when sync-collection is missing)."""
    own_path = canonical_path(calendar_url, calendar_url)
    listing: dict[str, str | None] = {}
    for response in session.propfind(calendar_url, [xml.GETETAG, xml.RESOURCETYPE], depth=1).responses:
        path = canonical_path(calendar_url, response.href)
        if not is_member(own_path, path) or response.status == 404:
            continue
        if xml.dav("collection") in response.children(xml.RESOURCETYPE):
            continue
        listing[path] = response.text(xml.GETETAG)
    return listing


def multiget(
    session: DavSession,
    calendar_url: str,
    paths: Sequence[str],
    *,
    chunk_size: int,
    progress: Progress | None = None,
    received: Received | None = None,
) -> Downloaded:
    """Download ``paths`` with calendar-multiget, ``chunk_size`` at a time, reporting ``progress``.

    The next chunk is requested (on a helper thread) while this one is read and handed to ``received``: the
    server works on one while the caller parses the other, on a machine's two cores.
    """
    result = Downloaded()
    total = len(paths)
    if progress is not None:
        progress(0, total)
    chunks = [paths[i : i + chunk_size] for i in range(0, total, chunk_size)]
    if not chunks:
        return result
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="creneau-multiget") as prefetch:
        pending = prefetch.submit(_request_chunk, session, calendar_url, chunks[0])
        done = 0
        for n, chunk in enumerate(chunks):
            response = pending.result()
            if n + 1 < len(chunks):
                pending = prefetch.submit(_request_chunk, session, calendar_url, chunks[n + 1])
            before = len(result.events)
            _read_chunk(calendar_url, chunk, response, result)
            if received is not None:
                received(result.events[before:])
            done += len(chunk)
            if progress is not None:
                progress(done, total)
    return result


def _request_chunk(session: DavSession, calendar_url: str, chunk: Sequence[str]) -> httpx.Response:
    response = session.report(calendar_url, xml.calendar_multiget(chunk), depth=1)
    if response.status_code != 207:
        raise failure(response, f"calendar-multiget on {redact(calendar_url)}")
    return response


def _read_chunk(calendar_url: str, chunk: Sequence[str], response: httpx.Response, into: Downloaded) -> None:
    wanted = set(chunk)
    answered: set[str] = set()
    for item in multistatus(response).responses:
        path = canonical_path(calendar_url, item.href)
        if path not in wanted or path in answered:
            continue
        answered.add(path)
        if item.status in (404, 410) or (not item.props and xml.CALENDAR_DATA in item.missing):
            into.gone.append(path)
            continue
        _sort(classify(path, item.text(xml.GETETAG) or "", calendar_data(item)), path, into)
    for path in chunk:
        if path not in answered:
            into.bad.append(BadObject(path, "the server listed this object but did not return it"))


def _sort(outcome: RemoteEvent | BadObject | None, path: str, into: Downloaded) -> None:
    if isinstance(outcome, RemoteEvent):
        into.events.append(outcome)
    elif isinstance(outcome, BadObject):
        into.bad.append(outcome)
    else:
        into.skipped.append(path)


def calendar_data(item: xml.DavResponse) -> str | None:
    """The calendar-data text, untouched (``DavResponse.text`` would strip it)."""
    element = item.props.get(xml.CALENDAR_DATA)
    if element is None:
        return None
    return "".join(str(part) for part in element.itertext())


def events_of(calendar_url: str, items: Iterable[xml.DavResponse]) -> list[RemoteEvent]:
    """The usable events among report answers carrying calendar-data (broken ones are left out)."""
    events: list[RemoteEvent] = []
    for item in items:
        path = canonical_path(calendar_url, item.href)
        outcome = classify(path, item.text(xml.GETETAG) or "", calendar_data(item))
        if isinstance(outcome, RemoteEvent):
            events.append(outcome)
    return events


def events_in_window(
    session: DavSession, calendar_url: str, start: datetime, end: datetime
) -> list[RemoteEvent]:
    """calendar-query with a VEVENT time-range: the unexpanded objects overlapping [start, end)."""
    response = session.report(calendar_url, xml.calendar_query(start, end), depth=1)
    if response.status_code != 207:
        raise failure(response, f"calendar-query on {redact(calendar_url)}")
    return events_of(calendar_url, multistatus(response).responses)
