"""iCalendar objects → busy occurrences, and the time-zone names calendar clients write.

Every provider hands events over as iCalendar text (one VCALENDAR per remote object); this package is the one
place that reads them::

    obj = parse(remote.ical)                       # raises MalformedObject; cheap to keep
    busy = busy_occurrences(obj, window=window, default_tz=ZoneInfo("Europe/Paris"),
                            owner_addresses={"ada@example.org"})

Recurrences (RRULE, RDATE, EXDATE, RECURRENCE-ID overrides, RANGE=THISANDFUTURE) are expanded with
recurring-ical-events; time zones are resolved by our own rules (``_zones``: IANA, Windows, the object's own
VTIMEZONE, then guesses); the busy rules are in :func:`busy_occurrences` and docs/providers/icalendar.md.

Modules: ``_model`` (the values), ``_zones`` (TZIDs), ``_parse`` (reading and checking), ``_fast`` (the
reader ``_parse`` tries first for a lone plain event), ``_busy`` (expanding).
"""

from __future__ import annotations

from creneau.calendars.ical._busy import busy_occurrences
from creneau.calendars.ical._model import MalformedObject, Occurrence, ParsedObject
from creneau.calendars.ical._parse import parse
from creneau.calendars.ical._zones import resolve_tzid

__all__ = ["MalformedObject", "Occurrence", "ParsedObject", "busy_occurrences", "parse", "resolve_tzid"]
