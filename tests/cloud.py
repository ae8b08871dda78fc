"""The Google and Microsoft emulators for tests of the OAuth pages, push and native video links.

::

    google, graph = start_google(), start_graph()   # or the fixtures `google` and `graph` (tests/conftest.py)
    point_settings_at(settings, google, graph)  # OAuth apps + API URLs + (optionally) the push address
    location = consent(authorize_url, "ada@example.org")   # the consent page, "Allow" → our callback URL

``consent`` goes through the emulators' real consent pages (GET the page, post its form), so a test follows
the path a researcher's browser takes.
"""

from __future__ import annotations

import html
import re
from collections.abc import Iterator
from dataclasses import dataclass
from urllib.parse import urljoin, urlsplit

import httpx
from fastapi import FastAPI
from pydantic import SecretStr

from creneau.config import Settings
from creneau.emulators import google as google_emulator
from creneau.emulators import msgraph as graph_emulator
from creneau.serving import serve_in_thread
from tests.servers import free_port

CLIENT_ID = "creneau-test-client"
CLIENT_SECRET = "creneau-test-secret"
_HIDDEN = re.compile(r'<input type="hidden" name="([^"]+)" value="([^"]*)">')
_ACTION = re.compile(r'<form method="post"(?: action="([^"]*)")?')


def start_google() -> google_emulator.RunningEmulator:
    running = google_emulator.start()
    running.state.add_client(CLIENT_ID, CLIENT_SECRET)
    return running


def start_graph() -> graph_emulator.RunningEmulator:
    running = graph_emulator.start()
    running.state.clients[CLIENT_ID] = CLIENT_SECRET  # what POST /_emulator/clients does
    return running


def point_settings_at(
    settings: Settings, google: google_emulator.RunningEmulator, graph: graph_emulator.RunningEmulator
) -> Settings:
    """Both OAuth applications and APIs on the emulators (what ``make demo`` configures too)."""
    settings.google_client_id, settings.google_client_secret = CLIENT_ID, SecretStr(CLIENT_SECRET)
    settings.google_authorize_url = f"{google.url}/o/oauth2/v2/auth"
    settings.google_token_url = f"{google.url}/token"
    settings.google_revoke_url = f"{google.url}/revoke"
    settings.google_api_url = google.api_url
    settings.microsoft_client_id, settings.microsoft_client_secret = CLIENT_ID, SecretStr(CLIENT_SECRET)
    settings.microsoft_login_url = graph.url
    settings.microsoft_graph_url = graph.graph_url
    return settings


def consent(authorize_url: str, email: str, *, allow: bool = True) -> str:
    """Open the emulator's consent page at ``authorize_url``, pick (or create) ``email``, answer; returns
    the URL the provider redirects the browser to (our callback, with ``code`` and ``state``)."""
    with httpx.Client(timeout=10) as client:
        page = client.get(authorize_url)
        assert page.status_code == 200, page.text
        fields = {k: html.unescape(v) for k, v in _HIDDEN.findall(page.text)}
        action = _ACTION.search(page.text)
        target = urljoin(str(page.url), action.group(1)) if action and action.group(1) else str(page.url)
        target = target.split("?")[0]
        answer = client.post(
            target, data={**fields, "new_email": email, "decision": "allow" if allow else "deny"}
        )
    assert answer.status_code == 302, answer.text
    return answer.headers["location"]


def local(url: str) -> str:
    """``url`` without scheme and host: what a TestClient gets."""
    parts = urlsplit(url)
    return parts.path + (f"?{parts.query}" if parts.query else "")


@dataclass
class LiveApp:
    """The app served by uvicorn on a loopback port chosen before the runtime is built (so that
    ``settings.base_url`` and ``settings.push_base_url`` can name it)."""

    port: int

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @classmethod
    def reserve(cls) -> LiveApp:
        return cls(port=free_port())

    def serve(self, app: FastAPI) -> Iterator[str]:
        running = serve_in_thread(app, name="uvicorn-live", port=self.port)
        try:
            yield running.url
        finally:
            running.stop()
