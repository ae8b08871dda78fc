"""On-premises Exchange through Exchange Web Services (exchangelib), kind ``exchange``.

Modules, bottom-up: ``transport`` (exchangelib's requests through the private-network guard, CA bundle),
``errors`` (exchangelib's exceptions → ours), ``session`` (the account, Autodiscover or an EWS address),
``render`` (MimeContent and CalendarView items → iCalendar), ``sync`` (SyncFolderItems + GetItem),
``busy`` (GetUserAvailability, CalendarView), ``writes`` (CreateItem, UpdateItem, DeleteItem),
``provider``. See docs/providers/exchange.md.
"""

from __future__ import annotations

from creneau.calendars.providers.ews.provider import ExchangeProvider

__all__ = ["ExchangeProvider"]
