"""ExampleAdapter meets the OCO adapter contract over real HTTP, and is registered as a gateway plugin."""

from __future__ import annotations

from collections.abc import AsyncIterator
from importlib.metadata import entry_points

import pytest

from gateway.sdk import ConfigError
from gateway.sdk.contract import AdapterContract
from gateway.plugins import ADAPTER_GROUP, AdapterCatalog
from oco_adapter_example import ExampleAdapter
from oco_adapter_example.simulator import ExampleSystem, serve


@pytest.fixture(scope="module")
async def example_system() -> AsyncIterator[tuple[ExampleSystem, str]]:
    """Run the example national system on a free port for the module's tests."""
    system = ExampleSystem()
    async with serve(system.app) as url:
        yield system, url


class TestExampleAdapterContract(AdapterContract):
    MEMBER = "FJ"
    TIMEOUT = 0.5

    @pytest.fixture
    async def national(self, example_system: tuple[ExampleSystem, str]) -> ExampleSystem:
        system = example_system[0]
        system.down, system.delay, system.refuse = False, 0.0, 0
        return system

    @pytest.fixture
    async def adapter(self, example_system: tuple[ExampleSystem, str]) -> AsyncIterator[ExampleAdapter]:
        adapter = ExampleAdapter(self.MEMBER, {"url": example_system[1], "timeout": self.TIMEOUT})
        try:
            yield adapter
        finally:
            await adapter.aclose()


class TestRegistration:
    def test_entry_point_loads_into_the_gateway_catalog(self) -> None:
        """The installed package's entry point gives the gateway this adapter under NAME "example"."""
        (entry,) = entry_points(group=ADAPTER_GROUP, name="example")
        assert AdapterCatalog([entry]).get("example") is ExampleAdapter

    @pytest.mark.parametrize("settings", [{}, {"url": "ftp://x"}, {"url": "http://x", "timeout": 0}])
    def test_wrong_settings_are_refused(self, settings: dict[str, object]) -> None:
        """Wrong settings raise ConfigError naming the key, at start-up."""
        with pytest.raises(ConfigError, match="members.FJ.adapter.settings"):
            ExampleAdapter("FJ", settings)
