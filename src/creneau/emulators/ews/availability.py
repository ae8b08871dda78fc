"""GetUserAvailability (free/busy of mailboxes' default calendars: merged string and calendar events) and
GetServerTimeZones.

As in Exchange, availability reads only a mailbox's default Calendar folder, leaves out Free, cancelled and
declined items, and writes times as local wall-clock times of the request's ``t:TimeZone``."""

from __future__ import annotations

from datetime import datetime, timedelta

from creneau.emulators.ews import timezones
from creneau.emulators.ews.model import Item, Mailbox, Occurrence
from creneau.emulators.ews.soap import (
    Element,
    OperationError,
    SoapFault,
    m,
    new,
    sub,
    success,
    t,
    text_of,
)
from creneau.emulators.ews.state import EwsState

_MERGED = {"Free": "0", "Tentative": "1", "Busy": "2", "OOF": "3", "WorkingElsewhere": "4", "NoData": "5"}
_VIEWS = frozenset({"None", "MergedOnly", "FreeBusy", "FreeBusyMerged", "Detailed", "DetailedMerged"})
_MAX_DAYS = 62  # Exchange's default availability window limit (42 days + 20, per its configuration)


def _local(moment: datetime, zone: timezones.LegacyZone) -> str:
    return zone.to_local(moment).strftime("%Y-%m-%dT%H:%M:%S")


def _parse(text: str | None, zone: timezones.LegacyZone) -> datetime:
    if not text:
        raise SoapFault("ErrorSchemaValidation", "The request failed schema validation: TimeWindow.")
    value = datetime.fromisoformat(text.replace("Z", "+00:00"))
    return value if value.tzinfo else zone.to_utc(value)


def _status(master: Item, exception: Occurrence | None) -> tuple[str, bool]:
    def read(name: str, default: str) -> str:
        if exception is not None and name in exception.props:
            return (exception.props[name].text or default).strip()
        return master.text(name, default) or default

    # a cancelled meeting, or one the owner declined, no longer blocks time
    gone = read("IsCancelled", "false").lower() == "true" or read("MyResponseType", "Organizer") == "Decline"
    return read("LegacyFreeBusyStatus", "Busy"), gone


def _events(
    state: EwsState, mailbox: Mailbox, start: datetime, end: datetime
) -> list[tuple[datetime, datetime, str, Item, Occurrence | None]]:
    out = []
    for item in state.items_in(mailbox.calendar_id):
        for _index, _original, begin, finish, exception in state.instances(item, start, end):
            status, cancelled = _status(item, exception)
            if cancelled or status == "Free":
                continue
            out.append((begin, finish, status, item, exception))
    out.sort(key=lambda e: (e[0], e[1]))
    return out


def _view(
    state: EwsState,
    mailbox: Mailbox,
    zone: timezones.LegacyZone,
    start: datetime,
    end: datetime,
    view: str,
    interval: int,
) -> Element:
    events = _events(state, mailbox, start, end)
    out = new(m("FreeBusyView"))
    sub(out, t("FreeBusyViewType"), view)
    if view.endswith("Merged") or view == "MergedOnly":
        slots = []
        moment = start
        rank = list(_MERGED)
        while moment < end:
            following = moment + timedelta(minutes=interval)
            worst = "Free"
            for begin, finish, status, _item, _exc in events:
                if begin < following and finish > moment and rank.index(status) > rank.index(worst):
                    worst = status if status in _MERGED else "Busy"
            slots.append(_MERGED[worst])
            moment = following
        sub(out, t("MergedFreeBusy"), "".join(slots))
    if view != "MergedOnly":
        array = sub(out, t("CalendarEventArray"))
        for begin, finish, status, item, exception in events:
            event = sub(array, t("CalendarEvent"))
            sub(event, t("StartTime"), _local(begin, zone))
            sub(event, t("EndTime"), _local(finish, zone))
            sub(event, t("BusyType"), status)
            if view.startswith("Detailed"):
                details = sub(event, t("CalendarEventDetails"))
                sub(details, t("ID"), exception.id if exception else item.id)
                subject = exception.props.get("Subject") if exception else None
                sub(
                    details,
                    t("Subject"),
                    (subject.text if subject is not None else item.text("Subject")) or "",
                )
                sub(details, t("Location"), item.text("Location", "") or "")
                sub(details, t("IsMeeting"), "true" if "RequiredAttendees" in item.props else "false")
                sub(details, t("IsRecurring"), "true" if item.is_recurring else "false")
                sub(details, t("IsException"), "true" if exception is not None else "false")
                sub(details, t("IsReminderSet"), "true")
                sub(details, t("IsPrivate"), "false")
    return out


