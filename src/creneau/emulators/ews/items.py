"""GetItem, FindItem (calendar items, their occurrences and exceptions), ConvertId (which clients call to
learn the server version), and how an item id resolves to a series, an item or one occurrence. Writes are in
``writes``."""

from __future__ import annotations

import functools
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from creneau.emulators.ews import recurrence
from creneau.emulators.ews.model import (
    Folder,
    Item,
    Mailbox,
    Occurrence,
    parse_time,
)
from creneau.emulators.ews.render import item_element, occurrence_element, parse_occurrence_id
from creneau.emulators.ews.restriction import matches
from creneau.emulators.ews.shapes import ItemRef, Shape, folder_ref, folder_refs, item_ref, shape
from creneau.emulators.ews.soap import (
    Element,
    OperationError,
    error,
    m,
    response,
    sub,
    success,
    t,
)
from creneau.emulators.ews.state import EwsState


@dataclass
class Target:
    """What an item id names: a single item or series (``original`` None), or one occurrence of a series."""

    item: Item
    original: datetime | None = None
    index: int | None = None

    @property
    def exception(self) -> Occurrence | None:
        return None if self.original is None else self.item.exceptions.get(self.original)

    @property
    def change_key(self) -> str:
        exception = self.exception
        return exception.change_key if exception is not None else self.item.change_key


def _original_of(item: Item, index: int) -> datetime:
    rule = recurrence.element_of(item.props.get("Recurrence"))
    if rule is None:
        raise OperationError(
            "ErrorCalendarOccurrenceIndexIsOutOfRecurrenceRange", "The occurrence index is out of range."
        )
    for position, original in recurrence.original_starts(rule, item.start, item.start_zone):
        if position == index:
            if original in item.deleted:
                raise OperationError(
                    "ErrorCalendarOccurrenceIsDeletedFromRecurrence",
                    "Occurrence with this index was previously deleted from the recurrence.",
                )
            return original
        if position > index:
            break
    raise OperationError(
        "ErrorCalendarOccurrenceIndexIsOutOfRecurrenceRange", "The occurrence index is out of range."
    )


def _index_of(item: Item, original: datetime) -> int:
    rule = recurrence.element_of(item.props.get("Recurrence"))
    if rule is not None:
        for position, start in recurrence.original_starts(rule, item.start, item.start_zone, until=original):
            if start == original:
                return position
    return 0


def resolve(state: EwsState, me: Mailbox, ref: ItemRef) -> Target:
    """:raises OperationError: ``ErrorItemNotFound`` and the occurrence errors Exchange answers"""
    with state.lock:
        if ref.master_id is not None and ref.instance_index is not None:
            master = state.item(me, ref.master_id)
            original = _original_of(master, ref.instance_index)
            return Target(master, original, ref.instance_index)
        if ref.id in state.items:
            return Target(state.item(me, ref.id))
        if ref.id in state.occurrence_index:
            master_id, original = state.occurrence_index[ref.id]
            master = state.item(me, master_id)
            return (
                Target(master) if ref.of_occurrence else Target(master, original, _index_of(master, original))
            )
        derived = parse_occurrence_id(ref.id)
        if derived is not None:
            master = state.item(me, derived[0])
            if ref.of_occurrence:
                return Target(master)
            return Target(master, _original_of(master, derived[1]), derived[1])
    raise OperationError("ErrorItemNotFound", "The specified object was not found in the store.")


def render(state: EwsState, target: Target, wanted_shape: Shape) -> Element:
    if target.original is None:
        return item_element(state, target.item, wanted_shape)
    return occurrence_element(
        state, target.item, target.index or 0, target.original, target.exception, wanted_shape
    )


def children_of(element: Element | None) -> list[Element]:
    return [] if element is None else [c for c in element if isinstance(c.tag, str)]


# -- reads ---------------------------------------------------------------------------------------------------
def get_item(state: EwsState, me: Mailbox, request: Element) -> Element:
    wanted = shape(request.find(m("ItemShape")))
    messages = []
    for element in children_of(request.find(m("ItemIds"))):
        try:
            target = resolve(state, me, item_ref(element))
            with state.lock:
                rendered = render(state, target, wanted)
        except OperationError as exc:
            messages.append(error("GetItem", exc))
            continue
        message = success("GetItem")
        sub(message, m("Items")).append(rendered)
        messages.append(message)
    return response("GetItem", messages)


