"""The authorization request: where the researcher's browser goes to consent, and what must come back.

The web layer keeps a :class:`PendingAuthorization` in the signed session (its ``state`` and PKCE verifier
never leave the server side of the flow except as the state parameter and the S256 challenge) and checks on
return that the ``state`` matches and the signed-in researcher is the one who started it.
"""

from __future__ import annotations

import secrets
from dataclasses import asdict, dataclass
from typing import Any, Literal

from authlib.common.security import generate_token
from authlib.oauth2.rfc6749.parameters import prepare_grant_uri
from authlib.oauth2.rfc7636 import create_s256_code_challenge

from creneau.calendars.oauth.apps import OAuthApp

Purpose = Literal["connect", "reconnect", "migrate"]


@dataclass(frozen=True)
class PendingAuthorization:
    connector: str
    researcher_id: int
    state: str
    code_verifier: str
    redirect_uri: str
    purpose: Purpose = "connect"
    account_id: int | None = None  # the account to reconnect, or the legacy account to migrate
    next_path: str = ""  # a local page to come back to (a session's settings)

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: Any) -> PendingAuthorization | None:
        try:
            return cls(**data)
        except TypeError:
            return None

    def matches(self, *, state: str, researcher_id: int) -> bool:
        return researcher_id == self.researcher_id and secrets.compare_digest(state, self.state)


def begin(
    app: OAuthApp,
    *,
    researcher_id: int,
    redirect_uri: str,
    purpose: Purpose = "connect",
    account_id: int | None = None,
    next_path: str = "",
    login_hint: str = "",
) -> tuple[PendingAuthorization, str]:
    """A new pending authorization and the provider's consent URL for it."""
    pending = PendingAuthorization(
        connector=app.connector,
        researcher_id=researcher_id,
        state=generate_token(32),
        code_verifier=generate_token(64),  # 64 characters of [A-Za-z0-9]: RFC 7636 allows 43 to 128
        redirect_uri=redirect_uri,
        purpose=purpose,
        account_id=account_id,
        next_path=next_path,
    )
    extra = dict(app.extra)
    if login_hint:
        extra["login_hint"] = login_hint
    url = prepare_grant_uri(
        app.authorize_url,
        client_id=app.client_id,
        response_type="code",
        redirect_uri=redirect_uri,
        scope=app.scope,
        state=pending.state,
        code_challenge=create_s256_code_challenge(pending.code_verifier),  # type: ignore[no-untyped-call]
        code_challenge_method="S256",
        **extra,
    )
    return pending, url
