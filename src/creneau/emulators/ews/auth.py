"""Authentication as IIS does it in front of EWS: ``WWW-Authenticate`` advertises the schemes (NTLM and
Basic by default; ``Negotiate`` is advertised but only its NTLM form is understood); NTLM authenticates the
TCP connection, Basic every request. A password change (control API) makes every later attempt — and every
connection authenticated before it — answer 401."""

from __future__ import annotations

import base64
import binascii
import time
from dataclasses import dataclass

from creneau.emulators.ews import ntlm
from creneau.emulators.ews.model import Mailbox
from creneau.emulators.ews.state import Connection, EwsState

# A connection idle longer than the server's keep-alive is gone; its port may be reused by a new one.
_IDLE_SECONDS = 75.0


@dataclass(frozen=True)
class Denied:
    """Answer 401 with these ``WWW-Authenticate`` values."""

    challenges: tuple[str, ...]


def advertised(state: EwsState) -> tuple[str, ...]:
    out = []
    for scheme in state.auth_schemes:
        out.append(f'Basic realm="{state.host_name}"' if scheme == "Basic" else scheme)
    return tuple(out)


def authenticate(state: EwsState, client: tuple[str, int], authorization: str) -> Mailbox | Denied:
    """The mailbox a request is made for, or the 401 to answer (an NTLM challenge is a 401 too)."""
    scheme, _, token = authorization.strip().partition(" ")
    scheme = scheme.lower()
    with state.lock:
        _forget_idle(state)
        connection = state.connections.setdefault(client, Connection())
        connection.last_seen = time.monotonic()
        if scheme == "basic" and "Basic" in state.auth_schemes:
            return _basic(state, token) or Denied(advertised(state))
        if scheme in ("ntlm", "negotiate") and "NTLM" in state.auth_schemes:
            return _ntlm(state, connection, token)
        if not authorization and connection.mailbox is not None:
            mailbox = state.mailboxes.get(connection.mailbox)
            if mailbox is not None and mailbox.password_version == connection.password_version:
                return mailbox
            connection.mailbox = None
        return Denied(advertised(state))


def _forget_idle(state: EwsState) -> None:
    cutoff = time.monotonic() - _IDLE_SECONDS
    for key in [k for k, c in state.connections.items() if c.last_seen < cutoff]:
        del state.connections[key]


def _basic(state: EwsState, token: str) -> Mailbox | None:
    try:
        user, _, password = base64.b64decode(token, validate=True).decode("utf-8").partition(":")
    except (binascii.Error, UnicodeDecodeError):
        return None
    mailbox = state.logon(user)
    if mailbox is None or mailbox.password != password:
        return None
    return mailbox


def _ntlm(state: EwsState, connection: Connection, token: str) -> Mailbox | Denied:
    try:
        message = base64.b64decode(token, validate=True)
        kind = ntlm.message_type(message)
        if kind == 1:
            connection.pending = ntlm.challenge(
                message,
                domain=state.domain,
                computer=state.server_name,
                dns_domain=state.dns_domain,
            )
            connection.mailbox = None
            return Denied((f"NTLM {base64.b64encode(connection.pending.message).decode()}",))
        if kind == 3 and connection.pending is not None:
            pending, connection.pending = connection.pending, None
            answer = ntlm.parse_authenticate(message)
            name = f"{answer.domain}\\{answer.user}" if answer.domain else answer.user
            mailbox = state.logon(name)
            if mailbox is not None and answer.verify(mailbox.password, pending):
                connection.mailbox = mailbox.email.casefold()
                connection.password_version = mailbox.password_version
                return mailbox
    except (binascii.Error, ntlm.NtlmError):
        pass
    connection.pending = None
    return Denied(advertised(state))
