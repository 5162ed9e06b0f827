"""``oco-gateway broker start|stop|status``: the local single-node Kafka broker for development and tests."""

from __future__ import annotations

from pathlib import Path

import click

from gateway.errors import BrokerError
from gateway.ops.broker import ADMIN_USER, KAFKA_VERSION, BrokerTls, LocalBroker

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
@click.option("--insecure", is_flag=True,
              help="PLAINTEXT, no authentication, no ACLs: anyone may do anything (the old development broker).")
@click.option("--tls-port", type=click.IntRange(1, 65535), default=None,
              help="Also listen with SASL/SCRAM over TLS on this port (needs --tls-keystore and --tls-truststore).")
@click.option("--tls-keystore", type=click.Path(exists=True, dir_okay=False, path_type=Path), default=None,
              help="PEM file: the broker's unencrypted PKCS#8 key followed by its certificate chain.")
@click.option("--tls-truststore", type=click.Path(exists=True, dir_okay=False, path_type=Path), default=None,
              help="PEM file: the CA certificates client certificates must chain to.")
@click.option("--tls-client-auth", is_flag=True, help="Require a client certificate on the TLS listener (mTLS).")
def start(state_dir: Path | None, port: int | None, controller_port: int | None, timeout: float,
          heap_opts: str | None, insecure: bool, tls_port: int | None, tls_keystore: Path | None,
          tls_truststore: Path | None, tls_client_auth: bool) -> None:
    """Start the broker in the background and wait until it answers (downloads the jars on first use).

    Secured by default: SASL/SCRAM-SHA-256, the KRaft StandardAuthorizer, nothing allowed without an ACL.
    Its super user is oco-admin, whose password is written to admin.password in the state dir (mode 0600);
    `oco-gateway provision` then creates the network's topics, identities and ACLs.
    """
    tls = None
    if tls_port or tls_keystore or tls_truststore:
        if not (tls_port and tls_keystore and tls_truststore):
            raise click.UsageError("--tls-port, --tls-keystore and --tls-truststore go together")
        tls = BrokerTls(tls_keystore.resolve(), tls_truststore.resolve(), tls_port, tls_client_auth)
    try:
        local = LocalBroker(state_dir, port=port, controller_port=controller_port, heap_opts=heap_opts,
                            insecure=insecure, tls=tls)
        current = local.status()
        if current.running:
            local.start()  # checks the ports and the security mode asked for against the running broker
            click.echo(f"Kafka broker already running: pid {current.pid}, bootstrap {current.bootstrap_servers}")
            return
        click.echo(f"Starting Kafka {KAFKA_VERSION} broker in {local.state_dir} ...")
        status = local.start(timeout=timeout)
    except BrokerError as exc:
        raise click.ClickException(str(exc)) from exc
    click.echo(f"Kafka broker running: pid {status.pid}, bootstrap {status.bootstrap_servers}, "
               f"log {local.logs_dir / 'server.log'}")
    if local.secured:
        click.echo(f"secured (SASL/SCRAM-SHA-256, ACLs): super user {ADMIN_USER}, password in "
                   f"{local.admin_password_file}; Kafka tools: --command-config {local.admin_properties_file}")
        if tls is not None:
            click.echo(f"TLS listener: {local.tls_bootstrap_servers} (SASL_SSL)")
    else:
        click.echo("INSECURE: no authentication, no ACLs; any client may read and write every topic")


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
    mode = {True: "secured", False: "insecure", None: "not created"}[current.secured]
    if current.running:
        click.echo(f"running  pid {current.pid}  bootstrap {current.bootstrap_servers}  {mode}")
    else:
        click.echo(f"stopped  bootstrap {current.bootstrap_servers}  {mode}")
        ctx.exit(EXIT_STOPPED)


if __name__ == "__main__":  # `python -m gateway.cli.broker_cmd ...` works before the group is wired into main
    broker(prog_name="oco-gateway broker")
