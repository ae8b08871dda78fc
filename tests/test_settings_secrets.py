"""Secret settings never show: not in repr/str/JSON of the settings, not in a traceback that has the settings
in its locals, not in a log line; and every reader still gets the real value."""

from __future__ import annotations

import logging
import traceback
from pathlib import Path

import pytest
from cryptography.fernet import Fernet
from pydantic import SecretStr

from creneau.calendars.oauth.apps import oauth_apps
from creneau.calendars.secrets import vault_from_settings
from creneau.config import Settings
from creneau.errors import ConfigurationError
from creneau.runtime import session_secret
from creneau.scheduling.context import mail_settings

SESSION = "session-secret-known-to-the-test-" + "s" * 16
KEY = Fernet.generate_key().decode()
GOOGLE = "google-client-secret-known-to-the-test"
MICROSOFT = "microsoft-client-secret-known-to-the-test"
LEGACY = "legacy-google-client-secret-known-to-the-test"
SMTP = "smtp-password-known-to-the-test"
DATABASE_PASSWORD = "database-password-known-to-the-test"
SECRETS = (SESSION, KEY, GOOGLE, MICROSOFT, LEGACY, SMTP, DATABASE_PASSWORD)


def _settings(tmp_path: Path) -> Settings:
    return Settings(
        environment="production",
        var_dir=tmp_path,
        database_url=f"postgresql+psycopg://creneau:{DATABASE_PASSWORD}@db.example.org/creneau",
        session_secret=SESSION,
        secret_keys=KEY,
        google_client_id="google-id",
        google_client_secret=GOOGLE,
        legacy_google_client_id="legacy-id",
        legacy_google_client_secret=LEGACY,
        microsoft_client_id="microsoft-id",
        microsoft_client_secret=MICROSOFT,
        smtp_host="smtp.example.org",
        smtp_username="creneau",
        smtp_password=SMTP,
    )


def _shows_none(text: str) -> None:
    for secret in SECRETS:
        assert secret not in text


def test_repr_str_and_json_of_the_settings_show_no_secret(tmp_path: Path) -> None:
    settings = _settings(tmp_path)
    _shows_none(repr(settings))
    _shows_none(str(settings))
    _shows_none(settings.model_dump_json())
    _shows_none(repr(settings.model_dump()))
    assert "**********" in repr(settings)


def test_a_traceback_with_the_settings_in_its_locals_shows_no_secret(tmp_path: Path) -> None:
    def fails(settings: Settings) -> None:
        raise RuntimeError(f"could not start with {settings}")

    settings = _settings(tmp_path)
    with pytest.raises(RuntimeError) as caught:
        fails(settings)
    shown = "".join(traceback.TracebackException.from_exception(caught.value, capture_locals=True).format())
    assert "settings = " in shown  # the locals are there, masked
    _shows_none(shown)


def test_a_logged_exception_with_the_settings_shows_no_secret(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    settings = _settings(tmp_path)
    log = logging.getLogger("creneau.tests.secrets")
    caplog.set_level(logging.DEBUG)
    try:
        raise ConfigurationError(f"bad settings: {settings!r}")
    except ConfigurationError:
        log.exception("start failed with %s and %r", settings, settings)
    log.info("apps: %r, mail: %r", oauth_apps(settings), mail_settings(settings))
    assert "start failed" in caplog.text and "apps:" in caplog.text
    _shows_none(caplog.text)


def test_every_reader_gets_the_real_values(tmp_path: Path) -> None:
    settings = _settings(tmp_path)
    settings.check_production()  # both secrets are there, and the session's is long enough
    assert session_secret(settings) == SESSION
    vault = vault_from_settings(settings)
    assert Fernet(KEY.encode()).decrypt(vault.encrypt("x")) == b"x"  # the configured key encrypts
    apps = oauth_apps(settings)
    assert apps["google"].client_secret == GOOGLE and apps["google_legacy"].client_secret == LEGACY
    assert apps["office365"].client_secret == MICROSOFT and apps["outlook"].client_secret == MICROSOFT
    mail = mail_settings(settings)
    assert mail is not None and mail.password == SMTP
    assert DATABASE_PASSWORD in settings.effective_database_url


def test_secrets_from_the_environment_and_assigned_later_are_secret_too(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("CRENEAU_SESSION_SECRET", SESSION)
    monkeypatch.setenv("CRENEAU_SMTP_PASSWORD", SMTP)
    settings = Settings(var_dir=tmp_path, _env_file=None)
    assert settings.session_secret.get_secret_value() == SESSION
    settings.google_client_secret = GOOGLE  # type: ignore[assignment]  # as the demo and tests do
    assert isinstance(settings.google_client_secret, SecretStr)
    assert settings.google_client_secret.get_secret_value() == GOOGLE
    _shows_none(repr(settings))


def test_production_still_refuses_missing_or_short_secrets(tmp_path: Path) -> None:
    with pytest.raises(ConfigurationError, match="CRENEAU_SESSION_SECRET, CRENEAU_SECRET_KEYS"):
        Settings(environment="production", var_dir=tmp_path, _env_file=None).check_production()
    short = Settings(environment="production", var_dir=tmp_path, session_secret="short", secret_keys=KEY)
    with pytest.raises(ConfigurationError, match="at least 32 characters"):
        short.check_production()
    Settings(environment="development", var_dir=tmp_path).check_production()
