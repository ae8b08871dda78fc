"""Windows time zones as EWS describes them: ``TimeZoneDefinition`` (GetServerTimeZones) built from the tz
database for the current year, and the legacy ``t:TimeZone`` (bias + standard/daylight rules) that
GetUserAvailability requests carry, to read and write its local times."""

from __future__ import annotations

import calendar
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, tzinfo
from zoneinfo import ZoneInfo

from icalendar.timezone.windows_to_olson import WINDOWS_TO_OLSON

from creneau.emulators.ews.soap import Element, new, sub, t, text_of

_DAYS = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")


def _duration(minutes: int) -> str:
    sign = "-" if minutes < 0 else ""
    minutes = abs(minutes)
    hours, rest = divmod(minutes, 60)
    return f"{sign}PT{hours}H{rest}M" if rest else f"{sign}PT{hours}H"


def parse_duration(text: str | None) -> int:
    """``-PT1H30M`` → -90 (minutes)."""
    if not text:
        return 0
    sign = -1 if text.startswith("-") else 1
    body = text.lstrip("-").removeprefix("PT")
    minutes = 0
    number = ""
    for char in body:
        if char.isdigit():
            number += char
        elif char == "H":
            minutes += int(number or 0) * 60
            number = ""
        elif char == "M":
            minutes += int(number or 0)
            number = ""
        elif char == "S":
            number = ""
    return sign * minutes


def transitions(zone: tzinfo, year: int) -> list[tuple[datetime, timedelta, timedelta]]:
    """``(local wall time before the change, old offset, new offset)`` for each change in ``year``."""
    out = []
    moment = datetime(year, 1, 1, tzinfo=UTC)
    end = datetime(year + 1, 1, 1, tzinfo=UTC)
    step = timedelta(days=1)
    previous = moment.astimezone(zone).utcoffset()
    while moment < end:
        following = moment + step
        offset = following.astimezone(zone).utcoffset()
        if offset != previous and previous is not None and offset is not None:
            low, high = moment, following
            while high - low > timedelta(minutes=1):
                middle = low + (high - low) / 2
                if middle.astimezone(zone).utcoffset() == previous:
                    low = middle
                else:
                    high = middle
            wall = (high + previous).replace(tzinfo=None)
            out.append((wall, previous, offset))
            previous = offset
        moment = following
    return out


def rule(wall: datetime) -> tuple[int, str, int, int]:
    """(month, day of week, occurrence 1-4 or -1 for the last, minutes after midnight)."""
    occurrence = (wall.day - 1) // 7 + 1
    if wall.day + 7 > calendar.monthrange(wall.year, wall.month)[1]:
        occurrence = -1
    return wall.month, _DAYS[wall.weekday()], occurrence, wall.hour * 60 + wall.minute


