"""Server-rendered pages: the Jinja2 environment, one ``render`` helper, and flash messages.

Templates use ``_()`` / ``{% trans %}`` (Jinja2's i18n extension, new-style: ``_("%(n)d events", n=3)``); the
catalogue in force is the one of the request being rendered, held in a context variable while rendering so
that concurrent requests in other languages never see it.
"""

from __future__ import annotations

from collections.abc import Mapping
from contextvars import ContextVar
from pathlib import Path
from typing import Any

from jinja2 import Environment, FileSystemLoader, StrictUndefined, select_autoescape
from starlette.requests import Request
from starlette.responses import HTMLResponse

from creneau.calendars.oauth import oauth_apps
from creneau.config import Settings
from creneau.web.csrf import csrf_token
from creneau.web.i18n import LOCALES, Catalogs, Translator, zone

TEMPLATES_DIR = Path(__file__).parent / "templates"
FLASH_KEY = "flash"

_current: ContextVar[Translator] = ContextVar("creneau_translator")


def _gettext(message: str) -> str:
    return _current.get().translations.gettext(message)


def _ngettext(singular: str, plural: str, num: int) -> str:
    return _current.get().translations.ngettext(singular, plural, num)


class Pages:
    """What rendering needs, built once per app: templates, catalogues, settings."""

    def __init__(self, *, settings: Settings, catalogs: Catalogs) -> None:
        self.settings = settings
        self.catalogs = catalogs
        self.env = Environment(
            loader=FileSystemLoader(TEMPLATES_DIR),
            autoescape=select_autoescape(default=True, default_for_string=True),
            extensions=["jinja2.ext.i18n"],
            undefined=StrictUndefined,
            trim_blocks=True,
            lstrip_blocks=True,
        )
        self.env.install_gettext_callables(  # type: ignore[attr-defined]
            _gettext, _ngettext, newstyle=True
        )
        # The "Connect Google / Office 365 / Outlook.com" buttons shown, in this order, where configured.
        apps = oauth_apps(settings)
        self.env.globals["oauth_connectors"] = [c for c in ("google", "office365", "outlook") if c in apps]

    def render_template(self, name: str, context: Mapping[str, Any], t: Translator) -> str:
        token = _current.set(t)
        try:
            return self.env.get_template(name).render(context)
        finally:
            _current.reset(token)


def pages_of(request: Request) -> Pages:
    pages: Pages = request.app.state.pages
    return pages


def translator_for(request: Request) -> Translator:
    """The request's language, in the signed-in researcher's time zone when there is one."""
    pages = pages_of(request)
    researcher = getattr(request.state, "researcher", None)
    tz_name = getattr(researcher, "timezone", None) or pages.settings.default_timezone
    return pages.catalogs.for_request(request, zone(tz_name, pages.settings.default_timezone))


def flash(request: Request, message: str, *, kind: str = "success", **params: object) -> None:
    """Show ``message`` (an English message id, translated when shown) on the next rendered page."""
    pending = list(request.session.get(FLASH_KEY, []))
    pending.append({"kind": kind, "message": message, "params": params})
    request.session[FLASH_KEY] = pending[-5:]


def _pop_flashes(request: Request, t: Translator) -> list[dict[str, str]]:
    if "session" not in request.scope:  # a 500 page, rendered outside the session middleware
        return []
    pending = request.session.pop(FLASH_KEY, None) or []
    shown = []
    for item in pending:
        params = item.get("params") or {}
        shown.append(
            {"kind": str(item.get("kind", "success")), "text": t.translate(item["message"], **params)}
        )
    return shown


def local_path(candidate: str | None, default: str = "/") -> str:
    """``candidate`` when it is a path on this site, else ``default`` (no open redirects)."""
    if candidate and candidate.startswith("/") and not candidate.startswith("//") and "\\" not in candidate:
        return candidate
    return default


def render(
    request: Request,
    name: str,
    *,
    status_code: int = 200,
    headers: Mapping[str, str] | None = None,
    **context: Any,
) -> HTMLResponse:
    t = translator_for(request)
    # Where the language switch comes back to: this page, unless it answers a POST (not reloadable).
    here = request.url.path + (f"?{request.url.query}" if request.url.query else "")
    if request.method != "GET":
        here = "/"
    base: dict[str, Any] = {
        "request": request,
        "t": t,
        "lang": t.locale,
        "languages": LOCALES,
        "csrf_token": csrf_token(request) if "session" in request.scope else "",
        "researcher": getattr(request.state, "researcher", None),
        "flashes": _pop_flashes(request, t),
        "here": here,
    }
    html = pages_of(request).render_template(name, {**base, **context}, t)
    return HTMLResponse(html, status_code=status_code, headers=dict(headers or {}))
