"""Users, OAuth clients, authorization codes and tokens of the emulated Google account server.

Tokens are random strings, checked on every API call. An access token carries an expiry; a refresh token
lives until revoked (Google does not rotate them on refresh). Revoking a refresh token also revokes the
access tokens it issued, as Google does. Codes are single-use and expire after ten minutes.
"""

from __future__ import annotations

import base64
import hashlib
import json
import secrets
import threading
import time
from dataclasses import dataclass, field

CODE_LIFETIME = 600.0
ACCESS_LIFETIME = 3599


@dataclass
class User:
    email: str
    timezone: str = "Europe/Paris"
    name: str = ""


@dataclass
class Client:
    client_id: str
    client_secret: str
    redirect_uris: tuple[str, ...] = ()  # empty: any redirect URI is accepted (tests, demo)


@dataclass
class Token:
    value: str
    email: str
    kind: str  # "access" or "refresh"
    scope: str
    client_id: str
    expires_at: float | None = None
    revoked: bool = False
    parent: str | None = None  # the refresh token an access token came from


@dataclass(frozen=True)
class TokenSet:
    """What the token endpoint answers, and what tests put in ``Connection.secret``."""

    access_token: str
    refresh_token: str
    expires_at: float
    scope: str

    def secret(self) -> str:
        """The JSON blob creneau stores as an account's secret."""
        return json.dumps(
            {
                "access_token": self.access_token,
                "refresh_token": self.refresh_token,
                "expires_at": int(self.expires_at),
            }
        )


@dataclass
class Grant:
    code: str
    email: str
    client_id: str
    redirect_uri: str
    scope: str
    challenge: str | None
    method: str
    created: float
    used: bool = False


class OAuthError(Exception):
    """An OAuth error answer: ``{"error": code, "error_description": ...}`` with ``status``."""

    def __init__(self, code: str, description: str, status: int = 400) -> None:
        super().__init__(f"{code}: {description}")
        self.code = code
        self.description = description
        self.status = status


def s256(verifier: str) -> str:
    digest = hashlib.sha256(verifier.encode("ascii")).digest()
    return base64.urlsafe_b64encode(digest).decode("ascii").rstrip("=")


@dataclass
class Accounts:
    lock: threading.RLock
    users: dict[str, User] = field(default_factory=dict)
    clients: dict[str, Client] = field(default_factory=dict)
    tokens: dict[str, Token] = field(default_factory=dict)
    grants: dict[str, Grant] = field(default_factory=dict)
    access_lifetime: int = ACCESS_LIFETIME

    def add_client(self, client_id: str, client_secret: str, redirect_uris: tuple[str, ...] = ()) -> Client:
        with self.lock:
            client = Client(client_id, client_secret, tuple(redirect_uris))
            self.clients[client_id] = client
            return client

    def client(self, client_id: str) -> Client | None:
        with self.lock:
            return self.clients.get(client_id)

    def issue(self, email: str, *, scope: str, client_id: str = "emulator") -> TokenSet:
        """A fresh refresh token and access token for ``email``."""
        with self.lock:
            refresh = Token(secrets.token_urlsafe(32), email, "refresh", scope, client_id)
            self.tokens[refresh.value] = refresh
            access = self._access(refresh)
            assert access.expires_at is not None
            return TokenSet(access.value, refresh.value, access.expires_at, scope)

    def _access(self, refresh: Token) -> Token:
        access = Token(
            "ya29." + secrets.token_urlsafe(40),
            refresh.email,
            "access",
            refresh.scope,
            refresh.client_id,
            expires_at=time.time() + self.access_lifetime,
            parent=refresh.value,
        )
        self.tokens[access.value] = access
        return access

    def user_for(self, access_token: str) -> User | None:
        """The user an access token stands for, or None when it is unknown, expired or revoked."""
        with self.lock:
            token = self.tokens.get(access_token)
            if token is None or token.kind != "access" or token.revoked:
                return None
            if token.expires_at is not None and token.expires_at <= time.time():
                return None
            return self.users.get(token.email)

    def revoke(self, value: str) -> bool:
        """Revoke an access or refresh token (a refresh token takes its access tokens with it)."""
        with self.lock:
            token = self.tokens.get(value)
            if token is None:
                return False
            token.revoked = True
            if token.kind == "refresh":
                for other in self.tokens.values():
                    if other.parent == value:
                        other.revoked = True
            return True

    def expire(self, access_token: str) -> None:
        """Make an access token expired now (what an hour of waiting does)."""
        with self.lock:
            self.tokens[access_token].expires_at = time.time() - 1

    # -- the authorization-code flow -------------------------------------------------------------------

    def grant(
        self,
        *,
        email: str,
        client_id: str,
        redirect_uri: str,
        scope: str,
        challenge: str | None,
        method: str,
    ) -> str:
        with self.lock:
            code = "4/" + secrets.token_urlsafe(32)
            self.grants[code] = Grant(
                code, email, client_id, redirect_uri, scope, challenge, method, time.time()
            )
            return code

    def _client_checked(self, client_id: str, client_secret: str | None) -> Client:
        client = self.clients.get(client_id)
        if client is None:
            raise OAuthError("invalid_client", "The OAuth client was not found.", 401)
        if client_secret is not None and client_secret != client.client_secret:
            raise OAuthError("invalid_client", "Unauthorized", 401)
        return client

    def exchange_code(
        self,
        *,
        code: str,
        client_id: str,
        client_secret: str | None,
        redirect_uri: str,
        verifier: str | None,
    ) -> TokenSet:
        """:raises OAuthError: ``invalid_grant`` for a used/expired/unknown code, a wrong redirect URI or a
        PKCE verifier that does not match the challenge."""
        with self.lock:
            self._client_checked(client_id, client_secret)
            grant = self.grants.get(code)
            if grant is None or grant.used or grant.created + CODE_LIFETIME < time.time():
                raise OAuthError("invalid_grant", "Malformed auth code.")
            if grant.client_id != client_id:
                raise OAuthError("invalid_grant", "Unauthorized")
            if grant.redirect_uri != redirect_uri:
                raise OAuthError("redirect_uri_mismatch", "Bad Request")
            if grant.challenge is not None:
                if not verifier:
                    raise OAuthError("invalid_request", "Missing code verifier.")
                expected = s256(verifier) if grant.method == "S256" else verifier
                if not secrets.compare_digest(expected, grant.challenge):
                    raise OAuthError("invalid_grant", "Invalid code verifier.")
            grant.used = True
            return self.issue(grant.email, scope=grant.scope, client_id=client_id)

    def refresh(self, *, refresh_token: str, client_id: str, client_secret: str | None) -> TokenSet:
        with self.lock:
            self._client_checked(client_id, client_secret)
            token = self.tokens.get(refresh_token)
            if token is None or token.kind != "refresh" or token.revoked or token.client_id != client_id:
                raise OAuthError("invalid_grant", "Token has been expired or revoked.")
            access = self._access(token)
            assert access.expires_at is not None
            return TokenSet(access.value, token.value, access.expires_at, token.scope)