def definition(windows_id: str, *, year: int | None = None) -> Element | None:
    """A ``t:TimeZoneDefinition`` (periods, one transitions group for ``year``), or None for an unknown id."""
    olson = WINDOWS_TO_OLSON.get(windows_id)
    if olson is None:
        return None
    zone = ZoneInfo(olson)
    year = year or datetime.now(UTC).year
    changes = transitions(zone, year)
    winter = datetime(year, 1, 15, tzinfo=UTC).astimezone(zone)
    summer = datetime(year, 7, 15, tzinfo=UTC).astimezone(zone)
    standard = winter if not winter.dst() else summer
    daylight = summer if standard is winter else winter
    base = f"trule:Microsoft/Registry/{windows_id}/{year}"
    out = new(t("TimeZoneDefinition"), Name=windows_id, Id=windows_id)
    periods = sub(out, t("Periods"))
    std_offset = int((standard.utcoffset() or timedelta()).total_seconds() // 60)
    sub(periods, t("Period"), Bias=_duration(-std_offset), Name="Standard", Id=f"{base}-Standard")
    groups = sub(sub(out, t("TransitionsGroups")), t("TransitionsGroup"), Id="0")
    if len(changes) == 2 and daylight.dst():
        dst_offset = int((daylight.utcoffset() or timedelta()).total_seconds() // 60)
        sub(periods, t("Period"), Bias=_duration(-dst_offset), Name="Daylight", Id=f"{base}-Daylight")
        for wall, _old, new_offset in changes:
            to = (
                f"{base}-Daylight"
                if int(new_offset.total_seconds() // 60) == dst_offset
                else f"{base}-Standard"
            )
            month, day, occurrence, minutes = rule(wall)
            transition = sub(groups, t("RecurringDayTransition"))
            sub(transition, t("To"), to, Kind="Period")
            sub(transition, t("TimeOffset"), _duration(minutes) if minutes else "PT0M")
            sub(transition, t("Month"), str(month))
            sub(transition, t("DayOfWeek"), day)
            sub(transition, t("Occurrence"), str(occurrence))
    else:
        transition = sub(groups, t("Transition"))
        sub(transition, t("To"), f"{base}-Standard", Kind="Period")
    sub(sub(sub(out, t("Transitions")), t("Transition")), t("To"), "0", Kind="Group")
    return out


def all_ids() -> list[str]:
    return sorted(WINDOWS_TO_OLSON)


@dataclass(frozen=True)
class _Change:
    bias: int  # minutes added to the base bias
    month: int
    day: int  # 0 = Monday
    occurrence: int  # 1-4, 5 = last
    minutes: int


@dataclass(frozen=True)
class LegacyZone:
    """The ``t:TimeZone`` of a GetUserAvailability request: ``UTC = local + bias`` (Windows convention)."""

    bias: int
    standard: _Change | None
    daylight: _Change | None

    def _offset(self, wall: datetime) -> timedelta:
        if self.standard is None or self.daylight is None or self.daylight.bias == self.standard.bias:
            return timedelta(minutes=-(self.bias + (self.standard.bias if self.standard else 0)))
        start, end = self._moment(self.daylight, wall.year), self._moment(self.standard, wall.year)
        in_dst = start <= wall < end if start < end else not end <= wall < start
        change = self.daylight if in_dst else self.standard
        return timedelta(minutes=-(self.bias + change.bias))

    @staticmethod
    def _moment(change: _Change, year: int) -> datetime:
        first = datetime(year, change.month, 1)  # noqa: DTZ001 - a wall-clock time of the zone described
        days = calendar.monthrange(year, change.month)[1]
        candidates = [
            first + timedelta(days=d)
            for d in range(days)
            if (first + timedelta(days=d)).weekday() == change.day
        ]
        day = candidates[min(change.occurrence, len(candidates)) - 1]
        return day + timedelta(minutes=change.minutes)

    def to_utc(self, wall: datetime) -> datetime:
        return (wall - self._offset(wall)).replace(tzinfo=UTC)

    def to_local(self, moment: datetime) -> datetime:
        naive = moment.astimezone(UTC).replace(tzinfo=None)
        guess = naive + self._offset(naive)
        return naive + self._offset(guess)


def _change(element: Element | None) -> _Change | None:
    if element is None:
        return None
    day = (text_of(element, "t:DayOfWeek", "Sunday") or "Sunday").capitalize()
    clock = (text_of(element, "t:Time", "00:00:00") or "00:00:00").split(":")
    return _Change(
        bias=int(text_of(element, "t:Bias", "0") or "0"),
        month=int(text_of(element, "t:Month", "1") or "1"),
        day=_DAYS.index(day) if day in _DAYS else 6,
        occurrence=int(text_of(element, "t:DayOrder", "1") or "1"),
        minutes=int(clock[0]) * 60 + int(clock[1]),
    )


def legacy_zone(element: Element | None) -> LegacyZone:
    if element is None:
        return LegacyZone(0, None, None)
    return LegacyZone(
        bias=int(text_of(element, "t:Bias", "0") or "0"),
        standard=_change(element.find(t("StandardTime"))),
        daylight=_change(element.find(t("DaylightTime"))),
    )
