"""What the engine's services need from the running application, gathered in one object."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta

from sqlalchemy.orm import Session, sessionmaker

from creneau.calendars import providers
from creneau.calendars.oauth import OAuthApp, connector_of, is_oauth, oauth_apps
from creneau.calendars.oauth.keeper import TokenKeeper
from creneau.calendars.providers.base import CalendarProvider, Connection
from creneau.calendars.providers.http import NetworkPolicy
from creneau.calendars.secrets import Vault
from creneau.config import Settings
from creneau.domain.intervals import Interval
from creneau.errors import IntegrationRetired
from creneau.store.models import CalendarAccount


@dataclass
class EngineContext:
    settings: Settings
    sessions: sessionmaker[Session]
    vault: Vault
    policy: NetworkPolicy
    apps: dict[str, OAuthApp] = field(init=False)
    tokens: TokenKeeper = field(init=False)

    def __post_init__(self) -> None:
        self.apps = oauth_apps(self.settings)
        self.tokens = TokenKeeper(
            sessions=self.sessions,
            vault=self.vault,
            apps=self.apps,
            margin=self.settings.oauth_refresh_margin_seconds,
        )

    def sync_window(self, now: datetime | None = None) -> Interval:
        """The span kept in sync, whole days in UTC so it moves once a day, not every second."""
        now = now or datetime.now(UTC)
        today = now.replace(hour=0, minute=0, second=0, microsecond=0)
        return Interval(
            today - timedelta(days=self.settings.sync_days_back),
            today + timedelta(days=self.settings.sync_days_ahead + 1),
        )

    def legacy_retired(self, account: CalendarAccount, *, today: date | None = None) -> bool:
        """Whether ``account`` uses the old Google integration and its removal date has come."""
        removal = self.settings.legacy_google_removal_date
        if removal is None or connector_of(account) != "google_legacy":
            return False
        return (today or datetime.now(UTC).date()) >= removal

    def provider_for(
        self, account: CalendarAccount, *, timeout: float | None = None, fresh_token: bool = False
    ) -> CalendarProvider:
        """A provider for ``account``; ``timeout`` (seconds per request, the token refresh's included)
        replaces the configured one, for the short live checks made while a participant waits. An OAuth
        account's access token is refreshed first when it expires soon (or anyway, with ``fresh_token``:
        the server refused it).

        Call it outside any write transaction: a refresh stores the new token in a transaction of its own.

        :raises AuthExpired: a refresh was refused (the account is now "reconnect_needed").
        :raises IntegrationRetired: the old Google integration's removal date has passed.
        """
        if self.legacy_retired(account):
            raise IntegrationRetired(
                "the old Google integration was removed; move this account to the new integration"
            )
        secret = self.vault.decrypt(account.credentials)
        if is_oauth(account) and (fresh_token or self.tokens.needs_refresh(secret)):
            # Only then the keeper: it locks the account's row and may call the token endpoint.
            secret = self.tokens.secret_for(account.id, force=fresh_token, timeout=timeout)
        connection = Connection(
            server_url=account.server_url,
            username=account.username,
            secret=secret,
            principal_url=account.principal_url,
            home_url=account.home_url,
        )
        policy = self.policy if timeout is None else dataclasses.replace(self.policy, timeout=timeout)
        return providers.load(account.provider).from_settings(
            connection, policy=policy, settings=self.settings
        )


def network_policy(settings: Settings) -> NetworkPolicy:
    return NetworkPolicy(
        allowed_private_networks=tuple(settings.allowed_private_networks),
        timeout=settings.http_timeout_seconds,
    )
