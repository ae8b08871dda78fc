"""The calendar event's title: a template of placeholders, nothing more.

A session's title template is typed by a researcher and filled with a participant's name for every booking.
It used to be Python's ``str.format``, whose language reads attributes (``{study.__class__}``), indexes and
format specs (``{study:>50000000}``: a 50 MB title per booking). The language here has exactly:

- the four placeholders ``{study}``, ``{session}``, ``{first_name}`` and ``{name}``;
- ``{{`` and ``}}`` for a literal brace;
- any other text, as typed.

Anything else between braces is refused when the template is saved (:func:`check_template`, naming the
unknown placeholders). :func:`render_title` never fails: a template stored before this check existed keeps
what it cannot read as literal text, and the rendered title is cut at :data:`MAX_TITLE_LENGTH` characters
(Cronofy's limit for an event summary; participant names can be long too).
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Mapping

from creneau.errors import ValidationFailed

__all__ = [
    "DEFAULT_TEMPLATE",
    "MAX_TEMPLATE_LENGTH",
    "MAX_TITLE_LENGTH",
    "PLACEHOLDERS",
    "check_template",
    "render_title",
]

PLACEHOLDERS = ("study", "session", "first_name", "name")
DEFAULT_TEMPLATE = "{study} — {first_name}"
MAX_TEMPLATE_LENGTH = 300  # the column's size
MAX_TITLE_LENGTH = 1024  # Cronofy: an event's summary holds at most 1,024 characters
_NAMES_SHOWN = 5  # unknown placeholders named in the message
_NAME_SHOWN_LENGTH = 40

# One token: a doubled brace, a {placeholder} (no brace inside), or a brace on its own.
_TOKEN = re.compile(r"\{\{|\}\}|\{([^{}]*)\}|[{}]")


def _unknown_and_stray(template: str) -> tuple[list[str], bool]:
    unknown: list[str] = []
    stray = False
    for match in _TOKEN.finditer(template):
        if match.group(0) in ("{{", "}}"):
            continue
        name = match.group(1)
        if name is None:
            stray = True
        elif name not in PLACEHOLDERS and name not in unknown:
            unknown.append(name)
    return unknown, stray


def check_template(template: str) -> str:
    """The template as it is stored (surrounding blanks removed; empty: the default one).

    :raises ValidationFailed: on ``event_title`` — too long, control characters, a placeholder other than
        the four (named in ``params["names"]``), or a brace that is neither doubled nor around a placeholder.
    """
    title = template.strip() or DEFAULT_TEMPLATE
    if len(title) > MAX_TEMPLATE_LENGTH:
        raise ValidationFailed(
            "the title may be at most %(max)s characters long",
            field="event_title",
            params={"max": MAX_TEMPLATE_LENGTH},
        )
    if any(unicodedata.category(c) in ("Cc", "Cf", "Zl", "Zp") for c in title):
        raise ValidationFailed(
            "the title may not contain line breaks or control characters", field="event_title"
        )
    unknown, stray = _unknown_and_stray(title)
    if unknown:
        shown = [
            "{" + (n if len(n) <= _NAME_SHOWN_LENGTH else n[:_NAME_SHOWN_LENGTH] + "…") + "}"
            for n in unknown[:_NAMES_SHOWN]
        ]
        if len(unknown) > _NAMES_SHOWN:
            shown.append("…")
        raise ValidationFailed(
            "unknown placeholder in the title: %(names)s; the title may use {study}, {session}, "
            "{first_name} and {name} only",
            field="event_title",
            params={"names": ", ".join(shown)},
        )
    if stray:
        raise ValidationFailed(
            "write a brace of the title twice ({{ or }}) unless it surrounds {study}, {session}, "
            "{first_name} or {name}",
            field="event_title",
        )
    return title


def render_title(template: str, values: Mapping[str, str]) -> str:
    """``template`` with its placeholders replaced by ``values`` (missing ones: empty), at most
    :data:`MAX_TITLE_LENGTH` characters. Never raises: what is not a placeholder stays as it is written."""

    def replace(match: re.Match[str]) -> str:
        text = match.group(0)
        if text in ("{{", "}}"):
            return text[0]
        name = match.group(1)
        if name in PLACEHOLDERS:
            return values.get(name, "")
        return text

    title = _TOKEN.sub(replace, template)
    if len(title) > MAX_TITLE_LENGTH:
        title = title[: MAX_TITLE_LENGTH - 1] + "…"
    return title
