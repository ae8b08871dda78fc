"""``/api/v1/free_busy``: when the researcher is busy, over the calendars checked for conflicts."""

from __future__ import annotations

from datetime import datetime, timedelta, tzinfo
from typing import Annotated

from fastapi import APIRouter, Query

from creneau.calendars.freebusy import busy_periods
from creneau.domain.intervals import Interval
from creneau.errors import ValidationFailed
from creneau.validation import check_instant, check_timezone
from creneau.web.api.schemas import BusyPeriod, ErrorOut, FreeBusyOut, ValidationErrorOut
from creneau.web.deps import ApiResearcher, SessionDep

router = APIRouter(tags=["free/busy"])

MAX_RANGE = timedelta(days=400)


def _aware(value: datetime, tz: tzinfo, *, field: str) -> datetime:
    """Times without an offset are read in ``tz``. :raises ValidationFailed: near year 1 or 9999."""
    return check_instant(value.replace(tzinfo=tz) if value.tzinfo is None else value, field=field)


@router.get(
    "/free_busy",
    response_model=FreeBusyOut,
    responses={
        422: {
            "model": ErrorOut | ValidationErrorOut,
            "description": "Bad time zone, a date near year 1 or 9999, or an empty or too long range",
        }
    },
)
def free_busy(
    session: SessionDep,
    researcher: ApiResearcher,
    from_: Annotated[datetime, Query(alias="from", description="ISO 8601; without an offset, read in tz")],
    to: Annotated[datetime, Query(description="ISO 8601, after from, at most 400 days later")],
    tz: Annotated[str, Query(max_length=64, description="IANA time zone of the answer")] = "UTC",
) -> FreeBusyOut:
    """Merged busy periods from ``from`` to ``to``, in ``tz``, of the calendars checked for conflicts."""
    zone = check_timezone(tz, field="tz")
    start, end = _aware(from_, zone, field="from"), _aware(to, zone, field="to")
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
