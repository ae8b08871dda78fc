"""Sign-in sessions kept on the server, so that signing out really ends them.

The browser's cookie carries a random session id; the database keeps only its SHA-256 (a copy of the table
signs nobody in). A session ends when its row is deleted: sign out, "sign out everywhere", a password change
(every other session of the researcher), or when it expires: ``settings.session_idle_minutes`` without a
request, or ``settings.session_max_days`` after signing in, whichever comes first.

``last_seen_at`` is written at most once a :data:`TOUCH_INTERVAL`, not on every request, so that reading pages
does not turn into a write per request. Idle expiry is therefore exact to within that interval.
"""

from __future__ import annotations

import hashlib
import secrets
from datetime import UTC, datetime, timedelta

from sqlalchemy import delete, or_, select
from sqlalchemy.orm import Session

from creneau.config import Settings
from creneau.errors import NotFound, ValidationFailed
from creneau.identity.passwords import hash_password, verify_password
from creneau.identity.service import MIN_PASSWORD_LENGTH, check_limit, record_failure
from creneau.store.models import Researcher, SignInSession

TOUCH_INTERVAL = timedelta(minutes=1)
USER_AGENT_LENGTH = 400


def _digest(session_id: str) -> str:
    return hashlib.sha256(session_id.encode()).hexdigest()


def _expired(settings: Settings, now: datetime) -> tuple[datetime, datetime]:
    """(idle limit, absolute limit): a session last seen before the first, or started before the second,
    is over."""
    return (
        now - timedelta(minutes=settings.session_idle_minutes),
        now - timedelta(days=settings.session_max_days),
    )


def start_session(
    session: Session,
    *,
    researcher_id: int,
    user_agent: str,
    ip: str,
    settings: Settings,
    now: datetime | None = None,
) -> str:
    """A new session for the researcher (flushed, not committed); returns its id, to put in the cookie.

    The researcher's expired sessions are removed on the way, so the table does not grow without bound.
    """
    now = now or datetime.now(UTC)
    idle, absolute = _expired(settings, now)
    session.execute(
        delete(SignInSession).where(
            SignInSession.researcher_id == researcher_id,
            or_(SignInSession.last_seen_at <= idle, SignInSession.created_at <= absolute),
        )
    )
    session_id = secrets.token_urlsafe(32)
    session.add(
        SignInSession(
            researcher_id=researcher_id,
            id_sha256=_digest(session_id),
            created_at=now,
            last_seen_at=now,
            user_agent=user_agent[:USER_AGENT_LENGTH],
            ip=ip[:64],
        )
    )
    session.flush()
    return session_id


def resume_session(
    session: Session,
    *,
    session_id: str,
    ip: str,
    settings: Settings,
    now: datetime | None = None,
) -> tuple[Researcher, SignInSession] | None:
    """The researcher and record of a live session; ``None`` when the id is unknown, ended or expired (an
    expired record is deleted). ``last_seen_at`` (and the IP) are updated when older than
    :data:`TOUCH_INTERVAL`."""
    if not session_id:
        return None
    now = now or datetime.now(UTC)
    record = session.scalar(select(SignInSession).where(SignInSession.id_sha256 == _digest(session_id)))
    if record is None:
        return None
    idle, absolute = _expired(settings, now)
    if record.last_seen_at <= idle or record.created_at <= absolute:
        session.delete(record)
        session.flush()
        return None
    researcher = session.get(Researcher, record.researcher_id)
    if researcher is None:
        return None
    if now - record.last_seen_at >= TOUCH_INTERVAL:
        record.last_seen_at = now
        record.ip = ip[:64]
    return researcher, record


def end_session(session: Session, *, session_id: str) -> None:
    """Sign this session out (nothing happens for an unknown id)."""
    if session_id:
        session.execute(delete(SignInSession).where(SignInSession.id_sha256 == _digest(session_id)))


def end_session_record(session: Session, *, researcher_id: int, record_id: int) -> None:
    """Sign out one of the researcher's sessions, from the list on the security page.

    :raises NotFound: when the session does not exist (any more) or belongs to another researcher.
    """
    # An id beyond the database's integers (PostgreSQL refuses them) is as unknown as any other.
    record = session.get(SignInSession, record_id) if 0 < record_id < 2**31 else None
    if record is None or record.researcher_id != researcher_id:
        raise NotFound(f"no session {record_id}")
    session.delete(record)
    session.flush()


def end_all_sessions(session: Session, *, researcher_id: int, except_record_id: int | None = None) -> int:
    """End every session of the researcher but ``except_record_id``; returns how many ended."""
    query = delete(SignInSession).where(SignInSession.researcher_id == researcher_id)
    if except_record_id is not None:
        query = query.where(SignInSession.id != except_record_id)
    result = session.execute(query)
    return int(getattr(result, "rowcount", 0) or 0)


def list_sessions(
    session: Session, *, researcher_id: int, settings: Settings, now: datetime | None = None
) -> list[SignInSession]:
    """The researcher's live sessions, most recently seen first."""
    idle, absolute = _expired(settings, now or datetime.now(UTC))
    return list(
        session.scalars(
            select(SignInSession)
            .where(
                SignInSession.researcher_id == researcher_id,
                SignInSession.last_seen_at > idle,
                SignInSession.created_at > absolute,
            )
            .order_by(SignInSession.last_seen_at.desc(), SignInSession.id.desc())
        )
    )


def change_password(
    session: Session,
    *,
    researcher_id: int,
    current_password: str,
    new_password: str,
    keep_record_id: int | None,
    settings: Settings,
) -> int:
    """Set a new password; every other session of the researcher ends, ``keep_record_id`` stays.

    Wrong current passwords are rate-limited like sign-ins (a stolen session must not become a way to
    guess the password). Returns how many other sessions ended.

    :raises NotFound: when there is no such researcher.
    :raises TooManyAttempts: after too many wrong current passwords.
    :raises ValidationFailed: on a wrong ``current_password`` (field ``current_password``) or a short
        ``new_password`` (field ``new_password``).
    """
    researcher = session.get(Researcher, researcher_id)
    if researcher is None:
        raise NotFound(f"no researcher {researcher_id}")
    now = datetime.now(UTC)
    key = f"password:{researcher_id}"
    check_limit(session, key=key, limit=settings.login_max_attempts, now=now, settings=settings)
    if not verify_password(current_password, researcher.password_hash):
        record_failure(session, keys=[key], now=now, settings=settings)
        raise ValidationFailed("The current password is wrong.", field="current_password")
    if len(new_password) < MIN_PASSWORD_LENGTH:
        raise ValidationFailed("The password must be at least 8 characters long.", field="new_password")
    researcher.password_hash = hash_password(new_password)
    ended = end_all_sessions(session, researcher_id=researcher_id, except_record_id=keep_record_id)
    session.flush()
    return ended
