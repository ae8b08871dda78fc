"""Researchers: accounts that sign in to creneau, their passwords, sign-in rate limits and API tokens.

Public API: :mod:`creneau.identity.service` (``create_researcher``, ``authenticate``, ``create_api_token``,
``researcher_for_token``) and :mod:`creneau.identity.passwords` (``hash_password``, ``verify_password``).
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

__all__ = [
    "authenticate",
    "create_api_token",
    "create_researcher",
    "delete_api_token",
    "hash_password",
    "is_email",
    "list_api_tokens",
    "needs_rehash",
    "normalize_email",
    "researcher_for_token",
    "verify_password",
]
