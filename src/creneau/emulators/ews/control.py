"""``/_emulator/``: the control API, for a demo or a test in another process (no authentication: the
emulator listens on 127.0.0.1 only). Each call maps to one :class:`EwsState` change.

=============================================  ===========================================================
``POST /_emulator/mailboxes``                  ``{"email", "password", "display_name"?, "username"?,
                                               "domain"?}`` → ``{"email", "logon", "calendar_id", ...}``
``POST /_emulator/password``                   ``{"email", "password"}``: the old one answers 401 from now on
``POST /_emulator/auth``                       ``{"schemes": ["NTLM", "Basic", "Negotiate"]}``: advertised
``POST /_emulator/folders``                    ``{"email", "name", "parent_id"?, "read_only"?}`` → ``{"id"}``
``POST /_emulator/folders/{id}``               ``{"name"}``: rename
``DELETE /_emulator/folders/{id}``             remove a folder (not a distinguished one) and its items
``POST /_emulator/events``                     ``{"folder_id", "event": {...}}`` (see ``seed``) → ``{"id"}``;
                                               ``{"folder_id", "events": [...]}`` → ``{"events": [...]}``
``POST /_emulator/events/{id}``                ``{"event": {...}}``: another client rewrites these fields
``POST /_emulator/events/{id}/occurrences``    ``{"original_start", "delete"?: true, "event"?: {...}}``
``DELETE /_emulator/events/{id}``              delete an item (hard delete)
``POST /_emulator/invalidate-sync``            every sync state handed out so far becomes invalid
``POST /_emulator/faults``                     ``{"busy_next", "back_off_ms", "fail_next", "status",
                                               "error_rate", "busy", "delay", "invalid_sync_next", "clear"}``
``POST /_emulator/autodiscover``               ``{"redirect_email": {from: to},
                                               "redirect_host": {host: url}}``
``POST /_emulator/push-status``                push subscriptions get a status notification now
``GET /_emulator/state``                       mailboxes, folders, items and subscriptions, for a look
``GET /_emulator/requests``                    the EWS operations answered so far (``?reset=1`` clears)
=============================================  ===========================================================
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from datetime import timedelta
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from creneau.emulators.ews.model import Item, Occurrence, format_time, parse_time
from creneau.emulators.ews.props import new_props
from creneau.emulators.ews.render import occurrence_id
from creneau.emulators.ews.seed import event_element
from creneau.emulators.ews.soap import OperationError, local
from creneau.emulators.ews.state import EwsState
from creneau.emulators.ews.subscriptions import Subscription

Endpoint = Callable[[Request], Awaitable[Response]]


def _state(request: Request) -> EwsState:
    state: EwsState = request.app.state.ews
    return state


async def _body(request: Request) -> dict[str, Any]:
    data = json.loads(await request.body() or b"{}")
    if not isinstance(data, dict):
        raise ValueError("a JSON object is expected")
    return data


def _bad(exc: Exception) -> Response:
    return JSONResponse({"error": f"{type(exc).__name__}: {exc}"}, status_code=400)


async def mailboxes(request: Request) -> Response:
    body, state = await _body(request), _state(request)
    try:
        mailbox = state.add_mailbox(
            body["email"],
            body["password"],
            display_name=body.get("display_name"),
            username=body.get("username"),
            domain=body.get("domain"),
        )
    except (KeyError, ValueError) as exc:
        return _bad(exc)
    return JSONResponse(
        {
            "email": mailbox.email,
            "logon": f"{mailbox.domain}\\{mailbox.username}",
            "calendar_id": mailbox.calendar_id,
            "root_id": mailbox.root_id,
            "msgfolderroot_id": mailbox.msgroot_id,
        }
    )


async def password(request: Request) -> Response:
    body = await _body(request)
    try:
        _state(request).set_password(body["email"], body["password"])
    except (KeyError, OperationError) as exc:
        return _bad(exc)
    return JSONResponse({"ok": True})


async def auth(request: Request) -> Response:
    body, state = await _body(request), _state(request)
    schemes = tuple(str(s) for s in body.get("schemes", ()))
    if not set(schemes) <= {"NTLM", "Basic", "Negotiate"} or not schemes:
        return _bad(ValueError("schemes: NTLM, Basic and/or Negotiate"))
    state.auth_schemes = schemes
    return JSONResponse({"schemes": list(schemes)})


async def folders(request: Request) -> Response:
    body = await _body(request)
    try:
        folder = _state(request).add_folder(
            body["email"],
            body["name"],
            parent_id=body.get("parent_id"),
            read_only=bool(body.get("read_only")),
        )
    except (KeyError, OperationError) as exc:
        return _bad(exc)
    return JSONResponse({"id": folder.id, "name": folder.name})


async def folder(request: Request) -> Response:
    state, folder_id = _state(request), request.path_params["fid"]
    if request.method == "DELETE":
        return Response(status_code=204 if state.remove_folder(folder_id) else 404)
    body = await _body(request)
    if folder_id not in state.folders:
        return Response(status_code=404)
    state.rename_folder(folder_id, str(body["name"]))
    return JSONResponse({"ok": True})


async def events(request: Request) -> Response:
    body, state = await _body(request), _state(request)
    try:
        target = state.folders[body["folder_id"]]
        bulk = "events" in body
        made = state.seed_events(
            target.id, [event_element(e) for e in (body["events"] if bulk else [body["event"]])]
        )
    except (KeyError, ValueError, OperationError) as exc:
        return _bad(exc)
    answers = [{"id": i.id, "change_key": i.change_key, "uid": i.text("UID")} for i in made]
    return JSONResponse({"events": answers} if bulk else answers[0])


async def event(request: Request) -> Response:
    state, item_id = _state(request), request.path_params["eid"]
    if request.method == "DELETE":
        return Response(status_code=204 if state.delete_item(item_id) else 404)
    body = await _body(request)
    try:
        with state.lock:
            item = state.items[item_id]
            props, extended = new_props(event_element(body["event"]), trusted=True)
            item.props.update(props)
            changed = set(props) | ({"ExtendedProperty"} if extended else set())
            keys = {local(e) for e in extended}
            item.extended = (
                [e for e in item.extended if local(e) not in keys] + extended if extended else item.extended
            )
            state.touch(item, changed)
    except (KeyError, ValueError) as exc:
        return _bad(exc)
    return JSONResponse({"id": item.id, "change_key": item.change_key})


async def occurrences(request: Request) -> Response:
    body, state = await _body(request), _state(request)
    try:
        with state.lock:
            item: Item = state.items[request.path_params["eid"]]
            original = parse_time(str(body["original_start"]))
            window = state.instances(item, original, original + timedelta(days=1))
            if original not in {o for _, o, _, _, _ in window} and original not in item.exceptions:
                raise ValueError(f"no occurrence of this series starts at {format_time(original)}")
            if body.get("delete"):
                exception = item.exceptions.pop(original, None)
                if exception is not None:
                    state.occurrence_index.pop(exception.id, None)
                item.deleted.add(original)
            else:
                props, _ = new_props(
                    event_element({"subject": item.text("Subject"), **body["event"]}), trusted=True
                )
                props.pop("UID", None)
                index = (
                    next(i for i, o, _, _, _ in window if o == original)
                    if original not in item.exceptions
                    else 0
                )
                occurrence = item.exceptions.get(original) or Occurrence(
                    occurrence_id(item.id, index), original, {}
                )
                occurrence.props.update(props)
                state.register_exception(item, occurrence)
            state.touch(item, {"DeletedOccurrences" if body.get("delete") else "ModifiedOccurrences"})
    except (KeyError, ValueError) as exc:
        return _bad(exc)
    return JSONResponse({"id": item.id, "change_key": item.change_key})


async def invalidate_sync(request: Request) -> Response:
    return JSONResponse({"epoch": _state(request).invalidate_sync_states()})


async def faults(request: Request) -> Response:
    body, state = await _body(request), _state(request)
    if body.get("clear"):
        state.faults.clear()
    if body.get("busy_next"):
        state.faults.busy_next(int(body["busy_next"]), back_off_ms=int(body.get("back_off_ms", 1000)))
    if body.get("fail_next"):
        state.faults.fail_next(int(body["fail_next"]), status=int(body.get("status", 503)))
    if "error_rate" in body:
        state.faults.error_rate(
            float(body["error_rate"]), status=int(body.get("status", 503)), busy=bool(body.get("busy"))
        )
    if "delay" in body:
        state.faults.set_delay(float(body["delay"]))
    if body.get("invalid_sync_next"):
        state.faults.invalid_sync_next(int(body["invalid_sync_next"]))
    return JSONResponse({"ok": True})


async def push_status(request: Request) -> Response:
    notifier = request.app.state.notifier
    if notifier is None:
        return Response(status_code=404)
    notifier.status()
    return JSONResponse({"ok": True})


async def autodiscover(request: Request) -> Response:
    body, state = await _body(request), _state(request)
    with state.lock:
        for source, target in dict(body.get("redirect_email", {})).items():
            state.autodiscover_redirects[str(source).casefold()] = str(target)
        for host, url in dict(body.get("redirect_host", {})).items():
            state.autodiscover_host_redirects[str(host).casefold()] = str(url)
    return JSONResponse({"ok": True})


def summary(state: EwsState) -> dict[str, Any]:
    with state.lock:
        return {
            "mailboxes": [
                {"email": m.email, "logon": f"{m.domain}\\{m.username}", "calendar_id": m.calendar_id}
                for m in state.mailboxes.values()
            ],
            "folders": [
                {
                    "id": f.id,
                    "mailbox": f.mailbox,
                    "parent_id": f.parent_id,
                    "name": f.name,
                    "class": f.folder_class,
                    "distinguished": f.distinguished,
                    "read_only": f.read_only,
                }
                for f in state.folders.values()
            ],
            "items": [
                {
                    "id": i.id,
                    "folder_id": i.folder_id,
                    "change_key": i.change_key,
                    "subject": i.text("Subject"),
                    "start": format_time(i.start),
                    "end": format_time(i.end),
                    "uid": i.text("UID"),
                    "free_busy": i.text("LegacyFreeBusyStatus", "Busy"),
                    "recurring": i.is_recurring,
                    "exceptions": [format_time(s) for s in sorted(i.exceptions)],
                    "deleted_occurrences": [format_time(s) for s in sorted(i.deleted)],
                    "invitations": i.invitations,
                    "extended": [
                        {
                            "uri": dict(e[0].attrib) if len(e) else {},
                            "value": e.findtext(
                                "{http://schemas.microsoft.com/exchange/services/2006/types}Value"
                            ),
                        }
                        for e in i.extended
                    ],
                }
                for i in state.items.values()
            ],
            "subscriptions": [
                {
                    "id": s.id,
                    "mailbox": s.mailbox,
                    "kind": s.kind,
                    "url": s.url,
                    "delivered": s.delivered,
                    "failures": list(s.failures),
                }
                for s in state.subscriptions.values()
                if isinstance(s, Subscription)
            ],
        }


async def show(request: Request) -> Response:
    return JSONResponse(summary(_state(request)))


async def requests(request: Request) -> Response:
    state = _state(request)
    with state.lock:
        answered = list(state.requests)
        if request.query_params.get("reset"):
            state.requests.clear()
    return JSONResponse({"operations": answered})


def _guarded(endpoint: Endpoint) -> Endpoint:
    """Bad input (not JSON, a missing or unreadable field) answers 400 with the reason, never a 500."""

    async def guarded(request: Request) -> Response:
        try:
            return await endpoint(request)
        except (ValueError, KeyError, TypeError) as exc:
            return _bad(exc)

    return guarded


ROUTES = [
    Route("/_emulator/mailboxes", _guarded(mailboxes), methods=["POST"]),
    Route("/_emulator/password", _guarded(password), methods=["POST"]),
    Route("/_emulator/auth", _guarded(auth), methods=["POST"]),
    Route("/_emulator/folders", _guarded(folders), methods=["POST"]),
    Route("/_emulator/folders/{fid:path}", _guarded(folder), methods=["POST", "DELETE"]),
    Route("/_emulator/events", _guarded(events), methods=["POST"]),
    Route("/_emulator/events/{eid:path}/occurrences", _guarded(occurrences), methods=["POST"]),
    Route("/_emulator/events/{eid:path}", _guarded(event), methods=["POST", "DELETE"]),
    Route("/_emulator/invalidate-sync", _guarded(invalidate_sync), methods=["POST"]),
    Route("/_emulator/faults", _guarded(faults), methods=["POST"]),
    Route("/_emulator/autodiscover", _guarded(autodiscover), methods=["POST"]),
    Route("/_emulator/push-status", _guarded(push_status), methods=["POST"]),
    Route("/_emulator/state", _guarded(show), methods=["GET"]),
    Route("/_emulator/requests", _guarded(requests), methods=["GET"]),
]
