"""Calendar items as EWS writes them: stored properties plus the ones Exchange computes (ids, item type,
UTC times, organizer, occurrence lists of a series), filtered by the shape the client asked for, in the
order of ``types.xsd``."""

from __future__ import annotations

import base64
import copy
import dataclasses
from collections.abc import Callable
from datetime import datetime

from creneau.emulators.ews import mime, recurrence
from creneau.emulators.ews.model import Item, Occurrence, ext_key, format_time, zone_of
from creneau.emulators.ews.shapes import Shape
from creneau.emulators.ews.soap import Element, local, new, sub, t
from creneau.emulators.ews.state import EwsState

# ItemType then CalendarItemType element order (types.xsd)
ORDER = [
    "MimeContent",
    "ItemId",
    "ParentFolderId",
    "ItemClass",
    "Subject",
    "Sensitivity",
    "Body",
    "Attachments",
    "DateTimeReceived",
    "Size",
    "Categories",
    "Importance",
    "InReplyTo",
    "IsSubmitted",
    "IsDraft",
    "IsFromMe",
    "IsResend",
    "IsUnmodified",
    "InternetMessageHeaders",
    "DateTimeSent",
    "DateTimeCreated",
    "ResponseObjects",
    "ReminderDueBy",
    "ReminderIsSet",
    "ReminderNextTime",
    "ReminderMinutesBeforeStart",
    "DisplayCc",
    "DisplayTo",
    "HasAttachments",
    "ExtendedProperty",
    "Culture",
    "EffectiveRights",
    "LastModifiedName",
    "LastModifiedTime",
    "IsAssociated",
    "WebClientReadFormQueryString",
    "WebClientEditFormQueryString",
    "ConversationId",
    "UniqueBody",
    "UID",
    "RecurrenceId",
    "DateTimeStamp",
    "Start",
    "End",
    "OriginalStart",
    "IsAllDayEvent",
    "LegacyFreeBusyStatus",
    "Location",
    "When",
    "IsMeeting",
    "IsCancelled",
    "IsRecurring",
    "MeetingRequestWasSent",
    "IsResponseRequested",
    "CalendarItemType",
    "MyResponseType",
    "Organizer",
    "RequiredAttendees",
    "OptionalAttendees",
    "Resources",
    "ConflictingMeetingCount",
    "AdjacentMeetingCount",
    "ConflictingMeetings",
    "AdjacentMeetings",
    "Duration",
    "TimeZone",
    "AppointmentReplyTime",
    "AppointmentSequenceNumber",
    "AppointmentState",
    "Recurrence",
    "FirstOccurrence",
    "LastOccurrence",
    "ModifiedOccurrences",
    "DeletedOccurrences",
    "MeetingTimeZone",
    "StartTimeZone",
    "EndTimeZone",
    "ConferenceType",
    "AllowNewTimeProposal",
    "IsOnlineMeeting",
    "MeetingWorkspaceUrl",
    "NetShowUrl",
    "EnhancedLocation",
    "StartWallClock",
    "EndWallClock",
    "StartTimeZoneId",
    "EndTimeZoneId",
    "IntendedFreeBusyStatus",
    "JoinOnlineMeetingUrl",
    "OnlineMeetingSettings",
    "IsOrganizer",
]
_RANK = {name: i for i, name in enumerate(ORDER)}
# What BaseShape "Default" returns for a calendar item
DEFAULT_FIELDS = frozenset(
    [
        "ItemId",
        "ParentFolderId",
        "Subject",
        "Attachments",
        "HasAttachments",
        "IsAssociated",
        "Start",
        "End",
        "LegacyFreeBusyStatus",
        "Location",
        "CalendarItemType",
        "Organizer",
    ]
)
_OCCURRENCE_MARK = b"\x00\x03\x24\x00\x4f"


def occurrence_id(master_id: str, index: int) -> str:
    """The id of an unmodified occurrence (Exchange derives it from the master's; so do we)."""
    return base64.b64encode(_OCCURRENCE_MARK + f"{master_id}|{index}".encode()).decode()


