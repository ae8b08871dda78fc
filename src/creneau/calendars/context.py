"""What the engine's services need from the running application, gathered in one object."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlalchemy.orm import Session, sessionmaker

from creneau.calendars.providers import open_provider
from creneau.calendars.providers.base import CalendarProvider, Connection
from creneau.calendars.providers.http import NetworkPolicy
from creneau.calendars.secrets import Vault
from creneau.config import Settings
from creneau.domain.intervals import Interval
from creneau.store.models import CalendarAccount


@dataclass
class EngineContext:
    settings: Settings
    sessions: sessionmaker[Session]
    vault: Vault
    policy: NetworkPolicy

    def sync_window(self, now: datetime | None = None) -> Interval:
        """The span kept in sync, whole days in UTC so it moves once a day, not every second."""
        now = now or datetime.now(UTC)
        today = now.replace(hour=0, minute=0, second=0, microsecond=0)
        return Interval(
            today - timedelta(days=self.settings.sync_days_back),
            today + timedelta(days=self.settings.sync_days_ahead + 1),
        )

    def provider_for(self, account: CalendarAccount, *, timeout: float | None = None) -> CalendarProvider:
        """A provider for ``account``; ``timeout`` (seconds per request) replaces the configured one, for the
        short live checks made while a participant waits."""
        connection = Connection(
            server_url=account.server_url,
            username=account.username,
            secret=self.vault.decrypt(account.credentials),
            principal_url=account.principal_url,
            home_url=account.home_url,
        )
        policy = self.policy if timeout is None else dataclasses.replace(self.policy, timeout=timeout)
        return open_provider(
            account.provider, connection, policy=policy, batch_size=self.settings.multiget_chunk_size
        )


def network_policy(settings: Settings) -> NetworkPolicy:
    return NetworkPolicy(
        allowed_private_networks=tuple(settings.allowed_private_networks),
        timeout=settings.http_timeout_seconds,
    )
