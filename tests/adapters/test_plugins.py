"""AdapterCatalog: adapters found through entry points, and broken plugins stopped at start-up."""

from __future__ import annotations

from collections.abc import Mapping
from importlib.metadata import EntryPoint, entry_points
from typing import Any

import pytest

from adapters.kafka_topic import KafkaTopicAdapter
from adapters.wco_xml import WcoXmlAdapter
from gateway.errors import PluginError
from gateway.plugins import ADAPTER_GROUP, AdapterCatalog
from gateway.sdk import Adapter, ConfigError, Declaration, NationalAnswer

_HERE = __name__


class AlphaAdapter(Adapter):
    """A well-formed plugin."""

    NAME = "alpha"

    def __init__(self, member: str, settings: Mapping[str, Any]) -> None:
        super().__init__(member, settings)
        if "bad" in settings:
            raise ConfigError(f"members.{member}.adapter.settings.bad: not allowed")

    async def deliver(self, declaration: Declaration) -> NationalAnswer:
        """Accept everything."""
        return NationalAnswer(True)

    async def aclose(self) -> None:
        """Nothing to close."""


class AlphaTwinAdapter(AlphaAdapter):
    """Another plugin claiming the same NAME."""


class NamelessAdapter(AlphaAdapter):
    """A plugin that forgot its NAME."""

    NAME = ""


class NotAnAdapter:
    """A class that does not subclass Adapter."""

    NAME = "impostor"


def _entry(name: str, target: str) -> EntryPoint:
    return EntryPoint(name=name, value=target, group=ADAPTER_GROUP)


class TestAdapterCatalog:
    def test_finds_adapters_by_name(self) -> None:
        """A valid entry point is listed and retrievable by its class's NAME."""
        catalog = AdapterCatalog([_entry("alpha", f"{_HERE}:AlphaAdapter")])
        assert catalog.names == ["alpha"] and catalog.get("alpha") is AlphaAdapter

    def test_create_passes_member_and_settings(self) -> None:
        """create() instantiates the adapter for one member with its settings."""
        adapter = AdapterCatalog([_entry("alpha", f"{_HERE}:AlphaAdapter")]).create("alpha", "FJ", {"x": 1})
        assert isinstance(adapter, AlphaAdapter) and adapter.member == "FJ" and adapter.settings == {"x": 1}

    def test_create_lets_config_errors_through(self) -> None:
        """An adapter refusing its settings raises ConfigError from create()."""
        catalog = AdapterCatalog([_entry("alpha", f"{_HERE}:AlphaAdapter")])
        with pytest.raises(ConfigError, match="settings.bad"):
            catalog.create("alpha", "FJ", {"bad": True})

    def test_unknown_name_lists_installed_adapters(self) -> None:
        """Asking for an adapter that is not installed names the ones that are."""
        catalog = AdapterCatalog([_entry("alpha", f"{_HERE}:AlphaAdapter")])
        with pytest.raises(PluginError, match="no adapter named 'asycudaa' is installed; installed adapters: alpha"):
            catalog.get("asycudaa")

    def test_empty_catalog_says_none(self) -> None:
        """With no adapters installed, the unknown-name message says so."""
        with pytest.raises(PluginError, match="installed adapters: none"):
            AdapterCatalog([]).get("alpha")

    def test_missing_name_is_refused(self) -> None:
        """A class with an empty NAME stops the catalog, naming the entry point and class."""
        with pytest.raises(PluginError, match="entry point 'nameless'.*NamelessAdapter sets no NAME"):
            AdapterCatalog([_entry("nameless", f"{_HERE}:NamelessAdapter")])

    def test_duplicate_name_is_refused(self) -> None:
        """Two entry points whose classes share a NAME stop the catalog, naming both."""
        with pytest.raises(PluginError, match="'alpha' is claimed twice.*'one'.*'two'"):
            AdapterCatalog([_entry("one", f"{_HERE}:AlphaAdapter"), _entry("two", f"{_HERE}:AlphaTwinAdapter")])

    def test_non_adapter_is_refused(self) -> None:
        """An entry point pointing at a class that does not subclass Adapter stops the catalog."""
        with pytest.raises(PluginError, match="not a subclass of gateway.sdk.Adapter"):
            AdapterCatalog([_entry("impostor", f"{_HERE}:NotAnAdapter")])

    def test_non_class_is_refused(self) -> None:
        """An entry point pointing at a function, not a class, stops the catalog."""
        with pytest.raises(PluginError, match="not a subclass"):
            AdapterCatalog([_entry("func", f"{_HERE}:_entry")])

    @pytest.mark.parametrize("target", ["no_such_package_oco:Adapter", f"{_HERE}:MissingClass"])
    def test_import_failure_is_reported(self, target: str) -> None:
        """An entry point that cannot be imported stops the catalog, naming it and the cause."""
        with pytest.raises(PluginError, match="cannot be imported.*Reinstall or remove") as caught:
            AdapterCatalog([_entry("broken", target)])
        assert caught.value.__cause__ is not None


class TestInstalledAdapters:
    def test_project_declares_its_three_adapters(self) -> None:
        """The installed project declares asycuda, wco-xml and kafka in the adapter entry-point group."""
        declared = {e.name: e.value for e in entry_points(group=ADAPTER_GROUP)}
        assert declared["wco-xml"] == "adapters.wco_xml:WcoXmlAdapter"
        assert declared["kafka"] == "adapters.kafka_topic:KafkaTopicAdapter"
        assert "asycuda" in declared

    def test_installed_catalog_loads_every_adapter(self) -> None:
        """The catalog of everything installed loads, and holds asycuda, kafka and wco-xml."""
        assert {"asycuda", "kafka", "wco-xml"} <= set(AdapterCatalog().names)

    def test_installed_wco_xml_and_kafka_load(self) -> None:
        """The installed wco-xml and kafka entry points load into the catalog under their NAMEs."""
        mine = [e for e in entry_points(group=ADAPTER_GROUP) if e.name in {"wco-xml", "kafka"}]
        catalog = AdapterCatalog(mine)
        assert catalog.names == ["kafka", "wco-xml"]
        assert catalog.get("wco-xml") is WcoXmlAdapter and catalog.get("kafka") is KafkaTopicAdapter
