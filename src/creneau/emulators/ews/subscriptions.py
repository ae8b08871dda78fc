"""Subscribe (pull, push, streaming), GetEvents, GetStreamingEvents, Unsubscribe, and push delivery.

Watermarks point into the mailbox event log (``EwsState.changes``). A pull subscription answers GetEvents
with the events after a watermark (a ``StatusEvent`` when there are none); a push subscription has the events
POSTed to its URL as ``SendNotification`` from a background thread, and ends when the client answers
``Unsubscribe`` or stops answering (after ``MAX_FAILURES`` attempts, as Exchange gives up)."""

from __future__ import annotations

import asyncio
import base64
import logging
import threading
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import UTC, datetime

import httpx
from lxml import etree

from creneau.emulators.ews.model import Mailbox, format_time
from creneau.emulators.ews.shapes import folder_ref
from creneau.emulators.ews.soap import (
    Element,
    OperationError,
    SoapFault,
    envelope,
    error,
    m,
    new,
    response,
    sub,
    success,
    t,
    text_of,
)
from creneau.emulators.ews.state import Change, EwsState

log = logging.getLogger(__name__)
MAX_FAILURES = 3
_KINDS = {
    "CopiedEvent",
    "CreatedEvent",
    "DeletedEvent",
    "ModifiedEvent",
    "MovedEvent",
    "NewMailEvent",
    "FreeBusyChangedEvent",
}


@dataclass
class Subscription:
    id: str
    mailbox: str
    kind: str  # "pull" | "push" | "streaming"
    folders: frozenset[str] | None  # None: all folders
    event_types: frozenset[str]
    watermark: int
    url: str | None = None
    status_frequency: int = 30
    failures: list[str] = field(default_factory=list)
    delivered: int = 0

    def wants(self, change: Change) -> bool:
        if change.mailbox != self.mailbox or f"{change.kind}Event" not in self.event_types:
            return False
        if self.folders is None:
            return True
        return change.parent_id in self.folders or (change.old_parent_id or "") in self.folders


def encode_watermark(seq: int) -> str:
    return base64.b64encode(b"\x01\x00\x00\x00" + seq.to_bytes(8, "big")).decode()


def decode_watermark(text: str | None) -> int:
    """:raises OperationError: ``ErrorInvalidWatermark``"""
    try:
        raw = base64.b64decode(text or "", validate=True)
    except ValueError:
        raw = b""
    if len(raw) != 12 or not raw.startswith(b"\x01\x00\x00\x00"):
        raise OperationError("ErrorInvalidWatermark", "The watermark used for subscribing is invalid.")
    return int.from_bytes(raw[4:], "big")


def _event(state: EwsState, change: Change) -> Element:
    out = new(t(f"{change.kind}Event"))
    sub(out, t("Watermark"), encode_watermark(change.seq))
    sub(out, t("TimeStamp"), format_time(change.timestamp))
    if change.item_id is not None:
        item = state.items.get(change.item_id)
        sub(out, t("ItemId"), Id=change.item_id, ChangeKey=item.change_key if item else None)
    else:
        folder = state.folders.get(change.folder_id or "")
        sub(out, t("FolderId"), Id=change.folder_id or "", ChangeKey=folder.change_key if folder else None)
    parent = state.folders.get(change.parent_id)
    sub(out, t("ParentFolderId"), Id=change.parent_id, ChangeKey=parent.change_key if parent else None)
    if change.old_parent_id:
        if change.item_id is not None:
            sub(out, t("OldItemId"), Id=change.item_id)
        sub(out, t("OldParentFolderId"), Id=change.old_parent_id)
    return out


def notification(state: EwsState, subscription: Subscription, changes: list[Change]) -> Element:
    """An ``m:Notification`` with these changes (a StatusEvent when there are none); moves the watermark."""
    out = new(m("Notification"))
    sub(out, t("SubscriptionId"), subscription.id)
    sub(out, t("PreviousWatermark"), encode_watermark(subscription.watermark))
    sub(out, t("MoreEvents"), "false")
    if not changes:
        status = sub(out, t("StatusEvent"))
        sub(status, t("Watermark"), encode_watermark(subscription.watermark))
    for change in changes:
        out.append(_event(state, change))
        subscription.watermark = change.seq
    return out


def pending(state: EwsState, subscription: Subscription) -> list[Change]:
    return [c for c in state.changes if c.seq > subscription.watermark and subscription.wants(c)]


