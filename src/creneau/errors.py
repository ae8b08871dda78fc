"""One exception tree for creneau.

::

    CreneauError
    ├── ConfigurationError            bad or missing settings; the app refuses to start
    ├── NotFound                      no such object *for this researcher* (the web layer answers 404)
    ├── ValidationFailed              input we refuse, with the field it concerns
    ├── TooManyAttempts               rate limit on sign-in
    ├── SlotUnavailable               the slot was taken or became busy meanwhile: offer others
    ├── LinkInvalid                   a participant's link was tampered with, replaced or has expired
    └── ProviderError                 anything a calendar server did or did not do
        ├── AuthFailed                the server refused the credentials (401/403 on login)
        │   └── AuthExpired           a previously working account is refused now: "reconnect needed"
        ├── ServerUnreachable         DNS failure, refused connection, TLS error, timeout
        │   ├── AutodiscoverFailed    Exchange: Autodiscover found no server for the address
        │   └── TlsUntrusted          the certificate does not chain to a trusted CA (internal CA?)
        ├── NotCalDAV                 the URL answers, but not as a CalDAV server
        │   └── NotExchange           ... nor as Exchange Web Services
        ├── MailboxNotFound           Exchange: no such mailbox on the server
        ├── AddressForbidden          the URL resolves to a network we refuse to reach (SSRF guard)
        ├── InvalidServerUrl          the URL cannot be read: bad host name, port, user info, control chars
        ├── NotAFeed                  the URL answers, but not with an iCalendar feed
        ├── ResponseTooLarge          the answer is bigger than we read (an ICS feed over its cap)
        ├── RateLimited(retry_after)  429 / 503 with Retry-After
        ├── PreconditionFailed        an etag / If-Match no longer matches
        ├── RemoteNotFound            the calendar or event is gone on the server
        ├── SyncCursorInvalid         the sync token expired or is invalid: resync from scratch
        └── TransientProviderError    5xx and other failures worth retrying later

Provider modules translate their library's exceptions into this tree at the boundary; nothing outside
``calendars/providers/`` sees httpx or lxml errors. ``web/errors.py`` maps the tree to HTTP statuses.
"""

from __future__ import annotations


class CreneauError(Exception):
    """Base of every error creneau raises on purpose."""


class ConfigurationError(CreneauError):
    pass


class NotFound(CreneauError):
    pass


class ValidationFailed(CreneauError):
    """``message`` is an English message id with ``%(name)s`` placeholders filled from ``params`` when
    shown (so that it can be translated)."""

    def __init__(
        self, message: str, *, field: str | None = None, params: dict[str, object] | None = None
    ) -> None:
        super().__init__(message % params if params else message)
        self.message_id = message
        self.field = field
        self.params = params or {}


class TooManyAttempts(CreneauError):
    def __init__(self, message: str, *, retry_after: float) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class SlotUnavailable(CreneauError):
    """The chosen slot is no longer free (another booking, or an event in the researcher's calendars)."""


class LinkInvalid(CreneauError):
    """``reason``: "tampered" (bad signature), "replaced" (a newer link was sent), "past" (the session is
    over), "cancelled" (the booking is cancelled)."""

    def __init__(self, message: str, *, reason: str) -> None:
        super().__init__(message)
        self.reason = reason


class ProviderError(CreneauError):
    """A calendar server failed us. ``code`` is a stable key the pages translate into a message."""

    code = "provider_error"


class AuthFailed(ProviderError):
    code = "auth_failed"


class AuthExpired(AuthFailed):
    code = "auth_expired"


class IntegrationRetired(AuthFailed):
    """The account uses an integration that is no longer supported (the old Google connection)."""

    code = "integration_retired"


class ServerUnreachable(ProviderError):
    code = "unreachable"


class NotCalDAV(ProviderError):
    code = "not_caldav"


class AddressForbidden(ProviderError):
    code = "address_forbidden"


class InvalidServerUrl(ProviderError):
    """A server URL that cannot be used as it is written. Like :class:`ValidationFailed`, ``message_id`` is an
    English message id filled from ``params`` when shown; the connect paths turn it into a
    ``ValidationFailed`` on ``server_url``, a sync records it as the account's error."""

    code = "invalid_url"

    def __init__(self, message: str, *, params: dict[str, object] | None = None) -> None:
        super().__init__(message % params if params else message)
        self.message_id = message
        self.params = params or {}


class NotAFeed(ProviderError):
    """The address answers (an HTML page, a 404, ...) but not with iCalendar text (no VCALENDAR)."""

    code = "not_feed"


class ResponseTooLarge(ProviderError):
    code = "too_large"


class RateLimited(ProviderError):
    code = "rate_limited"

    def __init__(self, message: str = "rate limited", *, retry_after: float | None = None) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class PreconditionFailed(ProviderError):
    code = "precondition_failed"


class RemoteNotFound(ProviderError):
    code = "remote_not_found"


class SyncCursorInvalid(ProviderError):
    code = "sync_cursor_invalid"


class TransientProviderError(ProviderError):
    code = "transient"


# -- Exchange (EWS): what connecting an Exchange account can meet besides the errors above ----------------


class AutodiscoverFailed(ServerUnreachable):
    """Autodiscover found no Exchange server for the address (the EWS address can be typed instead)."""

    code = "autodiscover_failed"


class NotExchange(NotCalDAV):
    """The address answers, but not as Exchange Web Services."""

    code = "not_exchange"


class TlsUntrusted(ServerUnreachable):
    """The server's TLS certificate does not chain to a trusted CA (an internal CA needs its bundle)."""

    code = "tls_untrusted"


class MailboxNotFound(ProviderError):
    """The server has no mailbox for the address (or the account may not open it)."""

    code = "mailbox_not_found"
