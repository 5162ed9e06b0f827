"""``oco-gateway dlq list|replay``: inspect and re-inject messages parked in the dead-letter topic."""

from __future__ import annotations

import asyncio
import json
from typing import Any, NamedTuple

import click

from gateway import headers as h
from gateway.config import load_settings
from gateway.errors import BrokerError, ConfigError
from gateway.kafka_security import client_options
from gateway.transport.dlq import ParkedMessage, read_parked, replay

__all__ = ["dlq"]


@click.group()
@click.option("--config", "config_path", type=click.Path(dir_okay=False), envvar="OCO_CONFIG",
              help="Network configuration YAML (env OCO_CONFIG), for the Kafka address.")
@click.option("--bootstrap-servers", help="Kafka address; overrides the configuration.")
@click.pass_context
def dlq(ctx: click.Context, config_path: str | None, bootstrap_servers: str | None) -> None:
    """Inspect and replay the dead-letter topic (oco.dlq), as an identity allowed to read it (an operator's)."""
    try:
        kafka = load_settings(config_path).kafka
        ctx.obj = _Kafka(bootstrap_servers or kafka.bootstrap_servers, client_options(kafka))
    except ConfigError as exc:
        raise click.ClickException(str(exc)) from exc


class _Kafka(NamedTuple):
    bootstrap: str
    security: dict[str, Any]


def _select(messages: list[ParkedMessage], refs: tuple[str, ...], stage: str | None,
            tracking_id: str | None) -> list[ParkedMessage]:
    return [m for m in messages
            if (not refs or m.ref in refs) and (not stage or m.headers.get(h.DLQ_STAGE) == stage)
            and (not tracking_id or m.headers.get(h.TRACKING_ID) == tracking_id)]


_FILTERS = [
    click.option("--ref", "refs", multiple=True, help="partition:offset in oco.dlq (repeatable)."),
    click.option("--stage", help="Only messages parked at this stage (parse, identify, deliver...)."),
    click.option("--tracking-id", help="Only the message with this tracking id."),
]


def _filters(f):  # noqa: ANN001, ANN202 - decorator plumbing
    for option in reversed(_FILTERS):
        f = option(f)
    return f


@dlq.command("list")
@_filters
@click.option("--json", "as_json", is_flag=True, help="One JSON object per line.")
@click.pass_obj
def list_(kafka: _Kafka, refs: tuple[str, ...], stage: str | None, tracking_id: str | None, as_json: bool) -> None:
    """List parked messages: where they came from, at which stage and why."""
    messages = _select(_read(kafka), refs, stage, tracking_id)
    for m in messages:
        hd = m.headers
        row = {"ref": m.ref, "time": m.timestamp.isoformat(timespec="seconds"), "stage": hd.get(h.DLQ_STAGE, ""),
               "origin": f"{m.origin}[{hd.get(h.DLQ_PARTITION, '?')}]@{hd.get(h.DLQ_OFFSET, '?')}",
               "tracking_id": hd.get(h.TRACKING_ID, ""), "participant": hd.get(h.PARTICIPANT, ""),
               "error": hd.get(h.DLQ_EXCEPTION_CLASS, "").rsplit(".", 1)[-1],
               "message": hd.get(h.DLQ_EXCEPTION_MESSAGE, ""), "bytes": len(m.value)}
        if as_json:
            click.echo(json.dumps(row))
        else:
            click.echo(f"{row['ref']:>8}  {row['time']}  {row['stage']:<9} {row['origin']:<34} "
                       f"{row['tracking_id']}  {row['error']}: {row['message'][:120]}")
    if not as_json:
        click.echo(f"{len(messages)} parked message(s)")


@dlq.command("replay")
@_filters
@click.option("--all", "everything", is_flag=True, help="Replay every selected message (needed without filters).")
@click.option("--dry-run", is_flag=True, help="Say what would be replayed, send nothing.")
@click.pass_obj
def replay_(kafka: _Kafka, refs: tuple[str, ...], stage: str | None, tracking_id: str | None, everything: bool,
            dry_run: bool) -> None:
    """Publish parked messages again to the topic they failed on (after the cause was fixed)."""
    if not (refs or stage or tracking_id or everything):
        raise click.UsageError("choose what to replay: --ref, --stage, --tracking-id, or --all")
    chosen = _select(_read(kafka), refs, stage, tracking_id)
    for m in chosen:
        click.echo(f"{'would replay' if dry_run else 'replaying'} {m.ref} → {m.origin}")
    if dry_run:
        return
    try:
        sent = asyncio.run(replay(kafka.bootstrap, chosen, security=kafka.security))
    except (BrokerError, ValueError) as exc:
        raise click.ClickException(str(exc)) from exc
    click.echo(f"replayed {sent} message(s)")


def _read(kafka: _Kafka) -> list[ParkedMessage]:
    try:
        return asyncio.run(read_parked(kafka.bootstrap, security=kafka.security))
    except BrokerError as exc:
        raise click.ClickException(str(exc)) from exc
