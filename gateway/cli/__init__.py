"""The ``oco-gateway`` command: one sub-command per module of this package."""

from __future__ import annotations

from importlib.metadata import entry_points

import click

from gateway import __version__
from gateway.cli.aeo_cmd import aeo
from gateway.cli.asyncapi_cmd import asyncapi
from gateway.cli.broker_cmd import broker
from gateway.cli.deliver_cmd import deliver
from gateway.cli.demo_cmd import demo
from gateway.cli.dlq_cmd import dlq
from gateway.cli.provision_cmd import provision_command
from gateway.cli.run_cmd import run
from gateway.cli.sample_cmd import sample
from gateway.cli.simulate_cmd import simulate
from gateway.cli.submit_cmd import submit
from gateway.cli.up_cmd import down, up
from gateway.cli.validate_cmd import validate
from gateway.errors import PluginError
from gateway.plugins import COMMAND_GROUP

__all__ = ["main"]


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="oco-gateway")
def main() -> None:
    """Integration gateway of the Pacific customs network (OCO)."""


for command in (aeo, asyncapi, broker, deliver, demo, dlq, down, provision_command, run, sample, simulate, submit, up,
                validate):
    main.add_command(command)


def _add_plugin_commands() -> None:
    """Add the sub-commands installed packages contribute (an adapter's simulator, for instance)."""
    for entry in entry_points(group=COMMAND_GROUP):
        try:
            command = entry.load()
            if not isinstance(command, click.Command):
                raise PluginError(f"{entry.value} is not a click command")
        except Exception as exc:  # noqa: BLE001 - a broken plugin must not take `run` down with it
            command = _broken(entry.name, f"entry point {entry.name!r} of group {COMMAND_GROUP} cannot "
                                          f"be loaded: {exc!r}; reinstall or remove the package that provides it")
        main.add_command(command, entry.name)


def _broken(name: str, reason: str) -> click.Command:
    def explain() -> None:
        raise click.ClickException(reason)

    return click.Command(name, callback=explain, help=f"(unavailable: {reason})",
                         context_settings={"ignore_unknown_options": True, "allow_extra_args": True})


_add_plugin_commands()
