"""Writing our events: PUT with preconditions, so that retries are safe.

An event we create lives at ``<calendar>/<safe uid>.ics``: the same draft always lands on the same resource,
and ``If-None-Match: *`` makes a second create a no-op that returns the first one. Updates and deletes carry
``If-Match`` when the caller knows the etag, so a change made meanwhile in the user's calendar app is not
overwritten silently (``PreconditionFailed``).

Some servers ignore both preconditions: SOGo 5 answers ``204`` to a second ``PUT`` with
``If-None-Match: *`` (overwriting the event) and deletes with a stale ``If-Match``. With ``check_first``
(the provider's ``check_preconditions``, or a server recorded by :func:`record_untrusted`) we read the
object's etag before a create, an update with an etag and a delete with an etag, and act as the
precondition would have. A ``204`` to a create is the tell-tale (RFC 7232: ``If-None-Match: *`` must fail
on an existing resource), and so are SOGo's version-counter etags (:func:`reused_etag`) on any write or
listing: the server is recorded, for this process, as one whose preconditions are not trusted, and an
update or delete carrying such an etag is always checked first.
"""

from __future__ import annotations

import hashlib
import re
import threading
from datetime import UTC, datetime
from urllib.parse import urlsplit

import icalendar

from creneau.calendars.providers.base import EventDraft, WrittenEvent
from creneau.calendars.providers.caldav import xml
from creneau.calendars.providers.caldav.dav import (
    ICAL_CONTENT_TYPE,
    DavSession,
    absolute,
    canonical_path,
    collection_url,
    failure,
)
from creneau.calendars.providers.http import redact
from creneau.errors import PreconditionFailed, RemoteNotFound

PRODID = "-//creneau//creneau 0.1//EN"
_SAFE_UID = re.compile(r"[A-Za-z0-9][A-Za-z0-9._@-]{0,120}")


_untrusted: set[str] = set()  # origins (scheme://host:port) seen ignoring If-None-Match
_untrusted_lock = threading.Lock()


def origin(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme}://{(parts.hostname or '').lower()}:{parts.port or ''}"


def record_untrusted(url: str) -> None:
    with _untrusted_lock:
        _untrusted.add(origin(url))


def forget_untrusted() -> None:
    """Forget every recorded server (tests)."""
    with _untrusted_lock:
        _untrusted.clear()


def is_untrusted(url: str) -> bool:
    with _untrusted_lock:
        return origin(url) in _untrusted


_VERSION_COUNTER = re.compile(r'(W/)?"gcs[0-9]{8}"')


def reused_etag(etag: str | None) -> bool:
    """An etag that counts versions of an href rather than naming its content (SOGo's ``"gcs00000003"``):
    the same etag comes back for an href deleted and made again, and SOGo ignores preconditions."""
    return bool(etag) and _VERSION_COUNTER.fullmatch(etag or "") is not None


def resource_name(uid: str) -> str:
    """A file name for ``uid``: the uid itself when it is plain, else a readable part plus a hash of it."""
    if _SAFE_UID.fullmatch(uid):
        return f"{uid}.ics"
    readable = re.sub(r"[^A-Za-z0-9._@-]+", "-", uid).strip("-.")[:60]
    digest = hashlib.sha256(uid.encode()).hexdigest()[:24]
    return f"{readable}-{digest}.ics" if readable else f"{digest}.ics"


def to_ical(draft: EventDraft, *, now: datetime | None = None) -> bytes:
    """One VCALENDAR holding the draft as a VEVENT, times in UTC."""
    calendar = icalendar.Calendar()
    calendar.add("prodid", PRODID)
    calendar.add("version", "2.0")
    event = icalendar.Event()
    event.add("uid", draft.uid)
    event.add("dtstamp", (now or datetime.now(UTC)).astimezone(UTC))
    event.add("dtstart", draft.start.astimezone(UTC))
    event.add("dtend", draft.end.astimezone(UTC))
    event.add("summary", draft.summary)
    for name, value in (("description", draft.description), ("location", draft.location), ("url", draft.url)):
        if value:
            event.add(name, value)
    calendar.add_component(event)
    return bytes(calendar.to_ical())


