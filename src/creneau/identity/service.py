"""Researchers and how they prove who they are: password sign-in (rate-limited) and personal API tokens.

Rate limiting counts *failed* sign-ins in the ``login_attempts`` table, per (e-mail address, client IP), per
e-mail address and per client IP, each with its own limit (see :func:`authenticate`), so the limits hold
across processes and machines sharing the database. Counting and recording are not one atomic step: a burst
of parallel guesses may get a few more tries than the limit, never an unbounded number.
"""

from __future__ import annotations

import hashlib
import math
import re
import secrets
from datetime import UTC, datetime, timedelta

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from creneau.config import Settings
from creneau.errors import NotFound, TooManyAttempts, ValidationFailed
from creneau.identity.passwords import hash_password, needs_rehash, verify_password
from creneau.store.models import ApiToken, LoginAttempt, Researcher
from creneau.validation import check_name, check_timezone

MIN_PASSWORD_LENGTH = 8
TOKEN_PREFIX = "crn_"  # noqa: S105 (a prefix that makes leaked tokens easy to spot, not a secret)
LOCALES = ("fr", "en")
WRONG_CREDENTIALS = "Wrong email or password."
# One address, nothing an email header would read as a second one or as a display name.
_EMAIL = re.compile(r"^[^@\s<>\"',;]{1,64}@[^@\s<>\"',;]+\.[^@\s<>\"',;.]{2,}$")


def normalize_email(email: str) -> str:
    return email.strip().lower()


def is_email(address: str) -> bool:
    """Whether ``address`` (already trimmed) is one plausible email address."""
    return len(address) <= 320 and _EMAIL.match(address) is not None


def create_researcher(
    session: Session,
    *,
    email: str,
    password: str,
    name: str = "",
    locale: str | None = None,
    timezone: str | None = None,
) -> Researcher:
    """Add a researcher (flushed, not committed).

    :raises ValidationFailed: on a malformed or already used ``email``, a short ``password``, an unknown
        ``locale`` or ``timezone``.
    """
    address = normalize_email(email)
    if not is_email(address):
        raise ValidationFailed("Enter a valid email address.", field="email")
    if len(password) < MIN_PASSWORD_LENGTH:
        raise ValidationFailed("The password must be at least 8 characters long.", field="password")
    if locale is not None and locale not in LOCALES:
        raise ValidationFailed("The language must be fr or en.", field="locale")
    if timezone is not None:
        _check_timezone(timezone)
    if session.scalar(select(Researcher.id).where(Researcher.email == address)) is not None:
        raise ValidationFailed("A researcher with this email address already exists.", field="email")
    researcher = Researcher(
        email=address,
        name=check_name(name, field="name", message="give your name", empty=True),
        password_hash=hash_password(password),
        locale=locale,
    )
    if timezone is not None:
        researcher.timezone = timezone
    session.add(researcher)
    session.flush()
    return researcher


