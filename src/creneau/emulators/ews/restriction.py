"""``m:Restriction`` search expressions (FindItem) evaluated against an item: comparisons of a property
(``FieldURI`` or ``ExtendedFieldURI``) with a constant, ``Exists``, ``Contains``, ``And``/``Or``/``Not``."""

from __future__ import annotations

from collections.abc import Callable

from creneau.emulators.ews.model import Item, ext_key, parse_time
from creneau.emulators.ews.shapes import field_name
from creneau.emulators.ews.soap import Element, OperationError, local, t

_COMPARE: dict[str, Callable[[object, object], bool]] = {
    "IsEqualTo": lambda a, b: a == b,
    "IsNotEqualTo": lambda a, b: a != b,
    "IsGreaterThan": lambda a, b: a > b,  # type: ignore[operator]
    "IsGreaterThanOrEqualTo": lambda a, b: a >= b,  # type: ignore[operator]
    "IsLessThan": lambda a, b: a < b,  # type: ignore[operator]
    "IsLessThanOrEqualTo": lambda a, b: a <= b,  # type: ignore[operator]
}


def _value(item: Item, path: Element) -> str | None:
    if local(path) == "ExtendedFieldURI":
        key = ext_key(path)
        for prop in item.extended:
            if ext_key(prop) == key:
                value = prop.find(t("Value"))
                return value.text if value is not None else None
        return None
    name = field_name(path.get("FieldURI") or "")
    if name == "Start":
        return item.start.isoformat()
    if name == "End":
        return item.end.isoformat()
    if name == "ItemClass":
        return item.text("ItemClass", "IPM.Appointment")
    if name == "CalendarItemType":
        return "RecurringMaster" if item.is_recurring else "Single"
    return item.text(name)


def _typed(a: str, b: str) -> tuple[object, object]:
    try:
        return parse_time(a), parse_time(b)
    except ValueError:
        pass
    try:
        return float(a), float(b)
    except ValueError:
        return a.casefold(), b.casefold()


def matches(item: Item, expression: Element) -> bool:
    """:raises OperationError: ``ErrorInvalidRestriction`` for an expression this server cannot read"""
    kind = local(expression)
    children = [c for c in expression if isinstance(c.tag, str)]
    if kind == "Restriction":
        return all(matches(item, c) for c in children)
    if kind == "And":
        return all(matches(item, c) for c in children)
    if kind == "Or":
        return any(matches(item, c) for c in children)
    if kind == "Not":
        return not matches(item, children[0])
    if kind == "Exists":
        return _value(item, children[0]) is not None
    if kind == "Contains":
        constant = expression.find(t("Constant"))
        value = _value(item, children[0])
        wanted = (constant.get("Value") or "") if constant is not None else ""
        return value is not None and wanted.casefold() in value.casefold()
    if kind in _COMPARE and len(children) == 2:
        constant = children[1].find(t("Constant"))
        value = _value(item, children[0])
        if constant is None or value is None:
            return kind == "IsNotEqualTo" and value is None
        left, right = _typed(value, constant.get("Value") or "")
        try:
            return _COMPARE[kind](left, right)
        except TypeError:
            return False
    raise OperationError(
        "ErrorInvalidRestriction", f"The restriction contains an invalid search expression: {kind}."
    )