def create(
    session: DavSession, calendar_url: str, draft: EventDraft, *, check_first: bool = False
) -> WrittenEvent:
    """PUT with ``If-None-Match: *``; when the resource exists already, return it as it is."""
    url = collection_url(calendar_url) + resource_name(draft.uid)
    path = canonical_path(calendar_url, url)
    if check_first:
        current = current_etag(session, url)
        if current is not None:  # a retry after a lost answer: what is there stays
            return WrittenEvent(remote_id=path, etag=current or None)
    response = session.send(
        "PUT",
        url,
        body=to_ical(draft),
        headers={"Content-Type": ICAL_CONTENT_TYPE, "If-None-Match": "*"},
    )
    if response.status_code == 204:  # "replaced": the server ignored If-None-Match
        record_untrusted(url)
    if response.status_code in (200, 201, 204):
        etag = response.headers.get("etag") or read_etag(session, url)
        if reused_etag(etag):  # SOGo: its preconditions cannot be trusted either
            record_untrusted(url)
        return WrittenEvent(remote_id=path, etag=etag)
    if response.status_code == 412:  # already there: our earlier attempt succeeded
        return WrittenEvent(remote_id=path, etag=read_etag(session, url))
    existing = _uid_conflict(response.content, calendar_url)
    if existing is not None:  # the server holds this UID under another name
        return WrittenEvent(remote_id=existing, etag=read_etag(session, absolute(calendar_url, existing)))
    raise failure(response, f"PUT {redact(url)}")


def update(
    session: DavSession,
    calendar_url: str,
    remote_id: str,
    draft: EventDraft,
    *,
    etag: str | None,
    check_first: bool = False,
) -> WrittenEvent:
    """:raises PreconditionFailed: when ``etag`` no longer matches the server's."""
    url = absolute(calendar_url, remote_id)
    if check_first and etag:
        _check_etag(session, url, etag, missing_ok=False)
    headers = {"Content-Type": ICAL_CONTENT_TYPE}
    if etag:
        headers["If-Match"] = etag
    response = session.send("PUT", url, body=to_ical(draft), headers=headers)
    if response.status_code == 412:
        raise PreconditionFailed(f"the event at {redact(url)} changed on the server since we read it")
    if response.status_code not in (200, 201, 204):
        raise failure(response, f"PUT {redact(url)}")
    return WrittenEvent(
        remote_id=canonical_path(calendar_url, url),
        etag=response.headers.get("etag") or read_etag(session, url),
    )


def delete(
    session: DavSession, calendar_url: str, remote_id: str, *, etag: str | None, check_first: bool = False
) -> None:
    """Deleting what is already gone is fine. :raises PreconditionFailed: when ``etag`` no longer matches."""
    url = absolute(calendar_url, remote_id)
    if check_first and etag and not _check_etag(session, url, etag, missing_ok=True):
        return  # already gone
    response = session.send("DELETE", url, headers={"If-Match": etag} if etag else None)
    if response.status_code in (200, 202, 204, 404, 410):
        return
    if response.status_code == 412:
        raise PreconditionFailed(f"the event at {redact(url)} changed on the server since we read it")
    raise failure(response, f"DELETE {redact(url)}")


def current_etag(session: DavSession, url: str) -> str | None:
    """The object's etag now ("" when it has none), or None when there is no object at ``url``."""
    try:
        return read_etag(session, url) or ""
    except RemoteNotFound:
        return None


def _check_etag(session: DavSession, url: str, etag: str, *, missing_ok: bool) -> bool:
    """Do what ``If-Match: etag`` should have done: False when the object is gone (and ``missing_ok``).

    :raises PreconditionFailed: when the object's etag is another one (or it is gone and not ``missing_ok``)
    """
    current = current_etag(session, url)
    if current is None and missing_ok:
        return False
    if current != etag:
        raise PreconditionFailed(f"the event at {redact(url)} changed on the server since we read it")
    return True


def read_etag(session: DavSession, url: str) -> str | None:
    """PROPFIND Depth 0 getetag, for servers whose PUT answer carries no ETag."""
    for item in session.propfind(url, [xml.GETETAG], depth=0).responses:
        value = item.text(xml.GETETAG)
        if value:
            return value
    return None


def _uid_conflict(body: bytes, calendar_url: str) -> str | None:
    """The path named by a ``<C:no-uid-conflict><D:href>`` precondition (RFC 4791 §5.3.2.1), if any."""
    try:
        root = xml.parse(body)
    except xml.MalformedXML:
        return None
    conflict = root.find(xml.cal("no-uid-conflict"))
    href = conflict.findtext(xml.dav("href")) if conflict is not None else None
    return canonical_path(calendar_url, href.strip()) if href and href.strip() else None
