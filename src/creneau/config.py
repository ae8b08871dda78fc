"""Settings, read once from the environment (prefix ``CRENEAU_``) or a ``.env`` file.

Every setting is documented in ``docs/configuration.md``. Outside ``development`` the app refuses to start
without a secret key for sessions and one for credentials at rest (see :func:`Settings.check_production`).
"""

from __future__ import annotations

import ipaddress
from datetime import date
from functools import lru_cache
from pathlib import Path
from typing import Annotated, Literal

from pydantic import Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from creneau.errors import ConfigurationError


class Settings(BaseSettings):
    # validate_assignment: a secret assigned later (tests, the demo's cloud settings) is a SecretStr too.
    model_config = SettingsConfigDict(
        env_prefix="CRENEAU_", env_file=".env", extra="ignore", validate_assignment=True
    )

    environment: Literal["development", "test", "production"] = "development"
    var_dir: Path = Path("var")
    database_url: SecretStr = SecretStr("")  # empty: SQLite file var/creneau.sqlite3; may hold a password
    # PostgreSQL connections per process: web requests, sync workers and booking bursts share them.
    database_pool_size: int = Field(default=10, ge=1, le=200)
    database_max_overflow: int = Field(default=30, ge=0, le=500)

    # Secrets. session_secret signs the session cookie; secret_keys encrypt credentials at rest
    # (Fernet keys, comma-separated, the first one encrypts, all of them decrypt: rotation). Every secret is a
    # SecretStr: repr(), str(), model_dump_json(), tracebacks and logs show "**********"; readers call
    # .get_secret_value().
    session_secret: SecretStr = SecretStr("")
    secret_keys: SecretStr = SecretStr("")

    base_url: str = "http://127.0.0.1:8000"
    # Seconds an idle HTTP connection stays open (`creneau serve`): longer than a reverse proxy keeps its
    # connections to us (nginx: 60 s), so the proxy never sends on a connection we are closing.
    keep_alive_seconds: int = Field(default=75, ge=1, le=3600)
    default_locale: Literal["fr", "en"] = "fr"
    default_timezone: str = "Europe/Paris"

    # Sync window, like Cronofy's.
    sync_days_back: int = Field(default=42, ge=0, le=3650)
    sync_days_ahead: int = Field(default=201, ge=1, le=3650)
    sync_interval_seconds: int = Field(default=300, ge=10)
    sync_retry_base_seconds: float = Field(default=30.0, gt=0)
    sync_retry_max_seconds: float = Field(default=3600.0, gt=0)
    multiget_chunk_size: int = Field(default=250, ge=1, le=1000)
    # CalDAV: list every calendar's etags again this often (0: never), to drop what a server forgot to report
    caldav_verify_hours: float = Field(default=24.0, ge=0, le=24 * 365)
    http_timeout_seconds: float = Field(default=20.0, gt=0)
    # The largest ICS feed read (bytes, after decompression): a bigger one is an account error.
    ics_max_bytes: int = Field(default=10 * 1024 * 1024, ge=1024)
    run_background_jobs: bool = True

    icloud_caldav_url: str = "https://caldav.icloud.com"
    # Networks a user-typed server URL may resolve into although they are private (e.g. "127.0.0.0/8").
    allowed_private_networks: Annotated[list[str], NoDecode] = Field(default_factory=list)
    # Exchange (EWS): a PEM bundle of the CAs that Exchange servers' certificates chain to (companies often
    # use an internal CA); unset: the public CAs. TLS verification is never turned off.
    ews_ca_bundle: str | None = None

    # Booking.
    live_check_timeout_seconds: float = Field(default=4.0, gt=0, le=60)  # live check at booking
    booking_page_sync_seconds: int = Field(default=60, ge=0)  # opening a booking page refreshes older syncs
    outbox_retry_base_seconds: float = Field(default=15.0, gt=0)  # calendar events and emails owed
    outbox_retry_max_seconds: float = Field(default=900.0, gt=0)
    jitsi_base_url: str = "https://meet.jit.si"
    # A Meet/Teams link comes with the calendar event; the confirmation email waits this long for it, then a
    # Jitsi link is used instead (and put in the event).
    native_link_wait_seconds: int = Field(default=120, ge=0, le=3600)

    # Email to participants (confirmation, reschedule, cancellation with an .ics). Empty host: no email.
    smtp_host: str = ""
    smtp_port: int = Field(default=25, ge=1, le=65535)
    smtp_username: str = ""
    smtp_password: SecretStr = SecretStr("")
    smtp_security: Literal["none", "starttls", "tls"] = "none"
    mail_sender: str = "creneau <creneau@localhost>"

    # OAuth accounts (docs/providers/google.md, msgraph.md). An empty client id hides that Connect button.
    # The URLs are Google's and Microsoft's; the demo and the tests point them at the local emulators.
    google_client_id: str = ""
    google_client_secret: SecretStr = SecretStr("")
    google_authorize_url: str = "https://accounts.google.com/o/oauth2/v2/auth"
    google_token_url: str = "https://oauth2.googleapis.com/token"  # noqa: S105 (a URL)
    google_revoke_url: str = "https://oauth2.googleapis.com/revoke"
    google_api_url: str = "https://www.googleapis.com/calendar/v3"
    microsoft_client_id: str = ""
    microsoft_client_secret: SecretStr = SecretStr("")
    microsoft_login_url: str = "https://login.microsoftonline.com"  # + /{tenant}/oauth2/v2.0/...
    microsoft_office365_tenant: str = "organizations"  # or "common", or one tenant's id
    microsoft_graph_url: str = "https://graph.microsoft.com/v1.0"
    oauth_refresh_margin_seconds: int = Field(default=300, ge=0, le=3000)  # refresh this long before expiry
    # The old Google integration (one calendar, its own OAuth app) while researchers move off it.
    legacy_google_client_id: str = ""  # empty: the new integration's client
    legacy_google_client_secret: SecretStr = SecretStr("")
    legacy_google_removal_date: date | None = None  # from this day the old connection is no longer used

    # Push notifications: creneau's public HTTPS address as Google and Microsoft reach it. Empty: poll.
    push_base_url: str = ""
    push_renew_before_seconds: int = Field(default=86400, ge=60)  # renew channels this long before expiry
    google_channel_ttl_seconds: int = Field(default=7 * 86400, ge=60)
    microsoft_subscription_minutes: int = Field(default=10080, ge=5, le=10080)
    push_safety_sync_seconds: int = Field(default=3600, ge=60)  # with push on, a full check anyway

    # Sign-in rate limit: failed sign-ins within the window, counted per (e-mail, client IP) first, so that
    # an attacker guessing from one place does not lock the owner out everywhere; then per e-mail address
    # (a much higher ceiling, against guessing from many places) and per client IP (guessing many addresses).
    login_max_attempts: int = Field(default=5, ge=1)
    login_max_attempts_per_email: int = Field(default=50, ge=1)
    login_max_attempts_per_ip: int = Field(default=50, ge=1)
    login_window_seconds: int = Field(default=300, ge=1)

    # Sessions of the pages (server-side records): ended after this long without a request, and at the
    # latest this long after signing in.
    session_idle_minutes: int = Field(default=720, ge=1, le=525600)
    session_max_days: int = Field(default=14, ge=1, le=365)
    # Reverse proxies (IPs or networks) whose X-Forwarded-For / X-Forwarded-Proto are believed, for rate
    # limiting, logs and secure cookies. Empty: the address that connected is the client's.
    trusted_proxies: Annotated[list[str], NoDecode] = Field(default_factory=list)

    @field_validator("allowed_private_networks", "trusted_proxies", mode="before")
    @classmethod
    def _split_networks(cls, value: object) -> object:
        if isinstance(value, str):
            return [part.strip() for part in value.split(",") if part.strip()]
        return value

    @field_validator("allowed_private_networks", "trusted_proxies")
    @classmethod
    def _check_networks(cls, value: list[str]) -> list[str]:
        for net in value:
            ipaddress.ip_network(net, strict=False)
        return value

    @property
    def is_development(self) -> bool:
        return self.environment == "development"

    @property
    def effective_database_url(self) -> str:
        if url := self.database_url.get_secret_value():
            return url
        return f"sqlite:///{(self.var_dir / 'creneau.sqlite3').resolve()}"

    def check_production(self) -> None:
        """:raises ConfigurationError: when a secret is missing outside development."""
        if self.is_development:
            return
        secrets = {"session_secret": self.session_secret, "secret_keys": self.secret_keys}
        missing = [name for name, value in secrets.items() if not value.get_secret_value()]
        if missing:
            names = ", ".join(f"CRENEAU_{n.upper()}" for n in missing)
            raise ConfigurationError(
                f"{names} must be set outside development (CRENEAU_ENVIRONMENT={self.environment}); "
                "see docs/configuration.md for how to generate them"
            )
        if len(self.session_secret.get_secret_value()) < 32:
            raise ConfigurationError("CRENEAU_SESSION_SECRET must be at least 32 characters long")


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    return Settings()
