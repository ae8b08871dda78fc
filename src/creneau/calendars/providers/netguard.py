"""The address guard of the providers' HTTP client: no user-typed URL may reach the operator's network.

Server URLs come from users and are fetched by our server, so a URL must not become a door into the
operator's network. Before each connection (and again for each redirect, which we follow ourselves) the host
name is resolved and every address checked: loopback, private, link-local, multicast, reserved and unspecified
addresses are refused unless they fall inside ``NetworkPolicy.allowed_private_networks``.

What we chose against DNS rebinding: the check happens **where the socket is opened**. The client's transport
(:class:`GuardedTransport`) gives httpcore a network backend that resolves the name itself, refuses the
connection if *any* resolved address is forbidden, and then connects to one of the addresses it has just
checked — never to a name resolved a second time. TLS still verifies the certificate and sends SNI for the
host name of the URL (httpcore starts TLS with the origin's host), so HTTPS is unaffected. ``http.request``
additionally checks each URL (each redirect hop) before sending it, so the guard also holds when a test or a
caller plugs in another transport, and so a refused redirect fails before any byte is sent.
"""

from __future__ import annotations

import functools
import ipaddress
import socket
import ssl
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

import httpcore
import httpx

from creneau.calendars.providers.urls import without_user_info
from creneau.errors import AddressForbidden, ProviderError, ServerUnreachable

__all__ = ["GuardedTransport", "NetworkPolicy", "check_address", "check_url", "redact", "resolve_checked"]

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network


@dataclass(frozen=True)
class NetworkPolicy:
    """How providers may reach servers. ``event_hooks`` go to httpx as is (a benchmark counts requests)."""

    allowed_private_networks: tuple[str, ...] = ()
    timeout: float = 20.0
    event_hooks: dict[str, list[Callable[..., Any]]] | None = None
    user_agent: str = "creneau/0.1"

    def networks(self) -> tuple[IPNetwork, ...]:
        return tuple(ipaddress.ip_network(net, strict=False) for net in self.allowed_private_networks)


# -- the address guard -------------------------------------------------------------------------------------


def _embedded_ipv4(ip: ipaddress.IPv6Address) -> list[ipaddress.IPv4Address]:
    """IPv4 addresses an IPv6 address carries (mapped, 6to4, Teredo), which must pass the same check."""
    found = [ip.ipv4_mapped, ip.sixtofour]
    if ip.teredo is not None:
        found.extend(ip.teredo)
    return [v4 for v4 in found if v4 is not None]


def _is_public(ip: IPAddress) -> bool:
    if not ip.is_global or ip.is_multicast or ip.is_reserved or ip.is_unspecified:
        return False
    if isinstance(ip, ipaddress.IPv6Address):
        return all(_is_public(v4) for v4 in _embedded_ipv4(ip))
    return True


def check_address(ip: IPAddress, networks: Iterable[IPNetwork]) -> None:
    """:raises AddressForbidden: when ``ip`` is not public and lies in none of ``networks``."""
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    if _is_public(ip) or any(ip.version == net.version and ip in net for net in networks):
        return
    raise AddressForbidden(
        f"the server address {ip} is in a private or reserved network; creneau refuses to connect to it "
        "(an administrator can allow that network with CRENEAU_ALLOWED_PRIVATE_NETWORKS)"
    )


def _resolve(host: str, port: int) -> list[IPAddress]:
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (socket.gaierror, UnicodeError) as exc:
        raise ServerUnreachable(f"cannot resolve the server name {host!r}: {exc}") from exc
    addresses: list[IPAddress] = []
    for info in infos:
        ip = ipaddress.ip_address(str(info[4][0]).split("%", 1)[0])  # drop an IPv6 zone id
        if ip not in addresses:
            addresses.append(ip)
    return addresses


def resolve_checked(host: str, port: int, networks: Iterable[IPNetwork]) -> list[IPAddress]:
    """Resolve ``host`` and check every address it has (one bad address refuses them all)."""
    nets = tuple(networks)
    addresses = _resolve(host.strip("[]"), port)
    for ip in addresses:
        check_address(ip, nets)
    return addresses


def check_url(url: httpx.URL, policy: NetworkPolicy) -> None:
    """Refuse a URL whose scheme is not HTTP(S) or whose host resolves into a forbidden network."""
    if url.scheme not in ("http", "https"):
        raise AddressForbidden(f"only http:// and https:// server URLs are supported, not {url.scheme!r}")
    if not url.host:
        raise AddressForbidden(f"the URL {redact(url)} has no host name")
    port = url.port or (443 if url.scheme == "https" else 80)
    resolve_checked(url.host, port, policy.networks())


