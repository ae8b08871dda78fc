"""Sign-in sessions live on the server: signing out, a password change or "sign out everywhere" ends them,
and a copy of the old cookie is refused. Through the pages, with the real cookie and the real database."""

from __future__ import annotations

import hashlib
import json
from base64 import b64decode
from datetime import UTC, datetime, timedelta

from fastapi import FastAPI
from fastapi.testclient import TestClient
from itsdangerous import TimestampSigner
from sqlalchemy import select, update

from creneau.config import Settings
from creneau.runtime import Runtime
from creneau.store.models import Researcher, SignInSession
from creneau.web.app import SESSION_COOKIE
from tests.conftest import RESEARCHER_PASSWORD, make_researcher
from tests.web.conftest import csrf_of, seen, sign_in

PAGE = "/settings/integrations"
SECURITY = "/settings/security"


def _browser(app: FastAPI, user_agent: str, cookie: str | None = None) -> TestClient:
    browser = TestClient(app, follow_redirects=True, headers={"User-Agent": user_agent})
    if cookie is not None:
        browser.cookies.set(SESSION_COOKIE, cookie)
    return browser


def _cookie(client: TestClient) -> str:
    value = client.cookies.get(SESSION_COOKIE)
    assert isinstance(value, str) and value
    return value


def _signed_in(client: TestClient) -> bool:
    path: str = client.get(PAGE).url.path
    return path == PAGE


def _session_id(settings: Settings, cookie: str) -> str:
    payload = TimestampSigner(settings.session_secret.get_secret_value()).unsign(cookie.encode())
    sid = json.loads(b64decode(payload))["sid"]
    assert isinstance(sid, str)
    return sid


def _records(runtime: Runtime, researcher: Researcher) -> list[SignInSession]:
    with runtime.ctx.sessions() as session:
        return list(
            session.scalars(select(SignInSession).where(SignInSession.researcher_id == researcher.id))
        )


def test_a_cookie_copied_before_sign_out_is_refused(
    client: TestClient, app: FastAPI, researcher: Researcher
) -> None:
    token = sign_in(client, researcher.email)
    copied = _cookie(client)
    assert _signed_in(_browser(app, "thief", copied))  # the copy works while the session lives
    out = client.post("/logout", data={"csrf_token": token})
    assert out.url.path == "/login"
    replay = _browser(app, "thief", copied)
    page = replay.get(PAGE)
    assert page.url.path == "/login" and "Se connecter" in seen(page)
    assert replay.get("/api/v1/accounts").status_code == 401  # the API with the cookie: refused too


def test_only_a_digest_of_the_session_id_is_stored(
    client: TestClient, settings: Settings, runtime: Runtime, researcher: Researcher
) -> None:
    sign_in(client, researcher.email)
    sid = _session_id(settings, _cookie(client))
    (record,) = _records(runtime, researcher)
    assert record.id_sha256 == hashlib.sha256(sid.encode()).hexdigest()
    with runtime.db.connect() as conn:
        dump = " ".join(str(row) for row in conn.execute(select(SignInSession.__table__)))
    assert sid not in dump


def test_security_page_lists_sessions_and_signs_one_out(
    client: TestClient, app: FastAPI, researcher: Researcher
) -> None:
    laptop = _browser(app, "Firefox on the laptop")
    sign_in(laptop, researcher.email)
    phone = _browser(app, "Safari on the phone")
    sign_in(phone, researcher.email)
    page = laptop.get(SECURITY)
    text = seen(page)
    assert page.status_code == 200 and "Sécurité" in text and "Où vous êtes connecté·e" in text
    assert "Firefox on the laptop" in text and "Safari on the phone" in text
    assert text.count("Cette session") == 1 and text.index("Cette session") > text.index(
        "Firefox on the laptop"
    )
    assert "testclient" in text  # the IP address the session was seen from
    assert 'href="/settings/security"' in seen(laptop.get("/studies"))  # linked from the settings nav

    phone_cookie = _cookie(phone)
    phone_row = text.index("Safari on the phone")
    action = text[phone_row:].split('action="', 1)[1].split('"', 1)[0]
    assert action.startswith("/settings/security/sessions/") and action.endswith("/end")
    done = laptop.post(action, data={"csrf_token": csrf_of(page.text)})
    assert done.url.path == SECURITY and "Cette session est déconnectée." in seen(done)
    assert "Safari on the phone" not in seen(done)
    assert not _signed_in(phone) and not _signed_in(_browser(app, "thief", phone_cookie))
    assert _signed_in(laptop)


