"""The client's address and scheme as trusted: forwarded headers count only from the proxies we were told of.

``X-Forwarded-For`` and ``X-Forwarded-Proto`` are plain request headers: anyone can send them. They are
believed only when the peer that connected is one of ``settings.trusted_proxies`` (empty by default), and
then only as far back as the chain of trusted proxies goes. :class:`TrustedClientMiddleware` writes the
result into the ASGI scope (``client``, ``scheme``) before anything else reads it, so the sign-in rate limit,
the session records, uvicorn's access log and the secure-cookie decision all see the same address. uvicorn's
own forwarded-header handling must be off (``proxy_headers=False``, as ``creneau serve`` and
:func:`creneau.serving.serve_in_thread` start it): it trusts loopback by default.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable, Sequence

from starlette.types import ASGIApp, Message, Receive, Scope, Send

Network = ipaddress.IPv4Network | ipaddress.IPv6Network
_SCHEMES = {"http": ("http", "https"), "websocket": ("ws", "wss")}


def trusted_networks(entries: Iterable[str]) -> tuple[Network, ...]:
    """``settings.trusted_proxies`` (IPs or networks) parsed once."""
    return tuple(ipaddress.ip_network(entry.strip(), strict=False) for entry in entries if entry.strip())


def _is_trusted(host: str, trusted: Sequence[Network]) -> bool:
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        return False
    return any(address in net for net in trusted)


def _values(headers: Iterable[tuple[bytes, bytes]], name: bytes) -> list[str]:
    parts: list[str] = []
    for key, value in headers:
        if key.lower() == name:
            parts.extend(p.strip() for p in value.decode("latin-1").split(","))
    return [p for p in parts if p]


def client_address(
    peer: str | None, scheme: str, headers: Iterable[tuple[bytes, bytes]], trusted: Sequence[Network]
) -> tuple[str, str]:
    """(address, scheme) of the client as far as we can trust them.

    ``peer`` is the address that connected. When it is a trusted proxy, ``X-Forwarded-For`` is read from the
    right: every address a trusted proxy added is skipped, the first one that is not a trusted proxy is the
    client (what is left of it was written by the client itself and is ignored). The scheme is the nearest
    proxy's ``X-Forwarded-Proto``.
    """
    host = peer or "unknown"
    if not trusted or not _is_trusted(host, trusted):
        return host, scheme
    headers = list(headers)
    for hop in reversed(_values(headers, b"x-forwarded-for")):
        try:
            ipaddress.ip_address(hop)
        except ValueError:
            break  # not an address a proxy of ours wrote: keep the last trusted hop
        host = hop
        if not _is_trusted(hop, trusted):
            break
    protos = _values(headers, b"x-forwarded-proto")
    if protos and protos[-1].lower() in ("http", "https"):
        scheme = protos[-1].lower()
    return host, scheme


class TrustedClientMiddleware:
    """Rewrites ``scope["client"]`` and ``scope["scheme"]`` with :func:`client_address`, and marks every
    cookie set on an HTTPS request ``Secure``."""

    def __init__(self, app: ASGIApp, *, trusted_proxies: Iterable[str]) -> None:
        self.app = app
        self.trusted = trusted_networks(trusted_proxies)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] not in _SCHEMES:
            await self.app(scope, receive, send)
            return
        plain, secure = _SCHEMES[scope["type"]]
        peer = scope["client"][0] if scope.get("client") else None
        was = "https" if scope.get("scheme") in ("https", "wss") else "http"
        host, scheme = client_address(peer, was, scope.get("headers", ()), self.trusted)
        scope["client"] = (host, 0 if host != peer else scope["client"][1])
        scope["scheme"] = secure if scheme == "https" else plain
        if scheme != "https":
            await self.app(scope, receive, send)
            return

        async def send_secure_cookies(message: Message) -> None:
            if message["type"] == "http.response.start":
                message["headers"] = [_secure_cookie(k, v) for k, v in message.get("headers", ())]
            await send(message)

        await self.app(scope, receive, send_secure_cookies)


def _secure_cookie(key: bytes, value: bytes) -> tuple[bytes, bytes]:
    if key.lower() != b"set-cookie":
        return key, value
    attributes = [a.strip().lower() for a in value.split(b";")[1:]]
    return (key, value) if b"secure" in attributes else (key, value + b"; secure")
