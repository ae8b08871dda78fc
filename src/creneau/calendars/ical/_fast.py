"""A fast reader for the common case: one VCALENDAR around one plain, non-recurring VEVENT.

icalendar spends most of :func:`parse`'s time building property objects the busy rules never read, and an
initial sync parses every object of a calendar. So :func:`parse` first hands the text (VTIMEZONEs split off,
irrelevant lines stripped: ``_vtimezone``, ``_strip``) to :func:`read_simple`, which reads the few values
the busy rules need straight from the lines, and uses icalendar only when it returns ``None``.

The contract is exactness: what this reader accepts it reads exactly as the icalendar path does
(``tests/calendars/test_fast_path.py`` compares both on the corpus, the benchmark's objects and generated
events). So it accepts only:

- exactly one VCALENDAR (only VERSION, PRODID, CALSCALE:GREGORIAN, without parameters) around exactly one
  VEVENT and nothing else; in the VEVENT only UID (derived from the content when absent, as ``_parse``
  does: ``_repair``), SUMMARY, DTSTART (required), DTEND or
  DURATION (not both), SEQUENCE, STATUS, TRANSP, ORGANIZER and ATTENDEE lines, each once except the last
  two: no RRULE, RDATE, EXDATE, EXRULE, RECURRENCE-ID, X-WR-TIMEZONE;
- plain content lines: ASCII names, unquoted parameter values without whitespace at their ends, none with the
  characters icalendar unescapes or rejects, no VALUE or ENCODING parameter except VALUE=DATE/DATE-TIME on
  DTSTART/DTEND (which take only TZID besides), single-valued TZID and PARTSTAT, addresses without ``\\``;
- DTSTART/DTEND as DATE ``YYYYMMDD`` (without TZID) or DATE-TIME ``YYYYMMDDTHHMMSS`` with ``Z``, a TZID or
  neither, both of one kind (DATE, zoned or floating once the TZID is resolved) and DTEND not before
  DTSTART; DURATION in an RFC 5545 form, not negative; a TZID icalendar can look up without failing.

Anything else returns ``None``: icalendar then reads the object, or refuses it with its usual message.
"""

from __future__ import annotations

import functools
import re
from datetime import date, datetime, timedelta, tzinfo
from zoneinfo import ZoneInfo

from icalendar.timezone import tzp

from creneau.calendars.ical._model import ParsedObject, SingleEvent
from creneau.calendars.ical._repair import NO_UID, derived_uid, vevent_blocks
from creneau.calendars.ical._zones import ObjectZones
from creneau.domain.timezones import to_utc

__all__ = ["read_simple"]

_UTC = ZoneInfo("UTC")  # the tzinfo icalendar gives "...Z" times
_PLAIN = r'[^\s";:,=\\^%\x00-\x1f\x7f]'  # ^ and % would be unescaped by icalendar (RFC 6868, its own)
_PARAM_VALUE = rf'(?:"[^"\\^%\x00-\x1f\x7f]*"|{_PLAIN}(?:[^";:,=\\^%\x00-\x1f\x7f]*{_PLAIN})?)'
_PARAM = rf";[A-Za-z0-9-]+={_PARAM_VALUE}(?:,{_PARAM_VALUE})*"
_LINE = re.compile(rf"([A-Za-z0-9-]+)((?:{_PARAM})*):(.*)")
_PARAMS = re.compile(rf";([A-Za-z0-9-]+)=({_PARAM_VALUE}(?:,{_PARAM_VALUE})*)")
_ONE_VALUE = re.compile(_PARAM_VALUE)
_ESCAPE = re.compile(r"\\([\\,;:nN])")  # what icalendar unescapes in every value it reads
_DATE = re.compile(r"[0-9]{8}")
_DATE_TIME = re.compile(r"[0-9]{8}T[0-9]{6}Z?")
_N = "[0-9]{1,6}"
_DUR_TIME = rf"T(?:{_N}H(?:{_N}M(?:{_N}S)?)?|{_N}M(?:{_N}S)?|{_N}S)"
_RFC_DURATION = re.compile(rf"\+?P(?:{_N}W|{_N}D(?:{_DUR_TIME})?|{_DUR_TIME})")
_DURATION_PARTS = re.compile(r"\+?P(?:(\d+)W)?(?:(\d+)D)?(?:T(?:(\d+)H)?(?:(\d+)M)?(?:(\d+)S)?)?")

