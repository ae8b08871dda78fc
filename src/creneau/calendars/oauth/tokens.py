"""The token set stored as an OAuth account's credentials, and the token endpoint's three calls.

The stored secret (encrypted by ``calendars/secrets.py``) is ``{"access_token", "refresh_token",
"expires_at"}`` with ``expires_at`` in epoch seconds — what the Google and Graph providers read. Token
endpoints are reached through the providers' guarded client (``providers/http.py``: the private-network
guard, no environment proxy, no redirect followed, since the body carries secrets); tokens never appear in
errors or logs.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass, replace
from typing import Any
from urllib.parse import urlencode

import httpx
from authlib.oauth2.rfc6749 import OAuth2Token

from creneau.calendars.oauth.apps import TOKEN_TIMEOUT, OAuthApp
from creneau.calendars.providers.http import make_client, request
from creneau.errors import AuthExpired, AuthFailed, ProviderError, TransientProviderError

__all__ = ["TOKEN_TIMEOUT", "TokenSet", "exchange_code", "refresh", "revoke"]
_ANY_STATUS = range(300, 600)  # every answer comes back to _post, which reads the server's error code


@dataclass(frozen=True)
class TokenSet:
    access_token: str
    refresh_token: str
    expires_at: float | None  # epoch seconds; None: the server did not say

    def to_secret(self) -> str:
        return json.dumps(
            {
                "access_token": self.access_token,
                "refresh_token": self.refresh_token,
                "expires_at": self.expires_at,
            }
        )

    @classmethod
    def from_secret(cls, secret: str) -> TokenSet:
        """:raises AuthFailed: when ``secret`` is not a token set (a reconnect is the only way out)."""
        try:
            data = json.loads(secret)
            access = data["access_token"]
        except (ValueError, KeyError, TypeError):
            raise AuthFailed("the stored sign-in is unreadable; reconnect the account") from None
        expires = data.get("expires_at")
        return cls(
            access_token=str(access),
            refresh_token=str(data.get("refresh_token") or ""),
            expires_at=float(expires) if isinstance(expires, int | float) else None,
        )

    def expires_within(self, seconds: float, *, now: float | None = None) -> bool:
        if self.expires_at is None:
            return False
        return self.expires_at - (time.time() if now is None else now) <= seconds


def exchange_code(app: OAuthApp, *, code: str, redirect_uri: str, code_verifier: str) -> TokenSet:
    """Redeem an authorization code (with its PKCE verifier).

    :raises AuthFailed: when the server refuses the code; ``ServerUnreachable`` / ``TransientProviderError``.
    """
    answer = _post(
        app,
        {
            "grant_type": "authorization_code",
            "code": code,
            "redirect_uri": redirect_uri,
            "code_verifier": code_verifier,
        },
    )
    tokens = _token_set(answer, previous_refresh="")
    if not tokens.refresh_token:
        raise AuthFailed(
            "the provider gave no refresh token; remove creneau from the account's connected apps "
            "and connect again"
        )
    return tokens


def refresh(app: OAuthApp, tokens: TokenSet, *, timeout: float = TOKEN_TIMEOUT) -> TokenSet:
    """A new access token. Google keeps the refresh token; Microsoft may send a new one (kept then).
    ``timeout``: seconds for the token request (the live check at booking waits less than sync).

    :raises AuthExpired: when the grant was revoked or expired (``invalid_grant``): the researcher must
        reconnect. ``ServerUnreachable`` / ``TransientProviderError`` for what is worth retrying.
    """
    if not tokens.refresh_token:
        raise AuthExpired("this account's sign-in cannot be renewed (no refresh token); reconnect it")
    answer = _post(
        app, {"grant_type": "refresh_token", "refresh_token": tokens.refresh_token}, timeout=timeout
    )
    return _token_set(answer, previous_refresh=tokens.refresh_token)


def revoke(app: OAuthApp, tokens: TokenSet) -> bool:
    """Ask the provider to forget the grant (Google). Best effort: returns whether it said yes."""
    if app.revoke_url is None:
        return False
    try:
        response = _send(app, app.revoke_url, {"token": tokens.refresh_token or tokens.access_token})
    except ProviderError:
        return False
    return response.is_success


def _send(app: OAuthApp, url: str, form: dict[str, str], *, timeout: float = TOKEN_TIMEOUT) -> httpx.Response:
    """POST a form through the guarded client, waiting at most ``timeout`` seconds.

    :raises ServerUnreachable: / ``AddressForbidden`` / ``TransientProviderError`` when no answer came."""
    policy = replace(app.network, timeout=min(timeout, app.network.timeout))
    with make_client(policy, auth=None) as client:
        return request(
            client,
            "POST",
            url,
            policy=policy,
            headers={"Accept": "application/json", "Content-Type": "application/x-www-form-urlencoded"},
            content=urlencode(form).encode(),
            accept=_ANY_STATUS,
            follow_redirects=False,
        )


def _post(app: OAuthApp, form: dict[str, str], *, timeout: float = TOKEN_TIMEOUT) -> dict[str, Any]:
    body = {**form, "client_id": app.client_id}
    if app.client_secret:
        body["client_secret"] = app.client_secret
    response = _send(app, app.token_url, body, timeout=timeout)
    try:
        data = response.json()
    except ValueError:
        data = {}
    if not isinstance(data, dict):
        data = {}
    if response.is_success and "access_token" in data:
        return data
    error = str(data.get("error") or "")
    if error == "invalid_grant":
        raise AuthExpired("the account's sign-in was revoked or has expired; reconnect the account")
    if error in ("invalid_client", "unauthorized_client"):
        raise AuthFailed(
            f"the sign-in server refused creneau's application ({error}); check its client id and secret"
        )
    if response.status_code >= 500 or response.status_code == 429:
        raise TransientProviderError(f"the sign-in server answered HTTP {response.status_code}")
    raise ProviderError(
        f"the sign-in server answered HTTP {response.status_code} ({error or 'no error code'})"
    )


def _token_set(answer: dict[str, Any], *, previous_refresh: str) -> TokenSet:
    token = OAuth2Token.from_dict(answer)  # type: ignore[no-untyped-call]  # sets expires_at
    expires = token.get("expires_at")
    return TokenSet(
        access_token=str(token["access_token"]),
        refresh_token=str(token.get("refresh_token") or previous_refresh),
        expires_at=float(expires) if expires is not None else None,
    )
