"""Researchers: accounts that sign in to creneau, their passwords, sign-in rate limits and API tokens.

Public API: :mod:`creneau.identity.service` (``create_researcher``, ``authenticate``, ``create_api_token``,
``researcher_for_token``), :mod:`creneau.identity.sessions` (server-side sign-in sessions, password change)
and :mod:`creneau.identity.passwords` (``hash_password``, ``verify_password``).
"""

from __future__ import annotations

from creneau.identity.passwords import hash_password, needs_rehash, verify_password
from creneau.identity.service import (
    authenticate,
    create_api_token,
    create_researcher,
    delete_api_token,
    is_email,
    list_api_tokens,
    normalize_email,
    researcher_for_token,
)
from creneau.identity.sessions import (
    change_password,
    end_all_sessions,
    end_session,
    end_session_record,
    list_sessions,
    resume_session,
    start_session,
)

__all__ = [
    "authenticate",
    "change_password",
    "create_api_token",
    "create_researcher",
    "delete_api_token",
    "end_all_sessions",
    "end_session",
    "end_session_record",
    "hash_password",
    "is_email",
    "list_api_tokens",
    "list_sessions",
    "needs_rehash",
    "normalize_email",
    "researcher_for_token",
    "resume_session",
    "start_session",
    "verify_password",
]
