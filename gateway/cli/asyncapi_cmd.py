"""``oco-gateway asyncapi``: print or write the AsyncAPI 3 document of the network's topics."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import click

from gateway.config import GatewaySettings, load_settings
from gateway.contract.document import build_document, reference_settings, render
from gateway.errors import ConfigError
from gateway.profiles import ProfileRegistry

__all__ = ["asyncapi", "document_for"]


def document_for(settings: GatewaySettings | None = None) -> dict[str, Any]:
    """Return the AsyncAPI document of a network's gateway, built from the app ``oco-gateway run`` would run.

    Args:
        settings: the network; None for the reference document (``docs/asyncapi.yaml``), which depends on
            nothing but the code.

    Raises:
        ConfigError: the app cannot be built from ``settings`` (its Kafka password or TLS files are missing...).
    """
    from gateway.transport.app import build_app  # the app imports the contract's routes

    reference = settings is None
    settings = settings or reference_settings()
    app = build_app(settings, ProfileRegistry.load([settings.profiles_dir]))
    return build_document(list(app.brokers), settings, reference=reference)


@click.command()
@click.option("--config", "config_path", type=click.Path(dir_okay=False),
              help="Network configuration YAML: list its participants, members and issuers, and its server. "
                   "Without it, the reference document (what docs/asyncapi.yaml holds).")
@click.option("--output", type=click.Path(dir_okay=False, path_type=Path), help="Write here instead of stdout.")
def asyncapi(config_path: str | None, output: Path | None) -> None:
    """Print the AsyncAPI 3 document of every topic: key, headers and payload (the gateway serves it at
    /asyncapi too)."""
    try:
        text = render(document_for(load_settings(config_path) if config_path else None))
    except ConfigError as exc:
        click.echo(f"oco-gateway: {exc}", err=True)
        sys.exit(2)
    if output is None:
        click.echo(text, nl=False)
    else:
        output.write_text(text, encoding="utf-8")
