"""Adapters with one guarantee removed, under the contract suite; not collected by the normal run.

``tests/adapters/test_contract_catches.py`` runs this module in a pytest subprocess and checks that the
contract fails exactly where each adapter is broken, and passes for the unbroken ones:

- ``TestWcoCorrect`` / ``TestFakeCorrect``: the wco-xml adapter (real HTTP, against its simulator process) and
  the FakeAdapter, unchanged;
- ``TestWcoNoTimeout`` / ``TestFakeNoTimeout``: the adapter's timeout removed (the wco-xml adapter's
  ``asyncio.timeout`` gone and its HTTP client told to wait forever; the fake waiting as long as the system);
- ``TestWcoNoDuplicateFlag`` / ``TestFakeNoDuplicateFlag``: ``NationalAnswer.duplicate`` never set.
"""

from __future__ import annotations

import contextlib
import dataclasses
import math
from collections.abc import AsyncIterator
from types import SimpleNamespace
from typing import Any

import httpx
import pytest

from adapters.wco_xml import adapter as wco
from gateway.sdk import Declaration, NationalAnswer
from gateway.sdk.testing import FakeAdapter
from tests.adapters.fake import test_contract as fake_contract  # modules, not classes: pytest would collect those
from tests.adapters.wco_xml import test_contract as wco_contract
from tests.adapters.wco_xml.conftest import wco_control, wco_simulator  # noqa: F401 - fixtures of the classes below

__all__ = ["TestFakeCorrect", "TestFakeNoDuplicateFlag", "TestFakeNoTimeout", "TestWcoCorrect",
           "TestWcoNoDuplicateFlag", "TestWcoNoTimeout"]


class _NoTimeoutWco(wco.WcoXmlAdapter):
    """The wco-xml adapter as if its author had left the timeout out."""

    def __init__(self, member: str, settings: Any) -> None:
        super().__init__(member, settings)
        self._client = httpx.AsyncClient(base_url=self.config.url, headers=self.config.all_headers(), timeout=None)

    async def deliver(self, declaration: Declaration) -> NationalAnswer:
        no_timeout = SimpleNamespace(timeout=lambda seconds: contextlib.nullcontext())
        with pytest.MonkeyPatch.context() as patch:
            patch.setattr(wco, "asyncio", no_timeout)  # the adapter module's asyncio only
            return await super().deliver(declaration)


class _NoDuplicateWco(wco.WcoXmlAdapter):
    """The wco-xml adapter as if it ignored the single window's ``Idempotent-Replayed``."""

    async def deliver(self, declaration: Declaration) -> NationalAnswer:
        return dataclasses.replace(await super().deliver(declaration), duplicate=False)


class _NoDuplicateFake(FakeAdapter):
    async def deliver(self, declaration: Declaration) -> NationalAnswer:
        return dataclasses.replace(await super().deliver(declaration), duplicate=False)


class TestWcoCorrect(wco_contract.TestWcoXmlAdapterContract):
    pass


class TestWcoNoTimeout(wco_contract.TestWcoXmlAdapterContract):
    @pytest.fixture
    async def adapter(self, wco_simulator: str) -> AsyncIterator[wco.WcoXmlAdapter]:  # noqa: F811
        adapter = _NoTimeoutWco(self.MEMBER, {"url": wco_simulator, "timeout": self.TIMEOUT})
        yield adapter
        await adapter.aclose()


class TestWcoNoDuplicateFlag(wco_contract.TestWcoXmlAdapterContract):
    @pytest.fixture
    async def adapter(self, wco_simulator: str) -> AsyncIterator[wco.WcoXmlAdapter]:  # noqa: F811
        adapter = _NoDuplicateWco(self.MEMBER, {"url": wco_simulator, "timeout": self.TIMEOUT})
        yield adapter
        await adapter.aclose()


class TestFakeCorrect(fake_contract.TestFakeAdapterContract):
    pass


class TestFakeNoTimeout(fake_contract.TestFakeAdapterContract):
    @pytest.fixture
    def adapter(self) -> FakeAdapter:
        return FakeAdapter(self.MEMBER, {"timeout": math.inf, "max_items": 5})


class TestFakeNoDuplicateFlag(fake_contract.TestFakeAdapterContract):
    @pytest.fixture
    def adapter(self) -> FakeAdapter:
        return _NoDuplicateFake(self.MEMBER, {"timeout": self.TIMEOUT, "max_items": 5})
