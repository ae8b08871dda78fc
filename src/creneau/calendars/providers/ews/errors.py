"""exchangelib's exceptions → creneau's error tree, at the boundary (one place, like ``http.StatusErrors``).

Order matters: exchangelib's classes nest (``ErrorServerBusy`` and ``ErrorInvalidSyncStateData`` are
``ResponseMessageError``s, which are ``TransportError``s), so the specific ones are tested first.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

import dns.exception
import requests
from exchangelib import errors as ex  # type: ignore[import-untyped]

from creneau.errors import (
    AuthExpired,
    AuthFailed,
    AutodiscoverFailed,
    CreneauError,
    MailboxNotFound,
    NotExchange,
    PreconditionFailed,
    ProviderError,
    RateLimited,
    RemoteNotFound,
    ServerUnreachable,
    SyncCursorInvalid,
    TlsUntrusted,
    TransientProviderError,
)

DOMAIN_HINT = (
    "Exchange refused the username or password; many servers want the username as DOMAIN\\user "
    "(or the full sign-in name user@domain) rather than the email address"
)
_TLS_WORDS = ("certificate verify failed", "ssl", "certificate", "tls")
_NOT_FOUND = ("ErrorItemNotFound", "ErrorFolderNotFound", "ErrorCalendarOccurrenceIsDeletedFromRecurrence")
_MAILBOX = (
    "ErrorNonExistentMailbox",
    "ErrorMailRecipientNotFound",
    "ErrorInvalidSmtpAddress",
    "ErrorImpersonateUserDenied",
    "ErrorNoPublicFolderReplicaAvailable",
)
# Answers that say "try again later" without a back-off of their own.
_TRANSIENT = (
    "ErrorInternalServerTransientError",
    "ErrorInternalServerError",
    "ErrorTimeoutExpired",
    "ErrorMailboxStoreUnavailable",
    "ErrorADUnavailable",
    "ErrorConnectionFailed",
    "ErrorBatchProcessingStopped",
)


def _by_code(name: str) -> ProviderError | None:
    """The error for an EWS response code that says exactly what happened (None: not one of those)."""
    if name == "ErrorInvalidSyncStateData":
        return SyncCursorInvalid("Exchange no longer accepts this sync state; a full sync is needed")
    if name in ("ErrorIrresolvableConflict", "ErrorChangeKeyRequiredForWriteOperations"):
        return PreconditionFailed("the event changed on the Exchange server since we read it")
    if name in _NOT_FOUND:
        return RemoteNotFound(f"Exchange: {name}")
    if name in _MAILBOX:
        return MailboxNotFound(f"Exchange has no mailbox for this address ({name})")
    if name in ("ErrorAccessDenied", "ErrorReadOnlyFolder"):
        return ProviderError(
            f"Exchange refused it ({name}, what HTTP calls 403): a read-only calendar, or missing rights"
        )
    return None


def translate(exc: BaseException, *, connecting: bool = False) -> ProviderError:
    """The error of our tree for ``exc`` (an exchangelib or requests exception). ``connecting``: refused
    credentials are AuthFailed (a new account) rather than AuthExpired (one that used to work)."""
    if isinstance(exc, ProviderError):  # the guard's AddressForbidden / ServerUnreachable, passed through
        return exc
    name = type(exc).__name__
    text = str(exc)
    if isinstance(exc, ex.UnauthorizedError):
        return AuthFailed(DOMAIN_HINT) if connecting else AuthExpired(DOMAIN_HINT)
    if isinstance(exc, ex.ErrorServerBusy):
        back_off = getattr(exc, "back_off", None)
        if back_off is None or text.startswith("Reraised from"):
            # exchangelib's wrapping of a bare HTTP 5xx or a timeout, with a wait of its own choosing: the
            # server asked for no back-off
            return TransientProviderError(f"Exchange could not answer now: {text[:200]}")
        return RateLimited(
            "Exchange is busy (ErrorServerBusy) and asks us to wait",
            retry_after=float(back_off),
        )
    coded = _by_code(name)
    if coded is not None:
        return coded
    if isinstance(exc, requests.exceptions.InvalidURL | requests.exceptions.MissingSchema):
        return NotExchange("the EWS address is not a valid https:// address")
    if isinstance(exc, ex.AutoDiscoverError | dns.exception.DNSException):
        return AutodiscoverFailed(
            "Autodiscover found no Exchange server for this address; type the EWS address instead"
        )
    if isinstance(exc, requests.exceptions.SSLError) or (
        isinstance(exc, ex.TransportError) and any(w in text.lower() for w in _TLS_WORDS[:1])
    ):
        return TlsUntrusted(
            "the Exchange server's TLS certificate is not trusted (an internal CA needs "
            "CRENEAU_EWS_CA_BUNDLE)"
        )
    if name in _TRANSIENT or isinstance(exc, ex.ErrorTimeoutExpired):
        return TransientProviderError(f"Exchange could not answer now ({name})")
    if isinstance(exc, ex.MalformedResponseError):
        if not connecting:  # a server that answered EWS before: a broken answer (a 500 page) is passing
            return TransientProviderError(f"Exchange sent an answer that is not EWS: {text[:200]}")
        return NotExchange("the address answers, but not as Exchange Web Services")
    if isinstance(exc, ex.RedirectError | ex.RelativeRedirect):
        return NotExchange("the EWS address redirects elsewhere; give the final EWS address")
    if isinstance(exc, ex.ResponseMessageError):
        return ProviderError(f"Exchange refused the request ({name})")
    if isinstance(exc, requests.exceptions.ConnectionError | requests.exceptions.Timeout):
        return ServerUnreachable(f"cannot reach the Exchange server: {type(exc).__name__}")
    if isinstance(exc, ex.TransportError):
        if "HTTP status 404" in text or "404" in text.split(":")[0]:
            return NotExchange("the address answers, but not as Exchange Web Services")
        return TransientProviderError(f"Exchange did not answer properly: {text[:200]}")
    if isinstance(exc, ex.EWSError):
        return ProviderError(f"Exchange: {name}")
    return ProviderError(f"Exchange: unexpected {name}")


@contextlib.contextmanager
def boundary(*, connecting: bool = False) -> Iterator[None]:
    """Translate what exchangelib (or requests under it) raises inside the block."""
    try:
        yield
    except ProviderError:
        raise
    except CreneauError:
        raise
    except Exception as exc:  # the library's boundary: whatever it raises (DNS, URL parsing...) becomes ours
        raise translate(exc, connecting=connecting) from exc
