"""The emails a participant receives about a booking: confirmed, rescheduled, cancelled; in French or English.

The words live in Jinja2 templates under ``templates/`` (``booking_<kind>.<locale>.txt`` and ``.html``, see
the README there), so translators edit them without touching code. Dates and times are written for the
language with Babel. The HTML templates are autoescaped; the plain-text ones are not (they are not HTML).
"""

from __future__ import annotations

import functools
import re
from datetime import UTC, datetime
from email.header import Header
from email.message import EmailMessage
from email.policy import Policy
from email.utils import format_datetime, make_msgid, parseaddr
from typing import Literal

from babel.dates import format_date, format_time
from icalendar import Calendar
from jinja2 import Environment, PackageLoader, StrictUndefined, select_autoescape

__all__ = ["Kind", "Locale", "booking_email"]

Kind = Literal["confirmed", "rescheduled", "cancelled"]
Locale = Literal["fr", "en"]
_KINDS = ("confirmed", "rescheduled", "cancelled")
_LOCALES = ("fr", "en")
_SPACES = re.compile(r"\s+")


@functools.cache
def _environment() -> Environment:
    return Environment(
        loader=PackageLoader("creneau.mail", "templates"),
        autoescape=select_autoescape(enabled_extensions=("html",), default_for_string=False, default=False),
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
    )


def booking_email(
    *,
    kind: Kind,
    locale: Locale,
    to: str,
    sender: str,
    participant_name: str,
    study_name: str,
    session_name: str,
    start_local: datetime,
    end_local: datetime,
    timezone_label: str,
    location: str,
    join_url: str | None,
    cancel_url: str | None,
    reschedule_url: str | None,
    ics: bytes,
    reply_to: str | None = None,
) -> EmailMessage:
    """The email telling participant ``to`` that their booking is ``kind``, in ``locale``.

    ``start_local`` / ``end_local`` are shown as they are (wall-clock times in the zone ``timezone_label``
    names, such as "heure de Paris" or "Paris time"): convert them before calling. The message has a
    plain-text part and an HTML alternative, and ``ics`` (from :func:`creneau.mail.ics.invitation`) attached
    as ``invitation.ics`` with ``Content-Type: text/calendar; method=REQUEST`` (``CANCEL`` for a cancelled
    booking). A cancelled email shows no video link and no cancel or reschedule link, whatever is passed.

    :raises ValueError: for an unknown ``kind`` or ``locale``, ``end_local`` not after ``start_local``, or an
        ``ics`` whose ``METHOD`` does not match ``kind`` (``CANCEL`` for cancelled, ``REQUEST`` otherwise).
    """
    method = _checked_method(kind=kind, locale=locale, start=start_local, end=end_local, ics=ics)
    if kind == "cancelled":
        join_url = cancel_url = reschedule_url = None
    values: dict[str, object] = {
        # one-line labels: a newline typed into a study name must not break the layout or the Subject header
        "participant_name": _one_line(participant_name),
        "study_name": _one_line(study_name),
        "session_name": _one_line(session_name),
        **_when(start_local, end_local, locale),
        "timezone_label": _one_line(timezone_label),
        "location": _one_line(location),
        "join_url": join_url or "",
        "cancel_url": cancel_url or "",
        "reschedule_url": reschedule_url or "",
        "can_reply": bool(reply_to),
    }
    subject, text, html = _render(f"booking_{kind}.{locale}", values, locale)
    return _assemble(
        subject=subject,
        sender=sender,
        to=to,
        reply_to=reply_to,
        locale=locale,
        parts=(text, html),
        ics=ics,
        method=method,
    )


def _render(name: str, values: dict[str, object], locale: str) -> tuple[str, str, str]:
    """Subject, plain text and HTML from ``name.txt`` (which sets ``subject``) and ``name.html``."""
    text_module = _environment().get_template(f"{name}.txt").make_module(values)
    subject = _one_line(str(getattr(text_module, "subject", "")))
    if not subject:  # a template edit lost the {% set subject %} line: say so rather than send no subject
        raise RuntimeError(f"the template {name}.txt defines no subject")
    html = _environment().get_template(f"{name}.html").render(values, subject=subject, lang=locale)
    return subject, str(text_module), html


