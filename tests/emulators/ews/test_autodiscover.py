"""Autodiscover as exchangelib performs it from an email address, against the emulator: DNS through a
loopback DNS server, HTTPS with a test CA (see ``network``), NTLM on Autodiscover then on EWS."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import pytest

exchangelib = pytest.importorskip("exchangelib")
trustme = pytest.importorskip("trustme")
pytest.importorskip("dnslib")

from exchangelib import DELEGATE, Account, Credentials, close_connections  # type: ignore[import-untyped]  # noqa: E402
from exchangelib.autodiscover import Autodiscovery, clear_cache  # type: ignore[import-untyped]  # noqa: E402
from exchangelib.errors import AutoDiscoverFailed, ErrorNonExistentMailbox, UnauthorizedError  # type: ignore[import-untyped]  # noqa: E402
from exchangelib.protocol import BaseProtocol  # type: ignore[import-untyped]  # noqa: E402

from creneau.emulators.ews import RunningEmulator, start  # noqa: E402
from creneau.emulators.ews.server import create_app  # noqa: E402
from creneau.serving import serve_in_thread  # noqa: E402
from tests.emulators.ews.network import adapter_class, loopback_dns  # noqa: E402

HOSTS = {
    # contoso.example itself has no address: Autodiscover's step 1 fails, step 2 (autodiscover.<domain>) works
    "autodiscover.contoso.example": "127.0.0.1",
    "mail.contoso.example": "127.0.0.1",
    # fabrikam.example's autodiscover host answers plain HTTP only, with a redirect (step 3)
    "autodiscover.fabrikam.example": "127.0.0.1",
}
# northwind.example has neither: only an SRV record naming contoso's Autodiscover host (step 4)
SERVICES = {"_autodiscover._tcp.northwind.example": ("autodiscover.contoso.example", 443)}


@dataclass
class Site:
    emulator: RunningEmulator
    dns_port: int
    https_port: int
    http_port: int
    ca_file: str


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Site]:
    folder = tmp_path_factory.mktemp("tls")
    ca = trustme.CA()
    served = ca.issue_cert("autodiscover.contoso.example", "mail.contoso.example")
    pem, ca_file = folder / "server.pem", folder / "ca.pem"
    served.private_key_and_cert_chain_pem.write_to_path(str(pem))
    ca.cert_pem.write_to_path(str(ca_file))
    emulator = start(ssl_certfile=str(pem), ssl_keyfile=str(pem))
    plain = serve_in_thread(create_app(emulator.state), name="ews-http", lifespan="off")
    emulator.state.add_mailbox("ada@contoso.example", "Secret1!", username="ada")
    emulator.state.add_mailbox("bob@fabrikam.example", "Secret2!", username="bob", domain="FABRIKAM")
    emulator.state.autodiscover_host_redirects["autodiscover.fabrikam.example"] = (
        "https://autodiscover.contoso.example/autodiscover/autodiscover.svc"
    )
    emulator.state.add_mailbox("carol@northwind.example", "Secret3!", username="carol", domain="NORTHWIND")
    with loopback_dns(HOSTS, SERVICES) as (dns_port, _zone):
        yield Site(
            emulator,
            dns_port,
            int(emulator.url.rsplit(":", 1)[1]),
            int(plain.url.rsplit(":", 1)[1]),
            str(ca_file),
        )
    close_connections()  # exchangelib's kept-alive sessions, else uvicorn waits for them on shutdown
    plain.stop()
    emulator.stop()


@pytest.fixture
def network(site: Site, monkeypatch: pytest.MonkeyPatch) -> Iterator[Site]:
    """exchangelib configured (its documented class attributes) for the loopback network, then restored."""
    monkeypatch.setattr(Autodiscovery, "DNS_RESOLVER_KWARGS", {"configure": False})
    monkeypatch.setattr(
        Autodiscovery,
        "DNS_RESOLVER_ATTRS",
        {"nameservers": ["127.0.0.1"], "port": site.dns_port, "timeout": 2},
    )
    monkeypatch.setattr(Autodiscovery, "DNS_RESOLVER_LIFETIME", 4)
    use_ca(monkeypatch, site, site.ca_file)
    clear_cache()
    yield site
    clear_cache()


def use_ca(monkeypatch: pytest.MonkeyPatch, site: Site, ca_file: str | None) -> None:
    adapter = adapter_class(
        dns_port=site.dns_port, ports={443: site.https_port, 80: site.http_port}, ca_file=ca_file
    )
    monkeypatch.setattr(BaseProtocol, "HTTP_ADAPTER_CLS", adapter)


def discover(email: str, logon: str, password: str) -> Account:
    return Account(
        email,
        credentials=Credentials(logon, password),
        autodiscover=True,
        access_type=DELEGATE,
        config=None,
    )


def test_autodiscover_from_an_email_address(network: Site) -> None:
    account = discover("ada@contoso.example", "CONTOSO\\ada", "Secret1!")
    assert account.protocol.service_endpoint == "https://autodiscover.contoso.example/EWS/Exchange.asmx"
    assert account.ad_response.autodiscover_smtp_address == "ada@contoso.example"
    assert account.calendar.name == "Calendar"  # EWS itself then works over the same TLS and NTLM


def test_autodiscover_follows_an_http_redirect(network: Site) -> None:
    account = discover("bob@fabrikam.example", "FABRIKAM\\bob", "Secret2!")
    assert account.protocol.service_endpoint == "https://autodiscover.contoso.example/EWS/Exchange.asmx"
    assert account.primary_smtp_address == "bob@fabrikam.example"


def test_autodiscover_finds_the_server_from_an_srv_record(network: Site) -> None:
    account = discover("carol@northwind.example", "NORTHWIND\\carol", "Secret3!")
    assert account.protocol.service_endpoint == "https://autodiscover.contoso.example/EWS/Exchange.asmx"
    assert account.calendar.name == "Calendar"


def test_autodiscover_follows_an_address_redirect(network: Site) -> None:
    network.emulator.state.autodiscover_redirects["ada.lovelace@contoso.example"] = "ada@contoso.example"
    account = discover("ada.lovelace@contoso.example", "CONTOSO\\ada", "Secret1!")
    assert account.primary_smtp_address == "ada@contoso.example"


def test_unknown_mailbox(network: Site) -> None:
    with pytest.raises(ErrorNonExistentMailbox):
        discover("nobody@contoso.example", "CONTOSO\\ada", "Secret1!")


def test_wrong_password(network: Site) -> None:
    with pytest.raises(UnauthorizedError):
        discover("ada@contoso.example", "CONTOSO\\ada", "wrong")


def test_untrusted_certificate_fails_rather_than_being_ignored(
    network: Site, monkeypatch: pytest.MonkeyPatch
) -> None:
    use_ca(monkeypatch, network, None)  # the public CA bundle does not know the test CA
    with pytest.raises(AutoDiscoverFailed):
        discover("ada@contoso.example", "CONTOSO\\ada", "Secret1!")


def test_domain_without_autodiscover(network: Site) -> None:
    with pytest.raises(AutoDiscoverFailed):
        discover("eve@nowhere.example", "eve@nowhere.example", "x")
