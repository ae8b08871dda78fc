"""The sign-in rate limit keeps attackers out without locking the owner out, and cannot be dodged with
``X-Forwarded-For``: forwarded headers count only from ``CRENEAU_TRUSTED_PROXIES``. The proxy cases run the
app in a real uvicorn on loopback, as ``creneau serve`` starts it."""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager

import httpx
from fastapi import FastAPI
from fastapi.testclient import TestClient

from creneau.config import Settings
from creneau.runtime import Runtime
from creneau.serving import serve_in_thread
from creneau.store.models import Researcher
from creneau.web.app import SESSION_COOKIE, create_app
from creneau.web.clientaddr import client_address, trusted_networks
from tests.conftest import RESEARCHER_PASSWORD
from tests.web.conftest import csrf_of, seen, sign_in


def _from(app: FastAPI, ip: str) -> TestClient:
    return TestClient(app, follow_redirects=True, client=(ip, 40000))


def _try(client: TestClient | httpx.Client, email: str, password: str, **headers: str) -> httpx.Response:
    token = csrf_of(client.get("/login", headers=headers).text)
    data = {"email": email, "password": password, "csrf_token": token}
    return client.post("/login", data=data, headers=headers)


def test_the_owner_still_signs_in_from_elsewhere_while_an_attacker_hammers(
    client: TestClient, app: FastAPI, settings: Settings, researcher: Researcher
) -> None:
    attacker = _from(app, "203.0.113.9")
    answers = [_try(attacker, researcher.email, f"guess {n}").status_code for n in range(12)]
    assert answers[: settings.login_max_attempts] == [422] * settings.login_max_attempts
    assert set(answers[settings.login_max_attempts :]) == {429}
    # Even the right password is refused from the attacker's place...
    assert _try(attacker, researcher.email, RESEARCHER_PASSWORD).status_code == 429
    # ...not from the owner's.
    owner = _from(app, "198.51.100.4")
    sign_in(owner, researcher.email)
    # And the attacker trying other addresses from there gets the same answer only up to the per-IP ceiling.
    assert _try(attacker, "someone.else@example.org", "guess").status_code == 422


def test_the_wait_is_written_out_in_minutes_or_seconds(
    client: TestClient, app: FastAPI, settings: Settings, researcher: Researcher
) -> None:
    attacker = _from(app, "203.0.113.10")
    for n in range(settings.login_max_attempts):
        _try(attacker, researcher.email, f"guess {n}")
    page = _try(attacker, researcher.email, "again")
    assert page.status_code == 429 and 0 < int(page.headers["retry-after"]) <= settings.login_window_seconds
    assert "Trop de tentatives de connexion échouées. Réessayez dans 5 minutes." in seen(page)

    settings.login_window_seconds = 45
    other = _from(app, "203.0.113.11")
    for n in range(settings.login_max_attempts):
        _try(other, researcher.email, f"guess {n}")
    page = _try(other, researcher.email, "again", **{"Accept-Language": "en"})
    assert page.status_code == 429
    assert re.search(r"Too many failed sign-ins\. Try again in (4\d) seconds\.", seen(page)), seen(page)


def test_per_email_ceiling_stops_guesses_from_many_places(
    client: TestClient, app: FastAPI, settings: Settings, researcher: Researcher
) -> None:
    settings.login_max_attempts_per_email = 6
    for n in range(settings.login_max_attempts_per_email):
        assert _try(_from(app, f"192.0.2.{n + 1}"), researcher.email, "guess").status_code == 422
    assert _try(_from(app, "192.0.2.100"), researcher.email, RESEARCHER_PASSWORD).status_code == 429


@contextmanager
def _served(runtime: Runtime) -> Iterator[httpx.Client]:
    running = serve_in_thread(create_app(runtime), name="creneau-web-test")
    try:
        with httpx.Client(base_url=running.url, follow_redirects=True) as http:
            yield http
    finally:
        running.stop()


def _login(http: httpx.Client, researcher: Researcher, headers: dict[str, str]) -> httpx.Response:
    """Sign in with the right password; the answer itself (a redirect setting the session cookie)."""
    token = csrf_of(http.get("/login", headers=headers).text)
    data = {"email": researcher.email, "password": RESEARCHER_PASSWORD, "csrf_token": token}
    signed = http.post("/login", data=data, headers=headers, follow_redirects=False)
    assert signed.status_code == 303 and signed.headers["location"] == "/studies", signed.text
    return signed


def test_forwarded_for_from_an_untrusted_peer_is_ignored(
    runtime: Runtime, settings: Settings, researcher: Researcher
) -> None:
    settings.login_max_attempts_per_ip = 5
    with _served(runtime) as http:
        # Credential stuffing: a new address each try, and a new forwarded-for each try.
        for n in range(settings.login_max_attempts_per_ip):
            answer = _try(http, f"victim{n}@example.org", "guess", **{"X-Forwarded-For": f"198.51.100.{n}"})
            assert answer.status_code == 422
        answer = _try(http, researcher.email, RESEARCHER_PASSWORD, **{"X-Forwarded-For": "198.51.100.200"})
        assert answer.status_code == 429  # all from 127.0.0.1, whatever the header says

    settings.login_max_attempts_per_ip = 50
    with _served(runtime) as http:
        signed = _login(http, researcher, {"X-Forwarded-For": "203.0.113.50", "X-Forwarded-Proto": "https"})
        assert "secure" not in signed.headers["set-cookie"].lower()  # plain HTTP, whatever the header says
        text = seen(http.get("/settings/security"))
        assert "127.0.0.1" in text and "203.0.113.50" not in text


def test_forwarded_for_from_a_trusted_proxy_is_honoured(
    runtime: Runtime, settings: Settings, researcher: Researcher
) -> None:
    settings.trusted_proxies = ["127.0.0.0/8"]
    with _served(runtime) as http:
        attacker = {"X-Forwarded-For": "203.0.113.66"}
        answers = [_try(http, researcher.email, f"guess {n}", **attacker).status_code for n in range(7)]
        assert answers[-1] == 429
        # The owner behind the same proxy, from elsewhere; the client wrote a fake first hop itself.
        owner = {"X-Forwarded-For": "6.6.6.6, 198.51.100.20", "X-Forwarded-Proto": "https"}
        signed = _login(http, researcher, owner)
        assert "secure" in signed.headers["set-cookie"].lower()  # HTTPS as the trusted proxy says
        # (httpx keeps a Secure cookie off plain HTTP: sent by hand, as the proxy would over its HTTPS.)
        cookie = f"{SESSION_COOKIE}={signed.cookies[SESSION_COOKIE]}"
        text = seen(http.get("/settings/security", headers={**owner, "Cookie": cookie}))
        assert "198.51.100.20" in text and "6.6.6.6" not in text and "203.0.113.66" not in text


def test_client_address_reads_the_chain_of_trusted_proxies_only() -> None:
    trusted = trusted_networks(["10.0.0.0/8", "192.0.2.1"])
    xff = [(b"x-forwarded-for", b"1.1.1.1, 198.51.100.7, 10.1.1.1"), (b"x-forwarded-proto", b"https")]
    assert client_address("10.0.0.2", "http", xff, trusted) == ("198.51.100.7", "https")
    assert client_address("198.51.100.9", "http", xff, trusted) == ("198.51.100.9", "http")
    assert client_address("192.0.2.1", "http", [(b"x-forwarded-for", b"junk, 10.2.2.2")], trusted) == (
        "10.2.2.2",
        "http",
    )
    assert client_address("10.0.0.2", "http", xff, ()) == ("10.0.0.2", "http")
