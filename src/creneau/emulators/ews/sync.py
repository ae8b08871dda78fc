"""SyncFolderItems: the changes of one folder since a sync state, at most ``MaxChangesReturned`` at a time.

A sync state points into the mailbox change sequence; the changes after it are, per item, its latest state:
``Create`` (created after the state), ``Update`` (changed after it — an occurrence's change updates its
series), ``Delete`` (deleted or moved out after it, created before). A call with no change returns no change
and a state as valid as the one sent. Exceptions of a series are not items of the folder (as in Exchange)."""

from __future__ import annotations

from creneau.emulators.ews.folders import decode_state, encode_state
from creneau.emulators.ews.model import Item, Mailbox
from creneau.emulators.ews.render import item_element
from creneau.emulators.ews.shapes import folder_ref, shape
from creneau.emulators.ews.soap import (
    Element,
    OperationError,
    SoapFault,
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


def sync_folder_items(state: EwsState, me: Mailbox, request: Element) -> Element:
    wanted = shape(request.find(m("ItemShape")))
    try:
        limit = int(text_of(request, "m:MaxChangesReturned", "") or "")
    except ValueError:
        raise SoapFault(
            "ErrorSchemaValidation", "The request failed schema validation: MaxChangesReturned."
        ) from None
    if not 1 <= limit <= 512:
        raise SoapFault("ErrorSchemaValidation", "The request failed schema validation: MaxChangesReturned.")
    ref = request.find(m("SyncFolderId"))
    try:
        with state.lock:
            if ref is None or not len(ref):
                raise OperationError("ErrorInvalidRequest", "SyncFolderId is required.")
            folder = folder_ref(state, me, ref[0])
            if state.faults.take_invalid_sync():
                raise OperationError(
                    "ErrorInvalidSyncStateData", "Synchronization state data is corrupt or otherwise invalid."
                )
            since = decode_state(state, text_of(request, "m:SyncState"), "items", folder.id)
            # (sequence, item or None, id of a deleted item); rendered only for the page sent
            changes: list[tuple[int, Item | None, str]] = [
                (item.modified_seq, item, item.id)
                for item in state.items_in(folder.id)
                if item.modified_seq > since
            ]
            for stone in state.item_tombstones.values():
                if stone.parent_id == folder.id and stone.deleted_seq > since and stone.created_seq <= since:
                    if stone.id in state.items and state.items[stone.id].folder_id == folder.id:
                        continue  # moved out and back: its Create/Update says all
                    changes.append((stone.deleted_seq, None, stone.id))
            changes.sort(key=lambda c: c[0])
            page, rest = changes[:limit], changes[limit:]
            point = page[-1][0] if rest else state.seq
            new_state = encode_state("items", folder.id, point, state.sync_epoch)
            rendered = []
            for _, item, item_id in page:
                if item is None:
                    change = new(t("Delete"))
                    sub(change, t("ItemId"), Id=item_id)
                else:
                    change = new(t("Create" if item.created_seq > since else "Update"))
                    change.append(item_element(state, item, wanted))
                rendered.append(change)
    except OperationError as exc:
        return response("SyncFolderItems", [error("SyncFolderItems", exc)])
    message = success("SyncFolderItems")
    sub(message, m("SyncState"), new_state)
    sub(message, m("IncludesLastItemInRange"), "false" if rest else "true")
    container = sub(message, m("Changes"))
    for change in rendered:
        container.append(change)
    return response("SyncFolderItems", [message])
