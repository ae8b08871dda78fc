"""A real SMTP server (aiosmtpd) on a free loopback port, recording what it receives, and a private CA.

::

    server = smtp_server()                           # plain SMTP, accepts every recipient
    server = smtp_server(starttls=True, auth=True)   # STARTTLS required, AUTH researcher / PASSWORD
    server.received[0].message["Subject"]

Recipients at ``@unknown.test`` are refused with 550, at ``@busy.test`` with 450. The server thread is
ready when ``smtp_server()`` returns (aiosmtpd's Controller waits for it), and ``send()`` returns only after
the server answered the DATA, so ``received`` is complete when it does: no polling is needed.
"""

from __future__ import annotations

import datetime as dt
import email
import email.policy
import ipaddress
import ssl
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, AuthResult, Envelope, LoginPassword, Session
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from creneau.mail import MailSettings
from tests.servers import free_port

USERNAME = "researcher"
PASSWORD = "s3cret-Pa55word-never-logged"
REFUSED = {"unknown.test": "550 5.1.1 No such user here", "busy.test": "450 4.2.1 Mailbox busy, try later"}


@dataclass
class Received:
    mail_from: str
    rcpt_tos: list[str]
    content: bytes
    authenticated: bool
    tls: bool

    @property
    def message(self) -> EmailMessage:
        parsed = email.message_from_bytes(self.content, policy=email.policy.default)
        assert isinstance(parsed, EmailMessage)
        return parsed


@dataclass
class RecordingHandler:
    data_reply: str = "250 2.0.0 Message accepted for delivery"
    received: list[Received] = field(default_factory=list)

    async def handle_RCPT(
        self, server: SMTP, session: Session, envelope: Envelope, address: str, rcpt_options: list[str]
    ) -> str:
        reply = REFUSED.get(address.rpartition("@")[2])
        if reply:
            return reply
        envelope.rcpt_tos.append(address)
        return "250 2.1.5 OK"

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        if self.data_reply.startswith("250"):
            assert envelope.mail_from is not None and isinstance(envelope.original_content, bytes)
            transport = server.transport
            self.received.append(
                Received(
                    mail_from=envelope.mail_from,
                    rcpt_tos=list(envelope.rcpt_tos),
                    content=envelope.original_content,
                    authenticated=bool(session.authenticated),
                    tls=transport is not None and transport.get_extra_info("ssl_object") is not None,
                )
            )
        return self.data_reply


def _authenticator(
    server: SMTP, session: Session, envelope: Envelope, mechanism: str, auth_data: Any
) -> AuthResult:
    ok = (
        isinstance(auth_data, LoginPassword)
        and auth_data.login == USERNAME.encode()
        and auth_data.password == PASSWORD.encode()
    )
    return AuthResult(success=ok, handled=False)


@dataclass
class SmtpServer:
    port: int
    handler: RecordingHandler

    @property
    def received(self) -> list[Received]:
        return self.handler.received

    def settings(self, **overrides: Any) -> MailSettings:
        values: dict[str, Any] = {
            "host": "127.0.0.1",
            "port": self.port,
            "sender": "Créneau <noreply@creneau.test>",
            "timeout": 5.0,
        }
        values.update(overrides)
        return MailSettings(**values)


@dataclass(frozen=True)
class TlsFiles:
    ca: Path
    cert: Path
    key: Path

    def server_context(self) -> ssl.SSLContext:
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(self.cert, self.key)
        return context


@pytest.fixture(scope="session")
def tls_files(tmp_path_factory: pytest.TempPathFactory) -> TlsFiles:
    """A private CA and a certificate it signed for 127.0.0.1 (clients trust it through SSL_CERT_FILE)."""
    folder = tmp_path_factory.mktemp("tls")
    now = dt.datetime.now(dt.UTC)
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "creneau test CA")])
    ca = (
        x509.CertificateBuilder()
        .subject_name(ca_name)
        .issuer_name(ca_name)
        .public_key(ca_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(hours=1))
        .not_valid_after(now + dt.timedelta(days=1))
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .add_extension(
            x509.KeyUsage(True, False, False, False, False, True, True, False, False), critical=True
        )
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(ca_key.public_key()), critical=False)
        .sign(ca_key, hashes.SHA256())
    )
    key = ec.generate_private_key(ec.SECP256R1())
    cert = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")]))
        .issuer_name(ca_name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(hours=1))
        .not_valid_after(now + dt.timedelta(days=1))
        .add_extension(
            x509.SubjectAlternativeName(
                [x509.IPAddress(ipaddress.ip_address("127.0.0.1")), x509.DNSName("localhost")]
            ),
            critical=False,
        )
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()), critical=False
        )
        .sign(ca_key, hashes.SHA256())
    )
    files = TlsFiles(ca=folder / "ca.pem", cert=folder / "cert.pem", key=folder / "key.pem")
    files.ca.write_bytes(ca.public_bytes(serialization.Encoding.PEM))
    files.cert.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    files.key.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
    )
    return files


@pytest.fixture
def smtp_server(tls_files: TlsFiles) -> Iterator[Callable[..., SmtpServer]]:
    """Start real SMTP servers: ``smtp_server(starttls=, implicit_tls=, auth=, data_reply=)``.

    ``auth=True`` offers AUTH and refuses anything but USERNAME / PASSWORD (over plain text too unless
    ``starttls``, which makes both STARTTLS and AUTH-after-TLS mandatory).
    """
    controllers: list[Controller] = []

    def start(
        *,
        starttls: bool = False,
        implicit_tls: bool = False,
        auth: bool = False,
        data_reply: str = "250 2.0.0 Message accepted for delivery",
    ) -> SmtpServer:
        handler = RecordingHandler(data_reply=data_reply)
        options: dict[str, Any] = {}
        if starttls:
            options.update(tls_context=tls_files.server_context(), require_starttls=True)
        if implicit_tls:
            options.update(ssl_context=tls_files.server_context())
        if auth:
            options.update(
                authenticator=_authenticator, auth_required=True, auth_require_tls=starttls or implicit_tls
            )
        port = free_port()
        controller = Controller(handler, hostname="127.0.0.1", port=port, **options)
        controller.start()
        controllers.append(controller)
        return SmtpServer(port=port, handler=handler)

    yield start
    for controller in controllers:
        controller.stop()
