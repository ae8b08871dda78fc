"""Hand one email to the SMTP relay, and say plainly whether trying again later can help.

Every failure becomes :class:`MailNotSent`, whose ``transient`` tells the caller (a background job) whether to
retry: the relay could not be reached, timed out, dropped the connection or answered 4xx → retry later; it
answered 5xx (recipient or sender refused, authentication failed), lacks a feature we need (STARTTLS, AUTH,
SMTPUTF8) or presented a certificate we do not trust → retrying the same message will not help.

The SMTP password never appears in an exception message or a log line.
"""

from __future__ import annotations

import logging
import smtplib
import ssl
from collections.abc import Mapping
from email.message import EmailMessage
from email.utils import getaddresses, parseaddr

from creneau.mail.settings import MailSettings

__all__ = ["MailNotSent", "send"]

log = logging.getLogger(__name__)


class MailNotSent(Exception):
    """The relay did not accept the message.

    ``transient``: retrying later may succeed (connection refused, timeout, 4xx reply). ``code``: the SMTP
    reply code when the server gave one.
    """

    def __init__(self, message: str, *, transient: bool, code: int | None = None) -> None:
        super().__init__(message)
        self.transient = transient
        self.code = code


def send(settings: MailSettings, message: EmailMessage) -> None:
    """Deliver ``message`` to its To, Cc and Bcc recipients through the relay in ``settings``.

    The envelope sender is ``settings.sender``; Bcc headers are not transmitted. If the relay accepts some
    recipients and refuses others, the message went to the former and :class:`MailNotSent` is raised with
    ``transient=False`` (retrying would send it to them twice).

    :raises MailNotSent: when the relay did not take the message for every recipient.
    :raises ValueError: when ``message`` has no recipient.
    """
    recipients = [addr for _, addr in getaddresses(message.get_all("To", []) + message.get_all("Cc", []))]
    recipients += [addr for _, addr in getaddresses(message.get_all("Bcc", []))]
    if not any(recipients):
        raise ValueError("the message has no recipient (To, Cc or Bcc)")
    where = f"{settings.host}:{settings.port}"
    envelope_from = parseaddr(settings.sender)[1] or settings.sender
    try:
        refused = _deliver(settings, message, envelope_from)
    except Exception as exc:
        failure = _translate(exc, where)
        if failure is None:
            raise
        failure = _scrubbed(failure, settings.password)
        if settings.password and settings.password in repr(exc):
            raise failure from None
        raise failure from exc
    if refused:
        raise _scrubbed(
            MailNotSent(
                f"the SMTP server {where} delivered the message to some recipients but refused "
                + _details(refused),
                transient=False,
                code=next(iter(refused.values()))[0],
            ),
            settings.password,
        )
    log.debug("mail %s handed to %s", message.get("Message-ID", "(no Message-ID)"), where)


def _deliver(
    settings: MailSettings, message: EmailMessage, envelope_from: str
) -> dict[str, tuple[int, bytes]]:
    smtp: smtplib.SMTP
    if settings.security == "tls":
        smtp = smtplib.SMTP_SSL(
            settings.host, settings.port, timeout=settings.timeout, context=ssl.create_default_context()
        )
    else:
        smtp = smtplib.SMTP(settings.host, settings.port, timeout=settings.timeout)
    with smtp:
        if settings.security == "starttls":
            # raises SMTPNotSupportedError when not offered: never fall back to plain text silently
            smtp.starttls(context=ssl.create_default_context())
        if settings.username:
            smtp.login(settings.username, settings.password)
        return smtp.send_message(message, from_addr=envelope_from)


def _translate(exc: Exception, where: str) -> MailNotSent | None:
    """The :class:`MailNotSent` for what smtplib or the socket raised; None for anything else (a bug)."""
    if isinstance(exc, smtplib.SMTPRecipientsRefused):
        codes = [code for code, _ in exc.recipients.values()]
        return MailNotSent(
            f"the SMTP server {where} refused the recipient(s): {_details(exc.recipients)}",
            transient=bool(codes) and all(_is_transient(code) for code in codes),
            code=codes[0] if codes else None,
        )
    if isinstance(exc, smtplib.SMTPResponseException):
        # SMTPSenderRefused, SMTPDataError, SMTPConnectError, SMTPHeloError, SMTPAuthenticationError
        what = "refused the login" if isinstance(exc, smtplib.SMTPAuthenticationError) else "answered"
        return MailNotSent(
            f"the SMTP server {where} {what}: {exc.smtp_code} {_text(exc.smtp_error)}",
            transient=_is_transient(exc.smtp_code),
            code=exc.smtp_code,
        )
    if isinstance(exc, smtplib.SMTPServerDisconnected):
        return MailNotSent(f"the SMTP server {where} closed the connection: {exc}", transient=True)
    if isinstance(exc, smtplib.SMTPException):
        # SMTPNotSupportedError (no STARTTLS, no AUTH, no SMTPUTF8) and "no suitable authentication method"
        return MailNotSent(f"the SMTP server {where} cannot take this message: {exc}", transient=False)
    if isinstance(exc, ssl.SSLCertVerificationError):
        return MailNotSent(
            f"the TLS certificate of the SMTP server {where} is not trusted: {exc.verify_message}",
            transient=False,
        )
    if isinstance(exc, ssl.SSLError) and not isinstance(exc, ssl.SSLEOFError | ssl.SSLZeroReturnError):
        return MailNotSent(
            f"TLS with the SMTP server {where} failed (is the security mode right for this port?): {exc}",
            transient=False,
        )
    if isinstance(exc, TimeoutError):
        return MailNotSent(f"the SMTP server {where} did not answer in time", transient=True)
    if isinstance(exc, OSError):
        # refused connection, DNS failure, network unreachable, reset, TLS connection cut short
        reason = exc.strerror or str(exc) or type(exc).__name__
        return MailNotSent(f"could not reach the SMTP server {where}: {reason}", transient=True)
    return None


def _is_transient(code: int) -> bool:
    # -1: smtplib's code for a connection closed before any reply
    return code == -1 or 400 <= code < 500


def _details(refused: Mapping[str, tuple[int, bytes]]) -> str:
    return "; ".join(f"{addr}: {code} {_text(reply)}" for addr, (code, reply) in refused.items())


def _text(reply: bytes | str) -> str:
    return reply.decode("utf-8", "replace") if isinstance(reply, bytes) else reply


def _scrubbed(failure: MailNotSent, password: str) -> MailNotSent:
    """``failure`` with ``password`` removed from its message, should a server ever echo it back."""
    text = str(failure)
    if not password or password not in text:
        return failure
    return MailNotSent(text.replace(password, "***"), transient=failure.transient, code=failure.code)