def subscribe(state: EwsState, me: Mailbox, request: Element) -> Element:
    kinds = {
        "pull": "PullSubscriptionRequest",
        "push": "PushSubscriptionRequest",
        "streaming": "StreamingSubscriptionRequest",
    }
    found = [(kind, request.find(m(tag))) for kind, tag in kinds.items()]
    given = [(kind, spec) for kind, spec in found if spec is not None]
    if len(given) != 1:
        raise SoapFault(
            "ErrorSchemaValidation", "The request failed schema validation: one subscription request."
        )
    kind, spec = given[0]
    push = spec if kind == "push" else None
    try:
        with state.lock:
            folders: frozenset[str] | None = None
            if (spec.get("SubscribeToAllFolders") or "").lower() not in ("true", "1"):
                ids = spec.find(t("FolderIds"))
                folders = frozenset(folder_ref(state, me, ref).id for ref in ([] if ids is None else ids))
            types = frozenset((e.text or "").strip() for e in spec.iter(t("EventType")))
            if not types or not types <= _KINDS:
                raise OperationError(
                    "ErrorInvalidSubscriptionRequest", "The subscription request is invalid."
                )
            mark = text_of(spec, "m:Watermark") or text_of(spec, "t:Watermark")
            start = decode_watermark(mark) if mark else state.seq
            subscription = Subscription(
                id=base64.b64encode(uuid.uuid4().bytes + b"\x10\x00").decode(),
                mailbox=me.email.casefold(),
                kind=kind,
                folders=folders,
                event_types=types,
                watermark=start,
            )
            if push is not None:
                subscription.url = text_of(push, "t:URL")
                subscription.status_frequency = int(text_of(push, "t:StatusFrequency", "30") or "30")
                if not subscription.url or not 1 <= subscription.status_frequency <= 1440:
                    raise OperationError(
                        "ErrorInvalidPushSubscriptionUrl", "The push subscription URL is invalid."
                    )
            state.subscriptions[subscription.id] = subscription
    except OperationError as exc:
        return response("Subscribe", [error("Subscribe", exc)])
    message = success("Subscribe")
    sub(message, m("SubscriptionId"), subscription.id)
    if subscription.kind != "streaming":
        sub(message, m("Watermark"), encode_watermark(subscription.watermark))
    return response("Subscribe", [message])


def _own(state: EwsState, me: Mailbox, subscription_id: str | None, kind: str | None = None) -> Subscription:
    found = state.subscriptions.get(subscription_id or "")
    if (
        not isinstance(found, Subscription)
        or found.mailbox != me.email.casefold()
        or (kind and found.kind != kind)
    ):
        raise OperationError("ErrorSubscriptionNotFound", "The specified subscription was not found.")
    return found


def get_events(state: EwsState, me: Mailbox, request: Element) -> Element:
    try:
        with state.lock:
            subscription = _own(state, me, text_of(request, "m:SubscriptionId"), "pull")
            mark = decode_watermark(text_of(request, "m:Watermark"))
            if mark > state.seq:
                raise OperationError(
                    "ErrorInvalidWatermark", "The watermark used for subscribing is invalid."
                )
            subscription.watermark = mark
            body = notification(state, subscription, pending(state, subscription))
    except OperationError as exc:
        return response("GetEvents", [error("GetEvents", exc)])
    message = success("GetEvents")
    message.append(body)
    return response("GetEvents", [message])


def unsubscribe(state: EwsState, me: Mailbox, request: Element) -> Element:
    try:
        with state.lock:
            subscription = _own(state, me, text_of(request, "m:SubscriptionId"))
            del state.subscriptions[subscription.id]
    except OperationError as exc:
        return response("Unsubscribe", [error("Unsubscribe", exc)])
    return response("Unsubscribe", [success("Unsubscribe")])


def _streaming_message(connection: str | None = None, notes: list[Element] | None = None) -> bytes:
    message = success("GetStreamingEvents")
    if notes:
        container = sub(message, m("Notifications"))
        for note in notes:
            container.append(note)
    if connection:
        sub(message, m("ConnectionStatus"), connection)
    return envelope(response("GetStreamingEvents", [message]))