def parse_occurrence_id(item_id: str) -> tuple[str, int] | None:
    try:
        raw = base64.b64decode(item_id, validate=True)
    except ValueError:
        return None
    if not raw.startswith(_OCCURRENCE_MARK):
        return None
    master, _, index = raw[len(_OCCURRENCE_MARK) :].decode(errors="replace").rpartition("|")
    return (master, int(index)) if index.isdigit() else None


def _el(name: str, text: str | None = None, **attrs: str) -> Element:
    return new(t(name), text, **attrs)


def _bool(value: bool) -> str:
    return "true" if value else "false"


def _occurrence_info(
    tag: str, item_id: str, change_key: str, start: datetime, end: datetime, original: datetime
) -> Element:
    out = _el(tag)
    sub(out, t("ItemId"), Id=item_id, ChangeKey=change_key)
    sub(out, t("Start"), format_time(start))
    sub(out, t("End"), format_time(end))
    sub(out, t("OriginalStart"), format_time(original))
    return out


def _series(state: EwsState, item: Item) -> dict[str, Element]:
    rule = recurrence.element_of(item.props.get("Recurrence"))
    if rule is None:
        return {}
    out: dict[str, Element] = {}
    duration = item.end - item.start
    starts = list(recurrence.original_starts(rule, item.start, item.start_zone))
    kept = [(i, s) for i, s in starts if s not in item.deleted]
    bounded = any(local(c) in ("EndDateRecurrence", "NumberedRecurrence") for c in rule)

    def info(tag: str, index: int, original: datetime) -> Element:
        exception = item.exceptions.get(original)
        if exception is not None:
            begin, finish = state.exception_times(item, exception)
            return _occurrence_info(tag, exception.id, exception.change_key, begin, finish, original)
        ident = occurrence_id(item.id, index)
        return _occurrence_info(tag, ident, item.change_key, original, original + duration, original)

    if kept:
        out["FirstOccurrence"] = info("FirstOccurrence", *kept[0])
        if bounded:
            out["LastOccurrence"] = info("LastOccurrence", *kept[-1])
    if item.exceptions:
        modified = _el("ModifiedOccurrences")
        index_of = {s: i for i, s in starts}
        for original in sorted(item.exceptions):
            modified.append(info("Occurrence", index_of.get(original, 0), original))
        out["ModifiedOccurrences"] = modified
    if item.deleted:
        deleted = _el("DeletedOccurrences")
        for original in sorted(item.deleted):
            sub(sub(deleted, t("DeletedOccurrence")), t("Start"), format_time(original))
        out["DeletedOccurrences"] = deleted
    return out


def chosen(name: str, wanted: Shape) -> bool:
    """Whether a response with this shape carries the property ``name``."""
    return name == "ItemId" or wanted.wants(name, default=name in DEFAULT_FIELDS)


