"""Calendar providers, one module or package per protocol, looked up by name.

The registry is lazy (like vdirsyncer's storage registry): a provider's module is imported only when an
account of that kind is used, so a deployment without Google never imports Google's code.
"""

from __future__ import annotations

import importlib
from collections.abc import Mapping
from typing import Any

from creneau.calendars.providers.base import CalendarProvider, Connection
from creneau.calendars.providers.http import NetworkPolicy

# kind stored on the account -> "module:Class"
_REGISTRY: dict[str, str] = {
    "caldav": "creneau.calendars.providers.caldav:CalDAVProvider",
    "icloud": "creneau.calendars.providers.caldav:CalDAVProvider",
    "google": "creneau.calendars.providers.google:GoogleProvider",
    "msgraph": "creneau.calendars.providers.msgraph:MicrosoftGraphProvider",
}


def kinds() -> list[str]:
    return sorted(_REGISTRY)


def load(kind: str) -> type[CalendarProvider]:
    try:
        module_name, class_name = _REGISTRY[kind].split(":")
    except KeyError:
        raise ValueError(f"unknown provider kind {kind!r}; known: {', '.join(kinds())}") from None
    cls: type[CalendarProvider] = getattr(importlib.import_module(module_name), class_name)
    return cls


def open_provider(
    kind: str,
    connection: Connection,
    *,
    policy: NetworkPolicy,
    batch_size: int = 100,
    options: Mapping[str, Any] | None = None,
) -> CalendarProvider:
    """``options`` are the provider's own keyword arguments (e.g. Graph's ``sync_window``)."""
    return load(kind)(connection, policy=policy, batch_size=batch_size, **dict(options or {}))
