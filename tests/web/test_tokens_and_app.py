"""Settings > API tokens (a token is shown once and works on the API until revoked), and how the app gets its
session secret."""

from __future__ import annotations

import re
import threading
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from creneau.config import Settings
from creneau.errors import ConfigurationError
from creneau.runtime import Runtime, session_secret
from creneau.web.app import create_app
from tests.web.conftest import csrf_of, seen


def test_create_use_and_revoke_an_api_token(client: TestClient, signed_in: str) -> None:
    page = client.post("/settings/api-tokens", data={"csrf_token": signed_in, "label": "booking script"})
    match = re.search(r'<code class="token" id="new-token">(crn_[\w-]+)</code>', page.text)
    assert match, page.text
    token = match.group(1)
    assert "Copiez-le maintenant" in seen(page) and "booking script" in seen(page)
    assert token not in client.get("/settings/api-tokens").text  # shown once
    assert token not in str(client.cookies.get("creneau_session"))
    api = TestClient(client.app)  # another program: no cookie, only the token
    auth = {"Authorization": f"Bearer {token}"}
    assert api.get("/api/v1/accounts", headers=auth).status_code == 200
    token_id = re.search(r'action="/settings/api-tokens/(\d+)/delete"', page.text).group(1)  # type: ignore[union-attr]
    page = client.post(f"/settings/api-tokens/{token_id}/delete", data={"csrf_token": csrf_of(page.text)})
    assert "Le jeton d'API est révoqué." in seen(page)
    assert api.get("/api/v1/accounts", headers=auth).status_code == 401


def test_development_generates_a_session_key_once(tmp_path: Path) -> None:
    settings = Settings(environment="development", var_dir=tmp_path / "var", session_secret="")
    first = session_secret(settings)
    assert len(first) >= 32 and session_secret(settings) == first
    key_file = tmp_path / "var" / "dev-session.key"
    assert key_file.stat().st_mode & 0o077 == 0  # readable by its owner only


def test_outside_development_a_session_secret_is_required(tmp_path: Path) -> None:
    settings = Settings(environment="production", var_dir=tmp_path, session_secret="", secret_keys="k")
    with pytest.raises(ConfigurationError):
        session_secret(settings)
    assert not (tmp_path / "dev-session.key").exists()


def test_the_workers_started_with_the_app_stop_with_it_even_if_the_setting_changed(runtime: Runtime) -> None:
    before = set(threading.enumerate())
    runtime.settings.run_background_jobs = True
    with TestClient(create_app(runtime)):
        workers = [t for t in set(threading.enumerate()) - before if t.name.startswith("creneau-")]
        assert workers and all(t.is_alive() for t in workers)
        runtime.settings.run_background_jobs = False  # as a test (or an operator's code) may do meanwhile
    assert [t.name for t in workers if t.is_alive()] == []  # none left syncing after the app is gone
