"""``/api/v1/free_busy``: when the researcher is busy, over the calendars checked for conflicts."""

from __future__ import annotations

from datetime import datetime, timedelta, tzinfo
from typing import Annotated
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from fastapi import APIRouter, Query

from creneau.calendars.freebusy import busy_periods
from creneau.domain.intervals import Interval
from creneau.errors import ValidationFailed
from creneau.web.api.schemas import BusyPeriod, ErrorOut, FreeBusyOut
from creneau.web.deps import ApiResearcher, SessionDep

router = APIRouter(tags=["free/busy"])

MAX_RANGE = timedelta(days=400)


def _zone(name: str) -> tzinfo:
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise ValidationFailed("Unknown time zone.", field="tz") from None


def _aware(value: datetime, tz: tzinfo) -> datetime:
    """Times without an offset are read in ``tz``."""
    return value.replace(tzinfo=tz) if value.tzinfo is None else value


@router.get(
    "/free_busy",
    response_model=FreeBusyOut,
    responses={422: {"model": ErrorOut, "description": "Bad time zone, or an empty or too long range"}},
)
def free_busy(
    session: SessionDep,
    researcher: ApiResearcher,
    from_: Annotated[datetime, Query(alias="from", description="ISO 8601; without an offset, read in tz")],
    to: Annotated[datetime, Query(description="ISO 8601, after from, at most 400 days later")],
    tz: Annotated[str, Query(max_length=64, description="IANA time zone of the answer")] = "UTC",
) -> FreeBusyOut:
    """Merged busy periods from ``from`` to ``to``, in ``tz``, of the calendars checked for conflicts."""
    zone = _zone(tz)
    start, end = _aware(from_, zone), _aware(to, zone)
    if start >= end:
        raise ValidationFailed("The end must come after the start.", field="to")
    if end - start > MAX_RANGE:
        raise ValidationFailed("The range may span at most 400 days.", field="to")
    busy = busy_periods(session, researcher_id=researcher.id, window=Interval(start, end))
    return FreeBusyOut(
        tz=tz,
        from_=start.astimezone(zone),
        to=end.astimezone(zone),
        busy=[BusyPeriod(start=p.start.astimezone(zone), end=p.end.astimezone(zone)) for p in busy],
    )
