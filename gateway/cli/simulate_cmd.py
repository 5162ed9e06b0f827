"""``oco-gateway simulate <name>``: national system simulators, each contributed by a package's entry point.

A package adds its simulator (a click command) under the ``oco_gateway.simulators`` entry-point group, as
it adds its adapter under ``oco_gateway.adapters``::

    [project.entry-points."oco_gateway.simulators"]
    example = "oco_adapter_example.simulator:example"

Simulators load when named (a broken one does not take the others down); ``simulate --help`` lists them all.
"""

from __future__ import annotations

from importlib.metadata import EntryPoint, entry_points

import click

from gateway.plugins import SIMULATOR_GROUP

__all__ = ["simulate"]


class _Simulators(click.Group):
    """The sub-commands are the installed ``oco_gateway.simulators`` entry points."""

    def _entries(self) -> dict[str, list[EntryPoint]]:
        found: dict[str, list[EntryPoint]] = {}
        for entry in entry_points(group=SIMULATOR_GROUP):
            found.setdefault(entry.name, []).append(entry)
        return found

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted(self._entries())

    def get_command(self, ctx: click.Context, name: str) -> click.Command | None:
        entries = self._entries().get(name)
        if not entries:
            return None
        if len({entry.value for entry in entries}) > 1:
            return _broken(name, f"simulator name {name!r} is claimed twice: by "
                                 f"{' and by '.join(sorted({e.value for e in entries}))}; uninstall one of them")
        try:
            command = entries[0].load()
        except Exception as exc:  # noqa: BLE001 - any import failure of a plugin is reported the same way
            return _broken(name, f"simulator {name!r} ({entries[0].value}) cannot be loaded: {exc!r}; reinstall "
                                 "or remove the package that provides it")
        if not isinstance(command, click.Command):
            return _broken(name, f"simulator {name!r} ({entries[0].value}) is not a click command")
        return command


def _broken(name: str, reason: str) -> click.Command:
    def explain() -> None:
        raise click.ClickException(reason)

    return click.Command(name, callback=explain, help=f"(unavailable: {reason})",
                         context_settings={"ignore_unknown_options": True, "allow_extra_args": True})


@click.group(cls=_Simulators)
def simulate() -> None:
    """Run a national system simulator (a real HTTP server, hot folder included where the system has one).

    Installed packages add theirs through the oco_gateway.simulators entry points.
    """
