"""Calendar providers, one package per protocol, looked up by name.

The registry is lazy (like vdirsyncer's storage registry): a provider's module is imported only when an
account of that kind is used, so a deployment without Google never imports Google's code. A class, once
loaded, is kept. Adding a provider is one package (its ``CalendarProvider``, with its ``capabilities``,
``from_settings`` and, for push, its ``webhooks``) and one line here; see docs/providers/README.md.
"""

from __future__ import annotations

import importlib
from collections.abc import Mapping
from dataclasses import dataclass
from functools import cache
from typing import Any

from creneau.calendars.providers.base import CalendarProvider, Connection
from creneau.calendars.providers.http import NetworkPolicy


@dataclass(frozen=True)
class Entry:
    target: str  # "module:Class"
    # The provider's ``webhooks`` (checked against the class when it loads), so that a webhook request is
    # routed to its provider without importing the others.
    webhooks: tuple[str, ...] = ()


# kind stored on the account -> its provider
_REGISTRY: dict[str, Entry] = {
    "caldav": Entry("creneau.calendars.providers.caldav:CalDAVProvider"),
    "icloud": Entry("creneau.calendars.providers.caldav:CalDAVProvider"),
    "ics": Entry("creneau.calendars.providers.ics:IcsProvider"),
    "google": Entry("creneau.calendars.providers.google:GoogleProvider", webhooks=("google",)),
    "msgraph": Entry(
        "creneau.calendars.providers.msgraph:MicrosoftGraphProvider",
        webhooks=("microsoft", "microsoft/lifecycle"),
    ),
    "exchange": Entry("creneau.calendars.providers.ews:ExchangeProvider"),
}


class UnknownProvider(ValueError):
    """A kind (or webhook path) that no registered provider has: a programming or configuration error."""


def kinds() -> list[str]:
    return sorted(_REGISTRY)


def load(kind: str) -> type[CalendarProvider]:
    """The provider class of ``kind``, imported on first use and cached.

    :raises UnknownProvider: for a kind that is not registered (the message lists the known ones).
    """
    entry = _REGISTRY.get(kind)
    if entry is None:
        raise UnknownProvider(f"unknown provider kind {kind!r}; known: {', '.join(kinds())}")
    return _import(entry)


@cache
def _import(entry: Entry) -> type[CalendarProvider]:
    module_name, class_name = entry.target.split(":")
    cls = getattr(importlib.import_module(module_name), class_name)
    if not (isinstance(cls, type) and issubclass(cls, CalendarProvider)):
        raise UnknownProvider(f"{entry.target} is not a CalendarProvider")
    if tuple(cls.webhooks) != entry.webhooks:
        raise UnknownProvider(
            f"{entry.target} declares webhooks {cls.webhooks}, the registry {entry.webhooks}"
        )
    return cls


def kind_of_webhook(path: str) -> str:
    """The provider kind whose server posts to ``/webhooks/<path>``.

    :raises UnknownProvider: when no provider listens there.
    """
    for kind in kinds():
        if path in _REGISTRY[kind].webhooks:
            return kind
    raise UnknownProvider(f"no provider receives notifications at /webhooks/{path}")


def open_provider(
    kind: str,
    connection: Connection,
    *,
    policy: NetworkPolicy,
    batch_size: int = 100,
    options: Mapping[str, Any] | None = None,
) -> CalendarProvider:
    """A provider built from explicit arguments (connecting an account; tests). ``options`` are the
    provider's own keyword arguments (e.g. Graph's ``sync_window``). The running engine uses
    ``load(kind).from_settings(...)`` instead (``calendars/context.py``)."""
    return load(kind)(connection, policy=policy, batch_size=batch_size, **dict(options or {}))