_CALENDAR_PROPERTIES = frozenset({"VERSION", "PRODID", "CALSCALE"})
_EVENT_PROPERTIES = frozenset(
    {
        "UID",
        "SUMMARY",
        "DTSTART",
        "DTEND",
        "DURATION",
        "SEQUENCE",
        "STATUS",
        "TRANSP",
        "ORGANIZER",
        "ATTENDEE",
    }
)
_PEOPLE = ("ORGANIZER", "ATTENDEE")
# (state, BEGIN or END, component) -> next state: 0 outside, 1 in the calendar, 2 in the event, 3 in the
# calendar after the event, 4 after the calendar.
_STEPS = {
    (0, "BEGIN", "VCALENDAR"): 1,
    (1, "BEGIN", "VEVENT"): 2,
    (2, "END", "VEVENT"): 3,
    (3, "END", "VCALENDAR"): 4,
}

_Prop = tuple[str, str]  # raw parameters (";A=b;C=d" or ""), raw value


def read_simple(text: str, zones: ObjectZones) -> ParsedObject | None:
    """The parsed form of ``text`` (unfolded and stripped by ``strip_irrelevant``) if it is a lone plain
    event (see the module docstring), else ``None``. Never raises.

    ``zones`` resolves TZIDs with the object's VTIMEZONEs, as for the icalendar path.
    """
    found = _event_properties(text)
    if found is None:
        return None
    props, people = found
    texts = _texts(props)
    persons = _people(people)
    times = _times(props, zones)
    if texts is None or persons is None or times is None:
        return None
    repairs: tuple[str, ...] = ()
    if "UID" not in texts:
        texts["UID"], repairs = derived_uid(vevent_blocks(text), 0), (NO_UID,)
    event = SingleEvent(
        *times,
        status=texts.get("STATUS", ""),
        transp=texts.get("TRANSP", "OPAQUE"),
        organizers=persons[0],
        attendees=persons[1],
    )
    return ParsedObject(
        uid=texts["UID"],
        summary=texts.get("SUMMARY", ""),
        recurring=False,
        repairs=repairs,
        single=event,
    )


def _event_properties(text: str) -> tuple[dict[str, _Prop], list[tuple[str, _Prop]]] | None:
    """The VEVENT's properties by name and its ORGANIZER and ATTENDEE lines in order, if ``text`` is one
    VCALENDAR (VERSION, PRODID, CALSCALE:GREGORIAN) around one VEVENT of known properties, each once."""
    state = 0
    props: dict[str, _Prop] = {}
    header: dict[str, _Prop] = {}
    people: list[tuple[str, _Prop]] = []
    lines = text.split("\r\n")
    if lines[-1] != "":
        return None
    for line in lines[:-1]:
        match = _LINE.fullmatch(line)
        if match is None:
            return None
        name, params, value = match.groups()
        name = name.upper()
        if name in ("BEGIN", "END"):
            state = _STEPS.get((state, name, value.upper()), -1) if not params and value.isascii() else -1
            if state < 0:
                return None
        elif state == 2 and name in _PEOPLE:
            people.append((name, (params, value)))
        elif state == 2 and name in _EVENT_PROPERTIES and name not in props:
            props[name] = (params, value)
        elif state in (1, 3) and name in _CALENDAR_PROPERTIES and name not in header and not params:
            header[name] = (params, value)
        else:
            return None
    if state != 4:
        return None
    if "CALSCALE" in header and _unescaped(header["CALSCALE"][1]).strip().upper() != "GREGORIAN":
        return None
    return props, people


def _params(raw: str) -> dict[str, str] | None:
    """Parameters by upper-case name, raw values (quotes kept); ``None`` if a name repeats."""
    found: dict[str, str] = {}
    for match in _PARAMS.finditer(raw):
        key = match.group(1).upper()
        if key in found:
            return None
        found[key] = match.group(2)
    return found


def _one(raw: str) -> str | None:
    """A single parameter value without its quotes; ``None`` for a list."""
    if _ONE_VALUE.fullmatch(raw) is None:
        return None
    return raw[1:-1] if raw.startswith('"') else raw


def _unescaped(value: str) -> str:
    return (
        _ESCAPE.sub(lambda m: "\n" if m.group(1) in "nN" else m.group(1), value) if "\\" in value else value
    )


def _plain_params(raw: str) -> dict[str, str] | None:
    """Parameters of a property whose value is read as written: none that changes how it is read."""
    params = _params(raw) if raw else {}
    if params is None or "VALUE" in params or "ENCODING" in params:
        return None
    return params


