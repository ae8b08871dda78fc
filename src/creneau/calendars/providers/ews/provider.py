"""``ExchangeProvider``: on-premises Exchange (2016, 2019, Subscription Edition) through EWS."""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, ClassVar, Self

from creneau.calendars.providers.base import (
    AccountInfo,
    CalendarProvider,
    Capabilities,
    ChangeSet,
    Connection,
    EventDraft,
    Progress,
    Received,
    RemoteCalendar,
    RemoteEvent,
    WrittenEvent,
)
from creneau.calendars.providers.ews import busy, sync, writes
from creneau.calendars.providers.ews.session import EwsSession
from creneau.calendars.providers.netguard import NetworkPolicy
from creneau.domain.intervals import Interval

if TYPE_CHECKING:
    from creneau.config import Settings


class ExchangeProvider(CalendarProvider):
    """One Exchange mailbox (see ``session.py`` for what ``Connection`` holds).

    ``batch_size`` is the number of items one GetItem fetches; ``ca_bundle`` the PEM file server certificates
    must chain to (None: the public CAs). Polled (no push yet); no native conferencing (remote sessions get
    the default video link).
    """

    name: ClassVar[str] = "exchange"
    capabilities: ClassVar[Capabilities] = Capabilities(
        incremental_sync=True, push=False, live_free_busy=True, native_conferencing=None
    )

    def __init__(
        self,
        connection: Connection,
        *,
        policy: NetworkPolicy,
        batch_size: int = 100,
        ca_bundle: str | None = None,
    ) -> None:
        if batch_size < 1:
            raise ValueError("batch_size must be at least 1")
        self._session = EwsSession(connection, policy=policy, ca_bundle=ca_bundle)
        self._batch_size = min(batch_size, 500)
        self._default_calendar: str | None = None

    @classmethod
    def from_settings(cls, connection: Connection, *, policy: NetworkPolicy, settings: Settings) -> Self:
        """Batches of ``multiget_chunk_size`` items; the CA bundle of ``ews_ca_bundle``."""
        return cls(
            connection,
            policy=policy,
            batch_size=settings.multiget_chunk_size,
            ca_bundle=settings.ews_ca_bundle,
        )

    @property
    def owner_emails(self) -> tuple[str, ...]:
        return (self._session.email.lower(),)

    # -- account -------------------------------------------------------------------------------------------

    def discover(self) -> AccountInfo:
        """Open the account (Autodiscover when no EWS address is known) and read its Calendar folder,
        which checks the credentials and the mailbox.

        :raises AuthFailed: refused credentials (the message hints at ``DOMAIN\\user``)
        :raises AutodiscoverFailed, NotExchange, TlsUntrusted, ServerUnreachable, AddressForbidden,
            MailboxNotFound, RateLimited: see ``errors.py``
        """
        account = self._session.open(connecting=True)
        calendar = self._session.call(lambda: account.calendar, connecting=True)
        self._default_calendar = str(calendar.id)
        email = str(account.primary_smtp_address).lower()
        return AccountInfo(
            principal_url=f"mailto:{email}",
            home_url=self._session.ews_url,
            display_name=email,
            email_addresses=(email,),
        )

    def default_calendar_id(self) -> str:
        if self._default_calendar is None:
            account = self._session.account
            self._default_calendar = str(self._session.call(lambda: account.calendar).id)
        return self._default_calendar

    def list_calendars(self) -> list[RemoteCalendar]:
        """The Calendar folder and every calendar folder below it (read-only when the account may not
        create or modify items there)."""
        account = self._session.account

        def run() -> list[Any]:
            calendar = account.calendar
            return [calendar, *(f for f in calendar.walk() if type(f).__name__ == "Calendar")]

        folders = self._session.call(run)
        self._default_calendar = str(folders[0].id)
        return [
            RemoteCalendar(remote_id=str(f.id), name=str(f.name or "Calendar"), read_only=_read_only(f))
            for f in folders
        ]

    # -- reading -------------------------------------------------------------------------------------------

    def pull_changes(
        self,
        calendar_id: str,
        *,
        cursor: str | None,
        known_etags: Mapping[str, str],
        progress: Progress | None = None,
        received: Received | None = None,
    ) -> ChangeSet:
        options = sync.PullOptions(
            batch_size=self._batch_size, owner_emails=self.owner_emails, progress=progress, received=received
        )
        return sync.pull(self._session, calendar_id, cursor=cursor, known_etags=known_etags, options=options)

    def busy_times(self, calendar_ids: list[str], window: Interval) -> list[RemoteEvent]:
        """GetUserAvailability for the default Calendar, a CalendarView for the other folders."""
        found: list[RemoteEvent] = []
        for calendar_id in calendar_ids:
            if calendar_id == self.default_calendar_id():
                found.extend(busy.availability(self._session, window))
            else:
                found.extend(
                    busy.calendar_view(self._session, calendar_id, window, owner_emails=self.owner_emails)
                )
        return found

    # -- writing -------------------------------------------------------------------------------------------

    def create_event(self, calendar_id: str, draft: EventDraft) -> WrittenEvent:
        return writes.create(self._session, calendar_id, draft)

    def update_event(
        self, calendar_id: str, remote_id: str, draft: EventDraft, *, etag: str | None = None
    ) -> WrittenEvent:
        return writes.update(self._session, calendar_id, remote_id, draft, etag=etag)

    def delete_event(self, calendar_id: str, remote_id: str, *, etag: str | None = None) -> None:
        writes.delete(self._session, calendar_id, remote_id, etag=etag)

    def close(self) -> None:
        self._session.close()


def _read_only(folder: Any) -> bool:
    rights = folder.effective_rights
    if rights is None:
        return False
    return not (rights.create_contents and rights.modify)
