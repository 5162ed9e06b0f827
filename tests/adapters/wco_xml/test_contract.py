"""The wco-xml adapter meets the adapter contract against the real simulator process, over HTTP."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from adapters.wco_xml import WcoXmlAdapter
from adapters.wco_xml.simulator import SimulatorControl
from gateway.adapter_contract import AdapterContract
from tests.adapters.wco_xml.conftest import MEMBER


class TestWcoXmlAdapterContract(AdapterContract):
    MEMBER = MEMBER
    TIMEOUT = 1.0

    @pytest.fixture
    async def national(self, wco_control: SimulatorControl) -> SimulatorControl:
        return wco_control

    @pytest.fixture
    async def adapter(self, wco_simulator: str) -> AsyncIterator[WcoXmlAdapter]:
        adapter = WcoXmlAdapter(self.MEMBER, {"url": wco_simulator, "timeout": self.TIMEOUT})
        try:
            yield adapter
        finally:
            await adapter.aclose()
