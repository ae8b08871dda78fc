"""A local Exchange Web Services (Exchange Server 2016/2019 on-premises, calendar subset) and SOAP
Autodiscover, for tests and the demo.

Stateful, in memory, served by uvicorn on 127.0.0.1 from a background thread::

    running = start()                        # RunningEmulator(url, state, stop())
    mailbox = running.state.add_mailbox("ada@contoso.example", "Secret1!")
    ...                                      # point exchangelib (or creneau's provider) at running.ews_url
    running.stop()

Modules: ``soap`` (envelopes, faults), ``ntlm`` and ``auth`` (NTLMv2 and Basic), ``model`` (mailboxes,
folders, items, ids and times), ``recurrence``, ``state``, ``shapes`` (response shapes, ids), ``folders``
(GetFolder, FindFolder, SyncFolderHierarchy), ``render``, ``items`` (GetItem, FindItem), ``props`` and
``writes`` (CreateItem, UpdateItem, DeleteItem), ``restriction``, ``sync`` (SyncFolderItems),
``timezones`` and ``availability`` (GetServerTimeZones, GetUserAvailability), ``subscriptions``
(Subscribe, GetEvents, GetStreamingEvents, Unsubscribe, push delivery), ``mime`` (MimeContent as
iCalendar), ``autodiscover``, ``faults``, ``seed`` and ``control`` (``/_emulator/``), ``server``.
See docs/providers/exchange.md.
"""

from __future__ import annotations

from creneau.emulators.ews.server import RunningEmulator, create_app, start
from creneau.emulators.ews.state import EwsState

__all__ = ["EwsState", "RunningEmulator", "create_app", "start"]
