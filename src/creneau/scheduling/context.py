"""What the scheduling services need from the running application, gathered in one object."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from creneau.calendars.conferencing import ConferencingProvider
from creneau.calendars.context import EngineContext
from creneau.config import Settings
from creneau.mail.settings import MailSettings
from creneau.scheduling.links import LinkSigner


def _nothing(_ids: list[int]) -> None:
    return None


@dataclass
class Scheduling:
    engine: EngineContext
    links: LinkSigner
    conferencing: ConferencingProvider
    mail: MailSettings | None  # None: no SMTP server configured, no email is sent
    # Set by the runtime: wake the job runner for outbox items just committed / accounts worth a sync.
    outbox_ready: Callable[[list[int]], None] = field(default=_nothing)
    sync_wanted: Callable[[list[int]], None] = field(default=_nothing)

    @property
    def settings(self) -> Settings:
        return self.engine.settings


def mail_settings(settings: Settings) -> MailSettings | None:
    if not settings.smtp_host:
        return None
    return MailSettings(
        host=settings.smtp_host,
        port=settings.smtp_port,
        username=settings.smtp_username,
        password=settings.smtp_password.get_secret_value(),
        security=settings.smtp_security,
        sender=settings.mail_sender,
        timeout=settings.http_timeout_seconds,
    )
