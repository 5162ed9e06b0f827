"""``oco-gateway simulate``: stand-ins for national systems, for the demo, the tests and adapter developers."""

from __future__ import annotations

import importlib
from collections.abc import Callable

import click

__all__ = ["simulate"]


@click.group()
def simulate() -> None:
    """Run a national system simulator (a real HTTP server, hot folder included where the system has one)."""


_SIMULATORS = {"asycuda": "adapters.asycuda.simulator.cli", "wco": "adapters.wco_xml.simulator"}


def _register() -> None:
    # Each on its own: one broken simulator must not take the others down with it.
    for name, module in _SIMULATORS.items():
        try:
            command = getattr(importlib.import_module(module), name)
        except (ImportError, AttributeError) as exc:
            command = click.Command(name, callback=_unavailable(f"simulator {name!r} cannot load: {exc!r}"),
                                    help="(unavailable)")
        simulate.add_command(command)


def _unavailable(reason: str) -> Callable[[], None]:
    def explain() -> None:
        raise click.ClickException(reason)

    return explain


_register()