def authenticate(
    session: Session, *, email: str, password: str, client_ip: str, settings: Settings
) -> Researcher:
    """The researcher whose ``email`` and ``password`` these are.

    Failures are counted per (e-mail, client IP) with ``settings.login_max_attempts``, so that someone
    guessing from one place does not lock the owner out of every other place; per e-mail address with the
    much higher ``login_max_attempts_per_email`` (guessing from many places); and per client IP with
    ``login_max_attempts_per_ip`` (one place guessing many addresses). ``client_ip`` must be the address as
    trusted (:func:`creneau.web.clientaddr.client_address`), never a header a client can set.

    A failure is recorded and **committed** before the exception is raised, so that it counts even though
    the caller rolls its own work back.

    :raises TooManyAttempts: when one of the limits is reached within ``settings.login_window_seconds``; the
        password is then not even checked. ``retry_after`` says in how many seconds a try is counted again.
    :raises ValidationFailed: with the same generic message whether the address or the password is wrong.
    """
    address = normalize_email(email)
    limits = [
        (f"pair:{client_ip}:{address}"[:400], settings.login_max_attempts),
        (f"email:{address}"[:400], settings.login_max_attempts_per_email),
        (f"ip:{client_ip}"[:400], settings.login_max_attempts_per_ip),
    ]
    now = datetime.now(UTC)
    for key, limit in limits:
        check_limit(session, key=key, limit=limit, now=now, settings=settings)
    researcher = session.scalar(select(Researcher).where(Researcher.email == address))
    if not verify_password(password, researcher.password_hash if researcher else None) or researcher is None:
        record_failure(session, keys=[key for key, _ in limits], now=now, settings=settings)
        raise ValidationFailed(WRONG_CREDENTIALS)
    # The owner got in from here: this place's count starts again (the per-address ceiling keeps counting,
    # or an attacker elsewhere would get a fresh allowance each time the owner signs in).
    session.execute(delete(LoginAttempt).where(LoginAttempt.key == limits[0][0]))
    if needs_rehash(researcher.password_hash):
        researcher.password_hash = hash_password(password)
    return researcher


def check_limit(session: Session, *, key: str, limit: int, now: datetime, settings: Settings) -> None:
    """:raises TooManyAttempts: when ``key`` has ``limit`` failures within the window."""
    window = timedelta(seconds=settings.login_window_seconds)
    recent = session.scalars(
        select(LoginAttempt.at)
        .where(LoginAttempt.key == key, LoginAttempt.at > now - window)
        .order_by(LoginAttempt.at.desc())
        .limit(limit)
    ).all()
    if len(recent) >= limit:
        # Below the limit again once the oldest of the last ``limit`` failures leaves the window.
        wait = (recent[-1] + window - now).total_seconds()
        raise TooManyAttempts("Too many failed sign-ins.", retry_after=max(1, math.ceil(wait)))


def record_failure(session: Session, *, keys: list[str], now: datetime, settings: Settings) -> None:
    """Count a failure for each key, committed at once (the caller rolls its own work back)."""
    window = timedelta(seconds=settings.login_window_seconds)
    session.execute(delete(LoginAttempt).where(LoginAttempt.at <= now - window))
    session.add_all(LoginAttempt(key=key, at=now) for key in keys)
    session.commit()


def _check_timezone(name: str) -> None:
    check_timezone(name, field="timezone")


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def _label(text: str) -> str:
    # Long labels are cut as before; control characters and direction overrides are refused.
    return check_name(text, field="label", message="give a label", max_length=len(text), empty=True)[:200]


def create_api_token(session: Session, *, researcher_id: int, label: str) -> str:
    """A new personal API token, returned once; only its SHA-256 is stored (flushed, not committed).

    :raises NotFound: when there is no such researcher.
    """
    if session.get(Researcher, researcher_id) is None:
        raise NotFound(f"no researcher {researcher_id}")
    token = TOKEN_PREFIX + secrets.token_urlsafe(32)
    session.add(ApiToken(researcher_id=researcher_id, token_sha256=_digest(token), label=_label(label)))
    session.flush()
    return token


def researcher_for_token(session: Session, token: str) -> Researcher | None:
    if not token:
        return None
    return session.scalar(
        select(Researcher)
        .join(ApiToken, ApiToken.researcher_id == Researcher.id)
        .where(ApiToken.token_sha256 == _digest(token))
    )


def list_api_tokens(session: Session, *, researcher_id: int) -> list[ApiToken]:
    return list(
        session.scalars(
            select(ApiToken).where(ApiToken.researcher_id == researcher_id).order_by(ApiToken.created_at)
        )
    )


def delete_api_token(session: Session, *, researcher_id: int, token_id: int) -> None:
    """:raises NotFound: when the token does not exist or belongs to another researcher."""
    token = session.get(ApiToken, token_id)
    if token is None or token.researcher_id != researcher_id:
        raise NotFound(f"no API token {token_id}")
    session.delete(token)
    session.flush()
