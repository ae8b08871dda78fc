"""Booking emails: compose them (Jinja2 templates per language, an .ics invitation) and send them by SMTP.

::

    ics = invitation(uid=booking.uid, sequence=booking.sequence, method="REQUEST", ...)
    message = booking_email(kind="confirmed", locale="fr", to=participant.email, sender=settings.sender,
                            ..., ics=ics)
    send(settings, message)        # MailNotSent(transient=True) -> retry later; transient=False -> give up
"""

from __future__ import annotations

from creneau.mail.compose import booking_email
from creneau.mail.ics import invitation
from creneau.mail.sender import MailNotSent, send
from creneau.mail.settings import MailSettings

__all__ = ["MailNotSent", "MailSettings", "booking_email", "invitation", "send"]
