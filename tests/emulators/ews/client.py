"""What the exchangelib fidelity tests share: an ``Account`` on the emulator (exchangelib's public API only),
the control API, Paris times."""

from __future__ import annotations

from typing import Any

import pytest

pytest.importorskip("exchangelib")

from exchangelib import (  # type: ignore[import-untyped]
    DELEGATE,
    NTLM,
    Account,
    Configuration,
    Credentials,
    EWSDateTime,
    EWSTimeZone,
    FailFast,
)

from creneau.emulators.ews import RunningEmulator
from tests.emulators.ews.conftest import HTTP, Box

PARIS = EWSTimeZone("Europe/Paris")


def connect(
    emulator: RunningEmulator, box: Box, *, auth_type: str | None = NTLM, password: str | None = None
) -> Any:
    config = Configuration(
        service_endpoint=emulator.ews_url,
        credentials=Credentials(box.logon, password or box.password),
        auth_type=auth_type,
        retry_policy=FailFast(),
    )
    return Account(box.email, config=config, autodiscover=False, access_type=DELEGATE, default_timezone=PARIS)


def control(emulator: RunningEmulator, path: str, body: dict[str, Any]) -> dict[str, Any]:
    response = HTTP.post(f"{emulator.url}/_emulator/{path}", json=body, timeout=10)
    response.raise_for_status()
    result: dict[str, Any] = response.json()
    return result


def at(day: int, hour: int, minute: int = 0) -> Any:
    return EWSDateTime(2026, 12, day, hour, minute, tzinfo=PARIS)
