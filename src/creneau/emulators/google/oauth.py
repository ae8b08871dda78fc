"""Google's OAuth 2.0 endpoints, emulated: consent page, token (authorization code with PKCE, refresh),
revoke, and OpenID userinfo.

==========================  =====================================================================
``GET  /o/oauth2/v2/auth``   consent page: pick one of the emulator's users or type an e-mail (a new
                             user is created), then Allow / Deny → 302 to ``redirect_uri``
``POST /o/oauth2/v2/auth``   the page's form
``POST /token``              ``authorization_code`` (PKCE S256 or plain verified) and ``refresh_token``
``POST /revoke``             ``token=`` an access or refresh token
``GET  /oauth2/v3/userinfo`` ``{"sub", "email", "email_verified", "name"}`` for a Bearer token
==========================  =====================================================================

Clients must be registered (``state.add_client``); a client with no redirect URIs accepts any.
"""

from __future__ import annotations

import base64
import hashlib
import html
from typing import Any
from urllib.parse import urlencode

from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, RedirectResponse, Response
from starlette.routing import Route

from creneau.emulators.google.accounts import OAuthError
from creneau.emulators.google.state import GoogleState

_FIELDS = (
    "client_id",
    "redirect_uri",
    "response_type",
    "scope",
    "state",
    "code_challenge",
    "code_challenge_method",
    "access_type",
    "prompt",
    "login_hint",
)


def _state(request: Request) -> GoogleState:
    state: GoogleState = request.app.state.google
    return state


def _with_query(url: str, params: dict[str, str]) -> str:
    return url + ("&" if "?" in url else "?") + urlencode(params)


def _error_page(code: str, text: str, status: int = 400) -> HTMLResponse:
    return HTMLResponse(
        f"<!doctype html><title>Error {status}: {html.escape(code)}</title>"
        f"<h1>Error {status}: {html.escape(code)}</h1><p>{html.escape(text)}</p>",
        status_code=status,
    )


def _check_request(state: GoogleState, params: dict[str, str]) -> HTMLResponse | None:
    client = state.accounts.client(params.get("client_id", ""))
    if client is None:
        return _error_page("invalid_client", "The OAuth client was not found.", 401)
    redirect = params.get("redirect_uri", "")
    if not redirect or (client.redirect_uris and redirect not in client.redirect_uris):
        return _error_page("redirect_uri_mismatch", "The redirect URI is not registered for this client.")
    if params.get("response_type") != "code":
        return _error_page("unsupported_response_type", "Only response_type=code is supported.")
    if params.get("code_challenge_method", "plain") not in ("S256", "plain"):
        return _error_page("invalid_request", "Unknown code_challenge_method.")
    return None


async def authorize_page(request: Request) -> Response:
    state = _state(request)
    params = {k: v for k, v in request.query_params.items() if k in _FIELDS}
    refused = _check_request(state, params)
    if refused is not None:
        return refused
    hidden = "".join(f'<input type="hidden" name="{k}" value="{html.escape(v)}">' for k, v in params.items())
    hint = params.get("login_hint", "")
    with state.lock:
        emails = sorted(state.accounts.users)
    choices = "".join(
        f'<li><label><input type="radio" name="account" value="{html.escape(e)}"'
        f"{' checked' if e == hint else ''}> {html.escape(e)}</label></li>"
        for e in emails
    )
    page = f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Sign in - Google Accounts (emulator)</title></head>
