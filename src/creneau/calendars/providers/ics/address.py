"""The feed addresses a researcher may paste: ``webcal://`` (read as ``https://``), ``https://`` and, like
CalDAV server URLs, ``http://``. Where the address may point (private networks) is the network guard's
decision (``providers/netguard.py``), made at every request and redirect."""

from __future__ import annotations

from urllib.parse import urlsplit, urlunsplit

from creneau.errors import ValidationFailed

__all__ = ["MAX_LENGTH", "feed_url"]

MAX_LENGTH = 2000  # the calendar's remote id holds it
_SCHEMES = {"webcal": "https", "webcals": "https", "https": "https", "http": "http"}


def feed_url(text: str) -> str:
    """The URL to fetch for what was typed.

    :raises ValidationFailed: (field ``server_url``) empty, too long, another scheme, or no host.
    """
    url = text.strip()
    if not url:
        raise ValidationFailed("a feed address is required", field="server_url")
    if len(url) > MAX_LENGTH:
        raise ValidationFailed("the feed address is too long", field="server_url")
    if "://" not in url:
        url = "https://" + url
    parts = urlsplit(url)
    scheme = _SCHEMES.get(parts.scheme.lower())
    try:
        host = parts.hostname
        parts.port  # noqa: B018 - raises ValueError for a port that is not a number
    except ValueError:
        host = None
    if scheme is None or not host:
        raise ValidationFailed(
            "the feed address must start with webcal://, https:// or http://", field="server_url"
        )
    return urlunsplit((scheme, parts.netloc, parts.path or "/", parts.query, ""))
