"""``oco-gateway provision``: create the network's topics, SCRAM credentials and ACLs, and remove stale ones."""

from __future__ import annotations

import asyncio
import os
import sys
from pathlib import Path

import click

from gateway.access.provision import SecretsDir, provision
from gateway.config import load_settings
from gateway.errors import BrokerError, ConfigError
from gateway.kafka_security import client_options

__all__ = ["SECRETS_DIR_ENV", "provision_command"]

SECRETS_DIR_ENV = "OCO_SECRETS_DIR"
_DEFAULT_SECRETS = Path(".state") / "secrets"


@click.command("provision")
@click.option("--config", "config_path", type=click.Path(dir_okay=False), envvar="OCO_CONFIG",
              help="Network configuration YAML (env OCO_CONFIG).")
@click.option("--bootstrap-servers", help="Kafka address; overrides the configuration.")
@click.option("--secrets-dir", type=click.Path(file_okay=False, path_type=Path), default=None,
              help=f"Folder of the identities' passwords, one file per identity [env {SECRETS_DIR_ENV}; "
                   f"default {_DEFAULT_SECRETS}].")
@click.option("--generate-passwords", is_flag=True,
              help="Create a random password (file mode 0600) for each identity that has none (development).")
@click.option("--dry-run", is_flag=True, help="Print the difference between the cluster and the configuration; "
                                              "change nothing.")
@click.option("--no-prune", is_flag=True,
              help="Add and update only: keep the ACLs and credentials no longer in the configuration.")
@click.option("--delete-topics", is_flag=True,
              help="Also delete network topics no longer in the configuration, with their records.")
def provision_command(config_path: str | None, bootstrap_servers: str | None, secrets_dir: Path | None,
                      generate_passwords: bool, dry_run: bool, no_prune: bool, delete_topics: bool) -> None:
    """Make the cluster match the network configuration: every topic, one SCRAM identity per participant,
    per member, for the gateway and for the central delivery workers, and exactly the ACLs each needs.

    Runs as a super user of the cluster (OCO_KAFKA__USERNAME and its password). Idempotent: a second run
    finds nothing to do. Exit 0 done (or dry run printed), 1 the cluster refused, 2 configuration.
    """
    try:
        settings = load_settings(config_path)
        if bootstrap_servers:
            settings = settings.model_copy(update={
                "kafka": settings.kafka.model_copy(update={"bootstrap_servers": bootstrap_servers})})
        security = client_options(settings.kafka)
        folder = secrets_dir or Path(os.environ.get(SECRETS_DIR_ENV) or _DEFAULT_SECRETS)
        passwords = SecretsDir(folder, generate=generate_passwords, dry_run=dry_run)
        report = asyncio.run(provision(settings, security, passwords, apply=not dry_run, prune=not no_prune,
                                       delete_topics=delete_topics, progress=lambda line: click.echo(f"  {line}")))
    except ConfigError as exc:
        click.echo(f"oco-gateway: {exc}", err=True)
        sys.exit(2)
    except BrokerError as exc:
        click.echo(f"oco-gateway: {exc}", err=True)
        sys.exit(1)
    for name in report.generated:
        click.echo(f"{'would generate' if dry_run else 'generated'} a password for {name} in {folder / name}",
                   err=True)
    for line in report.lines():
        click.echo(line)
