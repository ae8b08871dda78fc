"""The emulator's state: mailboxes, their folder trees and calendar items, the change sequence that sync
states point into, faults, and the NTLM handshakes under way. One lock guards it all (the server answers
from several threads: uvicorn's loop, and the control API called from a test's thread)."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from creneau.emulators.ews import recurrence
from creneau.emulators.ews.faults import Faults
from creneau.emulators.ews.model import Folder, Item, Mailbox, Occurrence, new_id, parse_time
from creneau.emulators.ews.ntlm import Challenge
from creneau.emulators.ews.props import new_item, new_props
from creneau.emulators.ews.soap import Element, OperationError

_STANDARD_FOLDERS = (
    # (distinguished id, display name, folder class, parent distinguished id)
    ("msgfolderroot", "Top of Information Store", None, "root"),
    ("inbox", "Inbox", "IPF.Note", "msgfolderroot"),
    ("calendar", "Calendar", "IPF.Appointment", "msgfolderroot"),
    ("contacts", "Contacts", "IPF.Contact", "msgfolderroot"),
    ("tasks", "Tasks", "IPF.Task", "msgfolderroot"),
    ("deleteditems", "Deleted Items", "IPF.Note", "msgfolderroot"),
)


@dataclass(frozen=True)
class Tombstone:
    id: str
    parent_id: str
    created_seq: int
    deleted_seq: int


@dataclass(frozen=True)
class Change:
    """One entry of the mailbox event log that subscriptions read (``kind``: Created, Modified, Deleted,
    Moved; ``item_id`` None for a folder event, whose folder is ``folder_id``)."""

    seq: int
    kind: str
    mailbox: str
    parent_id: str
    item_id: str | None = None
    folder_id: str | None = None
    old_parent_id: str | None = None
    timestamp: datetime = field(default_factory=lambda: datetime.now(UTC).replace(microsecond=0))


@dataclass
class Connection:
    """What one TCP connection has done so far (NTLM authenticates a connection, not a request)."""

    pending: Challenge | None = None
    mailbox: str | None = None
    password_version: int = -1
    last_seen: float = 0.0


class EwsState:
    """Everything the emulator serves. Methods named for the control API take and return plain data."""

    def __init__(
        self,
        *,
        domain: str = "CONTOSO",
        dns_domain: str = "contoso.example",
        server_name: str = "EXCH01",
    ) -> None:
        self.lock = threading.RLock()
        self.domain = domain
        self.dns_domain = dns_domain
        self.server_name = server_name
        self.host_name = f"mail.{dns_domain}"
        self.auth_schemes: tuple[str, ...] = ("Negotiate", "NTLM", "Basic")
        self.mailboxes: dict[str, Mailbox] = {}  # case-folded email → mailbox
        self.folders: dict[str, Folder] = {}
        self.items: dict[str, Item] = {}
        self.occurrence_index: dict[
            str, tuple[str, datetime]
        ] = {}  # exception id → (master id, original start)
        self.item_tombstones: dict[str, Tombstone] = {}
        self.folder_tombstones: dict[str, Tombstone] = {}
        self.seq = 0
        self.sync_epoch = 1
        self.faults = Faults()
        self.connections: dict[tuple[str, int], Connection] = {}
        self.requests: list[str] = []  # operation names, in order, for tests that count calls
        self.changes: list[Change] = []  # the event log subscriptions read, in sequence order
        self.listeners: list[Callable[[Change], None]] = []  # told of each change (push delivery)
        self.subscriptions: dict[str, object] = {}  # id → subscriptions.Subscription
        self.autodiscover_redirects: dict[str, str] = {}  # case-folded email → the address it redirects to
        self.autodiscover_host_redirects: dict[
            str, str
        ] = {}  # host name → URL an autodiscover request gets 302 to

    # -- mailboxes and folders -------------------------------------------------------------------------------
    def log(self, change: Change) -> None:
        with self.lock:
            self.changes.append(change)
            listeners = list(self.listeners)
        for listener in listeners:
            listener(change)

    def next_seq(self) -> int:
        with self.lock:
            self.seq += 1
            return self.seq

    def add_mailbox(
        self,
        email: str,
        password: str,
        *,
        display_name: str | None = None,
        username: str | None = None,
        domain: str | None = None,
    ) -> Mailbox:
        with self.lock:
            key = email.casefold()
            if key in self.mailboxes:
                raise ValueError(f"mailbox {email} exists")
            mailbox = Mailbox(
                email=email,
                display_name=display_name or email.split("@", 1)[0].title(),
                password=password,
                domain=(domain or self.domain).upper(),
                username=username or email.split("@", 1)[0],
            )
            self.mailboxes[key] = mailbox
            root = self._folder(mailbox, None, "", None, "root")
            by_name = {"root": root}
            for distinguished, name, folder_class, parent in _STANDARD_FOLDERS:
                by_name[distinguished] = self._folder(
                    mailbox, by_name[parent].id, name, folder_class, distinguished
                )
            mailbox.root_id, mailbox.msgroot_id = root.id, by_name["msgfolderroot"].id
            mailbox.calendar_id = by_name["calendar"].id
            return mailbox

    def _folder(
        self,
        mailbox: Mailbox,
        parent_id: str | None,
        name: str,
        folder_class: str | None,
        distinguished: str | None = None,
        read_only: bool = False,
    ) -> Folder:
        seq = self.next_seq()
        folder = Folder(
            id=new_id(b"\x01"),
            mailbox=mailbox.email.casefold(),
            parent_id=parent_id,
            name=name,
            folder_class=folder_class,
            distinguished=distinguished,
            read_only=read_only,
            created_seq=seq,
            modified_seq=seq,
        )
        self.folders[folder.id] = folder
        return folder

    def mailbox(self, email: str) -> Mailbox:
        """:raises OperationError: ``ErrorNonExistentMailbox``"""
        with self.lock:
            found = self.mailboxes.get(email.casefold())
        if found is None:
            raise OperationError(
                "ErrorNonExistentMailbox", "The SMTP address has no mailbox associated with it."
            )
        return found

    def add_folder(
        self,
        email: str,
        name: str,
        *,
        parent_id: str | None = None,
        folder_class: str = "IPF.Appointment",
        read_only: bool = False,
    ) -> Folder:
        with self.lock:
            mailbox = self.mailbox(email)
            parent = self.folders[parent_id or mailbox.calendar_id]
            folder = self._folder(mailbox, parent.id, name, folder_class, read_only=read_only)
            self.log(Change(folder.created_seq, "Created", folder.mailbox, parent.id, folder_id=folder.id))
            return folder

    def remove_folder(self, folder_id: str) -> bool:
        with self.lock:
            folder = self.folders.get(folder_id)
            if folder is None or folder.distinguished:
                return False
            for child in [f for f in self.folders.values() if f.parent_id == folder_id]:
                self.remove_folder(child.id)
            for item in [i for i in self.items.values() if i.folder_id == folder_id]:
                self.delete_item(item.id)
            del self.folders[folder_id]
            stone = Tombstone(folder_id, folder.parent_id or "", folder.created_seq, self.next_seq())
            self.folder_tombstones[folder_id] = stone
            self.log(
                Change(stone.deleted_seq, "Deleted", folder.mailbox, stone.parent_id, folder_id=folder_id)
            )
            return True

    def rename_folder(self, folder_id: str, name: str) -> None:
        with self.lock:
            folder = self.folders[folder_id]
            folder.name = name
            folder.modified_seq = self.next_seq()
            self.log(
                Change(
                    folder.modified_seq,
                    "Modified",
                    folder.mailbox,
                    folder.parent_id or "",
                    folder_id=folder_id,
                )
            )

    def distinguished(self, mailbox: Mailbox, name: str) -> Folder:
        """:raises OperationError: ``ErrorFolderNotFound`` for a distinguished folder this mailbox lacks"""
        with self.lock:
            for folder in self.folders.values():
                if folder.mailbox == mailbox.email.casefold() and folder.distinguished == name:
                    return folder
        raise OperationError("ErrorFolderNotFound", "The specified folder could not be found in the store.")

    def folder(self, mailbox: Mailbox, folder_id: str) -> Folder:
        with self.lock:
            folder = self.folders.get(folder_id)
        if folder is None or folder.mailbox != mailbox.email.casefold():
            raise OperationError(
                "ErrorFolderNotFound", "The specified folder could not be found in the store."
            )
        return folder

    def children(self, folder_id: str, *, deep: bool = False) -> list[Folder]:
        with self.lock:
            direct = [f for f in self.folders.values() if f.parent_id == folder_id]
            if not deep:
                return direct
            out: list[Folder] = []
            for child in direct:
                out.append(child)
                out.extend(self.children(child.id, deep=True))
            return out

    def set_password(self, email: str, password: str) -> None:
        with self.lock:
            mailbox = self.mailbox(email)
            mailbox.password = password
            mailbox.password_version += 1

    def logon(self, name: str) -> Mailbox | None:
        """The mailbox whose owner logs on as ``name`` (``DOMAIN\\user``, UPN or email)."""
        key = name.casefold()
        with self.lock:
            for mailbox in self.mailboxes.values():
                if key in mailbox.logon_names():
                    return mailbox
        return None

    # -- items -----------------------------------------------------------------------------------------------
    def store_item(self, item: Item) -> Item:
        with self.lock:
            seq = self.next_seq()
            item.created_seq = item.modified_seq = seq
            self.items[item.id] = item
            self.log(Change(seq, "Created", item.mailbox, item.folder_id, item_id=item.id))
            return item

    def touch(self, item: Item, changed: Iterable[str] = ()) -> None:
        """Record a change of ``item`` (a new ChangeKey, a sync Update, a ModifiedEvent); ``changed`` names
        the properties it changed."""
        with self.lock:
            item.touch(self.next_seq(), frozenset(changed))
            self.log(Change(item.modified_seq, "Modified", item.mailbox, item.folder_id, item_id=item.id))

    def seed_events(self, folder_id: str, elements: list[Element]) -> list[Item]:
        """Store ``t:CalendarItem`` elements in a folder as if another client had created them (the control
        API; also for benchmarks that need thousands of items quickly).

        :raises KeyError: for an unknown folder
        """
        with self.lock:
            folder = self.folders[folder_id]
            owner = self.mailboxes[folder.mailbox]
            made = []
            for element in elements:
                props, extended = new_props(element, trusted=True)
                made.append(self.store_item(new_item(owner, folder, props, extended)))
            return made

    def item(self, mailbox: Mailbox, item_id: str) -> Item:
        """:raises OperationError: ``ErrorItemNotFound``"""
        with self.lock:
            found = self.items.get(item_id)
        if found is None or found.mailbox != mailbox.email.casefold():
            raise OperationError("ErrorItemNotFound", "The specified object was not found in the store.")
        return found

    def delete_item(self, item_id: str) -> bool:
        with self.lock:
            item = self.items.pop(item_id, None)
            if item is None:
                return False
            for occurrence in item.exceptions.values():
                self.occurrence_index.pop(occurrence.id, None)
            stone = self._bury(item)
            self.log(Change(stone.deleted_seq, "Deleted", item.mailbox, item.folder_id, item_id=item.id))
            return True

    def _bury(self, item: Item) -> Tombstone:
        stone = Tombstone(item.id, item.folder_id, item.created_seq, self.next_seq())
        self.item_tombstones[f"{item.id}|{item.folder_id}"] = stone
        return stone

    def move_item(self, item_id: str, folder_id: str) -> None:
        """Move an item (DeleteItem's MoveToDeletedItems): a delete in its old folder, a create in the new."""
        with self.lock:
            item = self.items[item_id]
            old = item.folder_id
            self._bury(item)
            item.folder_id = folder_id
            item.created_seq = item.modified_seq = self.next_seq()
            self.log(
                Change(
                    item.modified_seq, "Moved", item.mailbox, folder_id, item_id=item.id, old_parent_id=old
                )
            )

    def items_in(self, folder_id: str) -> list[Item]:
        with self.lock:
            return [i for i in self.items.values() if i.folder_id == folder_id]

    def register_exception(self, master: Item, occurrence: Occurrence) -> None:
        with self.lock:
            master.exceptions[occurrence.original_start] = occurrence
            self.occurrence_index[occurrence.id] = (master.id, occurrence.original_start)

    def instances(
        self, item: Item, start: datetime, end: datetime, *, touching: bool = False
    ) -> list[tuple[int, datetime, datetime, datetime, Occurrence | None]]:
        """The occurrences of a series that overlap ``[start, end)`` (``touching``: also those ending at
        ``start``): ``(instance index, original start, start, end, exception or None)``; a single item is its
        own one occurrence."""
        if touching:
            start -= timedelta(microseconds=1)
        duration = item.end - item.start
        rule = recurrence.element_of(item.props.get("Recurrence"))
        if rule is None:
            return (
                [(1, item.start, item.start, item.end, None)] if item.start < end and item.end > start else []
            )
        out = []
        # Exchange refuses to move an occurrence past its neighbours: originals up to end + duration suffice.
        for index, original in recurrence.original_starts(
            rule, item.start, item.start_zone, until=end + duration
        ):
            if original in item.deleted:
                continue
            exception = item.exceptions.get(original)
            if exception is None:
                begin, finish = original, original + duration
            else:
                begin, finish = self.exception_times(item, exception)
            if begin < end and finish > start:
                out.append((index, original, begin, finish, exception))
        return out

    @staticmethod
    def exception_times(master: Item, occurrence: Occurrence) -> tuple[datetime, datetime]:
        duration = master.end - master.start
        start_el, end_el = occurrence.props.get("Start"), occurrence.props.get("End")
        begin = parse_time(start_el.text or "") if start_el is not None else occurrence.original_start
        finish = parse_time(end_el.text or "") if end_el is not None else begin + duration
        return begin, finish

    # -- sync states -----------------------------------------------------------------------------------------
    def invalidate_sync_states(self) -> int:
        """Every sync state handed out so far answers ``ErrorInvalidSyncStateData`` from now on."""
        with self.lock:
            self.sync_epoch += 1
            return self.sync_epoch

    def record(self, operation: str) -> None:
        with self.lock:
            self.requests.append(operation)

    def now(self) -> datetime:
        return datetime.now(UTC)
