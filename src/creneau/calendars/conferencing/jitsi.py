"""Jitsi Meet links: a room exists as soon as someone opens its URL, so making one needs no request.

The room name is the only thing keeping strangers out of a session, so it must be unguessable: a readable
prefix derived from the title (ASCII, at most :data:`PREFIX_MAX` characters) followed by 120 random bits.
The random part is lowercase base32 because Jitsi (Prosody MUC) lowercases room names: mixed-case randomness
such as ``token_urlsafe`` would silently lose bits.
"""

from __future__ import annotations

import base64
import re
import secrets
import unicodedata
from typing import ClassVar
from urllib.parse import urlsplit

from creneau.calendars.conferencing.base import Conference, ConferencingProvider

__all__ = ["PREFIX_MAX", "RANDOM_BITS", "JitsiConferencing", "room_prefix"]

PREFIX_MAX = 30
RANDOM_BITS = 120  # 15 bytes -> 24 base32 characters, no padding
_FALLBACK_PREFIX = "session"
_NOT_SLUG = re.compile(r"[^a-z0-9]+")


def room_prefix(title: str) -> str:
    """``title`` as a lowercase ASCII slug of at most :data:`PREFIX_MAX` characters, cut at a word boundary.

    Accents are dropped (``"Étude café"`` gives ``"etude-cafe"``); a title with nothing left (``"用户研究"``)
    gives ``"session"``.
    """
    ascii_title = unicodedata.normalize("NFKD", title).encode("ascii", "ignore").decode("ascii")
    slug = _NOT_SLUG.sub("-", ascii_title.lower()).strip("-")
    if len(slug) > PREFIX_MAX:
        cut = slug[: PREFIX_MAX + 1]
        slug = cut.rsplit("-", 1)[0] if "-" in cut else cut[:PREFIX_MAX]
        slug = slug[:PREFIX_MAX].strip("-")
    return slug or _FALLBACK_PREFIX


def _random_part() -> str:
    return base64.b32encode(secrets.token_bytes(RANDOM_BITS // 8)).decode("ascii").lower()


class JitsiConferencing(ConferencingProvider):
    """Links to rooms on the Jitsi Meet server at ``base_url`` (``https://meet.example.org`` or a sub-path).

    :raises ValueError: when ``base_url`` is not an absolute http(s) URL without query, fragment or
        credentials.
    """

    name: ClassVar[str] = "jitsi"

    def __init__(self, base_url: str) -> None:
        self.base_url = _validated_base_url(base_url)

    def create(self, *, booking_key: str, title: str) -> Conference:
        """A new room every call: nothing is created on the server, so a link that was never stored and
        handed out (see :class:`ConferencingProvider`) is simply never used.

        :raises ValueError: when ``booking_key`` is empty.
        """
        if not booking_key:
            raise ValueError("booking_key must not be empty")
        room = f"{room_prefix(title)}-{_random_part()}"
        return Conference(provider=self.name, join_url=f"{self.base_url}/{room}")


def _validated_base_url(base_url: str) -> str:
    """``base_url`` without its trailing slashes, after checking it."""
    text = base_url.strip()
    try:
        parts = urlsplit(text)
        parts.port  # noqa: B018 - raises ValueError for a port that is not a number
    except ValueError as exc:
        raise ValueError(f"Jitsi base URL {base_url!r} is not a valid URL: {exc}") from None
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValueError(
            f"Jitsi base URL {base_url!r} must be an absolute http:// or https:// URL, "
            "such as https://meet.example.org"
        )
    if parts.query or parts.fragment or text.endswith(("?", "#")):
        raise ValueError(f"Jitsi base URL {base_url!r} must not have a query (?...) or a fragment (#...)")
    if parts.username is not None or parts.password is not None:
        raise ValueError("the Jitsi base URL must not contain a user name or password")
    return text.rstrip("/")
