"""How creneau reaches its SMTP relay (filled from ``creneau.config`` by the caller)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

__all__ = ["MailSettings", "Security"]

Security = Literal["none", "starttls", "tls"]
_SECURITIES = ("none", "starttls", "tls")


@dataclass(frozen=True, kw_only=True)
class MailSettings:
    """An SMTP relay.

    - ``security``: ``"none"`` (plain SMTP, for a relay on localhost or a trusted network), ``"starttls"``
      (plain connection upgraded with STARTTLS, usually port 587; refused if the server does not offer it),
      ``"tls"`` (implicit TLS from the first byte, usually port 465). TLS certificates are verified against
      the system's trust store (``SSL_CERT_FILE`` / ``SSL_CERT_DIR`` add a private CA).
    - ``username``: empty means no AUTH. With ``security="none"`` the password crosses the network in clear.
    - ``sender``: the envelope sender (``MAIL FROM``, where bounces go): ``"Name <addr@example.org>"`` or
      a bare address.
    - ``timeout``: seconds for connecting and for each server reply.

    ``password`` is left out of ``repr()``.

    :raises ValueError: for an empty host or sender, a port outside 1-65535, an unknown security mode, or a
        timeout that is not positive.
    """

    host: str
    port: int = 25
    username: str = ""
    password: str = field(default="", repr=False)
    security: Security = "none"
    sender: str
    timeout: float = 20.0

    def __post_init__(self) -> None:
        if not self.host.strip():
            raise ValueError("the SMTP host must not be empty")
        if not 1 <= self.port <= 65535:
            raise ValueError(f"the SMTP port must be between 1 and 65535, not {self.port}")
        if self.security not in _SECURITIES:
            raise ValueError(f"SMTP security must be one of {', '.join(_SECURITIES)}, not {self.security!r}")
        if not self.sender.strip():
            raise ValueError("the mail sender address must not be empty")
        if not self.timeout > 0:
            raise ValueError(f"the SMTP timeout must be positive, not {self.timeout}")