def test_nobody_else_can_sign_my_session_out(
    client: TestClient, app: FastAPI, runtime: Runtime, researcher: Researcher
) -> None:
    mine = _browser(app, "mine")
    sign_in(mine, researcher.email)
    (record,) = _records(runtime, researcher)
    make_researcher(runtime, "intruder@example.org")
    intruder = _browser(app, "intruder")
    token = sign_in(intruder, "intruder@example.org")
    for target in (record.id, 2**63, 0):
        answer = intruder.post(f"/settings/security/sessions/{target}/end", data={"csrf_token": token})
        assert answer.status_code == 404, target
    assert _signed_in(mine)


def test_password_change_ends_the_other_sessions_and_keeps_this_one(
    client: TestClient, app: FastAPI, researcher: Researcher
) -> None:
    here = _browser(app, "here")
    sign_in(here, researcher.email)
    before = _cookie(here)
    elsewhere = _browser(app, "elsewhere")
    sign_in(elsewhere, researcher.email)
    stolen = _cookie(elsewhere)
    page = here.get(SECURITY)
    changed = here.post(
        f"{SECURITY}/password",
        data={
            "csrf_token": csrf_of(page.text),
            "current_password": RESEARCHER_PASSWORD,
            "new_password": "a brand new passphrase",
            "new_password_again": "a brand new passphrase",
        },
    )
    assert changed.url.path == SECURITY
    assert "Votre mot de passe est modifié. Vos autres sessions sont déconnectées." in seen(changed)
    assert _signed_in(here) and _signed_in(_browser(app, "here again", before))  # this session stays
    assert not _signed_in(elsewhere) and not _signed_in(_browser(app, "thief", stolen))
    fresh = _browser(app, "fresh")
    login = csrf_of(fresh.get("/login").text)
    old = fresh.post(
        "/login", data={"email": researcher.email, "password": RESEARCHER_PASSWORD, "csrf_token": login}
    )
    assert old.status_code == 422
    sign_in(fresh, researcher.email, "a brand new passphrase")


def test_password_change_mistakes_are_shown_on_the_form(
    client: TestClient, signed_in: str, researcher: Researcher
) -> None:
    cases = [
        (
            "wrong current",
            "a brand new passphrase",
            "a brand new passphrase",
            "Le mot de passe actuel est incorrect.",
        ),
        (RESEARCHER_PASSWORD, "short", "short", "Le mot de passe doit comporter au moins 8 caractères."),
        (
            RESEARCHER_PASSWORD,
            "a brand new passphrase",
            "a different one",
            "Les deux nouveaux mots de passe diffèrent.",
        ),
    ]
    for current, new, again, message in cases:
        page = client.post(
            f"{SECURITY}/password",
            data={
                "csrf_token": signed_in,
                "current_password": current,
                "new_password": new,
                "new_password_again": again,
            },
        )
        assert page.status_code == 422 and message in seen(page), message
        assert 'aria-invalid="true"' in page.text and current not in page.text
    english = client.post(
        f"{SECURITY}/password",
        data={
            "csrf_token": signed_in,
            "current_password": "nope",
            "new_password": "x" * 9,
            "new_password_again": "x" * 9,
        },
        headers={"Accept-Language": "en"},
    )
    assert "The current password is wrong." in seen(english)
    sign_in(TestClient(client.app), researcher.email)  # the password did not change


