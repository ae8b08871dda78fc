"""The access log never holds an OAuth authorization code or a participant link's token: the app served by a
real uvicorn on loopback, its access-log output captured as uvicorn formats it."""

from __future__ import annotations

import io
import logging
import time
from collections.abc import Iterator

import httpx
import pytest
from uvicorn.logging import AccessFormatter

from creneau.runtime import Runtime
from creneau.serving import serve_in_thread
from creneau.store.models import Researcher
from creneau.web.app import create_app
from creneau.web.logredact import redact_target
from tests.conftest import RESEARCHER_PASSWORD
from tests.web.conftest import csrf_of

CODE = "4/0AeanSECRETCODEvalue"
BOOK_TOKEN = "bookTOKENsecret123"
LINK_TOKEN = "linkTOKENsecret456"


@pytest.fixture
def served(runtime: Runtime) -> Iterator[tuple[httpx.Client, io.StringIO]]:
    running = serve_in_thread(create_app(runtime), name="creneau-web-log", log_level="info")
    output = io.StringIO()
    handler = logging.StreamHandler(output)
    handler.setFormatter(
        AccessFormatter('%(client_addr)s - "%(request_line)s" %(status_code)s', use_colors=False)
    )
    logger = logging.getLogger("uvicorn.access")
    logger.addHandler(handler)
    try:
        with httpx.Client(base_url=running.url, follow_redirects=True) as http:
            yield http, output
    finally:
        logger.removeHandler(handler)
        running.stop()


def _logged(output: io.StringIO, needle: str) -> str:
    deadline = time.monotonic() + 5
    while needle not in output.getvalue():
        assert time.monotonic() < deadline, f"{needle!r} never logged:\n{output.getvalue()}"
        time.sleep(0.01)
    return output.getvalue()


def test_access_log_has_no_codes_nor_link_tokens(
    served: tuple[httpx.Client, io.StringIO], researcher: Researcher
) -> None:
    http, output = served
    # Signed out: sent to sign in (the code is not carried into the sign-in page's address either).
    first = http.get(f"/oauth/callback?code={CODE}&state=abc&scope=calendar")
    assert first.url.path == "/login" and CODE not in str(first.url)
    token = csrf_of(http.get("/login").text)
    data = {"email": researcher.email, "password": RESEARCHER_PASSWORD, "csrf_token": token}
    assert http.post("/login", data=data).url.path == "/studies"
    http.get(f"/oauth/callback?code={CODE}&state=forged")
    http.get(f"/book/{BOOK_TOKEN}")
    http.get(f"/book/{BOOK_TOKEN}/slots.json?tz=Europe/Paris")
    http.get(f"/booking/{LINK_TOKEN}/cancel")
    http.get(f"/b%6Fok/{BOOK_TOKEN}")  # the same route, %-encoded
    http.get("/studies", headers={"X-Forwarded-For": "203.0.113.99"})  # no proxy is trusted here
    log = _logged(output, '"GET /studies HTTP/1.1" 200')
    assert '"GET /oauth/callback?[redacted] HTTP/1.1" 303' in log
    assert '"GET /book/[redacted] HTTP/1.1"' in log and "/book/[redacted]/slots.json?tz=Europe/Paris" in log
    assert '"GET /booking/[redacted]/cancel HTTP/1.1"' in log
    for secret in (CODE, BOOK_TOKEN, LINK_TOKEN, "203.0.113.99"):
        assert secret not in log, secret
    assert log.count("127.0.0.1:") >= 8  # the peer that connected, whatever the header says


def test_redact_target_for_the_other_logs() -> None:
    # What web/errors.py writes when it logs a failed request's path.
    assert redact_target(f"/booking/{LINK_TOKEN}/reschedule") == "/booking/[redacted]/reschedule"
    assert redact_target(f"/login?next=/oauth/callback%3Fcode%3D{CODE}") == (
        "/login?next=%2Foauth%2Fcallback%3F%5Bredacted%5D"
    )
    assert redact_target("/a%22b%0Ac") == "/a%22b%0Ac"  # decoded for matching, never written decoded
