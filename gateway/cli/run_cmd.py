"""``oco-gateway run``: the gateway itself, until SIGTERM or Ctrl-C."""

from __future__ import annotations

import asyncio
import logging
import sys

import click

from gateway.config import load_settings
from gateway.errors import BrokerError, ConfigError
from gateway.ops.logging import configure_logging
from gateway.profiles import ProfileRegistry
from gateway.transport.app import build_app
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
        asyncio.run(ensure_topics(settings))
    except BrokerError as exc:
        click.echo(f"oco-gateway: {exc}", err=True)
        sys.exit(1)
    m = settings.metrics
    asyncio.run(app.run(logging.WARNING, run_extra_options={"host": m.host, "port": m.port, "access_log": "false"}))
