"""The provider registry (lazy, cached, strict about names) and each provider's options from settings."""

from __future__ import annotations

import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from creneau.calendars import providers
from creneau.calendars.context import EngineContext, network_policy
from creneau.calendars.providers.base import CalendarProvider, Connection
from creneau.calendars.providers.caldav import CalDAVProvider
from creneau.calendars.providers.ews import ExchangeProvider
from creneau.calendars.providers.google import GoogleProvider
from creneau.calendars.providers.ics import IcsProvider
from creneau.calendars.providers.msgraph import MicrosoftGraphProvider
from creneau.config import Settings
from creneau.runtime import Runtime

TOKENS = '{"access_token": "t", "refresh_token": "r", "expires_at": null}'


def test_every_kind_loads_its_class_once() -> None:
    expected = {
        "caldav": CalDAVProvider,
        "exchange": ExchangeProvider,
        "icloud": CalDAVProvider,
        "google": GoogleProvider,
        "ics": IcsProvider,
        "msgraph": MicrosoftGraphProvider,
    }
    assert providers.kinds() == sorted(expected)
    for kind, cls in expected.items():
        assert providers.load(kind) is cls
        assert providers.load(kind) is providers.load(kind)


@pytest.mark.parametrize("kind", ["", "ews", "Google", "caldav ", "creneau.calendars.providers.caldav"])
def test_an_unknown_kind_is_refused_naming_the_known_ones(kind: str) -> None:
    with pytest.raises(providers.UnknownProvider) as caught:
        providers.load(kind)
    assert repr(kind) in str(caught.value)
    assert "caldav, exchange, google, icloud, ics, msgraph" in str(caught.value)


def test_webhook_paths_go_to_the_provider_that_declared_them() -> None:
    assert providers.kind_of_webhook("google") == "google"
    assert providers.kind_of_webhook("microsoft") == "msgraph"
    assert providers.kind_of_webhook("microsoft/lifecycle") == "msgraph"
    for path in ("", "caldav", "microsoft/other", "../google"):
        with pytest.raises(providers.UnknownProvider, match="/webhooks/"):
            providers.kind_of_webhook(path)


def test_a_provider_is_imported_only_when_its_kind_is_used() -> None:
    """A deployment without Google never imports Google's code, not even to route webhooks."""
    src = Path(providers.__file__).parents[3]
    code = (
        "import sys\n"
        "from creneau.calendars import providers, push\n"
        "providers.load('caldav'); providers.kind_of_webhook('microsoft'); push.has_push('caldav')\n"
        "print(sorted(m for m in sys.modules if m.startswith('creneau.calendars.providers.')))\n"
    )
    found = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, env={"PYTHONPATH": str(src)}, check=True
    )
    assert "caldav" in found.stdout
    assert "google" not in found.stdout and "msgraph" not in found.stdout


def _built(ctx: EngineContext, kind: str, secret: str) -> CalendarProvider:
    connection = Connection(
        server_url="https://calendar.example.org/", username="me@example.org", secret=secret
    )
    return providers.load(kind).from_settings(
        connection, policy=network_policy(ctx.settings), settings=ctx.settings
    )


def test_each_provider_reads_its_own_settings(runtime: Runtime, settings: Settings) -> None:
    settings.sync_days_back, settings.sync_days_ahead, settings.multiget_chunk_size = 10, 30, 7
    settings.google_channel_ttl_seconds, settings.microsoft_subscription_minutes = 3600, 600
    ctx = runtime.ctx
    caldav = _built(ctx, "caldav", "password")
    google = _built(ctx, "google", TOKENS)
    graph = _built(ctx, "msgraph", TOKENS)
    try:
        assert isinstance(caldav, CalDAVProvider) and caldav.capabilities.push is False
        assert isinstance(google, GoogleProvider) and google.channel_lifetime() == timedelta(hours=1)
        assert isinstance(graph, MicrosoftGraphProvider) and graph.channel_lifetime() == timedelta(
            minutes=600
        )
        # Graph's calendarView delta covers the engine's window; Google's listing starts where it does.
        assert google._past_days == 10 and caldav._chunk_size == 7
        assert graph.window() == ctx.sync_window()
        assert ctx.sync_window().start == datetime.now(UTC).replace(
            hour=0, minute=0, second=0, microsecond=0
        ) - timedelta(days=10)
    finally:
        for provider in (caldav, google, graph):
            provider.close()
