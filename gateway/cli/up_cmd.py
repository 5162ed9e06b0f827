"""``oco-gateway up`` and ``down``: the local network left running for a newcomer to submit to and watch."""

from __future__ import annotations

import json
from pathlib import Path

import click

from gateway.cli._demo_aeo import make_keys
from gateway.cli._local_network import RUNNING_FILE, LocalNetwork, stop_recorded
from gateway.cli.demo_cmd import print_tools
from gateway.config import load_settings
from gateway.errors import GatewayError
from gateway.ops.broker import LocalBroker

__all__ = ["down", "up"]

_REPO = Path(__file__).resolve().parents[2]


@click.command()
@click.option("--config", "config_path", type=click.Path(exists=True, dir_okay=False, path_type=Path),
              default=_REPO / "config" / "network.yaml", show_default=True, help="Network configuration.")
@click.option("--simulators", "simulators_path", type=click.Path(exists=True, dir_okay=False, path_type=Path),
              default=_REPO / "config" / "demo.yaml", show_default=True, help="National simulators to start.")
def up(config_path: Path, simulators_path: Path) -> None:
    """Start the local network and leave it running: Kafka (secured), the national simulators, the gateway
    and the delivery workers, each as its own identity. Submit with `oco-gateway submit`, watch the topics,
    then stop it all with `oco-gateway down`."""
    settings = load_settings(config_path)
    network = LocalNetwork(config_path, simulators_path, settings, {})
    running = network.state / RUNNING_FILE
    if running.exists():
        raise click.ClickException(f"the local network is already up ({running}); `oco-gateway down` stops it")
    started = []
    try:
        access = network.start_kafka()
        network.extra_env["OCO_AEO__TRUST_STORE"] = str(make_keys(sorted(settings.members), network.state))
        for name, child in network.processes_to_start():
            click.echo(f"starting {name} ...")
            child.start()
            started.append(child)
    except GatewayError as exc:
        for child in reversed(started):  # nothing half-started is left behind
            child.stop()
        raise click.ClickException(str(exc)) from exc
    network.processes = started
    network.record()
    member = sorted(settings.members)[0]
    participant = settings.members[member].submitters[0]
    click.echo(f"\nThe local network is up: gateway metrics on http://127.0.0.1:{network.gateway_port}/metrics, "
               f"delivery workers' on http://127.0.0.1:{network.delivery_port}/metrics; logs in {network.state}.")
    print_tools(network.broker, access, participant, member)
    click.echo("\nStop everything with `oco-gateway down`.")


@click.command()
@click.option("--keep-kafka", is_flag=True, help="Stop the processes but leave the broker running.")
def down(keep_kafka: bool) -> None:
    """Stop what `oco-gateway up` started: the gateway, the delivery workers, the simulators, then Kafka."""
    broker = LocalBroker(insecure=False)
    state = broker.state_dir.parent / "demo"
    recorded = state / RUNNING_FILE
    if recorded.exists():
        broker = LocalBroker(Path(json.loads(recorded.read_text())["broker_state"]), insecure=False)
    stopped = stop_recorded(state)
    for name in stopped:
        click.echo(f"stopped {name}")
    if not stopped:
        click.echo("no process of `oco-gateway up` was running")
    if not keep_kafka:
        click.echo("stopped Kafka" if broker.stop() else "Kafka was not running")
