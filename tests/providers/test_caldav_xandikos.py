"""The provider contract against a real Xandikos (multi-user WSGI app behind our Basic-auth middleware)."""

from __future__ import annotations

import pytest

from tests.providers.conftest import CalDAVHarness
from tests.providers.contract import ProviderContract


class TestXandikos(ProviderContract):
    @pytest.fixture
    def harness(self, xandikos_harness: CalDAVHarness) -> CalDAVHarness:
        return xandikos_harness
