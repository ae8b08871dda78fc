"""A session's availability rules: stored as JSON on the session, typed as ``domain.availability`` rules, and
read from / written to the settings form's plain text.

Stored form (``StudySession.availability``)::

    {"weekly": [{"weekday": 0, "start": "09:00", "end": "12:00"}, ...],
     "overrides": [{"day": "2026-12-24", "windows": []},                      # a day off
                   {"day": "2026-12-27", "windows": [["10:00", "12:00"]]}]}  # an extra day / other hours

Form text: one field per weekday, ``09:00-12:00, 14:00-17:30`` (empty: not available that day), and one
exception per line, ``2026-12-24 off`` or ``2026-12-27 10:00-12:00, 14:00-16:00``.
"""

from __future__ import annotations

import itertools
import re
from datetime import date, time, timedelta
from typing import Any

from creneau.domain.availability import AvailabilityRules, DateOverride, WeeklyWindow
from creneau.errors import ValidationFailed
from creneau.store.models import StudySession

DEFAULT_AVAILABILITY: dict[str, Any] = {
    "weekly": [
        {"weekday": day, "start": start, "end": end}
        for day in range(5)
        for start, end in (("09:00", "12:00"), ("14:00", "17:00"))
    ],
    "overrides": [],
}

_RANGE = re.compile(r"^\s*(\d{1,2}):(\d{2})\s*[-–]\s*(\d{1,2}):(\d{2})\s*$")
_OFF_WORDS = {"off", "closed", "congé", "conge", "fermé", "ferme", "absent"}


def rules_of(session: StudySession) -> AvailabilityRules:
    """The domain rules of ``session``."""
    data = session.availability or DEFAULT_AVAILABILITY
    weekly = tuple(
        WeeklyWindow(weekday=int(w["weekday"]), start=_time(w["start"]), end=_time(w["end"]))
        for w in data.get("weekly", [])
    )
    overrides = tuple(
        DateOverride(
            day=date.fromisoformat(o["day"]),
            windows=tuple((_time(a), _time(b)) for a, b in o.get("windows", [])),
        )
        for o in data.get("overrides", [])
    )
    return AvailabilityRules(
        timezone=session.timezone,
        weekly=weekly,
        overrides=overrides,
        duration=timedelta(minutes=session.duration_minutes),
        slot_interval=timedelta(minutes=session.slot_interval_minutes),
        buffer_before=timedelta(minutes=session.buffer_before_minutes),
        buffer_after=timedelta(minutes=session.buffer_after_minutes),
        min_notice=timedelta(minutes=session.min_notice_minutes),
        horizon=timedelta(days=session.horizon_days),
        max_per_day=session.max_per_day,
    )


def _time(text: str) -> time:
    return time.fromisoformat(text)


def _ranges(text: str, *, field: str) -> list[tuple[str, str]]:
    """``"09:00-12:00, 14:00-17:00"`` → sorted, non-overlapping ``[("09:00", "12:00"), ...]``."""
    found: list[tuple[time, time]] = []
    for part in [p for p in re.split(r"[,;]", text) if p.strip()]:
        match = _RANGE.match(part)
        if match is None:
            raise ValidationFailed(f"«{part.strip()}» is not a time range like 09:00-12:00", field=field)
        h1, m1, h2, m2 = (int(g) for g in match.groups())
        try:
            start, end = time(h1, m1), time(h2, m2) if (h2, m2) != (24, 0) else time(23, 59)
        except ValueError:
            raise ValidationFailed(f"«{part.strip()}» is not a valid time", field=field) from None
        if end <= start:
            raise ValidationFailed(f"«{part.strip()}» ends before it starts", field=field)
        found.append((start, end))
    found.sort()
    for (_, end), (start, _) in itertools.pairwise(found):
        if start < end:
            raise ValidationFailed("time ranges overlap", field=field)
    return [(a.strftime("%H:%M"), b.strftime("%H:%M")) for a, b in found]


def weekly_from_form(per_day: list[str]) -> list[dict[str, Any]]:
    """Seven texts, Monday first. :raises ValidationFailed: naming the day's field (``weekly_<n>``)."""
    weekly: list[dict[str, Any]] = []
    for weekday, text in enumerate(per_day):
        for start, end in _ranges(text, field=f"weekly_{weekday}"):
            weekly.append({"weekday": weekday, "start": start, "end": end})
    return weekly


def overrides_from_form(text: str) -> list[dict[str, Any]]:
    """One exception per line. :raises ValidationFailed: with ``field="exceptions"``."""
    overrides: dict[str, list[list[str]]] = {}
    for raw in text.splitlines():
        line = raw.strip()
        if not line:
            continue
        day_text, _, rest = line.partition(" ")
        try:
            day = date.fromisoformat(day_text)
        except ValueError:
            raise ValidationFailed(
                f"«{line}»: start each line with a date like 2026-12-24", field="exceptions"
            ) from None
        rest = rest.strip()
        windows = (
            []
            if not rest or rest.lower() in _OFF_WORDS
            else [list(r) for r in _ranges(rest, field="exceptions")]
        )
        overrides.setdefault(day.isoformat(), []).extend(windows)
    return [{"day": day, "windows": windows} for day, windows in sorted(overrides.items())]


def weekly_as_text(session: StudySession) -> list[str]:
    data = session.availability or DEFAULT_AVAILABILITY
    per_day: list[list[str]] = [[] for _ in range(7)]
    for window in data.get("weekly", []):
        per_day[int(window["weekday"])].append(f"{window['start']}-{window['end']}")
    return [", ".join(parts) for parts in per_day]


def overrides_as_text(session: StudySession) -> str:
    data = session.availability or DEFAULT_AVAILABILITY
    lines = []
    for override in data.get("overrides", []):
        windows = override.get("windows") or []
        lines.append(
            f"{override['day']} " + (", ".join(f"{a}-{b}" for a, b in windows) if windows else "off")
        )
    return "\n".join(lines)
