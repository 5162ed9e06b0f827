"""The ASYCUDA adapter meets the adapter contract against the real simulator, over HTTP and hot folders."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from adapters.asycuda import AsycudaAdapter
from adapters.asycuda.hotfolder import file_name
from gateway.sdk import header_value
from gateway.sdk import Declaration
from gateway.sdk.contract import AdapterContract
from tests.adapters.asycuda.conftest import SimulatorControl, SimulatorProcess

CURRENCY = "FJD"  # the installation's national currency


class AsycudaContract(AdapterContract):
    def cannot_take_declaration(self) -> Declaration:
        """Goods valued in AUD: ASYCUDA World values every item in the national currency (adapters.asycuda.limits)."""
        return self.declaration(edit=lambda payload: payload.replace(
            f'CustomsValueAmount currencyID="{CURRENCY}"'.encode(), b'CustomsValueAmount currencyID="AUD"'))


class TestAsycudaHttpContract(AsycudaContract):
    TIMEOUT = 1.0

    @pytest.fixture
    async def national(self, simulator: SimulatorProcess) -> AsyncIterator[SimulatorControl]:
        # ASYCUDA knows a key as it travelled in the Idempotency-Key header (percent-encoded when not ASCII).
        handle = SimulatorControl(simulator.url, key_of=header_value)
        yield handle
        await handle.reset()

    @pytest.fixture
    async def adapter(self, simulator: SimulatorProcess, national: SimulatorControl) -> AsyncIterator[AsycudaAdapter]:
        adapter = AsycudaAdapter(self.MEMBER, {"url": simulator.url, "timeout": self.TIMEOUT,
                                              "currency": CURRENCY})
        yield adapter
        await adapter.aclose()


class TestAsycudaHotFolderContract(AsycudaContract):
    TIMEOUT = 1.0

    @pytest.fixture
    async def national(self, simulator: SimulatorProcess) -> AsyncIterator[SimulatorControl]:
        # In a hot folder ASYCUDA knows a declaration by its file name, derived from the idempotency key.
        handle = SimulatorControl(simulator.url, key_of=file_name)
        yield handle
        await handle.reset()

    @pytest.fixture
    async def adapter(self, simulator: SimulatorProcess, national: SimulatorControl) -> AsyncIterator[AsycudaAdapter]:
        assert simulator.hotfolder is not None
        folders = {"inbox": str(simulator.hotfolder / "inbox"), "outbox": str(simulator.hotfolder / "outbox"),
                   "poll_interval": 0.05}
        adapter = AsycudaAdapter(self.MEMBER, {"mode": "hotfolder", "timeout": self.TIMEOUT, "hotfolder": folders,
                                              "currency": CURRENCY})
        yield adapter
        await adapter.aclose()
