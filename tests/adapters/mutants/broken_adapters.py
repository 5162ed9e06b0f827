"""Adapters with one guarantee removed, under the contract suite; not collected by the normal run.

``tests/adapters/test_contract_catches.py`` runs this module in a pytest subprocess and checks that the
contract fails exactly where each adapter is broken, and passes for the unbroken ones:

- ``TestVuCorrect`` / ``TestFakeCorrect``: the VU JSON example (real HTTP) and the FakeAdapter, unchanged;
- ``TestVuNoTimeout`` / ``TestFakeNoTimeout``: the adapter's timeout removed (the VU adapter's
  ``asyncio.timeout`` gone and its HTTP client told to wait forever; the fake waiting as long as the system);
- ``TestVuNoDuplicateFlag`` / ``TestFakeNoDuplicateFlag``: ``NationalAnswer.duplicate`` never set.
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

from gateway.sdk import Declaration, NationalAnswer
from gateway.sdk.testing import FakeAdapter
from tests.adapters.fake import test_contract as fake_contract  # modules, not classes: pytest would collect those
from tests.adapters.vu_json import adapter as vu
from tests.adapters.vu_json import test_json_single_window as vu_contract
from tests.adapters.vu_json.test_json_single_window import window  # noqa: F401 - the fixture, for the classes below

__all__ = ["TestFakeCorrect", "TestFakeNoDuplicateFlag", "TestFakeNoTimeout", "TestVuCorrect",
           "TestVuNoDuplicateFlag", "TestVuNoTimeout"]


class _NoTimeoutVu(vu.VuSingleWindowAdapter):
    """The VU adapter as if its author had left the timeout out."""

    def __init__(self, member: str, settings: Any) -> None:
        super().__init__(member, settings)
        self._client = httpx.AsyncClient(base_url=self.config.url, timeout=None)

    async def deliver(self, declaration: Declaration) -> NationalAnswer:
        no_timeout = SimpleNamespace(timeout=lambda seconds: contextlib.nullcontext())
        with pytest.MonkeyPatch.context() as patch:
            patch.setattr(vu, "asyncio", no_timeout)  # the adapter module's asyncio only
            return await super().deliver(declaration)


class _NoDuplicateVu(vu.VuSingleWindowAdapter):
    """The VU adapter as if it ignored the single window's "replayed"."""

    async def deliver(self, declaration: Declaration) -> NationalAnswer:
        return dataclasses.replace(await super().deliver(declaration), duplicate=False)


class _NoDuplicateFake(FakeAdapter):
    async def deliver(self, declaration: Declaration) -> NationalAnswer:
        return dataclasses.replace(await super().deliver(declaration), duplicate=False)


class TestVuCorrect(vu_contract.TestVuSingleWindowContract):
    pass


class TestVuNoTimeout(vu_contract.TestVuSingleWindowContract):
    @pytest.fixture
    async def adapter(self, window: tuple[Any, str]) -> AsyncIterator[vu.VuSingleWindowAdapter]:  # noqa: F811
        adapter = _NoTimeoutVu(self.MEMBER, {"url": window[1], "timeout": self.TIMEOUT})
        yield adapter
        await adapter.aclose()


class TestVuNoDuplicateFlag(vu_contract.TestVuSingleWindowContract):
    @pytest.fixture
    async def adapter(self, window: tuple[Any, str]) -> AsyncIterator[vu.VuSingleWindowAdapter]:  # noqa: F811
        adapter = _NoDuplicateVu(self.MEMBER, {"url": window[1], "timeout": self.TIMEOUT})
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
