"""The provider contract against a real Radicale, with sync-collection and with the ctag/etag fallback."""

from __future__ import annotations

import pytest

from tests.providers.conftest import CalDAVHarness
from tests.providers.contract import ProviderContract


class TestRadicale(ProviderContract):
    @pytest.fixture
    def harness(self, radicale_harness: CalDAVHarness) -> CalDAVHarness:
        return radicale_harness


class TestRadicaleCtagFallback(ProviderContract):
    """The whole contract again, as for a server without sync-collection (PROPFIND getctag + etag listing)."""

    @pytest.fixture
    def harness(self, radicale_harness: CalDAVHarness) -> CalDAVHarness:
        radicale_harness.defaults["use_sync_collection"] = False
        return radicale_harness
