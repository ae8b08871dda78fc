"""CreateItem, UpdateItem and DeleteItem of calendar items, their occurrences and exceptions."""

from __future__ import annotations

import copy

from lxml import etree

from creneau.emulators.ews.items import Target, children_of, resolve
from creneau.emulators.ews.model import (
    Folder,
    Item,
    Mailbox,
    Occurrence,
    ext_key,
    new_change_key,
)
from creneau.emulators.ews.props import READ_ONLY, check_times, new_item, new_props, normalised
from creneau.emulators.ews.render import occurrence_id
from creneau.emulators.ews.shapes import field_name, folder_ref, item_ref
from creneau.emulators.ews.soap import (
    Element,
    OperationError,
    error,
    local,
    m,
    new,
    response,
    sub,
    success,
    t,
)
from creneau.emulators.ews.state import EwsState


def _writable(folder: Folder) -> None:
    if folder.read_only:
        raise OperationError("ErrorAccessDenied", "Access is denied. Check credentials and try again.")


def create_item(state: EwsState, me: Mailbox, request: Element) -> Element:
    saved = request.find(m("SavedItemFolderId"))
    messages = []
    for element in children_of(request.find(m("Items"))):
        try:
            with state.lock:
                folder = (
                    folder_ref(state, me, children_of(saved)[0])
                    if saved is not None and len(saved)
                    else state.folder(me, me.calendar_id)
                )
                _writable(folder)
                if local(element) != "CalendarItem" or folder.folder_class != "IPF.Appointment":
                    raise OperationError(
                        "ErrorObjectTypeChanged", "Object cannot be saved because its type has changed."
                    )
                props, extended = new_props(element)
                if "Start" not in props or "End" not in props:
                    raise OperationError("ErrorInvalidRequest", "A calendar item needs a Start and an End.")
                check_times(props)
                item = new_item(me, folder, props, extended)
                item.invitations = request.get("SendMeetingInvitations", "")
                state.store_item(item)
        except OperationError as exc:
            messages.append(error("CreateItem", exc))
            continue
        message = success("CreateItem")
        created = sub(sub(message, m("Items")), t("CalendarItem"))
        sub(created, t("ItemId"), Id=item.id, ChangeKey=item.change_key)
        messages.append(message)
    return response("CreateItem", messages)


def _apply(target: Target, updates: Element) -> None:
    """Apply SetItemField/AppendToItemField/DeleteItemField to a series, single item, or occurrence."""
    exception = target.exception
    if target.original is not None and exception is None:
        exception = Occurrence(
            id=occurrence_id(target.item.id, target.index or 0), original_start=target.original, props={}
        )
    props = dict(exception.props if exception is not None else target.item.props)
    extended = list(target.item.extended)
    for change in updates:
        if not isinstance(change.tag, str):
            continue
        kind = local(change)
        path = next((c for c in change if isinstance(c.tag, str)), None)
        if path is None:
            raise OperationError("ErrorInvalidRequest", "An update names no property.")
        if local(path) == "ExtendedFieldURI":
            key = ext_key(path)
            extended = [e for e in extended if ext_key(e) != key]
            if kind in ("SetItemField", "AppendToItemField"):
                values = [e for e in change.iter(t("ExtendedProperty"))]
                extended.extend(copy.deepcopy(v) for v in values[:1])
            continue
        name = field_name(path.get("FieldURI") or "")
        if name in READ_ONLY or (exception is not None and name == "Recurrence"):
            raise OperationError("ErrorInvalidPropertySet", f"The property {name} cannot be set.")
        if kind == "DeleteItemField":
            props.pop(name, None)
            continue
        holder = next((c for c in change if isinstance(c.tag, str) and c is not path), None)
        value = holder.find(t(name)) if holder is not None else None
        if value is None:
            raise OperationError(
                "ErrorIncorrectUpdatePropertyCount",
                "An object within a change description must contain one and only one property to modify.",
            )
        props[name] = normalised(value)
    if exception is not None:
        merged = dict(target.item.props)
        merged.update(props)
        check_times(
            {k: v for k, v in merged.items() if k in ("Start", "End", "StartTimeZone", "EndTimeZone")}
        )
        exception.props = props
    else:
        check_times(props)
        target.item.props = props
        target.item.extended = extended
    if exception is not None:
        target.item.extended = extended
    if exception is not None and target.original is not None:
        target.item.exceptions[target.original] = exception


