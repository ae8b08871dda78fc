"""One exchangelib ``Account`` for one creneau account, opened lazily, every call through the guard.

``Connection`` for Exchange: ``server_url`` is the EWS address
(``https://mail.example.org/EWS/Exchange.asmx``; empty: find it with Autodiscover from the email address),
``username`` the logon name (``DOMAIN\\user``, the UPN or the email address), ``secret`` the password,
``principal_url`` ``mailto:<email>`` (the mailbox). The authentication scheme (NTLM or Basic) is chosen from
the server's ``WWW-Authenticate``, as exchangelib does when ``auth_type`` is None. exchangelib's own retries
are off (``FailFast``): the engine retries, knowing what is safe to retry.
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Callable
from typing import Any, TypeVar

from exchangelib import (  # type: ignore[import-untyped]
    DELEGATE,
    UTC,
    Account,
    Configuration,
    Credentials,
    FailFast,
    Version,
)
from exchangelib.protocol import BaseProtocol, Protocol  # type: ignore[import-untyped]
from exchangelib.version import EXCHANGE_2016  # type: ignore[import-untyped]

from creneau.calendars.providers.base import Connection
from creneau.calendars.providers.ews import errors, transport
from creneau.calendars.providers.netguard import NetworkPolicy
from creneau.errors import ValidationFailed

T = TypeVar("T")
# The schema we speak, fixed rather than guessed (exchangelib's guess costs a request per new account):
# Exchange 2016, 2019 and Subscription Edition all accept RequestServerVersion Exchange2016.
SERVER_VERSION = Version(build=EXCHANGE_2016)
_lock = threading.Lock()


def mailbox_of(connection: Connection) -> str:
    """The mailbox's SMTP address: ``principal_url`` (``mailto:``), else a username that is an address."""
    principal = (connection.principal_url or "").strip()
    if principal.lower().startswith("mailto:"):
        return principal[len("mailto:") :]
    if "@" in connection.username and "\\" not in connection.username:
        return connection.username.strip()
    raise ValidationFailed("the mailbox's email address is required", field="email")


class EwsSession:
    """The account's exchangelib objects and the guard its requests go through."""

    def __init__(
        self, connection: Connection, *, policy: NetworkPolicy, ca_bundle: str | None = None
    ) -> None:
        self.connection = connection
        self.email = mailbox_of(connection)
        self.guard = transport.Guard(policy=policy, ca_bundle=ca_bundle)
        self._account: Any = None
        self._timeout = max(int(policy.timeout), 1)
        with _lock:
            transport.install()
            BaseProtocol.USERAGENT = policy.user_agent

    def call(self, work: Callable[[], T], *, connecting: bool = False) -> T:
        """Run ``work`` (exchangelib calls) through the guard, its errors translated."""
        with transport.guarded(self.guard), errors.boundary(connecting=connecting):
            return work()

    @property
    def account(self) -> Any:
        """The exchangelib ``Account`` (opened on first use: Autodiscover when no EWS address is known)."""
        return self.open()

    @staticmethod
    def translate(exc: BaseException) -> Exception:
        """The error of our tree for an exception exchangelib returned in place of a result."""
        return errors.translate(exc)

    def open(self, *, connecting: bool = False) -> Any:
        if self._account is None:
            account = self.call(self._open, connecting=connecting)
            # exchangelib reads the timeout from the protocol object: set it there, not on the class, so a
            # live check's short timeout does not shorten a sync running in another thread.
            account.protocol.TIMEOUT = self._timeout
            self._account = account
        return self._account

    def _open(self) -> Any:
        credentials = Credentials(self.connection.username, self.connection.secret)
        url = (self.connection.server_url or "").strip()
        if url:
            config = Configuration(
                service_endpoint=url,
                credentials=credentials,
                auth_type=None,
                retry_policy=FailFast(),
                version=SERVER_VERSION,
            )
            _forget(config)  # a protocol of this provider's own (its timeout, its sessions, its guard)
            return Account(
                self.email, config=config, autodiscover=False, access_type=DELEGATE, default_timezone=UTC
            )
        config = Configuration(credentials=credentials, retry_policy=FailFast())
        return Account(
            self.email, config=config, autodiscover=True, access_type=DELEGATE, default_timezone=UTC
        )

    @property
    def ews_url(self) -> str:
        return str(self.account.protocol.service_endpoint)

    def close(self) -> None:
        account = self._account
        self._account = None
        if account is not None:
            _forget(account.protocol.config)
            with contextlib.suppress(Exception):  # closing kept-alive sockets must not fail a sync
                account.protocol.close()


def _forget(config: Any) -> None:
    """Drop exchangelib's process-wide cached ``Protocol`` for this endpoint and credentials.

    exchangelib keeps one Protocol per (endpoint, credentials) for the life of the process, and caches a
    failure to create one too, so that a server down once at connect time would fail every later try. A
    provider owns its protocol from open to close: each starts from the same state (the same requests
    whatever ran before in the process), with its own timeout and sessions made under its own guard; a
    provider still open keeps the protocol it holds."""
    with _lock, contextlib.suppress(KeyError, AttributeError):
        del Protocol[config]
