"""The provider contract against the CalDAV servers people run, from Debian's packages (servers_extra.py).

Each server is installed once per machine and started once per module on a free loopback port; where it
cannot be installed the whole class is skipped with the reason. These servers keep their own data (DAViCal
in a database of its own on the test PostgreSQL), so they do not depend on creneau's test database: CI may
run this file in one of its two database runs only.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.providers.conftest import USERS, CalDAVHarness, UserPool
from tests.providers.contract import ProviderContract
from tests.servers_extra import PackagedServer, Unavailable, start_cyrus, start_davical, start_sogo


@pytest.fixture(scope="module")
def davical_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[PackagedServer]:
    try:
        server = start_davical(tmp_path_factory.mktemp("davical"), USERS)
    except Unavailable as exc:
        pytest.skip(f"DAViCal cannot run here: {exc}")
    yield server
    server.stop()


@pytest.fixture(scope="module")
def davical_users() -> UserPool:
    return UserPool()


class TestDAViCal(ProviderContract):
    @pytest.fixture
    def harness(self, davical_server: PackagedServer, davical_users: UserPool) -> CalDAVHarness:
        user = davical_users.take()
        return CalDAVHarness(davical_server, user, owner_emails=(f"{user}.owner@example.org",))


@pytest.fixture(scope="module")
def cyrus_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[PackagedServer]:
    try:
        server = start_cyrus(tmp_path_factory.mktemp("cyrus"), USERS)
    except Unavailable as exc:
        pytest.skip(f"Cyrus cannot run here: {exc}")
    yield server
    server.stop()


@pytest.fixture(scope="module")
def cyrus_users() -> UserPool:
    return UserPool()


class TestCyrus(ProviderContract):
    @pytest.fixture
    def harness(self, cyrus_server: PackagedServer, cyrus_users: UserPool) -> CalDAVHarness:
        user = cyrus_users.take()
        return CalDAVHarness(cyrus_server, user, owner_emails=(f"{user}@internal",))


@pytest.fixture(scope="module")
def sogo_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[PackagedServer]:
    try:
        server = start_sogo(tmp_path_factory.mktemp("sogo"), USERS)
    except Unavailable as exc:
        pytest.skip(f"SOGo cannot run here: {exc}")
    yield server
    server.stop()


@pytest.fixture(scope="module")
def sogo_users() -> UserPool:
    return UserPool()


class TestSOGo(ProviderContract):
    @pytest.fixture
    def harness(self, sogo_server: PackagedServer, sogo_users: UserPool) -> CalDAVHarness:
        user = sogo_users.take()
        return CalDAVHarness(sogo_server, user, owner_emails=(f"{user}.owner@example.org",))