def test_sign_out_everywhere(client: TestClient, app: FastAPI, researcher: Researcher) -> None:
    here = _browser(app, "here")
    sign_in(here, researcher.email)
    here_cookie = _cookie(here)
    elsewhere = _browser(app, "elsewhere")
    sign_in(elsewhere, researcher.email)
    page = here.get(SECURITY)
    out = here.post(
        f"{SECURITY}/sign-out-everywhere", data={"csrf_token": csrf_of(page.text), "confirmed": "yes"}
    )
    assert out.url.path == "/login" and "Vous êtes déconnecté·e partout, sur cet appareil aussi." in seen(out)
    for browser in (here, elsewhere, _browser(app, "thief", here_cookie)):
        assert not _signed_in(browser)


def test_idle_and_absolute_lifetimes(
    client: TestClient, app: FastAPI, settings: Settings, runtime: Runtime, researcher: Researcher
) -> None:
    sign_in(client, researcher.email)
    cookie = _cookie(client)
    digest = hashlib.sha256(_session_id(settings, cookie).encode()).hexdigest()
    now = datetime.now(UTC)

    def stored(**values: datetime) -> None:
        with runtime.ctx.sessions() as session, session.begin():
            session.execute(update(SignInSession).where(SignInSession.id_sha256 == digest).values(**values))

    idle = timedelta(minutes=settings.session_idle_minutes)
    stored(last_seen_at=now - idle + timedelta(minutes=2))
    assert _signed_in(_browser(app, "a", cookie))  # idle, but not for long enough
    stored(last_seen_at=now - idle - timedelta(minutes=1))
    assert not _signed_in(_browser(app, "b", cookie))

    sign_in(client, researcher.email)
    cookie = _cookie(client)
    digest = hashlib.sha256(_session_id(settings, cookie).encode()).hexdigest()
    # Active all along (seen a minute ago), but signed in longer ago than the absolute lifetime.
    stored(created_at=now - timedelta(days=settings.session_max_days, minutes=1), last_seen_at=now)
    assert not _signed_in(_browser(app, "c", cookie))


def test_last_seen_is_written_at_most_once_a_minute(
    client: TestClient, settings: Settings, runtime: Runtime, researcher: Researcher
) -> None:
    sign_in(client, researcher.email)
    digest = hashlib.sha256(_session_id(settings, _cookie(client)).encode()).hexdigest()

    def last_seen() -> datetime:
        with runtime.ctx.sessions() as session:
            value = session.scalar(
                select(SignInSession.last_seen_at).where(SignInSession.id_sha256 == digest)
            )
        assert value is not None
        return value

    first = last_seen()
    for _ in range(3):
        assert _signed_in(client)
    assert last_seen() == first  # several requests within the minute: no write
    earlier = first - timedelta(minutes=2)
    with runtime.ctx.sessions() as session, session.begin():
        session.execute(
            update(SignInSession).where(SignInSession.id_sha256 == digest).values(last_seen_at=earlier)
        )
    assert _signed_in(client)
    assert last_seen() > earlier + timedelta(minutes=1)


def test_guessing_the_current_password_is_rate_limited(
    client: TestClient, signed_in: str, settings: Settings
) -> None:
    def attempt(current: str) -> tuple[int, str]:
        data = {
            "csrf_token": signed_in,
            "current_password": current,
            "new_password": "a brand new passphrase",
            "new_password_again": "a brand new passphrase",
        }
        page = client.post(f"{SECURITY}/password", data=data)
        return page.status_code, seen(page)

    for n in range(settings.login_max_attempts):
        assert attempt(f"guess {n}")[0] == 422
    status, text = attempt(RESEARCHER_PASSWORD)
    assert status == 429 and "Réessayez dans 5 minutes." in text
