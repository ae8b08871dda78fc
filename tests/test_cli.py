"""The command line, run as a user would (through click's runner, in this process)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from click.testing import CliRunner
from cryptography.fernet import Fernet
from pydantic import SecretStr
from sqlalchemy import select

from creneau.calendars.secrets import Vault
from creneau.cli import main
from creneau.config import Settings, get_settings
from creneau.runtime import Runtime
from creneau.store.models import CalendarAccount, Researcher
from tests.calendars.test_sync import PASSWORD, connect, ics
from tests.servers import RunningServer, start_radicale


@pytest.fixture
def cli_env(settings: Settings, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    for name in ("environment", "database_url", "session_secret", "secret_keys"):
        value = getattr(settings, name)
        if isinstance(value, SecretStr):
            value = value.get_secret_value()
        monkeypatch.setenv(f"CRENEAU_{name.upper()}", str(value))
    monkeypatch.setenv("CRENEAU_VAR_DIR", str(settings.var_dir))
    monkeypatch.setenv("CRENEAU_ALLOWED_PRIVATE_NETWORKS", "127.0.0.0/8")
    get_settings.cache_clear()
    yield
    get_settings.cache_clear()


@pytest.fixture
def server(tmp_path: Path) -> Iterator[RunningServer]:
    with start_radicale(tmp_path / "radicale", {"alice": PASSWORD}) as radicale:
        radicale.make_calendar("alice", "work", display_name="Work")
        start = datetime.now(UTC).replace(minute=0, second=0, microsecond=0) + timedelta(days=1)
        for n in range(5):
            radicale.put_event("alice", "work", f"e{n}.ics", ics(f"e{n}", start + timedelta(days=n)))
        yield radicale


def test_help_explains_the_commands() -> None:
    result = CliRunner().invoke(main, ["--help"])
    assert result.exit_code == 0
    for command in ("serve", "sync", "migrate", "demo", "create-researcher", "api-token", "generate-key"):
        assert command in result.output


def test_sync_command_syncs_every_account(
    cli_env: None, runtime: Runtime, researcher: Researcher, server: RunningServer
) -> None:
    connect(runtime, researcher, server)
    result = CliRunner().invoke(main, ["sync"])
    assert result.exit_code == 0, result.output
    assert "1 calendars, 5 downloaded" in result.output
    assert PASSWORD not in result.output


def test_sync_command_fails_when_an_account_fails(
    cli_env: None, runtime: Runtime, researcher: Researcher, server: RunningServer
) -> None:
    connect(runtime, researcher, server)
    server.stop()
    result = CliRunner().invoke(main, ["sync"])
    assert result.exit_code == 1
    assert "error" in result.output


def test_api_token_and_generate_key(cli_env: None, runtime: Runtime, researcher: Researcher) -> None:
    token = CliRunner().invoke(main, ["api-token", researcher.email])
    assert token.exit_code == 0 and len(token.output.strip()) > 20
    missing = CliRunner().invoke(main, ["api-token", "nobody@example.org"])
    assert missing.exit_code != 0 and "no researcher" in missing.output
    key = CliRunner().invoke(main, ["generate-key"])
    assert key.exit_code == 0 and len(key.output.strip()) == 44


def test_production_without_secrets_refuses_to_start(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CRENEAU_ENVIRONMENT", "production")
    monkeypatch.delenv("CRENEAU_SECRET_KEYS", raising=False)
    monkeypatch.delenv("CRENEAU_SESSION_SECRET", raising=False)
    get_settings.cache_clear()
    try:
        result = CliRunner().invoke(main, ["migrate"])
    finally:
        get_settings.cache_clear()
    assert result.exit_code != 0
    assert "CRENEAU_SESSION_SECRET" in result.output and "CRENEAU_SECRET_KEYS" in result.output


def test_rotate_keys_reencrypts_with_the_new_key(
    cli_env: None,
    runtime: Runtime,
    researcher: Researcher,
    server: RunningServer,
    settings: Settings,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    connect(runtime, researcher, server)
    new_key = Fernet.generate_key().decode()
    monkeypatch.setenv("CRENEAU_SECRET_KEYS", f"{new_key},{settings.secret_keys.get_secret_value()}")
    get_settings.cache_clear()
    result = CliRunner().invoke(main, ["rotate-keys"])
    assert result.exit_code == 0, result.output
    with runtime.ctx.sessions() as session:
        stored = session.scalars(select(CalendarAccount.credentials)).one()
    assert Vault([new_key]).decrypt(stored) == PASSWORD  # the old key is no longer needed
