"""Calendar items from plain data (the control API's JSON), written as the same XML a client would send,
so seeded items and client-created items are one kind of thing.

``{"subject", "start", "end"}`` (ISO times with an offset, or dates with ``"is_all_day": true``) and optional
``time_zone`` (Windows id or IANA name), ``free_busy`` (Free|Tentative|Busy|OOF|WorkingElsewhere),
``is_cancelled``, ``my_response`` (Organizer|Accept|Tentative|Decline|NoResponseReceived), ``location``,
``uid``, ``body``, ``extended``: ``[{"property_set_id", "name", "type": "String", "value"}]``, and
``recurrence``: ``{"pattern": "daily"|"weekly"|"absolute_monthly"|"absolute_yearly", "interval", "days":
["Monday"], "day_of_month", "month", "count" | "until" (date)}``."""

from __future__ import annotations

from datetime import UTC
from typing import Any

from lxml import etree

from creneau.emulators.ews.model import parse_time, windows_name, zone
from creneau.emulators.ews.soap import NSMAP, Element, new, sub, t

_PATTERNS = {
    "daily": "DailyRecurrence",
    "weekly": "WeeklyRecurrence",
    "absolute_monthly": "AbsoluteMonthlyRecurrence",
    "absolute_yearly": "AbsoluteYearlyRecurrence",
}
_MONTHS = [
    "January",
    "February",
    "March",
    "April",
    "May",
    "June",
    "July",
    "August",
    "September",
    "October",
    "November",
    "December",
]


def _zone_id(name: str | None) -> str | None:
    if not name:
        return None
    tz = zone(name)
    key = getattr(tz, "key", "UTC")
    return name if " " in name or name == "UTC" else windows_name(key)


def _recurrence(spec: dict[str, Any], start_text: str, tz_name: str | None) -> Element:
    kind = _PATTERNS.get(str(spec.get("pattern", "")))
    if kind is None:
        raise ValueError(f"recurrence pattern must be one of {sorted(_PATTERNS)}")
    first = parse_time(start_text, zone(tz_name)).astimezone(zone(tz_name))
    out = new(t("Recurrence"))
    pattern = sub(out, t(kind))
    if kind != "AbsoluteYearlyRecurrence":
        sub(pattern, t("Interval"), str(int(spec.get("interval", 1))))
    if kind == "WeeklyRecurrence":
        days = spec.get("days") or [first.strftime("%A")]
        sub(pattern, t("DaysOfWeek"), " ".join(str(d) for d in days))
        sub(pattern, t("FirstDayOfWeek"), "Monday")
    if kind in ("AbsoluteMonthlyRecurrence", "AbsoluteYearlyRecurrence"):
        sub(pattern, t("DayOfMonth"), str(int(spec.get("day_of_month", first.day))))
    if kind == "AbsoluteYearlyRecurrence":
        sub(pattern, t("Month"), _MONTHS[int(spec.get("month", first.month)) - 1])
    if spec.get("count"):
        range_ = sub(out, t("NumberedRecurrence"))
        sub(range_, t("StartDate"), first.date().isoformat())
        sub(range_, t("NumberOfOccurrences"), str(int(spec["count"])))
    elif spec.get("until"):
        range_ = sub(out, t("EndDateRecurrence"))
        sub(range_, t("StartDate"), first.date().isoformat())
        sub(range_, t("EndDate"), str(spec["until"])[:10])
    else:
        sub(sub(out, t("NoEndRecurrence")), t("StartDate"), first.date().isoformat())
    return out


def event_element(data: dict[str, Any]) -> Element:
    """A ``t:CalendarItem`` element for ``data`` (see the module docstring).

    :raises ValueError: for a missing or unreadable field
    """
    if "xml" in data:
        return etree.fromstring(
            str(data["xml"]).replace("<t:CalendarItem>", f'<t:CalendarItem xmlns:t="{NSMAP["t"]}">', 1)
        )
    for key in ("subject", "start", "end"):
        if key not in data:
            raise ValueError(f"an event needs {key!r}")
    tz_name = data.get("time_zone")
    tz = zone(tz_name)
    all_day = bool(data.get("is_all_day"))
    item = new(t("CalendarItem"))
    sub(item, t("Subject"), str(data["subject"]))
    if data.get("body"):
        sub(item, t("Body"), str(data["body"]), BodyType="Text")
    for prop in data.get("extended", []):
        ext = sub(item, t("ExtendedProperty"))
        uri = sub(ext, t("ExtendedFieldURI"))
        if prop.get("property_set_id"):
            uri.set("PropertySetId", str(prop["property_set_id"]))
        if prop.get("distinguished_set"):
            uri.set("DistinguishedPropertySetId", str(prop["distinguished_set"]))
        uri.set("PropertyName", str(prop["name"]))
        uri.set("PropertyType", str(prop.get("type", "String")))
        sub(ext, t("Value"), str(prop["value"]))
    start = parse_time(str(data["start"]), tz)
    end = parse_time(str(data["end"]), tz)
    sub(item, t("Start"), start.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"))
    sub(item, t("End"), end.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"))
    if all_day:
        sub(item, t("IsAllDayEvent"), "true")
    sub(item, t("LegacyFreeBusyStatus"), str(data.get("free_busy", "Busy")))
    if data.get("location"):
        sub(item, t("Location"), str(data["location"]))
    if data.get("is_cancelled"):
        sub(item, t("IsCancelled"), "true")
    if data.get("my_response"):
        sub(item, t("MyResponseType"), str(data["my_response"]))
    if data.get("uid"):
        sub(item, t("UID"), str(data["uid"]))
    if data.get("recurrence"):
        item.append(_recurrence(dict(data["recurrence"]), str(data["start"]), tz_name))
    zone_id = _zone_id(tz_name)
    if zone_id:
        sub(item, t("StartTimeZone"), Id=zone_id)
        sub(item, t("EndTimeZone"), Id=zone_id)
    return item