async def stream(state: EwsState, me: Mailbox, request: Element) -> AsyncIterator[bytes]:
    """GetStreamingEvents: one SOAP envelope per batch of events on a connection kept open for
    ``ConnectionTimeout`` minutes (1-30), then ``ConnectionStatus`` Closed; ``OK`` every 30 s meanwhile."""
    try:
        minutes = int(text_of(request, "m:ConnectionTimeout", "") or "")
    except ValueError:
        minutes = 0
    ids = [(e.text or "").strip() for e in request.iter(t("SubscriptionId"))]
    try:
        if not 1 <= minutes <= 30:
            raise OperationError(
                "ErrorInvalidArgument", "ConnectionTimeout must be between 1 and 30 minutes."
            )
        with state.lock:
            subs = [_own(state, me, i, "streaming") for i in ids]
        if not subs:
            raise OperationError("ErrorSubscriptionNotFound", "The specified subscription was not found.")
    except OperationError as exc:
        yield envelope(response("GetStreamingEvents", [error("GetStreamingEvents", exc)]))
        return
    loop = asyncio.get_running_loop()
    deadline = loop.time() + minutes * 60
    next_ok = loop.time() + 30
    yield _streaming_message("OK")
    while loop.time() < deadline:
        with state.lock:
            notes = []
            for subscription in subs:
                changes = pending(state, subscription)
                if changes:
                    note = notification(state, subscription, changes)
                    for name in ("PreviousWatermark", "MoreEvents"):  # not in streaming notifications
                        for extra in note.findall(t(name)):
                            note.remove(extra)
                    notes.append(note)
        if notes:
            yield _streaming_message(notes=notes)
        elif loop.time() >= next_ok:
            yield _streaming_message("OK")
            next_ok = loop.time() + 30
        await asyncio.sleep(0.05)
    yield _streaming_message("Closed")


class PushNotifier:
    """Delivers push notifications from a daemon thread: woken by every change, it sends each push
    subscription its pending events in one ``SendNotification``; ``status()`` sends status events now (in
    place of waiting ``StatusFrequency`` minutes)."""

    def __init__(self, state: EwsState) -> None:
        self.state = state
        self._wake = threading.Condition()
        self._status_due = False
        self._dirty = False
        self._stopping = False
        self._thread = threading.Thread(target=self._run, name="ews-push", daemon=True)
        self._client = httpx.Client(timeout=5)

    def attach(self) -> None:
        self.state.listeners.append(self._changed)
        self._thread.start()

    def stop(self) -> None:
        with self._wake:
            self._stopping = True
            self._wake.notify_all()
        self._thread.join(timeout=10)
        self._client.close()

    def status(self) -> None:
        with self._wake:
            self._status_due = True
            self._wake.notify_all()

    def _changed(self, change: Change) -> None:
        with self._wake:
            self._dirty = True
            self._wake.notify_all()

    def _run(self) -> None:
        while True:
            with self._wake:
                # a failed delivery is tried again at the next change, or after a minute
                self._wake.wait_for(lambda: self._dirty or self._status_due or self._stopping, timeout=60)
                if self._stopping:
                    return
                status, self._status_due, self._dirty = self._status_due, False, False
            self._deliver(status)

    def _deliver(self, status: bool) -> None:
        with self.state.lock:
            batches = []
            for subscription in list(self.state.subscriptions.values()):
                if not isinstance(subscription, Subscription) or subscription.kind != "push":
                    continue
                changes = pending(self.state, subscription)
                if changes or status:
                    before = subscription.watermark
                    body = notification(self.state, subscription, changes)
                    batches.append((subscription, before, body))
        for subscription, before, body in batches:
            self._send(subscription, before, body)

    def _send(self, subscription: Subscription, before: int, body: Element) -> None:
        message = new(m("SendNotificationResponseMessage"), ResponseClass="Success")
        sub(message, m("ResponseCode"), "NoError")
        message.append(body)
        payload = new(m("SendNotification"))
        sub(payload, m("ResponseMessages")).append(message)
        try:
            answer = self._client.post(
                subscription.url or "",
                content=envelope(payload),
                headers={"Content-Type": "text/xml; charset=utf-8"},
            )
            answer.raise_for_status()
            status = etree.fromstring(answer.content).findtext(f".//{m('SubscriptionStatus')}")
        except (httpx.HTTPError, etree.XMLSyntaxError) as exc:
            with self.state.lock:
                subscription.failures.append(f"{datetime.now(UTC).isoformat()} {exc}")
                subscription.watermark = before  # not delivered: sent again with the next batch
                if len(subscription.failures) >= MAX_FAILURES:
                    self.state.subscriptions.pop(subscription.id, None)
            log.info("push notification to %s failed: %s", subscription.url, exc)
            return
        with self.state.lock:
            subscription.delivered += 1
            if (status or "").strip() == "Unsubscribe":
                self.state.subscriptions.pop(subscription.id, None)