<body><h1>Choose an account</h1>
<p>to continue to <strong>{html.escape(params.get("client_id", ""))}</strong></p>
<p>It asks for: <code>{html.escape(params.get("scope", ""))}</code></p>
<form method="post" action="/o/oauth2/v2/auth">{hidden}
<ul>{choices}</ul>
<p><label>Or another e-mail address: <input type="email" name="new_email" value=""></label></p>
<p><button type="submit" name="decision" value="allow" id="allow">Allow</button>
<button type="submit" name="decision" value="deny" id="deny">Deny</button></p>
</form></body></html>"""
    return HTMLResponse(page)


async def authorize_decide(request: Request) -> Response:
    state = _state(request)
    form = await request.form()
    params = {k: str(form[k]) for k in _FIELDS if k in form}
    refused = _check_request(state, params)
    if refused is not None:
        return refused
    redirect = params["redirect_uri"]
    back = {"state": params["state"]} if "state" in params else {}
    if form.get("decision") != "allow":
        return RedirectResponse(_with_query(redirect, {"error": "access_denied", **back}), status_code=302)
    email = str(form.get("new_email") or form.get("account") or "").strip().lower()
    if "@" not in email:
        return _error_page("invalid_request", "Choose an account or type an e-mail address.")
    state.add_user(email)
    challenge = params.get("code_challenge")
    code = state.accounts.grant(
        email=email,
        client_id=params["client_id"],
        redirect_uri=redirect,
        scope=params.get("scope", ""),
        challenge=challenge,
        method=params.get("code_challenge_method", "plain"),
    )
    answer = {"code": code, "scope": params.get("scope", ""), **back}
    return RedirectResponse(_with_query(redirect, answer), status_code=302)


def _client_credentials(request: Request, form: Any) -> tuple[str, str | None]:
    header = request.headers.get("authorization", "")
    if header.lower().startswith("basic "):
        try:
            user, _, secret = base64.b64decode(header[6:]).decode().partition(":")
        except (ValueError, UnicodeDecodeError):
            raise OAuthError("invalid_client", "Unauthorized", 401) from None
        return user, secret
    secret = form.get("client_secret")
    return str(form.get("client_id", "")), str(secret) if secret is not None else None


def _oauth_error(exc: OAuthError) -> JSONResponse:
    return JSONResponse(
        {"error": exc.code, "error_description": exc.description},
        status_code=exc.status,
        headers={"Cache-Control": "no-store"},
    )


async def token(request: Request) -> Response:
    state = _state(request)
    form = await request.form()
    try:
        client_id, secret = _client_credentials(request, form)
        grant_type = form.get("grant_type")
        if grant_type == "authorization_code":
            verifier = form.get("code_verifier")
            tokens = state.accounts.exchange_code(
                code=str(form.get("code", "")),
                client_id=client_id,
                client_secret=secret,
                redirect_uri=str(form.get("redirect_uri", "")),
                verifier=str(verifier) if verifier is not None else None,
            )
        elif grant_type == "refresh_token":
            tokens = state.accounts.refresh(
                refresh_token=str(form.get("refresh_token", "")), client_id=client_id, client_secret=secret
            )
        else:
            raise OAuthError("unsupported_grant_type", f"Invalid grant_type: {grant_type}")
    except OAuthError as exc:
        return _oauth_error(exc)
    body: dict[str, Any] = {
        "access_token": tokens.access_token,
        "expires_in": state.accounts.access_lifetime,
        "scope": tokens.scope,
        "token_type": "Bearer",
    }
    if grant_type == "authorization_code":
        body["refresh_token"] = tokens.refresh_token  # Google sends it only on the first exchange
    return JSONResponse(body, headers={"Cache-Control": "no-store", "Pragma": "no-cache"})


async def revoke(request: Request) -> Response:
    form = await request.form()
    value = str(form.get("token") or request.query_params.get("token") or "")
    if not _state(request).revoke(value):
        return _oauth_error(OAuthError("invalid_token", "Token expired or revoked"))
    return JSONResponse({})


async def userinfo(request: Request) -> Response:
    scheme, _, value = request.headers.get("authorization", "").partition(" ")
    user = _state(request).accounts.user_for(value.strip()) if scheme.lower() == "bearer" else None
    if user is None:
        return JSONResponse({"error": "invalid_request", "error_description": "Invalid Credentials"}, 401)
    sub = str(int(hashlib.sha256(user.email.encode()).hexdigest()[:15], 16))
    return JSONResponse(
        {"sub": sub, "email": user.email, "email_verified": True, "name": user.name or user.email}
    )


def routes() -> list[Route]:
    return [
        Route("/o/oauth2/v2/auth", authorize_page, methods=["GET"]),
        Route("/o/oauth2/v2/auth", authorize_decide, methods=["POST"]),
        Route("/token", token, methods=["POST"]),
        Route("/revoke", revoke, methods=["POST"]),
        Route("/oauth2/v3/userinfo", userinfo, methods=["GET"]),
    ]