def _pattern(item: Item) -> tuple[str, ...]:
    """What an item's occurrences are made of: its recurrence, times and zone, as text."""
    return tuple(
        etree.tostring(item.props[name]).decode() if name in item.props else ""
        for name in ("Recurrence", "Start", "End", "StartTimeZone")
    )


def _updated(updates: Element | None) -> frozenset[str]:
    """The properties an ``Updates`` element changes (extended properties count as one)."""
    names = set()
    for change in [] if updates is None else updates:
        path = (
            next((c for c in change if isinstance(c.tag, str)), None) if isinstance(change.tag, str) else None
        )
        if path is not None:
            uri = path.get("FieldURI")
            names.add(field_name(uri) if uri else "ExtendedProperty")
    return frozenset(names)


def _conflict(target: Target, change_key: str | None, mode: str, names: frozenset[str]) -> bool:
    """Whether an update sent with ``change_key`` is refused (ConflictResolution ``mode``): AlwaysOverwrite
    never; NeverOverwrite whenever the key is stale; AutoResolve when a property it sets changed since that
    version (or the version is not remembered), as Exchange merges changes to different properties."""
    if not change_key or change_key == target.change_key or mode == "AlwaysOverwrite":
        return False
    if mode == "NeverOverwrite" or target.original is not None:
        return True
    since = target.item.changed_since(change_key)
    return since is None or bool(since & names)


def update_item(state: EwsState, me: Mailbox, request: Element) -> Element:
    mode = request.get("ConflictResolution", "AutoResolve")
    messages = []
    for change in children_of(request.find(m("ItemChanges"))):
        try:
            ids = [c for c in change if isinstance(c.tag, str) and local(c) != "Updates"]
            if not ids:
                raise OperationError("ErrorInvalidIdMalformed", "Id is malformed.")
            ref = item_ref(ids[0])
            with state.lock:
                target = resolve(state, me, ref)
                _writable(state.folders[target.item.folder_id])
                updates = change.find(t("Updates"))
                names = _updated(updates)
                if _conflict(target, ref.change_key, mode, names):
                    raise OperationError(
                        "ErrorIrresolvableConflict",
                        "The send or update operation could not be performed because the change key passed "
                        "in the request does not match the current change key for the item.",
                    )
                had = target.exception
                before = _pattern(target.item)
                _apply(target, updates if updates is not None else new(t("Updates")))
                if target.original is None and before != _pattern(target.item):
                    # as in Exchange: a series whose pattern or times change loses its exceptions
                    for occurrence in target.item.exceptions.values():
                        state.occurrence_index.pop(occurrence.id, None)
                    target.item.exceptions.clear()
                    target.item.deleted.clear()
                exception = target.exception
                if exception is not None:
                    if had is None:
                        state.register_exception(target.item, exception)
                    exception.change_key = new_change_key()
                state.touch(target.item, names if target.original is None else {"ModifiedOccurrences"})
                ident = (
                    (exception.id, exception.change_key)
                    if exception is not None
                    else (target.item.id, target.item.change_key)
                )
        except OperationError as exc:
            messages.append(error("UpdateItem", exc))
            continue
        message = success("UpdateItem")
        updated = sub(sub(message, m("Items")), t("CalendarItem"))
        sub(updated, t("ItemId"), Id=ident[0], ChangeKey=ident[1])
        sub(sub(message, m("ConflictResults")), t("Count"), "0")
        messages.append(message)
    return response("UpdateItem", messages)


def delete_item(state: EwsState, me: Mailbox, request: Element) -> Element:
    move = request.get("DeleteType", "MoveToDeletedItems") == "MoveToDeletedItems"
    messages = []
    for element in children_of(request.find(m("ItemIds"))):
        try:
            ref = item_ref(element)
            with state.lock:
                target = resolve(state, me, ref)
                _writable(state.folders[target.item.folder_id])
                if target.original is not None:
                    exception = target.item.exceptions.pop(target.original, None)
                    if exception is not None:
                        state.occurrence_index.pop(exception.id, None)
                    target.item.deleted.add(target.original)
                    state.touch(target.item, {"DeletedOccurrences"})
                elif move:
                    state.move_item(target.item.id, state.distinguished(me, "deleteditems").id)
                else:
                    state.delete_item(target.item.id)
        except OperationError as exc:
            messages.append(error("DeleteItem", exc))
            continue
        messages.append(success("DeleteItem"))
    return response("DeleteItem", messages)
