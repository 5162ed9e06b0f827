"""The ``oco-gateway`` command: one sub-command per module of this package."""

from __future__ import annotations

from importlib.metadata import entry_points

import click

from gateway import __version__
from gateway.cli.broker_cmd import broker
from gateway.cli.demo_cmd import demo
from gateway.cli.run_cmd import run
from gateway.cli.submit_cmd import submit
from gateway.cli.validate_cmd import validate
from gateway.errors import PluginError
from gateway.plugins import COMMAND_GROUP

__all__ = ["main"]


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="oco-gateway")
def main() -> None:
    """Integration gateway of the Pacific customs network (OCO)."""


for command in (broker, demo, run, submit, validate):
    main.add_command(command)


def _add_plugin_commands() -> None:
    """Add the sub-commands installed packages contribute (an adapter's simulator, for instance)."""
    for entry in entry_points(group=COMMAND_GROUP):
        command = entry.load()
        if not isinstance(command, click.Command):
            raise PluginError(f"entry point {entry.name!r} ({entry.value}) of group {COMMAND_GROUP} "
                              "is not a click command")
        main.add_command(command, entry.name)


_add_plugin_commands()
