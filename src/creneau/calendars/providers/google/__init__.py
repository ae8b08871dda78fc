"""Google Calendar API v3 provider (package: ``api`` HTTP and errors, ``sync`` listing, ``render`` JSON →
iCalendar, ``writes``, ``push`` channels, ``ids``, ``cursor``). See docs/providers/google.md."""

from __future__ import annotations

from creneau.calendars.providers.google.provider import GoogleProvider
from creneau.calendars.providers.google.push import Channel, Notification, parse_notification

__all__ = ["Channel", "GoogleProvider", "Notification", "parse_notification"]