def _computed(state: EwsState, item: Item, wanted: Shape) -> dict[str, Element]:
    """The properties Exchange computes for ``item``, only those ``wanted`` (building the others costs)."""
    folder = state.folders.get(item.folder_id)
    owner = state.mailboxes.get(item.mailbox)
    thunks: dict[str, Callable[[], Element]] = {
        "ItemId": lambda: _el("ItemId", Id=item.id, ChangeKey=item.change_key),
        "ParentFolderId": lambda: _el(
            "ParentFolderId", Id=item.folder_id, ChangeKey=folder.change_key if folder else ""
        ),
        "ItemClass": lambda: _el("ItemClass", "IPM.Appointment"),
        "Sensitivity": lambda: _el("Sensitivity", "Normal"),
        "DateTimeReceived": lambda: _el("DateTimeReceived", format_time(item.created)),
        "Size": lambda: _el("Size", "1024"),
        "Importance": lambda: _el("Importance", "Normal"),
        "IsSubmitted": lambda: _el("IsSubmitted", "false"),
        "IsDraft": lambda: _el("IsDraft", "false"),
        "IsFromMe": lambda: _el("IsFromMe", "false"),
        "IsResend": lambda: _el("IsResend", "false"),
        "IsUnmodified": lambda: _el("IsUnmodified", "false"),
        "DateTimeSent": lambda: _el("DateTimeSent", format_time(item.created)),
        "DateTimeCreated": lambda: _el("DateTimeCreated", format_time(item.created)),
        "ReminderIsSet": lambda: _el("ReminderIsSet", "true"),
        "ReminderMinutesBeforeStart": lambda: _el("ReminderMinutesBeforeStart", "15"),
        "HasAttachments": lambda: _el("HasAttachments", "false"),
        "LastModifiedName": lambda: _el("LastModifiedName", owner.display_name if owner else ""),
        "LastModifiedTime": lambda: _el("LastModifiedTime", format_time(item.modified)),
        "IsAssociated": lambda: _el("IsAssociated", "false"),
        "Start": lambda: _el("Start", format_time(item.start)),
        "End": lambda: _el("End", format_time(item.end)),
        "IsAllDayEvent": lambda: _el("IsAllDayEvent", "false"),
        "LegacyFreeBusyStatus": lambda: _el("LegacyFreeBusyStatus", "Busy"),
        "IsMeeting": lambda: _el("IsMeeting", _bool(bool(item.props.get("RequiredAttendees") is not None))),
        "IsCancelled": lambda: _el("IsCancelled", "false"),
        "IsRecurring": lambda: _el("IsRecurring", _bool(item.is_recurring)),
        "MeetingRequestWasSent": lambda: _el("MeetingRequestWasSent", "false"),
        "IsResponseRequested": lambda: _el("IsResponseRequested", "true"),
        "CalendarItemType": lambda: _el(
            "CalendarItemType", "RecurringMaster" if item.is_recurring else "Single"
        ),
        "MyResponseType": lambda: _el("MyResponseType", "Organizer"),
        "AppointmentSequenceNumber": lambda: _el("AppointmentSequenceNumber", "0"),
        "AppointmentState": lambda: _el("AppointmentState", "0"),
        "Duration": lambda: _el("Duration", _duration(item)),
        "StartTimeZone": lambda: _el("StartTimeZone", Id="UTC", Name="(UTC) Coordinated Universal Time"),
        "EndTimeZone": lambda: _el("EndTimeZone", Id="UTC", Name="(UTC) Coordinated Universal Time"),
        "IsOnlineMeeting": lambda: _el("IsOnlineMeeting", "false"),
        "IsOrganizer": lambda: _el("IsOrganizer", "true"),
        "EffectiveRights": lambda: _rights(folder is not None and folder.read_only),
    }
    if owner is not None:
        thunks["Organizer"] = lambda: _organizer(owner.display_name, owner.email)
    return {name: make() for name, make in thunks.items() if chosen(name, wanted)}


def _organizer(name: str, email: str) -> Element:
    organizer = _el("Organizer")
    mailbox = sub(organizer, t("Mailbox"))
    sub(mailbox, t("Name"), name)
    sub(mailbox, t("EmailAddress"), email)
    sub(mailbox, t("RoutingType"), "SMTP")
    sub(mailbox, t("MailboxType"), "Mailbox")
    return organizer


def _rights(read_only: bool) -> Element:
    rights = _el("EffectiveRights")
    for name in ("CreateAssociated", "CreateContents", "CreateHierarchy", "Delete", "Modify"):
        sub(rights, t(name), _bool(not read_only))
    sub(rights, t("Read"), "true")
    sub(rights, t("ViewPrivateItems"), "true")
    return rights


def _duration(item: Item) -> str:
    seconds = int((item.end - item.start).total_seconds())
    hours, rest = divmod(max(seconds, 0), 3600)
    return f"PT{hours}H{rest // 60}M" if rest % 60 == 0 else f"PT{hours}H{rest // 60}M{rest % 60}S"


