"""ExampleAdapter meets the gateway's adapter contract against its simulator, run as a real process."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Iterator
from importlib.metadata import entry_points
from pathlib import Path

import pytest

from gateway.plugins import ADAPTER_GROUP, SIMULATOR_GROUP, AdapterCatalog
from gateway.samples import make_declaration
from gateway.sdk import ConfigError, Declaration, header_value, idempotency_key
from gateway.sdk.contract import AdapterContract
from gateway.sdk.simclient import SimulatorControl, SimulatorProcess
from oco_adapter_example import ExampleAdapter
from oco_adapter_example.adapter import MAX_LINES

MEMBER = "VU"


@pytest.fixture(scope="module")
def simulator(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SimulatorProcess]:
    """``oco-gateway simulate example --member VU`` on a free port, for the module's tests."""
    log = tmp_path_factory.mktemp("example-simulator") / "output.log"
    with SimulatorProcess("example", "--member", MEMBER, log_path=log) as process:
        yield process


class TestExampleAdapterContract(AdapterContract):
    MEMBER = MEMBER
    TIMEOUT = 0.5

    def cannot_take_declaration(self) -> Declaration:
        """The single window takes at most MAX_LINES goods items; the WCO data model allows more."""
        return self.declaration(items=MAX_LINES + 1)

    @pytest.fixture
    async def national(self, simulator: SimulatorProcess) -> SimulatorControl:
        control = SimulatorControl(simulator.url, key_of=header_value)  # the key as it travelled, in a header
        await control.reset()
        return control

    @pytest.fixture
    async def adapter(self, simulator: SimulatorProcess) -> AsyncIterator[ExampleAdapter]:
        adapter = ExampleAdapter(self.MEMBER, {"url": simulator.url, "timeout": self.TIMEOUT})
        try:
            yield adapter
        finally:
            await adapter.aclose()


class TestRegistration:
    def test_entry_point_loads_into_the_gateway_catalog(self) -> None:
        """The installed package's entry point gives the gateway this adapter under NAME "example"."""
        (entry,) = entry_points(group=ADAPTER_GROUP, name="example")
        assert AdapterCatalog([entry]).get("example") is ExampleAdapter

    def test_simulator_is_registered_under_simulate(self) -> None:
        """``oco-gateway simulate example`` runs this package's simulator."""
        (entry,) = entry_points(group=SIMULATOR_GROUP, name="example")
        assert entry.load().name == "example"

    @pytest.mark.parametrize("settings", [{}, {"url": "ftp://x"}, {"url": "http://x", "timeout": 0}])
    def test_wrong_settings_are_refused(self, settings: dict[str, object]) -> None:
        """Wrong settings raise ConfigError naming the key, at start-up."""
        with pytest.raises(ConfigError, match="members.VU.adapter.settings"):
            ExampleAdapter("VU", settings)

    def test_adapter_has_no_xml_code(self) -> None:
        """The adapter reads the declaration through the model: it imports no XML library."""
        source = (Path(__file__).parents[1] / "oco_adapter_example" / "adapter.py").read_text(encoding="utf-8")
        assert not any(f"import {lib}" in source or f"from {lib}" in source for lib in ("lxml", "xml", "xmlschema"))


class TestUniqueReference:
    async def test_a_second_original_under_a_used_lrn_is_refused_pointing_at_the_lrn(
            self, simulator: SimulatorProcess) -> None:
        """The single window keeps an LRN unique per declarant: another declaration under a used LRN is refused,
        and the trader is pointed at its own FunctionalReferenceID."""
        adapter = ExampleAdapter(MEMBER, {"url": simulator.url, "timeout": 5.0})
        lrn = f"VU-DUP-{uuid.uuid4().hex[:8]}"
        first, second = (make_declaration(member=MEMBER, lrn=lrn, declarant="VU0000777", items=n, seed=n)
                         for n in (1, 2))
        try:
            answers = [await adapter.deliver(Declaration(
                payload=p, member=MEMBER, participant="vu-broker", lrn=lrn, function_code="9", tracking_id=lrn,
                idempotency_key=idempotency_key("vu-broker", lrn, "9", p))) for p in (first, second)]
        finally:
            await adapter.aclose()
        assert answers[0].accepted, answers[0].issues
        (issue,) = answers[1].issues
        assert not answers[1].accepted and issue.code == "VU-EXSW-DUPLICATE-LRN"
        assert issue.path and issue.path.endswith("/Declaration/FunctionalReferenceID")
