"""Find national adapters through the ``oco_gateway.adapters`` entry points and check them at start-up.

As hatch does with its plugins: a class without a NAME, a NAME used twice, or a class that is not an
``Adapter`` stops the gateway at start-up with a message naming the package; an unknown name lists the
installed adapters. Adding an adapter edits nothing in ``gateway/``.
"""

from __future__ import annotations

from collections.abc import Iterable
from importlib.metadata import EntryPoint, entry_points

from gateway.errors import PluginError
from gateway.sdk import Adapter

__all__ = ["ADAPTER_GROUP", "COMMAND_GROUP", "SIMULATOR_GROUP", "AdapterCatalog"]

ADAPTER_GROUP = "oco_gateway.adapters"
COMMAND_GROUP = "oco_gateway.commands"
"""Entry points of extra ``oco-gateway`` sub-commands (click commands)."""
SIMULATOR_GROUP = "oco_gateway.simulators"
"""Entry points of national system simulators (click commands), run as ``oco-gateway simulate <name>``."""


class AdapterCatalog:
    """The installed adapter classes by NAME.

    Args:
        entries: entry points to load; the ``oco_gateway.adapters`` group by default.

    Raises:
        PluginError: an entry point does not load, is not an ``Adapter`` subclass, has no NAME, or
            shares its NAME with another.
    """

    def __init__(self, entries: Iterable[EntryPoint] | None = None) -> None:
        found = entry_points(group=ADAPTER_GROUP) if entries is None else entries
        self._classes: dict[str, type[Adapter]] = {}
        origins: dict[str, str] = {}
        for entry in found:
            origin = f"entry point {entry.name!r} ({entry.value})"
            try:
                cls = entry.load()
            except Exception as exc:  # noqa: BLE001 - any import failure of a plugin is reported the same way
                raise PluginError(f"{origin} of group {ADAPTER_GROUP} cannot be imported: {exc!r}. "
                                  "Reinstall or remove that package.") from exc
            if not (isinstance(cls, type) and issubclass(cls, Adapter)):
                raise PluginError(f"{origin} is not a subclass of gateway.sdk.Adapter")
            if not cls.NAME:
                raise PluginError(f"{origin}: class {cls.__qualname__} sets no NAME")
            if cls.NAME in self._classes:
                raise PluginError(f"adapter name {cls.NAME!r} is claimed twice: by {origins[cls.NAME]} and "
                                  f"by {origin}; uninstall one of them")
            self._classes[cls.NAME] = cls
            origins[cls.NAME] = origin

    @property
    def names(self) -> list[str]:
        """Installed adapter names, sorted."""
        return sorted(self._classes)

    def get(self, name: str) -> type[Adapter]:
        """Return the adapter class registered under ``name``.

        Args:
            name: an adapter NAME, as in ``members.<CODE>.adapter.name``.

        Raises:
            PluginError: no installed adapter has that name; the message lists those that are.
        """
        try:
            return self._classes[name]
        except KeyError:
            raise PluginError(f"no adapter named {name!r} is installed; installed adapters: "
                              f"{', '.join(self.names) or 'none'}") from None

    def create(self, name: str, member: str, settings: dict) -> Adapter:
        """Instantiate the named adapter for one member.

        Args:
            name: the adapter NAME.
            member: the member code it will deliver to.
            settings: the member's adapter settings.

        Raises:
            PluginError: unknown name.
            ConfigError: the adapter refused its settings.
        """
        return self.get(name)(member, settings)
