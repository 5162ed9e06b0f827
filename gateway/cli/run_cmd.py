"""``oco-gateway run``: the gateway itself, until SIGTERM or Ctrl-C."""

from __future__ import annotations

import asyncio
import logging
import signal
import sys

import click

from gateway.config import load_settings
from gateway.errors import BrokerError, ConfigError
from gateway.ops.logging import configure_logging
from gateway.profiles import ProfileRegistry
from gateway.transport.app import build_app
from gateway.aeo.feed import aeo_topic_names
from gateway.transport.topics import ensure_topics

__all__ = ["run"]


@click.command()
@click.option("--config", "config_path", type=click.Path(dir_okay=False), envvar="OCO_CONFIG",
              help="Network configuration YAML (env OCO_CONFIG).")
def run(config_path: str | None) -> None:
    """Consume every participant's submit topic, validate, route and answer."""
    try:
        settings = load_settings(config_path)
        configure_logging(settings.log_format, settings.log_level)
        registry = ProfileRegistry.load([settings.profiles_dir])
        app = build_app(settings, registry)
    except ConfigError as exc:
        click.echo(f"oco-gateway: {exc}", err=True)
        sys.exit(2)
    try:
        asyncio.run(_ensure_all_topics(settings))
    except BrokerError as exc:
        click.echo(f"oco-gateway: {exc}", err=True)
        sys.exit(1)
    m = settings.metrics
    # uvicorn catches SIGTERM and SIGINT while it serves (the app then stops consuming, finishes and commits the
    # batch in hand and leaves the group), then raises the signal again for the handler found before it: ours
    # turns that into a clean exit (0 after SIGTERM, as Kubernetes expects of an orderly stop; 130 after Ctrl-C).
    signal.signal(signal.SIGTERM, _exit_after(0))
    signal.signal(signal.SIGINT, _exit_after(130))
    try:
        asyncio.run(app.run(logging.WARNING, run_extra_options={"host": m.host, "port": m.port, "access_log": "false"}))
    except BrokerError as exc:
        click.echo(f"oco-gateway: {exc}", err=True)
        sys.exit(1)
    except TimeoutError:
        click.echo(f"oco-gateway: the AEO registry did not load within {settings.aeo.load_timeout:g}s "
                   "(aeo.load_timeout): is Kafka reachable and serving the oco.aeo.* topics?", err=True)
        sys.exit(1)


def _exit_after(code: int):  # noqa: ANN202 - a signal handler
    def handler(signum: int, frame: object) -> None:
        raise SystemExit(code)
    return handler


async def _ensure_all_topics(settings) -> None:  # noqa: ANN001 - GatewaySettings
    await ensure_topics(settings)
    await ensure_topics(settings, aeo_topic_names(settings.aeo_issuers, settings.members), compacted=True)
