"""A loopback network for exchangelib's Autodiscover, built from exchangelib's own configuration points:

- DNS: a tiny DNS server (dnslib) on 127.0.0.1 answers for the test domains; exchangelib's resolver is pointed
  at it with ``Autodiscovery.DNS_RESOLVER_KWARGS`` / ``DNS_RESOLVER_ATTRS``.
- Connections: ``BaseProtocol.HTTP_ADAPTER_CLS`` (exchangelib's documented hook for custom TLS validation and
  proxies) is a requests adapter that resolves each host through that DNS server and verifies TLS against a
  test CA for the *original* host name (SNI and certificate check), so nothing is trusted blindly. The one
  liberty: exchangelib always dials port 443 (and 80), which a test cannot bind, so the adapter maps those
  ports to the emulator's loopback ports.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import certifi
import dns.resolver
import requests
from dnslib import QTYPE, RCODE, RR, SRV, A, DNSRecord  # type: ignore[import-untyped]
from dnslib.server import BaseResolver, DNSHandler, DNSServer  # type: ignore[import-untyped]
from urllib3.util import parse_url


class _Zone(BaseResolver):  # type: ignore[misc]
    def __init__(self, hosts: dict[str, str], services: dict[str, tuple[str, int]]) -> None:
        self.hosts = {name.rstrip(".").casefold(): ip for name, ip in hosts.items()}
        self.services = {name.rstrip(".").casefold(): target for name, target in services.items()}
        self.queries: list[str] = []

    def resolve(self, request: DNSRecord, handler: DNSHandler) -> DNSRecord:
        reply = request.reply()
        name = str(request.q.qname).rstrip(".").casefold()
        self.queries.append(f"{QTYPE[request.q.qtype]} {name}")
        ip, service = self.hosts.get(name), self.services.get(name)
        if ip is not None and request.q.qtype == QTYPE.A:
            reply.add_answer(RR(request.q.qname, QTYPE.A, rdata=A(ip), ttl=60))
        elif service is not None and request.q.qtype == QTYPE.SRV:
            target, port = service
            reply.add_answer(RR(request.q.qname, QTYPE.SRV, rdata=SRV(0, 0, port, target), ttl=60))
        elif ip is None and service is None:
            reply.header.rcode = RCODE.NXDOMAIN
        return reply


@contextmanager
def loopback_dns(
    hosts: dict[str, str], services: dict[str, tuple[str, int]] | None = None
) -> Iterator[tuple[int, _Zone]]:
    """A DNS server on 127.0.0.1 (a free UDP port) answering A queries for ``hosts`` and SRV queries for
    ``services`` (name → (target, port)); NXDOMAIN otherwise."""
    zone = _Zone(hosts, services or {})
    server = DNSServer(zone, address="127.0.0.1", port=0)
    server.start_thread()
    try:
        yield int(server.server.server_address[1]), zone
    finally:
        server.stop()
        server.server.server_close()


def adapter_class(
    *, dns_port: int, ports: dict[int, int], ca_file: str | None
) -> type[requests.adapters.HTTPAdapter]:
    """An ``HTTPAdapter`` class for ``BaseProtocol.HTTP_ADAPTER_CLS`` (see the module docstring)."""
    resolver = dns.resolver.Resolver(configure=False)
    resolver.nameservers = ["127.0.0.1"]
    resolver.port = dns_port
    resolver.lifetime = 2.0

    class LoopbackAdapter(requests.adapters.HTTPAdapter):
        def add_headers(self, request: requests.PreparedRequest, **kwargs: Any) -> None:
            request.headers["Host"] = parse_url(request.url or "").netloc or ""

        def cert_verify(self, conn: Any, url: str, verify: Any, cert: Any) -> None:
            # requests sets the CA bundle on the pool here: the test CA when given, else the public bundle
            super().cert_verify(conn, url, ca_file or True, cert)

        def get_connection_with_tls_context(
            self, request: requests.PreparedRequest, verify: Any, proxies: Any = None, cert: Any = None
        ) -> Any:
            url = parse_url(request.url or "")
            host = url.host or ""
            try:
                address = str(resolver.resolve(f"{host}.", "A")[0])
            except dns.exception.DNSException as exc:
                raise requests.exceptions.ConnectionError(f"{host} does not resolve: {exc}") from exc
            port = ports.get(url.port or (443 if url.scheme == "https" else 80), 9)
            pool_kwargs: dict[str, Any] = {}
            if url.scheme == "https":
                pool_kwargs = {
                    "cert_reqs": "CERT_REQUIRED",
                    "ca_certs": ca_file or certifi.where(),
                    "server_hostname": host,
                    "assert_hostname": host,
                }
            return self.poolmanager.connection_from_host(
                address, port, scheme=url.scheme, pool_kwargs=pool_kwargs
            )

    return LoopbackAdapter