class _GuardedBackend(httpcore.NetworkBackend):
    """Resolves, checks, then connects to the checked address itself: no second DNS answer is trusted."""

    def __init__(self, networks: tuple[IPNetwork, ...]) -> None:
        self._networks = networks
        self._backend = httpcore.SyncBackend()

    def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: Iterable[Any] | None = None,
    ) -> httpcore.NetworkStream:
        addresses = resolve_checked(host, port, self._networks)
        last: Exception = httpcore.ConnectError(f"no address for {host}")
        for ip in addresses:
            try:
                return self._backend.connect_tcp(str(ip), port, timeout, local_address, socket_options)
            except (httpcore.ConnectError, httpcore.ConnectTimeout) as exc:
                last = exc
        raise last

    def sleep(self, seconds: float) -> None:
        self._backend.sleep(seconds)


_HTTPCORE_ERRORS: tuple[tuple[type[Exception], type[httpx.TransportError]], ...] = (
    (httpcore.ConnectTimeout, httpx.ConnectTimeout),
    (httpcore.ReadTimeout, httpx.ReadTimeout),
    (httpcore.WriteTimeout, httpx.WriteTimeout),
    (httpcore.PoolTimeout, httpx.PoolTimeout),
    (httpcore.ConnectError, httpx.ConnectError),
    (httpcore.ReadError, httpx.ReadError),
    (httpcore.WriteError, httpx.WriteError),
    (httpcore.RemoteProtocolError, httpx.RemoteProtocolError),
    (httpcore.LocalProtocolError, httpx.LocalProtocolError),
    (httpcore.ProtocolError, httpx.ProtocolError),
    (httpcore.NetworkError, httpx.NetworkError),
    (httpcore.TimeoutException, httpx.TimeoutException),
)


class _Stream(httpx.SyncByteStream):
    def __init__(self, stream: Iterable[bytes], close: Callable[[], None]) -> None:
        self._stream = stream
        self._close = close

    def __iter__(self) -> Any:
        yield from self._stream

    def close(self) -> None:
        self._close()


@functools.cache
def _ssl_context() -> ssl.SSLContext:
    """One verifying context for every client: loading the CA store costs tens of milliseconds, and a
    context is safe to share between connections and threads once configured."""
    return ssl.create_default_context()


class GuardedTransport(httpx.BaseTransport):
    """An httpx transport over an httpcore pool whose connections go through :class:`_GuardedBackend`."""

    def __init__(self, policy: NetworkPolicy) -> None:
        self._pool = httpcore.ConnectionPool(
            ssl_context=_ssl_context(),
            max_connections=20,
            max_keepalive_connections=10,
            keepalive_expiry=30.0,
            network_backend=_GuardedBackend(policy.networks()),
        )

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        assert isinstance(request.stream, httpx.SyncByteStream)
        core_request = httpcore.Request(
            method=request.method,
            url=httpcore.URL(
                scheme=request.url.raw_scheme,
                host=request.url.raw_host,
                port=request.url.port,
                target=request.url.raw_path,
            ),
            headers=request.headers.raw,
            content=request.stream,
            extensions=request.extensions,
        )
        try:
            response = self._pool.handle_request(core_request)
        except ProviderError:
            raise  # AddressForbidden / ServerUnreachable from the guard
        except Exception as exc:
            mapped = _to_httpx(exc, request)
            if mapped is None:
                raise
            raise mapped from exc
        assert isinstance(response.stream, Iterable)
        return httpx.Response(
            status_code=response.status,
            headers=response.headers,
            stream=_Stream(response.stream, response.close),
            extensions=response.extensions,
        )

    def close(self) -> None:
        self._pool.close()


def _to_httpx(exc: Exception, request: httpx.Request) -> httpx.TransportError | None:
    for core_type, httpx_type in _HTTPCORE_ERRORS:
        if isinstance(exc, core_type):
            return httpx_type(str(exc), request=request)
    return None


def redact(url: httpx.URL | str) -> str:
    """``url`` without user-info and query, fit for messages and logs."""
    try:
        parsed = httpx.URL(str(url))
        return str(parsed.copy_with(username=None, password=None, query=None, fragment=None))
    except (httpx.InvalidURL, ValueError):  # a URL httpx cannot read: cut it by hand
        return without_user_info(str(url).partition("#")[0].partition("?")[0])
