"""Fresh access tokens for the engine: refreshed before they expire, one refresh at a time per account.

Every provider the engine opens for an OAuth account gets its secret from :meth:`TokenKeeper.secret_for`.
A token expiring within ``CRENEAU_OAUTH_REFRESH_MARGIN_SECONDS`` is refreshed first. Refreshes of one account
are serialized twice: a lock per account in this process, and the account's row locked (``SELECT … FOR
UPDATE`` on PostgreSQL; SQLite serializes writers) while the token endpoint is called, so that workers in
other processes wait and then read the token just stored instead of refreshing again. A refused refresh
(``invalid_grant``: revoked, expired, password changed) puts the account in "reconnect_needed" at once.
"""

from __future__ import annotations

import logging
import threading
from collections import defaultdict

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from creneau.calendars.oauth.apps import OAuthApp, connector_of
from creneau.calendars.oauth.tokens import TOKEN_TIMEOUT, TokenSet, refresh
from creneau.calendars.secrets import Vault
from creneau.errors import AuthExpired, AuthFailed
from creneau.store.models import CalendarAccount

log = logging.getLogger(__name__)


class TokenKeeper:
    def __init__(
        self, *, sessions: sessionmaker[Session], vault: Vault, apps: dict[str, OAuthApp], margin: float
    ) -> None:
        self._sessions = sessions
        self._vault = vault
        self._apps = apps
        self._margin = margin
        self._locks: defaultdict[int, threading.Lock] = defaultdict(threading.Lock)
        self._guard = threading.Lock()
        self.refreshes = 0  # how many refreshes this process made (tests, benchmarks)

    def _lock(self, account_id: int) -> threading.Lock:
        with self._guard:
            return self._locks[account_id]

    def needs_refresh(self, secret: str) -> bool:
        """Whether the token set ``secret`` expires within the margin (an unreadable one: the keeper says)."""
        try:
            return TokenSet.from_secret(secret).expires_within(self._margin)
        except AuthFailed:
            return True

    def secret_for(self, account_id: int, *, force: bool = False, timeout: float | None = None) -> str:
        """The account's token set as a provider's ``Connection.secret``, refreshed when it expires soon
        (or now, with ``force``: after the server refused the access token). ``timeout`` bounds the token
        request (seconds; the default is ``tokens.TOKEN_TIMEOUT``): the live check at booking gives its
        own, so that a stalled token endpoint does not keep the account's row locked long after it.

        :raises AuthExpired: when the refresh is refused; the account is then marked "reconnect_needed".
        :raises AuthFailed: when the account's application is not configured any more.
        """
        with self._lock(account_id), self._sessions() as session:
            account = session.scalar(
                select(CalendarAccount).where(CalendarAccount.id == account_id).with_for_update()
            )
            if account is None:
                raise AuthFailed("this account was removed")
            tokens = TokenSet.from_secret(self._vault.decrypt(account.credentials))
            if not force and not tokens.expires_within(self._margin):
                return tokens.to_secret()
            app = self._apps.get(connector_of(account))
            if app is None:
                raise AuthFailed(
                    f"the {connector_of(account)} application is not configured; sign-ins cannot be renewed"
                )
            try:
                renewed = refresh(app, tokens, timeout=TOKEN_TIMEOUT if timeout is None else timeout)
            except AuthExpired as exc:
                account.status, account.status_detail = "reconnect_needed", f"{exc.code}: {exc}"
                session.commit()
                log.warning("account %s: the token refresh was refused; reconnect needed", account_id)
                raise
            account.credentials = self._vault.encrypt(renewed.to_secret())
            session.commit()
            self.refreshes += 1
            return renewed.to_secret()
