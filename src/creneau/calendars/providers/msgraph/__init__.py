"""The Microsoft Graph provider (Office 365 work/school accounts and Outlook.com personal accounts).

Modules, bottom-up: ``session`` (Bearer token, requests, the one Graph status → error mapping), ``cursor``
(the stored delta cursor), ``render`` (Graph JSON → iCalendar), ``sync`` (calendarView delta rounds),
``account`` (discovery, calendars), ``busy`` (getSchedule / calendarView), ``writes`` (transactionId, Teams),
``push`` (subscriptions, notification bodies), and ``provider`` which ties them into
:class:`MicrosoftGraphProvider`. See docs/providers/msgraph.md.
"""

from __future__ import annotations

from creneau.calendars.providers.msgraph.provider import MicrosoftGraphProvider
from creneau.calendars.providers.msgraph.push import Notification, Subscription, parse_notifications

__all__ = ["MicrosoftGraphProvider", "Notification", "Subscription", "parse_notifications"]
