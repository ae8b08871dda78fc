"""The stored properties of a calendar item as a client sent them: what Exchange lets a client set, how it
normalises values (``xs:boolean``), which times and recurrences it accepts, and a new item's computed UID."""

from __future__ import annotations

import copy
import uuid
from datetime import UTC

from creneau.emulators.ews import recurrence
from creneau.emulators.ews.model import Folder, Item, Mailbox, ext_key, new_id, parse_time, zone_of
from creneau.emulators.ews.soap import Element, OperationError, local, new, t

# Properties Exchange computes: a client cannot set them (they are ignored on create, refused on update).
READ_ONLY = frozenset(
    [
        "ItemId",
        "ParentFolderId",
        "DateTimeCreated",
        "LastModifiedTime",
        "LastModifiedName",
        "CalendarItemType",
        "IsRecurring",
        "FirstOccurrence",
        "LastOccurrence",
        "ModifiedOccurrences",
        "DeletedOccurrences",
        "Organizer",
        "MyResponseType",
        "OriginalStart",
        "Duration",
        "EffectiveRights",
        "DateTimeReceived",
        "Size",
        "HasAttachments",
        "IsCancelled",
        "MimeContent",  # creating an item from iCalendar is not emulated
    ]
)

# xs:boolean properties: clients may write 0/1, Exchange answers true/false
BOOLEANS = frozenset(
    [
        "IsAllDayEvent",
        "ReminderIsSet",
        "IsResponseRequested",
        "AllowNewTimeProposal",
        "IsOnlineMeeting",
        "IsDraft",
        "IsCancelled",
        "IsMeeting",
        "IsReadReceiptRequested",
        "IsDeliveryReceiptRequested",
    ]
)


def normalised(element: Element) -> Element:
    copied = copy.deepcopy(element)
    if local(copied) in BOOLEANS and copied.text is not None:
        copied.text = "true" if copied.text.strip().lower() in ("1", "true") else "false"
    return copied


def check_times(props: dict[str, Element]) -> None:
    try:
        tz = zone_of(props.get("StartTimeZone")) or zone_of(props.get("MeetingTimeZone")) or UTC
        start = parse_time(props["Start"].text or "", tz) if "Start" in props else None
        end = (
            parse_time(props["End"].text or "", zone_of(props.get("EndTimeZone")) or tz)
            if "End" in props
            else None
        )
    except ValueError:
        raise OperationError("ErrorInvalidValueForProperty", "The value is invalid for property.") from None
    if start is not None and end is not None and end < start:
        raise OperationError(
            "ErrorCalendarEndDateIsEarlierThanStartDate", "The EndDate is earlier than the StartDate."
        )
    rule = recurrence.element_of(props.get("Recurrence"))
    if rule is not None:
        recurrence.validate(rule)


def new_props(element: Element, *, trusted: bool = False) -> tuple[dict[str, Element], list[Element]]:
    """The stored properties of a ``t:CalendarItem`` a client sent (``trusted``: the control API, which may
    also set what Exchange computes for items it received, e.g. ``IsCancelled`` or ``MyResponseType``)."""
    props: dict[str, Element] = {}
    extended: list[Element] = []
    for child in element:
        if not isinstance(child.tag, str):
            continue
        name = local(child)
        if name == "ExtendedProperty":
            extended = [e for e in extended if ext_key(e) != ext_key(child)] + [copy.deepcopy(child)]
        elif trusted or name not in READ_ONLY:
            props[name] = normalised(child)
    return props, extended


def new_item(me: Mailbox, folder: Folder, props: dict[str, Element], extended: list[Element]) -> Item:
    if "UID" not in props:  # Exchange's own UID shape (a Global Object ID in hex)
        props["UID"] = new(t("UID"), "040000008200E00074C5B7101A82E00800000000" + uuid.uuid4().hex.upper())
    return Item(id=new_id(), mailbox=me.email.casefold(), folder_id=folder.id, props=props, extended=extended)
