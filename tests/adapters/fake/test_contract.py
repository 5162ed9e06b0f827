"""The shipped FakeAdapter meets the adapter contract, so core tests can rely on it."""

from __future__ import annotations

import pytest

from gateway.sdk import Declaration
from gateway.sdk.contract import AdapterContract
from gateway.sdk.testing import FakeAdapter, FakeNationalSystem


class TestFakeAdapterContract(AdapterContract):
    TIMEOUT = 0.3

    @pytest.fixture
    def adapter(self) -> FakeAdapter:
        return FakeAdapter(self.MEMBER, {"timeout": self.TIMEOUT, "max_items": 5})

    def cannot_take_declaration(self) -> Declaration:
        """One goods item more than the fake system's max_items."""
        return self.declaration(items=6)

    @pytest.fixture
    def national(self, adapter: FakeAdapter) -> FakeNationalSystem:
        return FakeNationalSystem(adapter)
