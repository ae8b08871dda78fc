"""The Microsoft identity platform's v2.0 endpoints, enough for an authorization-code flow with PKCE.

``GET /{tenant}/oauth2/v2.0/authorize`` shows a consent page (choose one of the emulator's users of that
authority — ``organizations``: work/school, ``consumers``: personal, ``common`` or a tenant id: both — or type
an e-mail to create one) and redirects to ``redirect_uri`` with ``code`` and ``state``.
``POST /{tenant}/oauth2/v2.0/token`` redeems a code (the PKCE ``code_verifier`` is checked against the S256
challenge) or a refresh token. Errors are answered as Azure AD does (``invalid_grant`` + ``AADSTS`` codes).
Revocation has no OAuth endpoint at Microsoft; use the control API (``POST /_emulator/revoke``).
"""

from __future__ import annotations

import base64
import hashlib
import html
import json
import secrets
from datetime import timedelta
from urllib.parse import urlencode

from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, RedirectResponse, Response
from starlette.routing import Route

from creneau.emulators.msgraph.model import AccountKind, AuthCode, Grant, User
from creneau.emulators.msgraph.state import GraphState
from creneau.emulators.msgraph.web import state_of

CONSUMER_TENANT = "9188040d-6c67-4c5b-b112-36a304b66dad"
WORK_TENANT = "72f988bf-86f1-41af-91ab-2d7cd011db47"
_PERSONAL_DOMAINS = ("outlook.com", "hotmail.com", "live.com", "msn.com", "outlook.fr", "hotmail.fr")


def s256(verifier: str) -> str:
    return base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).decode().rstrip("=")


def _kinds(tenant: str) -> tuple[AccountKind, ...]:
    if tenant == "consumers":
        return ("personal",)
    if tenant == "organizations":
        return ("work",)
    return ("work", "personal")


def _error(error: str, description: str, code: int, status: int = 400) -> JSONResponse:
    return JSONResponse(
        {"error": error, "error_description": f"AADSTS{code}: {description}", "error_codes": [code]},
        status_code=status,
    )


def _page(tenant: str, params: dict[str, str], users: list[User]) -> str:
    hidden = "".join(
        f'<input type="hidden" name="{html.escape(k)}" value="{html.escape(v)}">' for k, v in params.items()
    )
    choices = "".join(
        f'<label><input type="radio" name="account" value="{html.escape(u.email)}"'
        f"{' checked' if i == 0 else ''}> {html.escape(u.display_name)} "
        f"&lt;{html.escape(u.email)}&gt;</label><br>"
        for i, u in enumerate(users)
    )
    return f"""<!doctype html><html lang="en"><head><meta charset="utf-8">
<title>Sign in to your account (Microsoft emulator)</title></head><body>
<h1>Microsoft identity platform — emulator ({html.escape(tenant)})</h1>
<p>The application <b>{html.escape(params.get("client_id", ""))}</b> asks for:
{html.escape(params.get("scope", ""))}</p>
<form method="post">{hidden}
<fieldset><legend>Pick an account</legend>{choices or "<p>No account yet.</p>"}
<label>Or use another account: <input type="email" name="new_email" placeholder="someone@example.org"></label>
</fieldset>
<button type="submit" name="decision" value="allow">Allow</button>
<button type="submit" name="decision" value="deny">Cancel</button>
</form></body></html>"""


