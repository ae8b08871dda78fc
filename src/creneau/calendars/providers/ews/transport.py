"""exchangelib's HTTP through creneau's private-network guard.

exchangelib speaks through ``requests`` and lets an application replace its adapter class
(``BaseProtocol.HTTP_ADAPTER_CLS``, its documented hook for custom TLS validation). :class:`GuardedAdapter`
is that class: for every request -- EWS calls, and each Autodiscover URL, which exchangelib opens with a
protocol (hence an adapter) of its own, redirects included since it never lets ``requests`` follow them -- it
resolves the host, checks every address with ``netguard.resolve_checked`` and connects to the checked
address itself (TLS still verifies the certificate against the URL's host name, with SNI). Environment
proxies are ignored, since a proxy would connect for us and defeat the guard.

exchangelib builds adapters from a class, without arguments of ours: the provider sets the account's policy
in a context variable (:func:`guarded`) around its exchangelib calls, and an adapter takes the policy in force
when its session is created (sessions are created on first use, inside such a call). An adapter created
outside creneau's calls (exchangelib used by something else in the same process) behaves as requests' own.
"""

from __future__ import annotations

import contextlib
import contextvars
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import certifi
import httpx
import requests
import requests.adapters
from urllib3.util import parse_url

from creneau.calendars.providers.netguard import NetworkPolicy, check_address, resolve_checked
from creneau.errors import AddressForbidden

__all__ = ["Guard", "GuardedAdapter", "guarded", "install"]


@dataclass(frozen=True)
class Guard:
    """What an adapter enforces: the network policy and the CA bundle that server certificates must chain to
    (None: the public bundle of ``certifi``). Verification is never turned off."""

    policy: NetworkPolicy
    ca_bundle: str | None = None


_GUARD: contextvars.ContextVar[Guard | None] = contextvars.ContextVar("creneau_ews_guard", default=None)


@contextlib.contextmanager
def guarded(guard: Guard) -> Iterator[None]:
    """Run exchangelib calls whose new sessions go through ``guard``."""
    token = _GUARD.set(guard)
    try:
        yield
    finally:
        _GUARD.reset(token)


class GuardedAdapter(requests.adapters.HTTPAdapter):
    """A requests adapter that connects only to checked addresses (see the module docstring)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.guard = _GUARD.get()

    def send(self, request: requests.PreparedRequest, *args: Any, **kwargs: Any) -> requests.Response:
        guard = self.guard
        if guard is not None:
            kwargs["proxies"] = {}  # a proxy would connect on our behalf, past the guard
            kwargs["verify"] = guard.ca_bundle or certifi.where()
            url = parse_url(request.url or "")
            if url.scheme not in ("http", "https") or not url.host:
                raise AddressForbidden("only http:// and https:// server URLs are supported")
            # Refused before the hooks see it (nothing is sent); the connection checks again for itself.
            port = url.port or (443 if url.scheme == "https" else 80)
            resolve_checked(url.host.strip("[]"), port, guard.policy.networks())
            hooks = (guard.policy.event_hooks or {}).get("request", [])
            if hooks:
                seen = httpx.Request(request.method or "POST", request.url or "", headers=_headers(request))
                for hook in hooks:
                    hook(seen)
        return super().send(request, *args, **kwargs)

    def cert_verify(self, conn: Any, url: str, verify: Any, cert: Any) -> None:
        guard = self.guard
        if guard is not None:
            verify = guard.ca_bundle or certifi.where()
        super().cert_verify(conn, url, verify, cert)

    def get_connection_with_tls_context(
        self, request: requests.PreparedRequest, verify: Any, proxies: Any = None, cert: Any = None
    ) -> Any:
        guard = self.guard
        if guard is None:
            return super().get_connection_with_tls_context(request, verify, proxies=proxies, cert=cert)
        url = parse_url(request.url or "")
        host = (url.host or "").strip("[]")
        port = url.port or (443 if url.scheme == "https" else 80)
        networks = guard.policy.networks()
        addresses = resolve_checked(host, port, networks)  # raises AddressForbidden / ServerUnreachable
        address = addresses[0]
        check_address(address, networks)
        pool_kwargs: dict[str, Any] = {}
        if url.scheme == "https":
            pool_kwargs = {
                "cert_reqs": "CERT_REQUIRED",
                "ca_certs": guard.ca_bundle or certifi.where(),
                "server_hostname": host,
                "assert_hostname": host,
            }
        # The pool is keyed by the checked address: no second DNS answer is ever used for this connection.
        return self.poolmanager.connection_from_host(
            str(address) if address.version == 4 else f"[{address}]",
            port,
            scheme=url.scheme,
            pool_kwargs=pool_kwargs,
        )

    def add_headers(self, request: requests.PreparedRequest, **kwargs: Any) -> None:
        # The connection is opened to an address: the Host header keeps the name the URL gave.
        if self.guard is not None:
            request.headers["Host"] = parse_url(request.url or "").netloc or ""


def _headers(request: requests.PreparedRequest) -> dict[str, str]:
    return {
        k: v if isinstance(v, str) else v.decode("latin-1")
        for k, v in request.headers.items()
        if k.lower() != "authorization"
    }


def install() -> None:
    """Make exchangelib build its adapters from :class:`GuardedAdapter` (idempotent; the provider calls it
    before its first exchangelib call)."""
    from exchangelib.protocol import BaseProtocol  # type: ignore[import-untyped]

    current = BaseProtocol.HTTP_ADAPTER_CLS
    if isinstance(current, type) and issubclass(current, GuardedAdapter):
        return
    BaseProtocol.HTTP_ADAPTER_CLS = GuardedAdapter
