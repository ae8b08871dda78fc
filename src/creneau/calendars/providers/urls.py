"""The one reader of a server URL typed by a user (CalDAV connect, from a page or the API).

:func:`check_server_url` returns the URL as creneau stores and uses it, or refuses it with
:class:`~creneau.errors.InvalidServerUrl` and a message a person can act on:

- no user info (``https://bob:secret@host/``): a password there would be stored and shown in clear text, so
  the username and password go in their own fields (the password is then encrypted);
- a host that is a DNS name (letters, digits, hyphens; international names are stored in their ASCII
  ``xn--`` form after checking they decode), an IPv4 address, or an IPv6 address in brackets;
- a port from 1 to 65535, no spaces, control or bidirectional-formatting characters anywhere, at most
  :data:`MAX_URL_LENGTH` characters.

A URL is read here, before any request: what passes has a host the resolver and the address guard
(:mod:`.netguard`) can work with, so a user-typed URL never turns into a server error. A URL already stored
before these checks existed is caught by :func:`.http.request`, which raises the same error for a URL it
cannot read, so that a sync records it as the account's error.
"""

from __future__ import annotations

import ipaddress
import re
import unicodedata

import idna

from creneau.errors import InvalidServerUrl

__all__ = ["MAX_URL_LENGTH", "check_server_url", "without_user_info"]

MAX_URL_LENGTH = 2000  # the column's size
_SCHEMES = ("http", "https")
_LDH_LABEL = re.compile(r"[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?")
_REFUSED_CATEGORIES = frozenset({"Cc", "Cf", "Cs", "Co", "Cn", "Zs", "Zl", "Zp"})
_MAX_HOST_LENGTH = 253


def check_server_url(raw: str) -> str:
    """``raw`` (blanks around it removed, ``https://`` added when no scheme is written) as it is stored.

    :raises InvalidServerUrl: naming what is wrong; the URL's text is never part of the message.
    """
    url = raw.strip()
    if len(url) > MAX_URL_LENGTH:
        raise InvalidServerUrl(
            "the server URL may be at most %(max)s characters long", params={"max": MAX_URL_LENGTH}
        )
    if any(unicodedata.category(c) in _REFUSED_CATEGORIES for c in url):
        raise InvalidServerUrl("the server URL may not contain spaces or control characters")
    if "://" not in url:
        url = "https://" + url
    scheme, _, rest = url.partition("://")
    scheme = scheme.lower()
    if scheme not in _SCHEMES:
        raise InvalidServerUrl("the server URL must start with https:// or http://")
    end = next((i for i, c in enumerate(rest) if c in "/?#"), len(rest))
    authority, remainder = rest[:end], rest[end:]
    if "@" in authority:
        raise InvalidServerUrl(
            "the server URL may not contain a username or password: type them in their own fields"
        )
    host, port = _host_and_port(authority)
    remainder = remainder.partition("#")[0]
    if len(url) > MAX_URL_LENGTH:  # the scheme we added
        raise InvalidServerUrl(
            "the server URL may be at most %(max)s characters long", params={"max": MAX_URL_LENGTH}
        )
    return f"{scheme}://{host}{f':{port}' if port is not None else ''}{remainder}"


def _host_and_port(authority: str) -> tuple[str, int | None]:
    if authority.startswith("["):
        inside, bracket, after = authority[1:].partition("]")
        if not bracket or "%" in inside:  # a zone id ("%25eth0") names no host for a server
            raise InvalidServerUrl("the host name of the server URL is not valid")
        try:
            address = ipaddress.IPv6Address(inside)
        except ValueError:
            raise InvalidServerUrl("the host name of the server URL is not valid") from None
        if after and not after.startswith(":"):
            raise InvalidServerUrl("the host name of the server URL is not valid")
        return f"[{address.compressed}]", _port(after[1:]) if after else None
    name, colon, port_text = authority.rpartition(":") if ":" in authority else (authority, "", "")
    return _host(name), _port(port_text) if colon else None


def _port(text: str) -> int:
    if not (text.isascii() and text.isdigit()) or not 1 <= int(text) <= 65535:
        raise InvalidServerUrl("the port of the server URL must be a number from 1 to 65535")
    return int(text)


def _host(name: str) -> str:
    if not name:
        raise InvalidServerUrl("the server URL has no host name")
    bare = name[:-1] if name.endswith(".") else name  # a fully qualified name's final dot
    labels = bare.split(".")
    if all(label.isascii() and label.isdigit() for label in labels):
        try:
            return str(ipaddress.IPv4Address(bare))
        except ValueError:
            raise InvalidServerUrl("the host name of the server URL is not valid") from None
    ascii_labels = [_label(label) for label in labels]
    host = ".".join(ascii_labels)
    if len(host) > _MAX_HOST_LENGTH or ascii_labels[-1].isdigit():
        raise InvalidServerUrl("the host name of the server URL is not valid")
    return host + ("." if name.endswith(".") else "")


def _label(label: str) -> str:
    """One DNS label in ASCII: checked as is when plain ASCII, through IDNA when international or ``xn--``."""
    lowered = label.lower()
    try:
        if not lowered.isascii():
            lowered = idna.encode(label, uts46=True).decode("ascii")
        elif lowered.startswith("xn--"):
            idna.decode(lowered)  # bad punycode ("xn--a") does not name any host
    except (idna.IDNAError, UnicodeError):
        raise InvalidServerUrl("the host name of the server URL is not valid") from None
    if "." in lowered or not _LDH_LABEL.fullmatch(lowered):
        raise InvalidServerUrl("the host name of the server URL is not valid")
    return lowered


def without_user_info(url: str) -> str:
    """``url`` without any ``user:password@`` before its host, for answers and logs. Works on any text, also
    on a URL stored before :func:`check_server_url` existed that no URL parser reads."""
    scheme, sep, rest = url.partition("://")
    if not sep:
        return url
    end = next((i for i, c in enumerate(rest) if c in "/?#"), len(rest))
    authority = rest[:end]
    return f"{scheme}{sep}{authority.rpartition('@')[2]}{rest[end:]}"
