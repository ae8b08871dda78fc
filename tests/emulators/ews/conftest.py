"""Fixtures for the EWS emulator tests: a running emulator and a fresh mailbox per test."""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from dataclasses import dataclass

import httpx
import pytest

from creneau.emulators.ews import RunningEmulator, start
from creneau.emulators.ews.model import Mailbox

_emails = itertools.count()
PASSWORD = "Secret1!"
# one client for the control API and raw SOAP calls (a client per call would load the CA bundle each time)
HTTP = httpx.Client(timeout=10)


@pytest.fixture(scope="module")
def emulator() -> Iterator[RunningEmulator]:
    running = start()
    yield running
    try:
        from exchangelib import close_connections  # type: ignore[import-untyped]
    except ImportError:  # pragma: no cover - exchangelib is a dev dependency
        pass
    else:
        close_connections()  # exchangelib's kept-alive sessions, else uvicorn waits for them on shutdown
    running.stop()


@dataclass
class Box:
    email: str
    logon: str
    password: str
    mailbox: Mailbox


@pytest.fixture
def box(emulator: RunningEmulator) -> Iterator[Box]:
    number = next(_emails)
    email = f"user{number:03d}@contoso.example"
    mailbox = emulator.state.add_mailbox(email, PASSWORD, username=f"user{number:03d}")
    yield Box(email, f"CONTOSO\\user{number:03d}", PASSWORD, mailbox)
    emulator.state.faults.clear()
    emulator.state.auth_schemes = ("Negotiate", "NTLM", "Basic")
