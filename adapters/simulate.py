"""``oco-gateway simulate``: stand-ins for national systems, for the demo, the tests and adapter developers."""

from __future__ import annotations

import click

__all__ = ["simulate"]


@click.group()
def simulate() -> None:
    """Run a national system simulator (a real HTTP server, hot folder included where the system has one)."""


def _register() -> None:
    # Imported here so `oco-gateway --help` stays fast and a broken simulator cannot break other commands.
    from adapters.asycuda.simulator.cli import asycuda
    from adapters.wco_xml.simulator import wco

    simulate.add_command(asycuda)
    simulate.add_command(wco)


_register()
