"""Request parameters every route reads the same way.

- ``DbId``: the type of every ``{..._id}`` path parameter. An id the database cannot hold (above
  PostgreSQL's ``INTEGER``, 0 or negative) names no object: the request is answered 404 (see
  ``web/errors.py``) before any query, instead of a driver error. ``tests/web/test_bad_input.py`` checks
  from the routing table that every integer path parameter uses it.
- ``refuse_unstorable_text``: an application-wide dependency refusing NUL bytes and lone surrogates in the
  path (404), the query string, form fields and JSON strings (422 naming the field): PostgreSQL cannot
  store or even compare them, so without it any text field is a 500 there.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Annotated

from fastapi import Path, Request

from creneau.errors import NotFound, ValidationFailed
from creneau.validation import unstorable

__all__ = ["MAX_DB_ID", "DbId", "refuse_unstorable_text"]

MAX_DB_ID = 2**31 - 1  # PostgreSQL INTEGER, the type of every primary key

DbId = Annotated[int, Path(ge=1, le=MAX_DB_ID, description="An object's id")]

UNSTORABLE = "this text contains a character that cannot be stored"


def _bad_strings(value: object, where: str) -> Iterator[str]:
    """The names (dotted paths) of the JSON values under ``where`` that are unstorable strings."""
    if isinstance(value, str):
        if unstorable(value):
            yield where
    elif isinstance(value, dict):
        for key, item in value.items():
            name = str(key)
            if unstorable(name):
                yield name
            yield from _bad_strings(item, name if not where else f"{where}.{name}")
    elif isinstance(value, list):
        for index, item in enumerate(value):
            yield from _bad_strings(item, f"{where}.{index}" if where else str(index))


async def refuse_unstorable_text(request: Request) -> None:
    """:raises NotFound: for such a path. :raises ValidationFailed: naming the query, form or JSON field."""
    if unstorable(request.url.path):
        raise NotFound("no such page")
    for key, value in request.query_params.multi_items():
        if unstorable(key) or unstorable(value):
            raise ValidationFailed(UNSTORABLE, field=key if not unstorable(key) else None)
    content_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if content_type in ("application/x-www-form-urlencoded", "multipart/form-data"):
        if request._form is None:  # not parsed yet: keep the raw body too, for a route that reads it
            await request.body()
        form = await request.form()  # parsed once: the route reads the same, cached, form
        for key, item in form.multi_items():
            if unstorable(key) or (isinstance(item, str) and unstorable(item)):
                raise ValidationFailed(UNSTORABLE, field=key if not unstorable(key) else None)
    elif content_type == "application/json" or content_type.endswith("+json"):
        try:
            body = json.loads(await request.body())
        except (ValueError, UnicodeDecodeError):
            return  # malformed JSON is answered by the route's own validation (400)
        for field in _bad_strings(body, ""):
            raise ValidationFailed(UNSTORABLE, field=field or None)
