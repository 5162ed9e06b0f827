"""Tests for adapters.asycuda.adapter and the package's public surface."""

from __future__ import annotations

import importlib

import httpx
import pytest

from adapters.asycuda import AsycudaAdapter
from adapters.asycuda.transport import HttpTransport
from gateway.ops.broker import free_ports
from gateway.plugins import ADAPTER_GROUP
from gateway.samples import make_declaration
from gateway.sdk import Adapter, AdapterProtocolError, AdapterUnavailable, Declaration

MODULES = ["adapters.asycuda", "adapters.asycuda._dates", "adapters.asycuda._xml", "adapters.asycuda.adapter",
           "adapters.asycuda.config", "adapters.asycuda.fields", "adapters.asycuda.hotfolder",
           "adapters.asycuda.limits", "adapters.asycuda.mapping",
           "adapters.asycuda.result", "adapters.asycuda.transport", "adapters.asycuda.simulator",
           "adapters.asycuda.simulator.app", "adapters.asycuda.simulator.assess", "adapters.asycuda.simulator.checks",
           "adapters.asycuda.simulator.cli", "adapters.asycuda.simulator.rates", "adapters.asycuda.simulator.service",
           "adapters.asycuda.simulator.state", "adapters.asycuda.simulator.watcher"]


def declaration(payload: bytes | None = None) -> Declaration:
    """A declaration for FJ."""
    payload = payload or make_declaration(member="FJ", lrn="AD-1", items=1, seed=1)
    return Declaration(payload=payload, member="FJ", participant="p", lrn="AD-1", function_code="9",
                       tracking_id="t-1", idempotency_key="p:AD-1:9:x")


class TestAsycudaAdapter:
    def test_is_a_registered_plugin(self) -> None:
        """The class subclasses Adapter, is named asycuda, and is the one the entry point names."""
        from importlib.metadata import entry_points

        (entry,) = [e for e in entry_points(group=ADAPTER_GROUP) if e.name == "asycuda"]
        assert entry.load() is AsycudaAdapter
        assert issubclass(AsycudaAdapter, Adapter) and AsycudaAdapter.NAME == "asycuda"

    async def test_unreachable_system_is_unavailable(self) -> None:
        """With nothing listening, delivery raises AdapterUnavailable naming the member and adapter."""
        adapter = AsycudaAdapter("FJ", {"url": f"http://127.0.0.1:{free_ports(1)[0]}", "timeout": 1})
        with pytest.raises(AdapterUnavailable) as caught:
            await adapter.deliver(declaration())
        assert (caught.value.member, caught.value.adapter) == ("FJ", "asycuda")
        await adapter.aclose()

    async def test_unmappable_declaration_is_a_protocol_error(self) -> None:
        """A payload that is not a WCO DM declaration raises AdapterProtocolError before anything is sent."""
        adapter = AsycudaAdapter("FJ", {"url": "http://127.0.0.1:9"})
        with pytest.raises(AdapterProtocolError, match="cannot be mapped"):
            await adapter.deliver(declaration(b"<html/>"))
        await adapter.aclose()

    @pytest.mark.parametrize("body", [b"<html>Proxy error</html>", b"not xml at all"])
    async def test_unreadable_answer_is_a_protocol_error(self, body: bytes) -> None:
        """A 200 answer that is not an ASYCUDA document raises AdapterProtocolError."""
        adapter = AsycudaAdapter("FJ", {"url": "http://asycuda.test"})
        await adapter.aclose()
        adapter._transport = HttpTransport("http://asycuda.test", timeout=1, member="FJ",  # noqa: SLF001
                                           transport=httpx.MockTransport(lambda r: httpx.Response(200, content=body)))
        with pytest.raises(AdapterProtocolError):
            await adapter.deliver(declaration())

    @pytest.mark.parametrize(("settings", "currency"), [({}, "FJD"), ({"currency": "FJD"}, "FJD")])
    async def test_assessment_currency(self, settings: dict[str, str], currency: str) -> None:
        """The assessment is in the configured currency, else in that of the declaration's customs values."""
        answer = (b"<ASYCUDA><Identification><Registration><Number>1</Number></Registration>"
                  b"<Assessment><Number>1</Number></Assessment></Identification></ASYCUDA>")
        adapter = AsycudaAdapter("FJ", {"url": "http://asycuda.test", **settings})
        await adapter.aclose()
        adapter._transport = HttpTransport("http://asycuda.test", timeout=1, member="FJ",  # noqa: SLF001
                                           transport=httpx.MockTransport(lambda r: httpx.Response(200, content=answer)))
        result = await adapter.deliver(declaration())
        assert result.assessment is not None and result.assessment.currency == currency


    @pytest.mark.parametrize(("settings", "payload", "item"), [
        ({"currency": "USD"}, make_declaration(member="FJ", lrn="AD-1", items=1, seed=1), ""),
        ({}, make_declaration(member="FJ", lrn="AD-1", items=3, seed=1, currencies=("AUD",)), "[2]"),
    ])
    async def test_a_customs_value_not_in_the_national_currency_is_not_sent(self, settings: dict[str, str],
                                                                           payload: bytes, item: str) -> None:
        """An item valued in another currency than the installation's (configured, else the first item's) is
        rejected before calling ASYCUDA: FJ-ASYCUDA-CURRENCY-NOT-NATIONAL, pointing at its CustomsValueAmount."""
        calls: list[httpx.Request] = []
        adapter = AsycudaAdapter("FJ", {"url": "http://asycuda.test", **settings})
        await adapter.aclose()
        adapter._transport = HttpTransport("http://asycuda.test", timeout=1, member="FJ",  # noqa: SLF001
                                           transport=httpx.MockTransport(lambda r: calls.append(r) or httpx.Response(500)))
        answer = await adapter.deliver(declaration(payload))
        assert not answer.accepted and calls == []
        (issue,) = answer.issues
        assert issue.code == "FJ-ASYCUDA-CURRENCY-NOT-NATIONAL"
        assert issue.path == f"/MetaData/Declaration/GoodsShipment/GovernmentAgencyGoodsItem{item}/CustomsValueAmount"


class TestPublicModules:
    @pytest.mark.parametrize("name", MODULES)
    def test_all_is_sorted_and_exists(self, name: str) -> None:
        """Every module has a docstring and a sorted __all__ of names it defines."""
        module = importlib.import_module(name)
        assert module.__doc__ and module.__doc__.strip()
        assert module.__all__ == sorted(module.__all__)
        assert all(hasattr(module, item) for item in module.__all__)
