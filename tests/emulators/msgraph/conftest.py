"""Fixtures for the Graph emulator tests: a running emulator, an account, a webhook receiver."""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from dataclasses import dataclass

import httpx
import pytest

from creneau.emulators.msgraph import RunningEmulator, start
from tests.emulators.msgraph.webhook import Receiver, serve_receiver

__all__ = ["Account", "Receiver"]

_emails = itertools.count()


@pytest.fixture(scope="module")
def emulator() -> Iterator[RunningEmulator]:
    running = start()
    yield running
    running.stop()


@dataclass
class Account:
    email: str
    token: str
    client: httpx.Client
    base: str


@pytest.fixture
def account(emulator: RunningEmulator) -> Iterator[Account]:
    email = f"fid{next(_emails):03d}@contoso.example"
    emulator.state.add_user(email, kind="work")
    token = emulator.state.issue_tokens(email)["access_token"]
    client = httpx.Client(headers={"Authorization": f"Bearer {token}"}, timeout=10)
    yield Account(email, token, client, emulator.graph_url)
    client.close()
    emulator.state.faults.clear()


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    with serve_receiver() as hook:
        yield hook
