"""The shipped FakeAdapter meets the adapter contract, so core tests can rely on it."""

from __future__ import annotations

import pytest

from gateway.sdk.contract import AdapterContract
from gateway.sdk.testing import FakeAdapter, FakeNationalSystem


class TestFakeAdapterContract(AdapterContract):
    TIMEOUT = 0.3

    @pytest.fixture
    def adapter(self) -> FakeAdapter:
        return FakeAdapter(self.MEMBER, {"timeout": self.TIMEOUT})

    @pytest.fixture
    def national(self, adapter: FakeAdapter) -> FakeNationalSystem:
        return FakeNationalSystem(adapter)
