"""Sign in and out, CSRF, the sign-in rate limit, languages — through the pages, as a browser would."""

from __future__ import annotations

from fastapi.testclient import TestClient

from creneau.config import Settings
from creneau.store.models import Researcher
from tests.conftest import RESEARCHER_PASSWORD
from tests.web.conftest import csrf_of, seen, sign_in


def test_signed_out_pages_lead_to_sign_in(client: TestClient) -> None:
    response = client.get("/settings/integrations", follow_redirects=False)
    assert response.status_code == 303
    assert response.headers["location"] == "/login?next=%2Fsettings%2Fintegrations"
    page = client.get("/")
    assert page.url.path == "/login" and "Se connecter" in seen(page)


def test_sign_in_and_out(client: TestClient, researcher: Researcher) -> None:
    token = sign_in(client, researcher.email)
    page = client.get("/settings/integrations")
    assert researcher.email in seen(page) and "Paramètres" in seen(page) and "Intégrations" in seen(page)
    out = client.post("/logout", data={"csrf_token": token})
    assert out.url.path == "/login" and "Vous êtes déconnecté·e." in seen(out)
    assert client.get("/settings/integrations").url.path == "/login"


def test_sign_in_goes_back_where_asked_but_never_off_site(client: TestClient, researcher: Researcher) -> None:
    for target, expected in [
        ("/settings/api-tokens", "/settings/api-tokens"),
        ("https://evil.example/", "/studies"),
        ("//evil.example/", "/studies"),
        ("/\\evil.example", "/studies"),
    ]:
        client.cookies.clear()
        token = csrf_of(client.get("/login").text)
        data = {
            "email": researcher.email,
            "password": RESEARCHER_PASSWORD,
            "csrf_token": token,
            "next": target,
        }
        response = client.post("/login", data=data, follow_redirects=False)
        assert response.headers["location"] == expected, target


def test_wrong_password_says_so_without_telling_which(client: TestClient, researcher: Researcher) -> None:
    token = csrf_of(client.get("/login").text)
    for email in (researcher.email, "nobody@example.org"):
        page = client.post("/login", data={"email": email, "password": "nope", "csrf_token": token})
        assert page.status_code == 422
        assert "E-mail ou mot de passe incorrect." in seen(page)
        assert f'value="{email}"' in seen(page) and 'value="nope"' not in seen(page)


def test_post_without_csrf_token_is_refused(client: TestClient, researcher: Researcher) -> None:
    client.get("/login")
    page = client.post("/login", data={"email": researcher.email, "password": RESEARCHER_PASSWORD})
    assert page.status_code == 403 and "Ce formulaire a expiré" in seen(page)
    page = client.post(
        "/login", data={"email": researcher.email, "password": RESEARCHER_PASSWORD, "csrf_token": "forged"}
    )
    assert page.status_code == 403
    token = sign_in(client, researcher.email)
    for path in ("/logout", "/settings/integrations/delete-all", "/settings/api-tokens", "/language"):
        assert client.post(path, data={"confirmed": "yes"}).status_code == 403, path
    assert client.get("/settings/integrations").status_code == 200  # still signed in: logout was refused
    assert client.post("/logout", data={"csrf_token": token}).url.path == "/login"


def test_csrf_token_changes_when_signing_in(client: TestClient, researcher: Researcher) -> None:
    before = csrf_of(client.get("/login").text)
    after = sign_in(client, researcher.email)
    assert before != after


def test_sign_in_is_rate_limited(client: TestClient, settings: Settings, researcher: Researcher) -> None:
    token = csrf_of(client.get("/login").text)
    for _ in range(settings.login_max_attempts):
        page = client.post(
            "/login", data={"email": researcher.email, "password": "wrong", "csrf_token": token}
        )
        assert page.status_code == 422
    page = client.post(
        "/login", data={"email": researcher.email, "password": RESEARCHER_PASSWORD, "csrf_token": token}
    )
    assert page.status_code == 429
    assert 0 < int(page.headers["retry-after"]) <= settings.login_window_seconds
    assert "Trop de tentatives de connexion échouées. Réessayez dans 5 minutes." in seen(page)


def test_language_from_accept_language_then_switch(client: TestClient) -> None:
    page = client.get("/login", headers={"Accept-Language": "en-GB,en;q=0.9,fr;q=0.5"})
    assert '<html lang="en">' in seen(page) and "Sign in" in seen(page)
    page = client.get("/login", headers={"Accept-Language": "de-DE, fr;q=0.4"})
    assert '<html lang="fr">' in seen(page) and "Se connecter" in seen(page)
    page = client.get("/login", headers={"Accept-Language": "de"})
    assert '<html lang="fr">' in seen(page)  # settings.default_locale
    token = csrf_of(page.text)
    page = client.post("/language", data={"lang": "en", "next": "/login", "csrf_token": token})
    assert page.url.path == "/login" and '<html lang="en">' in seen(page)
    assert "Sign in" in seen(client.get("/login", headers={"Accept-Language": "fr"}))  # the switch wins


def test_security_headers(client: TestClient) -> None:
    response = client.get("/login")
    assert "default-src 'self'" in response.headers["content-security-policy"]
    assert response.headers["x-frame-options"] == "DENY"
    assert response.headers["cache-control"] == "no-store"
    cookie = response.headers["set-cookie"].lower()
    assert "httponly" in cookie and "samesite=lax" in cookie and "secure" not in cookie


def test_unknown_page_is_a_translated_404(client: TestClient) -> None:
    page = client.get("/nowhere", headers={"Accept-Language": "en"})
    assert page.status_code == 404 and "Not found" in seen(page)