def _texts(props: dict[str, _Prop]) -> dict[str, str] | None:
    """UID, SUMMARY, STATUS and TRANSP as icalendar reads them (unescaped, spaces kept)."""
    texts: dict[str, str] = {}
    for name in ("UID", "SUMMARY", "STATUS", "TRANSP"):
        if name in props:
            raw_params, value = props[name]
            if _plain_params(raw_params) is None:
                return None
            texts[name] = _unescaped(value)
    return texts


def _people(
    people: list[tuple[str, _Prop]],
) -> tuple[tuple[str, ...], tuple[tuple[str, str], ...]] | None:
    """The ORGANIZER addresses and the ATTENDEE (address, PARTSTAT) pairs.

    icalendar unescapes addresses too, and refuses one that then holds a line break: those are left to it.
    """
    organizers: list[str] = []
    attendees: list[tuple[str, str]] = []
    for name, (raw_params, value) in people:
        params = _plain_params(raw_params)
        if params is None or "\\" in value:
            return None
        if name == "ORGANIZER":
            organizers.append(value)
            continue
        partstat = _one(params["PARTSTAT"]) if "PARTSTAT" in params else "NEEDS-ACTION"
        if partstat is None:
            return None
        attendees.append((value, partstat))
    return tuple(organizers), tuple(attendees)


def _times(props: dict[str, _Prop], zones: ObjectZones) -> tuple[date, date | None, timedelta | None] | None:
    """DTSTART, DTEND and DURATION (at most one of the last two)."""
    start = _when(*props["DTSTART"], zones) if "DTSTART" in props else None
    if start is None or ("DTEND" in props and "DURATION" in props):
        return None
    if "DTEND" in props:
        end = _when(*props["DTEND"], zones)
        return (start, end, None) if end is not None and _in_order(start, end) else None
    if "DURATION" in props:
        duration = _duration(*props["DURATION"])
        return (start, None, duration) if duration is not None else None
    return start, None, None


def _when(raw_params: str, value: str, zones: ObjectZones) -> date | None:
    """A DTSTART/DTEND value as the icalendar path leaves it once re-zoned (``_parse._rezone``): a date,
    an aware date-time in UTC or in the zone its TZID means to us, or a naive (floating) one."""
    params = _params(raw_params) if raw_params else {}
    if params is None or not params.keys() <= {"TZID", "VALUE"}:
        return None
    kind = _one(params.get("VALUE", "DATE" if len(value) == 8 else "DATE-TIME"))
    kind = kind.upper() if kind is not None else None
    if kind == "DATE" and "TZID" not in params and _DATE.fullmatch(value):
        try:
            return date(int(value[:4]), int(value[4:6]), int(value[6:8]))
        except ValueError:
            return None
    if kind != "DATE-TIME" or not _DATE_TIME.fullmatch(value):
        return None
    zone: tzinfo | None = _UTC if value.endswith("Z") else None
    if "TZID" in params:
        tzid = _one(params["TZID"])
        if zone is not None or not tzid or not _icalendar_looks_up(tzid):
            return None
        zone = zones(tzid)  # None: a TZID nobody knows, read as floating
    try:
        day = int(value[:4]), int(value[4:6]), int(value[6:8])
        return datetime(*day, int(value[9:11]), int(value[11:13]), int(value[13:15]), tzinfo=zone)
    except ValueError:
        return None


@functools.lru_cache(maxsize=1024)
def _icalendar_looks_up(tzid: str) -> bool:
    """Whether icalendar looks ``tzid`` up without raising: it raises (and the icalendar path refuses the
    object) for a TZID naming a directory of the tz database or too long for a file name."""
    try:
        tzp.timezone(tzid)
    except Exception:
        return False
    return True


def _duration(raw_params: str, value: str) -> timedelta | None:
    match = _DURATION_PARTS.fullmatch(value)
    if raw_params or match is None or not _RFC_DURATION.fullmatch(value):
        return None
    weeks, days, hours, minutes, seconds = (int(part or 0) for part in match.groups())
    return timedelta(weeks=weeks, days=days, hours=hours, minutes=minutes, seconds=seconds)


def _in_order(start: date, end: date) -> bool:
    """Whether DTEND ``end`` is of the kind of DTSTART ``start`` (DATE, zoned or floating) and not before it
    (the icalendar path refuses an earlier end, and reads mixed kinds in ways of its own)."""
    if isinstance(start, datetime) != isinstance(end, datetime):
        return False
    if isinstance(start, datetime) and isinstance(end, datetime):
        if (start.tzinfo is None) != (end.tzinfo is None):
            return False
        if start.tzinfo is not None and end.tzinfo is not None:
            try:
                return to_utc(end, end.tzinfo) >= to_utc(start, start.tzinfo)
            except (OverflowError, ValueError):
                return False
    return end >= start