def _checked_method(*, kind: str, locale: str, start: datetime, end: datetime, ics: bytes) -> str:
    """The iTIP method of the email's invitation, after checking the arguments (see :func:`booking_email`)."""
    if kind not in _KINDS:
        raise ValueError(f"kind must be one of {', '.join(_KINDS)}, not {kind!r}")
    if locale not in _LOCALES:
        raise ValueError(f"locale must be one of {', '.join(_LOCALES)}, not {locale!r}")
    if end <= start:
        raise ValueError("end_local must be after start_local")
    method = "CANCEL" if kind == "cancelled" else "REQUEST"
    try:
        found = str(Calendar.from_ical(ics).get("METHOD", ""))
    except ValueError as exc:
        raise ValueError(f"ics is not an iCalendar object: {exc}") from None
    if found.upper() != method:
        raise ValueError(f"ics has METHOD {found or '(none)'!r}; this email needs {method}")
    return method


def _when(start: datetime, end: datetime, locale: str) -> dict[str, str]:
    """The date and times as the language writes them; ``end_day`` only when the session ends another day."""
    return {
        "day": format_date(start, format="full", locale=locale),
        "start_time": format_time(start, format="short", locale=locale),
        "end_time": format_time(end, format="short", locale=locale),
        "end_day": format_date(end, format="full", locale=locale) if end.date() != start.date() else "",
    }


def _assemble(
    *,
    subject: str,
    sender: str,
    to: str,
    reply_to: str | None,
    locale: str,
    parts: tuple[str, str],
    ics: bytes,
    method: str,
) -> EmailMessage:
    """multipart/mixed: [multipart/alternative: [text/plain, text/html], text/calendar invitation.ics]."""
    message = EmailMessage()
    message["Subject"] = _EncodedSubject(subject)
    message["From"] = sender
    message["To"] = to
    if reply_to:
        message["Reply-To"] = reply_to
    message["Date"] = format_datetime(datetime.now(UTC))
    message["Message-ID"] = make_msgid(domain=_domain(sender))
    message["Auto-Submitted"] = "auto-generated"  # RFC 3834: no out-of-office replies to us
    text, html = parts
    # quoted-printable keeps the raw text readable (Python would pick base64 for some French texts)
    message.set_content(text, cte="quoted-printable")
    message.add_alternative(html, subtype="html", cte="quoted-printable")
    message.add_attachment(
        ics,
        maintype="text",
        subtype="calendar",
        filename="invitation.ics",
        params={"method": method, "charset": "utf-8"},
    )
    # after the parts: turning the message into a multipart moves Content-* headers into the first part
    message["Content-Language"] = locale
    return message


class _EncodedSubject(str):
    """A Subject that we encode (RFC 2047, UTF-8 encoded words) ourselves, ASCII or not.

    Python's own folding loses text in some subjects: a space dropped or doubled next to a fold between
    encoded words ("confirmée»", "at  2:00 PM"), a leading space when it folds right after "Subject:", a
    study name that looks like an encoded word decoded. ``email.header.Header`` splits inside encoded words,
    which decoders join back exactly. The policy uses any header value that has a ``name`` and a ``fold()``
    as it is.
    """

    name = "Subject"

    def fold(self, *, policy: Policy) -> str:
        encoded = Header(str(self), "utf-8", header_name=self.name).encode(linesep=policy.linesep)
        return f"{self.name}: {encoded}{policy.linesep}"


def _one_line(text: str) -> str:
    return _SPACES.sub(" ", text).strip()


def _domain(sender: str) -> str:
    # make_msgid would otherwise call socket.getfqdn(), which can hang on a reverse DNS lookup
    address = parseaddr(sender)[1]
    return address.rpartition("@")[2] or "creneau.invalid"
