"""The web application: HTML pages, the JSON API under ``/api/v1``, OpenAPI at ``/openapi.json`` and Swagger
UI at ``/docs`` (served from our own static files: no CDN)."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from pathlib import Path

import swagger_ui_bundle  # type: ignore[import-untyped]  # ships no py.typed
from fastapi import Depends, FastAPI
from fastapi.openapi.docs import get_swagger_ui_html
from fastapi.staticfiles import StaticFiles
from starlette.middleware.sessions import SessionMiddleware
from starlette.requests import Request
from starlette.responses import HTMLResponse, Response

import creneau
from creneau.runtime import Runtime, session_secret
from creneau.web import api, pages, webhooks
from creneau.web.clientaddr import TrustedClientMiddleware
from creneau.web.errors import install_handlers
from creneau.web.i18n import Catalogs, load_catalogs
from creneau.web.logredact import install_access_log_redaction
from creneau.web.params import refuse_unstorable_text
from creneau.web.render import Pages

log = logging.getLogger(__name__)

STATIC_DIR = Path(__file__).parent / "static"
SESSION_COOKIE = "creneau_session"
SWAGGER_PREFIX = "/static/swagger"

# Pages load nothing from elsewhere; Swagger UI needs its one inline script.
_CSP_PAGES = (
    "default-src 'self'; img-src 'self' data:; script-src 'self'; style-src 'self'; "
    "form-action 'self'; frame-ancestors 'none'; base-uri 'none'; object-src 'none'"
)
_CSP_DOCS = _CSP_PAGES.replace("script-src 'self'", "script-src 'self' 'unsafe-inline'").replace(
    "style-src 'self'", "style-src 'self' 'unsafe-inline'"
)


def create_app(runtime: Runtime) -> FastAPI:
    settings = runtime.settings

    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        install_access_log_redaction()  # again: the server may have configured its loggers since
        # Read once: the workers started here are stopped at shutdown even if the setting changed meanwhile.
        started = settings.run_background_jobs
        if started:
            runtime.jobs.start()
        try:
            yield
        finally:
            if started:
                runtime.jobs.stop()

    app = FastAPI(
        title="creneau",
        version=creneau.__version__,
        summary="Calendar sync and free/busy for user-research teams",
        docs_url=None,
        redoc_url=None,
        openapi_url="/openapi.json",
        lifespan=lifespan,
        dependencies=[Depends(refuse_unstorable_text)],  # no NUL byte reaches a query or a column
    )
    app.state.runtime = runtime
    app.state.pages = Pages(settings=settings, catalogs=Catalogs(load_catalogs(), settings.default_locale))
    install_access_log_redaction()
    # The signed cookie holds the CSRF token, flashes and the id of the server-side sign-in session
    # (web/deps.py); the session's lifetimes are the server's, the cookie's is only an upper bound.
    app.add_middleware(
        SessionMiddleware,
        secret_key=session_secret(settings),
        session_cookie=SESSION_COOKIE,
        max_age=settings.session_max_days * 24 * 3600,
        same_site="lax",
        https_only=settings.base_url.startswith("https://"),
    )
    app.middleware("http")(_security_headers)
    # Outermost: everything inside (sessions, rate limit, access log) sees the client as trusted.
    app.add_middleware(TrustedClientMiddleware, trusted_proxies=settings.trusted_proxies)
    app.mount(SWAGGER_PREFIX, StaticFiles(directory=swagger_ui_bundle.swagger_ui_path), name="swagger")
    app.mount("/static", StaticFiles(directory=STATIC_DIR), name="static")
    app.include_router(pages.router)
    app.include_router(api.router)
    app.include_router(webhooks.router)
    app.add_api_route("/docs", _swagger_ui, include_in_schema=False, response_class=HTMLResponse)
    install_handlers(app)
    return app


async def _swagger_ui(request: Request) -> HTMLResponse:
    return get_swagger_ui_html(
        openapi_url=request.app.openapi_url or "/openapi.json",
        title="creneau API",
        swagger_js_url=f"{SWAGGER_PREFIX}/swagger-ui-bundle.js",
        swagger_css_url=f"{SWAGGER_PREFIX}/swagger-ui.css",
        swagger_favicon_url=f"{SWAGGER_PREFIX}/favicon-32x32.png",
    )


async def _security_headers(
    request: Request, call_next: Callable[[Request], Awaitable[Response]]
) -> Response:
    response = await call_next(request)
    csp = _CSP_DOCS if request.url.path == "/docs" else _CSP_PAGES
    response.headers.setdefault("Content-Security-Policy", csp)
    response.headers.setdefault("X-Content-Type-Options", "nosniff")
    response.headers.setdefault("Referrer-Policy", "same-origin")
    response.headers.setdefault("X-Frame-Options", "DENY")
    if not request.url.path.startswith("/static/"):
        response.headers.setdefault("Cache-Control", "no-store")  # pages and API answers are personal
    return response
