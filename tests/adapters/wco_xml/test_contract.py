"""The wco-xml adapter meets the adapter contract against the real simulator process, over HTTP."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest

from adapters.wco_xml import WcoXmlAdapter
from gateway.sdk import Declaration, header_value
from gateway.sdk.contract import AdapterContract
from gateway.sdk.simclient import SimulatorControl
from tests.adapters.wco_xml.conftest import MEMBER


class WireKeys:
    """The simulator's control, asked about keys as they travelled: the single window knows a key by its
    ``Idempotency-Key`` header, percent-encoded when it is not ASCII (an LRN may hold any text)."""

    def __init__(self, control: SimulatorControl) -> None:
        self._control = control

    def __getattr__(self, name: str) -> Any:
        return getattr(self._control, name)

    async def registrations(self, key: str) -> int:
        return await self._control.registrations(header_value(key))


class TestWcoXmlAdapterContract(AdapterContract):
    MEMBER = MEMBER
    TIMEOUT = 1.0

    @pytest.fixture
    async def national(self, wco_control: SimulatorControl) -> WireKeys:
        return WireKeys(wco_control)

    @pytest.fixture
    async def adapter(self, wco_simulator: str) -> AsyncIterator[WcoXmlAdapter]:
        adapter = WcoXmlAdapter(self.MEMBER, {"url": wco_simulator, "timeout": self.TIMEOUT, "max_items": 50})
        try:
            yield adapter
        finally:
            await adapter.aclose()

    def cannot_take_declaration(self) -> Declaration:
        """One goods item more than the single window takes (max_items)."""
        return self.declaration(items=51)
