"""The email telling someone that a colleague invited them to a creneau workspace, in French or English.

Words live in ``templates/workspace_invitation.<locale>.txt`` and ``.html``, like the booking emails.
"""

from __future__ import annotations

from datetime import UTC, datetime
from email.message import EmailMessage
from email.utils import format_datetime, make_msgid
from typing import Literal

from creneau.mail.compose import _domain, _EncodedSubject, _environment, _one_line

__all__ = ["Locale", "workspace_invitation_email"]

Locale = Literal["fr", "en"]


def workspace_invitation_email(
    *,
    locale: Locale,
    to: str,
    sender: str,
    workspace_name: str,
    inviter: str,
    has_account: bool,
    url: str,
) -> EmailMessage:
    """Plain text with an HTML alternative. ``url``: where the invitee answers (their invitations page, or
    the sign-in page when they have no account yet). Accepting needs their own sign-in: the email carries no
    link that accepts by itself.

    :raises ValueError: for an unknown ``locale``.
    """
    if locale not in ("fr", "en"):
        raise ValueError(f"locale must be fr or en, not {locale!r}")
    values: dict[str, object] = {
        "workspace_name": _one_line(workspace_name),
        "inviter": _one_line(inviter),
        "has_account": has_account,
        "url": url,
    }
    name = f"workspace_invitation.{locale}"
    text_module = _environment().get_template(f"{name}.txt").make_module(values)
    subject = _one_line(str(getattr(text_module, "subject", "")))
    if not subject:
        raise RuntimeError(f"the template {name}.txt defines no subject")
    html = _environment().get_template(f"{name}.html").render(values, subject=subject, lang=locale)
    message = EmailMessage()
    message["Subject"] = _EncodedSubject(subject)
    message["From"] = sender
    message["To"] = to
    message["Date"] = format_datetime(datetime.now(UTC))
    message["Message-ID"] = make_msgid(domain=_domain(sender))
    message["Auto-Submitted"] = "auto-generated"
    message.set_content(str(text_module), cte="quoted-printable")
    message.add_alternative(html, subtype="html", cte="quoted-printable")
    message["Content-Language"] = locale
    return message
