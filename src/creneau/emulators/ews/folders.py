"""GetFolder, FindFolder and SyncFolderHierarchy."""

from __future__ import annotations

import base64
import json

from creneau.emulators.ews.model import Folder, Mailbox
from creneau.emulators.ews.shapes import Shape, folder_ref, folder_refs, shape
from creneau.emulators.ews.soap import (
    Element,
    OperationError,
    error,
    m,
    new,
    response,
    sub,
    success,
    t,
    text_of,
)
from creneau.emulators.ews.state import EwsState

_TAGS = {
    "IPF.Appointment": "CalendarFolder",
    "IPF.Contact": "ContactsFolder",
    "IPF.Task": "TasksFolder",
    "IPF.Note.OutlookHomepage": "SearchFolder",
}


def folder_element(state: EwsState, folder: Folder, wanted: Shape) -> Element:
    tag = _TAGS.get(folder.folder_class or "", "Folder")
    out = new(t(tag))
    sub(out, t("FolderId"), Id=folder.id, ChangeKey=folder.change_key)
    if folder.parent_id and wanted.wants("ParentFolderId"):
        parent = state.folders.get(folder.parent_id)
        sub(out, t("ParentFolderId"), Id=folder.parent_id, ChangeKey=parent.change_key if parent else "")
    if folder.folder_class and wanted.wants("FolderClass"):
        sub(out, t("FolderClass"), folder.folder_class)
    if wanted.wants("DisplayName", default=True):
        sub(out, t("DisplayName"), folder.name)
    if wanted.wants("TotalCount", default=True):
        sub(out, t("TotalCount"), str(len(state.items_in(folder.id))))
    if wanted.wants("ChildFolderCount", default=True):
        sub(out, t("ChildFolderCount"), str(len(state.children(folder.id))))
    if wanted.wants("EffectiveRights"):
        rights = sub(out, t("EffectiveRights"))
        writable = "false" if folder.read_only else "true"
        for name, value in (
            ("CreateAssociated", writable),
            ("CreateContents", writable),
            ("CreateHierarchy", writable),
            ("Delete", writable),
            ("Modify", writable),
            ("Read", "true"),
            ("ViewPrivateItems", "true"),
        ):
            sub(rights, t(name), value)
    if tag == "Folder" and wanted.wants("UnreadCount", default=True):
        sub(out, t("UnreadCount"), "0")
    return out


def get_folder(state: EwsState, me: Mailbox, request: Element) -> Element:
    wanted = shape(request.find(m("FolderShape")))
    messages = []
    for ref in folder_refs(request.find(m("FolderIds"))):
        try:
            folder = folder_ref(state, me, ref)
        except OperationError as exc:
            messages.append(error("GetFolder", exc))
            continue
        message = success("GetFolder")
        sub(message, m("Folders")).append(folder_element(state, folder, wanted))
        messages.append(message)
    return response("GetFolder", messages)


def find_folder(state: EwsState, me: Mailbox, request: Element) -> Element:
    wanted = shape(request.find(m("FolderShape")))
    deep = request.get("Traversal", "Shallow") == "Deep"
    view = request.find(m("IndexedPageFolderView"))
    limit = int(view.get("MaxEntriesReturned") or "1000") if view is not None else 1000
    offset = int(view.get("Offset") or "0") if view is not None else 0
    messages = []
    for ref in folder_refs(request.find(m("ParentFolderIds"))):
        try:
            parent = folder_ref(state, me, ref)
        except OperationError as exc:
            messages.append(error("FindFolder", exc))
            continue
        found = state.children(parent.id, deep=deep)
        page = found[offset : offset + limit]
        message = success("FindFolder")
        root = sub(
            message,
            m("RootFolder"),
            IndexedPagingOffset=str(offset + len(page)),
            TotalItemsInView=str(len(found)),
            IncludesLastItemInRange="true" if offset + len(page) >= len(found) else "false",
        )
        folders = sub(root, t("Folders"))
        for folder in page:
            folders.append(folder_element(state, folder, wanted))
        messages.append(message)
    return response("FindFolder", messages)


def encode_state(kind: str, scope: str, seq: int, epoch: int) -> str:
    """A sync state: opaque to clients (base64, like Exchange's), pointing into the change sequence."""
    raw = json.dumps({"k": kind, "f": scope, "s": seq, "e": epoch}, separators=(",", ":")).encode()
    return base64.b64encode(b"H4sIAAAAAAAEAO29B2AcSZYlJi9" + raw).decode()


def decode_state(state: EwsState, text: str | None, kind: str, scope: str) -> int:
    """The sequence number a client's sync state points to (0: none, a first sync).

    :raises OperationError: ``ErrorInvalidSyncStateData`` for a state this server did not hand out for this
        folder, or one handed out before the states were invalidated
    """
    if not text:
        return 0
    invalid = OperationError(
        "ErrorInvalidSyncStateData", "Synchronization state data is corrupt or otherwise invalid."
    )
    try:
        raw = base64.b64decode(text, validate=True)[len(b"H4sIAAAAAAAEAO29B2AcSZYlJi9") :]
        data = json.loads(raw)
        seq, epoch = int(data["s"]), int(data["e"])
    except (ValueError, KeyError, TypeError):
        raise invalid from None
    if data.get("k") != kind or data.get("f") != scope or epoch != state.sync_epoch or seq > state.seq:
        raise invalid
    return seq


def sync_folder_hierarchy(state: EwsState, me: Mailbox, request: Element) -> Element:
    wanted = shape(request.find(m("FolderShape")))
    ref = request.find(m("SyncFolderId"))
    try:
        with state.lock:
            top = (
                folder_ref(state, me, ref[0])
                if ref is not None and len(ref)
                else state.folder(me, me.root_id)
            )
            if state.faults.take_invalid_sync():
                raise OperationError(
                    "ErrorInvalidSyncStateData", "Synchronization state data is corrupt or otherwise invalid."
                )
            since = decode_state(state, text_of(request, "m:SyncState"), "hierarchy", top.id)
            below = state.children(top.id, deep=True)
            ids = {f.id for f in below} | {top.id}
            changes: list[tuple[int, str, Element]] = []
            for folder in below:
                if folder.modified_seq > since:
                    kind = "Create" if folder.created_seq > since else "Update"
                    change = new(t(kind))
                    change.append(folder_element(state, folder, wanted))
                    changes.append((folder.modified_seq, kind, change))
            for stone in state.folder_tombstones.values():
                if stone.deleted_seq > since and stone.created_seq <= since and stone.parent_id in ids | {""}:
                    change = new(t("Delete"))
                    sub(change, t("FolderId"), Id=stone.id)
                    changes.append((stone.deleted_seq, "Delete", change))
                    ids.add(stone.id)
            new_state = encode_state("hierarchy", top.id, state.seq, state.sync_epoch)
    except OperationError as exc:
        return response("SyncFolderHierarchy", [error("SyncFolderHierarchy", exc)])
    message = success("SyncFolderHierarchy")
    sub(message, m("SyncState"), new_state)
    sub(message, m("IncludesLastFolderInRange"), "true")
    container = sub(message, m("Changes"))
    for _, _, change in sorted(changes, key=lambda c: c[0]):
        container.append(change)
    return response("SyncFolderHierarchy", [message])