def get_user_availability(state: EwsState, me: Mailbox, request: Element) -> Element:
    zone = timezones.legacy_zone(request.find(t("TimeZone")))
    options = request.find(t("FreeBusyViewOptions"))
    if options is None:
        raise SoapFault("ErrorSchemaValidation", "The request failed schema validation: FreeBusyViewOptions.")
    start = _parse(text_of(options, "t:TimeWindow/t:StartTime"), zone)
    end = _parse(text_of(options, "t:TimeWindow/t:EndTime"), zone)
    view = text_of(options, "t:RequestedView", "DetailedMerged") or "DetailedMerged"
    interval = int(text_of(options, "t:MergedFreeBusyIntervalInMinutes", "30") or "30")
    if view not in _VIEWS or not 5 <= interval <= 1440:
        raise SoapFault("ErrorSchemaValidation", "The request failed schema validation: FreeBusyViewOptions.")
    if end <= start:
        raise SoapFault(
            "ErrorInvalidTimeInterval", "The time window is invalid: EndTime is before StartTime."
        )
    if end - start > timedelta(days=_MAX_DAYS):
        raise SoapFault(
            "ErrorProxyRequestProcessingFailed",
            f"The time window requested is larger than the maximum of {_MAX_DAYS} days.",
        )
    wrapper = new(m("GetUserAvailabilityResponse"))
    array = sub(wrapper, m("FreeBusyResponseArray"))
    mailboxes = request.find(m("MailboxDataArray"))
    for data in [] if mailboxes is None else mailboxes:
        address = text_of(data, "t:Email/t:Address") or ""
        answer = sub(array, m("FreeBusyResponse"))
        try:
            with state.lock:
                target = state.mailbox(address)
                view_element = _view(state, target, zone, start, end, view, interval)
        except OperationError:
            message = sub(answer, m("ResponseMessage"), ResponseClass="Error")
            sub(message, m("MessageText"), f"No mailbox with such guid. {address}")
            sub(message, m("ResponseCode"), "ErrorMailRecipientNotFound")
            sub(message, m("DescriptiveLinkKey"), "0")
            view_element = new(m("FreeBusyView"))
            sub(view_element, t("FreeBusyViewType"), "None")
            answer.append(view_element)
            continue
        message = sub(answer, m("ResponseMessage"), ResponseClass="Success")
        sub(message, m("ResponseCode"), "NoError")
        answer.append(view_element)
    return wrapper


def get_server_time_zones(state: EwsState, me: Mailbox, request: Element) -> Element:
    ids_element = request.find(m("Ids"))
    wanted = (
        [i.text.strip() for i in ids_element if isinstance(i.tag, str) and i.text]
        if ids_element is not None
        else timezones.all_ids()
    )
    full = (request.get("ReturnFullTimeZoneData") or "true").lower() == "true"
    wrapper = new(m("GetServerTimeZonesResponse"))
    messages = sub(wrapper, m("ResponseMessages"))
    message = success("GetServerTimeZones")
    definitions = sub(message, m("TimeZoneDefinitions"))
    for windows_id in wanted:
        found = timezones.definition(windows_id)
        if found is None:
            error = new(m("GetServerTimeZonesResponseMessage"), ResponseClass="Error")
            sub(error, m("MessageText"), f"The specified time zone isn't valid: {windows_id}")
            sub(error, m("ResponseCode"), "ErrorInvalidArgument")
            sub(error, m("DescriptiveLinkKey"), "0")
            messages.append(error)
            return wrapper
        if not full:
            found = new(t("TimeZoneDefinition"), Name=windows_id, Id=windows_id)
        definitions.append(found)
    messages.append(message)
    return wrapper
