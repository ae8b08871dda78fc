"""Response shapes (``ItemShape``/``FolderShape``: a ``BaseShape`` and ``AdditionalProperties``) and the
ids clients send (``FolderId``, ``DistinguishedFolderId`` with its ``Mailbox``, ``ItemId``,
``OccurrenceItemId``, ``RecurringMasterItemId``)."""

from __future__ import annotations

from dataclasses import dataclass

from creneau.emulators.ews.model import Folder, Mailbox
from creneau.emulators.ews.soap import Element, OperationError, local, t, text_of
from creneau.emulators.ews.state import EwsState


@dataclass(frozen=True)
class Shape:
    base: str  # IdOnly | Default | AllProperties
    fields: frozenset[str] = frozenset()  # local names of the FieldURIs asked for ("Subject", "Start")
    extended: tuple[Element, ...] = ()  # ExtendedFieldURI elements asked for
    body_type: str = "Best"
    include_mime: bool = False

    def wants(self, name: str, *, default: bool = False) -> bool:
        if name in self.fields or self.base == "AllProperties":
            return True
        return default and self.base == "Default"


@dataclass(frozen=True)
class ItemRef:
    id: str
    change_key: str | None = None
    master_id: str | None = None  # OccurrenceItemId / RecurringMasterItemId
    instance_index: int | None = None
    of_occurrence: bool = False  # RecurringMasterItemId: the master of the occurrence ``id``


def shape(element: Element | None) -> Shape:
    if element is None:
        return Shape("AllProperties")
    base = text_of(element, "t:BaseShape", "IdOnly") or "IdOnly"
    names: set[str] = set()
    extended: list[Element] = []
    extra = element.find(t("AdditionalProperties"))
    for uri in [] if extra is None else extra:
        if not isinstance(uri.tag, str):
            continue
        if local(uri) == "ExtendedFieldURI":
            extended.append(uri)
        elif uri.get("FieldURI"):
            names.add(field_name(uri.get("FieldURI") or ""))
    return Shape(
        base,
        frozenset(names),
        tuple(extended),
        text_of(element, "t:BodyType", "Best") or "Best",
        (text_of(element, "t:IncludeMimeContent", "false") or "false").lower() in ("true", "1"),
    )


def field_name(uri: str) -> str:
    """``calendar:Start`` → ``Start`` (the element a FieldURI names)."""
    return uri.split(":", 1)[-1]


def folder_ref(state: EwsState, me: Mailbox, element: Element) -> Folder:
    """The folder a ``FolderId``/``DistinguishedFolderId`` names.

    :raises OperationError: ``ErrorFolderNotFound``, ``ErrorNonExistentMailbox``, ``ErrorAccessDenied``
    """
    if local(element) == "DistinguishedFolderId":
        address = text_of(element, "t:Mailbox/t:EmailAddress")
        if address and address.casefold() != me.email.casefold():
            state.mailbox(address)  # ErrorNonExistentMailbox first, as Exchange answers
            raise OperationError("ErrorAccessDenied", "Access is denied. Check credentials and try again.")
        return state.distinguished(me, element.get("Id") or "")
    if local(element) == "FolderId":
        return state.folder(me, element.get("Id") or "")
    raise OperationError("ErrorInvalidIdMalformed", "Id is malformed.")


def folder_refs(element: Element | None) -> list[Element]:
    if element is None:
        return []
    return [c for c in element if isinstance(c.tag, str)]


def item_ref(element: Element) -> ItemRef:
    """:raises OperationError: ``ErrorInvalidIdMalformed`` for an element that names no item"""
    kind = local(element)
    if kind == "ItemId" and element.get("Id"):
        return ItemRef(element.get("Id") or "", element.get("ChangeKey"))
    if kind == "OccurrenceItemId" and element.get("RecurringMasterId"):
        try:
            index = int(element.get("InstanceIndex") or "")
        except ValueError:
            raise OperationError("ErrorInvalidIdMalformed", "Id is malformed.") from None
        return ItemRef("", element.get("ChangeKey"), element.get("RecurringMasterId"), index)
    if kind == "RecurringMasterItemId" and element.get("OccurrenceId"):
        return ItemRef(element.get("OccurrenceId") or "", element.get("ChangeKey"), of_occurrence=True)
    raise OperationError("ErrorInvalidIdMalformed", "Id is malformed.")