FIND_COUNT_LIMIT = 1000


def find_item(state: EwsState, me: Mailbox, request: Element) -> Element:
    wanted = shape(request.find(m("ItemShape")))
    restriction = request.find(m("Restriction"))
    view = request.find(m("CalendarView"))
    paging = request.find(m("IndexedPageItemView"))
    messages = []
    for ref in folder_refs(request.find(m("ParentFolderIds"))):
        try:
            folder = folder_ref(state, me, ref)
            with state.lock:
                found = _find_in(state, folder, wanted, restriction, view)
        except OperationError as exc:
            messages.append(error("FindItem", exc))
            continue
        limit = 1000
        offset = 0
        if paging is not None:
            limit = int(paging.get("MaxEntriesReturned") or "1000")
            offset = int(paging.get("Offset") or "0")
        elif view is not None and view.get("MaxEntriesReturned"):
            # a calendar view does not page: the first entries, and IncludesLastItemInRange false
            limit = int(view.get("MaxEntriesReturned") or "1000")
        # Exchange's default throttling policy (EWSFindCountLimit) answers at most 1000 entries a call
        limit = max(1, min(limit, FIND_COUNT_LIMIT))
        page = found[offset : offset + limit]
        message = success("FindItem")
        last = offset + len(page) >= len(found)
        root = sub(
            message,
            m("RootFolder"),
            IndexedPagingOffset=str(offset + len(page)) if not last or paging is not None else None,
            TotalItemsInView=str(len(found)),
            IncludesLastItemInRange="true" if last else "false",
        )
        container = sub(root, t("Items"))
        with state.lock:
            for render_one in page:
                container.append(render_one())
        messages.append(message)
    return response("FindItem", messages)


def _find_in(
    state: EwsState, folder: Folder, wanted: Shape, restriction: Element | None, view: Element | None
) -> list[Callable[[], Element]]:
    """What a FindItem finds, in order, each rendered only if it is on the page sent."""
    found = state.items_in(folder.id)
    if restriction is not None:
        found = [i for i in found if matches(i, restriction)]
    if view is None:
        found.sort(key=lambda i: (i.start, i.created_seq))
        return [functools.partial(item_element, state, i, wanted) for i in found]
    try:
        start = parse_time(view.get("StartDate") or "")
        end = parse_time(view.get("EndDate") or "")
    except ValueError:
        raise OperationError("ErrorInvalidRequest", "The CalendarView dates are invalid.") from None
    if end < start:
        raise OperationError(
            "ErrorCalendarEndDateIsEarlierThanStartDate", "The EndDate is earlier than the StartDate."
        )
    expanded: list[tuple[datetime, int, Callable[[], Element]]] = []
    for item in found:
        # as documented: items ending before StartDate are left out, so one ending at StartDate is in
        for index, original, begin, _finish, exception in state.instances(item, start, end, touching=True):
            if item.is_recurring:
                render_one = functools.partial(
                    occurrence_element, state, item, index, original, exception, wanted
                )
            else:
                render_one = functools.partial(item_element, state, item, wanted)
            expanded.append((begin, item.created_seq, render_one))
    expanded.sort(key=lambda entry: (entry[0], entry[1]))
    return [render_one for _, _, render_one in expanded]


def convert_id(state: EwsState, me: Mailbox, request: Element) -> Element:
    messages = []
    for source in children_of(request.find(m("SourceIds"))):
        if source.get("Id") in state.items:
            message = success("ConvertId")
            converted = sub(message, m("AlternateId"))
            converted.set("Format", request.get("DestinationFormat") or "EwsId")
            converted.set("Id", source.get("Id") or "")
            converted.set("Mailbox", me.email)
            messages.append(message)
        else:
            messages.append(error("ConvertId", OperationError("ErrorInvalidIdMalformed", "Id is malformed.")))
    return response("ConvertId", messages)
