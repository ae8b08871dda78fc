"""The declarative base every table shares."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy.orm import DeclarativeBase


def now_utc() -> datetime:
    return datetime.now(UTC)


class Base(DeclarativeBase):
    pass