def _assemble(
    props: dict[str, Element], extended: list[Element], wanted: Shape, *, tag: str = "CalendarItem"
) -> Element:
    """The item element: the wanted properties (fresh elements, moved in) in schema order, the extended
    properties asked for by their ``ExtendedFieldURI`` at the place types.xsd gives them."""
    out = new(t(tag))
    ranked = sorted(
        ((name, el) for name, el in props.items() if chosen(name, wanted) and name != "ExtendedProperty"),
        key=lambda pair: _RANK.get(pair[0], len(_RANK)),
    )
    keys = [ext_key(uri) for uri in wanted.extended]
    asked = [copy.deepcopy(prop) for prop in extended if ext_key(prop) in keys]
    rank_ext = _RANK["ExtendedProperty"]
    for name, element in ranked:
        if asked and _RANK.get(name, len(_RANK)) > rank_ext:
            out.extend(asked)
            asked = []
        out.append(element)
    out.extend(asked)
    return out


def _stored(item_props: dict[str, Element], wanted: Shape) -> dict[str, Element]:
    return {name: copy.deepcopy(el) for name, el in item_props.items() if chosen(name, wanted)}


_SERIES = ("FirstOccurrence", "LastOccurrence", "ModifiedOccurrences", "DeletedOccurrences")


def item_element(state: EwsState, item: Item, wanted: Shape) -> Element:
    props = _computed(state, item, wanted)
    props.update(_stored(item.props, wanted))
    if wanted.include_mime or "MimeContent" in wanted.fields:  # never part of AllProperties
        times = {o: state.exception_times(item, e) for o, e in item.exceptions.items()}
        content = base64.b64encode(mime.ical(item, times)).decode()
        props["MimeContent"] = _el("MimeContent", content, CharacterSet="UTF-8")
        wanted = dataclasses.replace(wanted, fields=wanted.fields | {"MimeContent"})
    if chosen("Start", wanted):
        props["Start"] = _el("Start", format_time(item.start))
    if chosen("End", wanted):
        props["End"] = _el("End", format_time(item.end))
    if any(chosen(name, wanted) for name in _SERIES):
        props.update(_series(state, item))
    for name in ("StartTimeZone", "EndTimeZone", "MeetingTimeZone"):
        if name in item.props and name in props and zone_of(item.props[name]) is None:
            del props[name]  # a zone we could not read is not echoed
    return _assemble(props, item.extended, wanted)


def occurrence_element(
    state: EwsState,
    master: Item,
    index: int,
    original: datetime,
    exception: Occurrence | None,
    wanted: Shape,
) -> Element:
    """An occurrence (``CalendarItemType`` Occurrence) or exception (Exception) of ``master``."""
    props = _computed(state, master, wanted)
    props.update(_stored(master.props, wanted))
    for name in (
        "Recurrence",
        "FirstOccurrence",
        "LastOccurrence",
        "ModifiedOccurrences",
        "DeletedOccurrences",
    ):
        props.pop(name, None)
    duration = master.end - master.start
    begin, finish = original, original + duration
    if exception is not None:
        props.update(_stored(exception.props, wanted))
        begin, finish = state.exception_times(master, exception)
        props["ItemId"] = _el("ItemId", Id=exception.id, ChangeKey=exception.change_key)
    else:
        props["ItemId"] = _el("ItemId", Id=occurrence_id(master.id, index), ChangeKey=master.change_key)
    props["Start"] = _el("Start", format_time(begin))
    props["End"] = _el("End", format_time(finish))
    props["OriginalStart"] = _el("OriginalStart", format_time(original))
    props["RecurrenceId"] = _el("RecurrenceId", format_time(original))
    props["CalendarItemType"] = _el("CalendarItemType", "Exception" if exception else "Occurrence")
    props["IsRecurring"] = _el("IsRecurring", "true")
    return _assemble(props, master.extended, wanted)
