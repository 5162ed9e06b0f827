"""``oco-gateway submit``: publish declarations as a member system would, and print the gateway's replies."""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path
from typing import Any

import click

from gateway.config import load_settings
from gateway.errors import ConfigError, GatewayError, Rejection
from gateway.kafka_security import acting_as, client_options
from gateway.pipeline.context import Submission
from gateway.pipeline.extract import extract_routing
from gateway.pipeline.identify import ProfileSelector, version_plan
from gateway.pipeline.parse import SafeParser
from gateway.profiles import ProfileRegistry, VersionPlan
from gateway.responses import ResponseSummary, read_response
from gateway.transport.client import ParticipantClient

__all__ = ["submit"]


@click.command()
@click.argument("files", nargs=-1, required=True, type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--as", "participant", required=True, help="Participant id to submit as.")
@click.option("--config", "config_path", type=click.Path(dir_okay=False), envvar="OCO_CONFIG",
              help="Network configuration YAML (env OCO_CONFIG), for the Kafka address.")
@click.option("--bootstrap-servers", help="Kafka address; overrides the configuration.")
@click.option("--timeout", default=30.0, show_default=True, help="Seconds to wait for the replies.")
@click.option("--final", is_flag=True,
              help="Wait for the national system's answer (accepted or rejected), not only the gateway's.")
def submit(files: tuple[Path, ...], participant: str, config_path: str | None,
           bootstrap_servers: str | None, timeout: float, final: bool) -> None:
    """Publish FILES to oco.submit.<PARTICIPANT> and print each reply; exit 1 if any is rejected or missing.

    On a secured broker it connects as PARTICIPANT (OCO_KAFKA__USERNAME, default the participant id) with
    its password (OCO_KAFKA__PASSWORD, OCO_KAFKA__PASSWORD_FILE or OCO_KAFKA__SECRETS_DIR/<id>).
    """
    try:
        settings = load_settings(config_path)
        security = client_options(acting_as(settings.kafka, participant))
    except ConfigError as exc:
        raise click.ClickException(str(exc)) from exc
    bootstrap = bootstrap_servers or settings.kafka.bootstrap_servers
    try:
        registry = ProfileRegistry.load([settings.profiles_dir])
        keyer = _Keyer(registry, version_plan(settings, registry), settings.gateway.max_message_bytes)
    except ConfigError as exc:
        raise click.ClickException(str(exc)) from exc
    try:
        ok = asyncio.run(_submit(bootstrap, security, participant, files, keyer, timeout, final))
    except GatewayError as exc:
        raise click.ClickException(str(exc)) from exc
    sys.exit(0 if ok else 1)


class _Keyer:
    """Derive the Kafka key (participant + LRN) the way the gateway will, so versions stay in order."""

    def __init__(self, registry: ProfileRegistry, versions: VersionPlan | None, max_bytes: int) -> None:
        # The participant's configured version, as the gateway picks it: versions of one profile read the LRN alike.
        self._stages = [SafeParser(max_bytes), ProfileSelector(registry, versions), extract_routing]

    def __call__(self, participant: str, payload: bytes) -> bytes | None:
        submission = Submission(payload=payload, participant=participant, tracking_id="")
        try:
            for stage in self._stages:
                submission = stage(submission)
        except Rejection:
            return None  # the gateway will say what is wrong; send it anyway
        assert submission.routing is not None
        return f"{participant}:{submission.routing.lrn}".encode()


async def _submit(bootstrap: str, security: dict[str, Any], participant: str, files: tuple[Path, ...],
                  keyer: _Keyer, timeout: float, final: bool) -> bool:
    async with ParticipantClient(bootstrap, participant, security=security) as client:
        sent: dict[str, Path] = {}
        for path in files:
            payload = path.read_bytes()
            sent[await client.submit(payload, key=keyer(participant, payload))] = path
        if final:
            replies = await client.final_replies(set(sent), timeout=timeout)
        else:
            replies = {t: [r] for t, r in (await client.replies(set(sent), timeout=timeout)).items()}
    ok = True
    for tracking_id, path in sent.items():
        summaries = [read_response(r) for r in replies.get(tracking_id, [])]
        if not summaries or (final and summaries[-1].status == "received"):
            click.echo(f"{path}: no {'final ' if final else ''}reply within {timeout:g}s (tracking id {tracking_id})")
            ok = False
        for summary in summaries:
            _print(path, tracking_id, summary)
            ok = ok and summary.status != "rejected"
    return ok


def _print(path: Path, tracking_id: str, summary: ResponseSummary) -> None:
    extra = f" customs-reference={summary.declaration_id}" if summary.declaration_id else ""
    click.echo(f"{path}: {summary.status} lrn={summary.lrn or '-'}{extra} tracking={tracking_id}")
    for tax in summary.taxes:
        click.echo(f"  tax {tax.code}: {tax.amount} {tax.currency}")
    for issue in summary.issues:
        where = f" line {issue.line}" if issue.line else ""
        click.echo(f"  {issue.code}{where}: {issue.message}" + (f" [{issue.path}]" if issue.path else ""))