async def authorize(request: Request) -> Response:
    state = state_of(request)
    tenant = request.path_params["tenant"]
    if request.method == "GET":
        params = dict(request.query_params)
        if (
            params.get("response_type") != "code"
            or not params.get("redirect_uri")
            or not params.get("client_id")
        ):
            return HTMLResponse(
                "<p>AADSTS900144: response_type=code, client_id and redirect_uri are required.</p>",
                status_code=400,
            )
        if params.get("code_challenge") and params.get("code_challenge_method", "plain") != "S256":
            return HTMLResponse(
                "<p>AADSTS501491: only S256 code challenges are accepted.</p>", status_code=400
            )
        with state.lock:
            users = [u for u in state.users.values() if u.kind in _kinds(tenant)]
        return HTMLResponse(_page(tenant, params, users))
    form = dict((await request.form()).items())
    fields = {k: str(v) for k, v in form.items()}
    redirect = fields.get("redirect_uri", "")
    answer = {"state": fields["state"]} if fields.get("state") else {}
    if fields.get("decision") != "allow":
        answer.update(error="access_denied", error_description="AADSTS65004: User declined to consent.")
        return RedirectResponse(f"{redirect}?{urlencode(answer)}", status_code=302)
    email = (fields.get("new_email") or fields.get("account") or "").strip()
    if "@" not in email:
        return HTMLResponse("<p>Choose an account or type an e-mail address.</p>", status_code=400)
    kind: AccountKind = "personal" if email.lower().endswith(_PERSONAL_DOMAINS) else "work"
    if len(_kinds(tenant)) == 1:
        kind = _kinds(tenant)[0]
    user = state.add_user(email, kind=kind)
    code = secrets.token_urlsafe(32)
    with state.lock:
        state.codes[code] = AuthCode(
            user_id=user.id,
            client_id=fields.get("client_id", ""),
            redirect_uri=redirect,
            scope=fields.get("scope", ""),
            challenge=fields.get("code_challenge") or None,
            method=fields.get("code_challenge_method") or None,
            expires_at=state.now() + timedelta(minutes=10),
        )
    answer["code"] = code
    return RedirectResponse(f"{redirect}?{urlencode(answer)}", status_code=302)


def _tokens(state: GraphState, user: User, client_id: str, scope: str) -> JSONResponse:
    with state.lock:
        access, refresh = secrets.token_urlsafe(32), secrets.token_urlsafe(40)
        state.access[access] = Grant(user.id, client_id, scope, state.now() + timedelta(hours=1))
        state.refresh[refresh] = Grant(user.id, client_id, scope)
    tenant = CONSUMER_TENANT if user.kind == "personal" else WORK_TENANT
    claims = {
        "aud": client_id,
        "iss": f"https://login.microsoftonline.com/{tenant}/v2.0",
        "tid": tenant,
        "oid": user.id,
        "sub": user.id,
        "name": user.display_name,
        "preferred_username": user.email,
        "email": user.email,
    }
    id_token = (
        ".".join(
            base64.urlsafe_b64encode(json.dumps(part).encode()).decode().rstrip("=")
            for part in ({"alg": "none", "typ": "JWT"}, claims)
        )
        + "."
    )
    return JSONResponse(
        {
            "token_type": "Bearer",
            "scope": scope,
            "expires_in": 3600,
            "ext_expires_in": 3600,
            "access_token": access,
            "refresh_token": refresh,
            "id_token": id_token,
        },
        headers={"Cache-Control": "no-store"},
    )


async def token(request: Request) -> Response:
    state = state_of(request)
    form = {k: str(v) for k, v in (await request.form()).items()}
    client_id = form.get("client_id", "")
    with state.lock:
        expected_secret = state.clients.get(client_id) if state.clients else None
        if state.clients and (
            client_id not in state.clients
            or (expected_secret and form.get("client_secret") != expected_secret)
        ):
            return _error("invalid_client", "Invalid client secret provided.", 7000215, status=401)
        grant_type = form.get("grant_type")
        if grant_type == "authorization_code":
            code = state.codes.pop(form.get("code", ""), None)
            if code is None or code.expires_at <= state.now():
                return _error(
                    "invalid_grant",
                    "The provided authorization code or refresh token has expired or was already redeemed.",
                    70008,
                )
            if code.client_id != client_id or code.redirect_uri != form.get("redirect_uri"):
                return _error(
                    "invalid_grant",
                    "The redirect URI or client does not match the authorization request.",
                    50148,
                )
            if code.challenge and s256(form.get("code_verifier", "")) != code.challenge:
                return _error(
                    "invalid_grant",
                    "The code_verifier does not match the code_challenge supplied "
                    "in the authorization request for PKCE.",
                    501481,
                )
            user, scope = state.users[code.user_id], code.scope
        elif grant_type == "refresh_token":
            grant = state.refresh.get(form.get("refresh_token", ""))
            if grant is None or grant.client_id != client_id:
                return _error("invalid_grant", "The refresh token has expired or been revoked.", 700082)
            user, scope = state.users[grant.user_id], form.get("scope") or grant.scope
        else:
            return _error("unsupported_grant_type", f"The grant type {grant_type!r} is not supported.", 70003)
    return _tokens(state, user, client_id, scope)


ROUTES = [
    Route("/{tenant}/oauth2/v2.0/authorize", authorize, methods=["GET", "POST"]),
    Route("/{tenant}/oauth2/v2.0/token", token, methods=["POST"]),
]
