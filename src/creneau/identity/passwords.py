"""Password hashing with Argon2id (argon2-cffi's defaults, RFC 9106's low-memory profile).

Hashes carry their own parameters, so raising the cost later only needs :func:`needs_rehash` to be checked
after a successful sign-in, when the clear password is at hand.
"""

from __future__ import annotations

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

_hasher = PasswordHasher()

# Verified when the e-mail is unknown, so that a sign-in takes as long whether or not the account exists.
_DUMMY_HASH = _hasher.hash("creneau: no such researcher")


def hash_password(password: str) -> str:
    return _hasher.hash(password)


def verify_password(password: str, password_hash: str | None) -> bool:
    """True when ``password`` matches ``password_hash``. ``None`` (no such researcher) still costs a hash."""
    try:
        return _hasher.verify(password_hash or _DUMMY_HASH, password) and password_hash is not None
    except (VerificationError, InvalidHashError):
        return False


def needs_rehash(password_hash: str) -> bool:
    """True when the hash was made with weaker parameters than today's."""
    try:
        return _hasher.check_needs_rehash(password_hash)
    except InvalidHashError:
        return True
