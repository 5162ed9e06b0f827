"""``oco-gateway broker start|stop|status``: the local single-node Kafka broker for development and tests."""

from __future__ import annotations

from pathlib import Path

import click

from gateway.errors import BrokerError
from gateway.ops.broker import KAFKA_VERSION, LocalBroker

__all__ = ["broker"]

EXIT_STOPPED = 3  # `status` exit code when no broker runs (as LSB init scripts do)

_state_dir = click.option(
    "--state-dir", type=click.Path(file_okay=False, path_type=Path), default=None,
    help="Directory of the broker's data, logs, pid file and server.properties "
         "[default: $OCO_BROKER_STATE, else .state/kafka].")
_port = click.option("--port", type=click.IntRange(1, 65535), default=None,
                     help="Client port on 127.0.0.1 [default: the last one used in the state dir, else 9092].")
_controller_port = click.option("--controller-port", type=click.IntRange(1, 65535), default=None,
                                help="KRaft controller port [default: the last one used, else 9093].")


@click.group()
def broker() -> None:
    """Run a single-node Apache Kafka broker (KRaft) on this machine, for development and tests."""


@broker.command()
@_state_dir
@_port
@_controller_port
@click.option("--timeout", type=click.FloatRange(min=1), default=60.0, show_default=True,
              help="Seconds to wait for the broker to answer.")
@click.option("--heap-opts", envvar="OCO_KAFKA_HEAP_OPTS", default=None,
              help="JVM heap flags [env OCO_KAFKA_HEAP_OPTS; default: -Xmx768m -Xms256m].")
def start(state_dir: Path | None, port: int | None, controller_port: int | None, timeout: float,
          heap_opts: str | None) -> None:
    """Start the broker in the background and wait until it answers (downloads the jars on first use)."""
    local = LocalBroker(state_dir, port=port, controller_port=controller_port, heap_opts=heap_opts)
    current = local.status()
    if current.running:
        click.echo(f"Kafka broker already running: pid {current.pid}, bootstrap {current.bootstrap_servers}")
        return
    click.echo(f"Starting Kafka {KAFKA_VERSION} broker in {local.state_dir} ...")
    try:
        status = local.start(timeout=timeout)
    except BrokerError as exc:
        raise click.ClickException(str(exc)) from exc
    click.echo(f"Kafka broker running: pid {status.pid}, bootstrap {status.bootstrap_servers}, "
               f"log {local.logs_dir / 'server.log'}")


@broker.command()
@_state_dir
@click.option("--timeout", type=click.FloatRange(min=0), default=30.0, show_default=True,
              help="Seconds to wait for a clean shutdown before killing the broker.")
def stop(state_dir: Path | None, timeout: float) -> None:
    """Stop the broker (SIGTERM, then SIGKILL after the timeout); does nothing if it is not running."""
    local = LocalBroker(state_dir)
    try:
        stopped = local.stop(timeout=timeout)
    except BrokerError as exc:
        raise click.ClickException(str(exc)) from exc
    click.echo("Kafka broker stopped." if stopped else f"Kafka broker was not running ({local.state_dir}).")


@broker.command()
@_state_dir
@_port
@click.pass_context
def status(ctx: click.Context, state_dir: Path | None, port: int | None) -> None:
    """Print whether the broker runs, its pid and bootstrap address; exit code 0 if running, 3 if stopped."""
    current = LocalBroker(state_dir, port=port).status()
    if current.running:
        click.echo(f"running  pid {current.pid}  bootstrap {current.bootstrap_servers}")
    else:
        click.echo(f"stopped  bootstrap {current.bootstrap_servers}")
        ctx.exit(EXIT_STOPPED)


if __name__ == "__main__":  # `python -m gateway.cli.broker_cmd ...` works before the group is wired into main
    broker(prog_name="oco-gateway broker")
