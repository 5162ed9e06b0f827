"""``oco-gateway deliver``: the delivery workers, for all members or, at a member's own site, for one."""

from __future__ import annotations

import asyncio
import signal
import sys

import click

from gateway.config import load_settings
from gateway.delivery.service import DeliveryService
from gateway.errors import BrokerError, ConfigError
from gateway.kafka_security import client_options
from gateway.ops.http import ops_server
from gateway.ops.logging import configure_logging
from gateway.transport.topics import ensure_topics

__all__ = ["deliver"]


@click.command()
@click.option("--config", "config_path", type=click.Path(dir_okay=False), envvar="OCO_CONFIG",
              help="Network configuration YAML (env OCO_CONFIG).")
@click.option("--member", "members", multiple=True,
              help="Member code to deliver for (repeatable); all members with an adapter by default.")
@click.option("--metrics-port", type=int, help="Port of /metrics, /healthz, /readyz (default: metrics.port + 1).")
def deliver(config_path: str | None, members: tuple[str, ...], metrics_port: int | None) -> None:
    """Consume oco.deliver.<MEMBER>, deliver through each member's national adapter, answer the submitter."""
    try:
        settings = load_settings(config_path)
        configure_logging(settings.log_format, settings.log_level)
        service = DeliveryService(settings, members or None)
        client_options(settings.kafka)  # the password and TLS files are readable, or exit 2 now
    except ConfigError as exc:
        click.echo(f"oco-gateway: {exc}", err=True)
        sys.exit(2)
    port = metrics_port if metrics_port is not None else settings.metrics.port + 1
    try:
        asyncio.run(_serve(service, settings.metrics.host, port))
    except BrokerError as exc:
        click.echo(f"oco-gateway: {exc}", err=True)
        sys.exit(1)


async def _serve(service: DeliveryService, host: str, port: int) -> None:
    # Delivery lists the topics it needs; creating them is Kafka administration, done here (gateway.delivery
    # does not import gateway.transport).
    await ensure_topics(service.settings, service.topics)
    server = ops_server(service.metrics.registry, service.ready, host=host, port=port)
    loop = asyncio.get_running_loop()

    def shutdown() -> None:
        service.stop()
        server.should_exit = True

    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, shutdown)
    http = asyncio.create_task(server.serve())
    try:
        await service.run()
    finally:
        server.should_exit = True
        await http
