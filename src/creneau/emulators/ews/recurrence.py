"""EWS recurrence patterns (``t:Recurrence``) expanded into the original starts of a series' occurrences,
in the series' own time zone (so a weekly 09:00 stays 09:00 across a DST change, as in Exchange)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta, tzinfo

from dateutil import rrule

from creneau.emulators.ews.soap import Element, OperationError, local, t, text_of

_DAYS = {
    "monday": rrule.MO,
    "tuesday": rrule.TU,
    "wednesday": rrule.WE,
    "thursday": rrule.TH,
    "friday": rrule.FR,
    "saturday": rrule.SA,
    "sunday": rrule.SU,
}
_GROUPS = {
    "day": list(_DAYS.values()),
    "weekday": [rrule.MO, rrule.TU, rrule.WE, rrule.TH, rrule.FR],
    "weekendday": [rrule.SA, rrule.SU],
}
_INDEX = {"first": 1, "second": 2, "third": 3, "fourth": 4, "last": -1}
_MONTHS = [
    "january",
    "february",
    "march",
    "april",
    "may",
    "june",
    "july",
    "august",
    "september",
    "october",
    "november",
    "december",
]
_FREQ = {
    "DailyRecurrence": rrule.DAILY,
    "WeeklyRecurrence": rrule.WEEKLY,
    "AbsoluteMonthlyRecurrence": rrule.MONTHLY,
    "RelativeMonthlyRecurrence": rrule.MONTHLY,
    "AbsoluteYearlyRecurrence": rrule.YEARLY,
    "RelativeYearlyRecurrence": rrule.YEARLY,
}
# A series with no end is expanded this far, like Exchange's own free/busy publishing horizon.
HORIZON = timedelta(days=3 * 366)


def _invalid(reason: str) -> OperationError:
    return OperationError("ErrorInvalidRecurrence", f"The recurrence pattern is invalid: {reason}.")


def _days(text: str | None) -> list[rrule.weekday]:
    out: list[rrule.weekday] = []
    for word in (text or "").split():
        key = word.casefold()
        if key in _GROUPS:
            out.extend(_GROUPS[key])
        elif key in _DAYS:
            out.append(_DAYS[key])
        else:
            raise _invalid(f"unknown day {word!r}")
    return out


def _date(text: str | None) -> date:
    if not text:
        raise _invalid("a range needs a StartDate")
    return date.fromisoformat(text.strip()[:10])  # "2026-12-01" or "2026-12-01+01:00"


def validate(recurrence: Element) -> None:
    """:raises OperationError: ``ErrorInvalidRecurrence`` for a pattern or range this server cannot read"""
    pattern_range(recurrence)


def pattern_range(recurrence: Element) -> tuple[Element, Element]:
    children = [c for c in recurrence if isinstance(c.tag, str)]
    patterns = [c for c in children if local(c) in _FREQ]
    ranges = [c for c in children if local(c).endswith("Recurrence") and local(c) not in _FREQ]
    if len(patterns) != 1 or len(ranges) != 1:
        raise _invalid("one pattern and one range are expected")
    pattern, range_ = patterns[0], ranges[0]
    if local(range_) not in ("NoEndRecurrence", "EndDateRecurrence", "NumberedRecurrence"):
        raise _invalid(f"unknown range {local(range_)}")
    _rule(pattern, range_, datetime(2000, 1, 1))  # noqa: DTZ001 - rules are built in local wall time
    return pattern, range_


def _rule(pattern: Element, range_: Element, first: datetime) -> rrule.rrule:
    kind = local(pattern)
    interval = int(text_of(pattern, "t:Interval", "1") or "1")
    if interval < 1:
        raise _invalid("the interval must be positive")
    kwargs: dict[str, object] = {"interval": interval}
    if kind == "WeeklyRecurrence":
        kwargs["byweekday"] = _days(text_of(pattern, "t:DaysOfWeek")) or [first.weekday()]
        kwargs["wkst"] = _days(text_of(pattern, "t:FirstDayOfWeek", "Sunday"))[0]
    elif kind in ("AbsoluteMonthlyRecurrence", "AbsoluteYearlyRecurrence"):
        kwargs["bymonthday"] = int(text_of(pattern, "t:DayOfMonth", str(first.day)) or first.day)
    elif kind in ("RelativeMonthlyRecurrence", "RelativeYearlyRecurrence"):
        index = _INDEX.get((text_of(pattern, "t:DayOfWeekIndex") or "").casefold())
        if index is None:
            raise _invalid("DayOfWeekIndex must be First, Second, Third, Fourth or Last")
        kwargs["byweekday"] = _days(text_of(pattern, "t:DaysOfWeek"))
        kwargs["bysetpos"] = index
    if kind.endswith("YearlyRecurrence"):
        month = (text_of(pattern, "t:Month") or "").casefold()
        if month not in _MONTHS:
            raise _invalid("Month must name a month")
        kwargs["bymonth"] = _MONTHS.index(month) + 1
        kwargs["interval"] = 1
    start = datetime.combine(_date(text_of(range_, "t:StartDate")), first.time())
    if local(range_) == "NumberedRecurrence":
        kwargs["count"] = max(1, int(text_of(range_, "t:NumberOfOccurrences", "1") or "1"))
    elif local(range_) == "EndDateRecurrence":
        kwargs["until"] = datetime.combine(_date(text_of(range_, "t:EndDate")), datetime.max.time())
    return rrule.rrule(_FREQ[kind], dtstart=start, **kwargs)  # type: ignore[arg-type]


def original_starts(
    recurrence: Element, first: datetime, tz: tzinfo, *, until: datetime | None = None
) -> Iterator[tuple[int, datetime]]:
    """``(instance index, original start in UTC)`` of every occurrence, deleted ones included, in order,
    up to ``until`` (UTC; by default :data:`HORIZON` after ``first``)."""
    pattern, range_ = pattern_range(recurrence)
    local_first = first.astimezone(tz).replace(tzinfo=None)
    limit = until or first + HORIZON
    for index, wall in enumerate(_rule(pattern, range_, local_first), start=1):
        moment = wall.replace(tzinfo=tz).astimezone(UTC)
        if moment > limit:
            return
        yield index, moment


def element_of(recurrence: Element | None) -> Element | None:
    if recurrence is None:
        return None
    return recurrence if recurrence.tag == t("Recurrence") else recurrence.find(t("Recurrence"))
