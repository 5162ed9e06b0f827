"""``oco-gateway simulate wco``: run the WCO DM single-window simulator as a real HTTP server."""

from __future__ import annotations

import re
from pathlib import Path

import click

from gateway.errors import ProfileError

__all__ = ["wco"]


def _member(ctx: click.Context, param: click.Parameter, value: str) -> str:
    if not re.fullmatch("[A-Z]{2}", value):
        raise click.BadParameter(f"expected an ISO 3166-1 alpha-2 member code such as NZ, not {value!r}")
    return value


@click.command("wco")
@click.option("--member", required=True, callback=_member, help="Member code the simulated system serves (NZ).")
@click.option("--port", type=click.IntRange(0, 65535), default=8471, show_default=True, help="TCP port.")
@click.option("--host", default="127.0.0.1", show_default=True, help="Interface to listen on.")
@click.option("--delay", type=click.FloatRange(0, 3600), default=0.0, show_default=True,
              help="Seconds to wait before answering each declaration.")
@click.option("--down", is_flag=True, help="Start in outage: answer every declaration with HTTP 503.")
@click.option("--profiles", type=click.Path(exists=True, file_okay=False, path_type=Path), default=None,
              help="Schema profiles folder [default: OCO_PROFILES_DIR or the repository's schemas/].")
@click.option("--state", "state_file", type=click.Path(dir_okay=False, path_type=Path),
              help="Keep registrations in this SQLite file across restarts (created when missing).")
def wco(member: str, port: int, host: str, delay: float, down: bool, profiles: Path | None,
        state_file: Path | None) -> None:
    """Simulate a single window that takes WCO DM XML (New Zealand's Trade Single Window).

    POST /declarations registers each Idempotency-Key once and answers a WCO DM Response; GET/POST
    /control changes down, delay, failure_rate and reject_next; GET /control/registrations?key=K counts
    registrations; GET /health.
    """
    # Imported here so `oco-gateway --help` does not load the XSDs or the web stack.
    import uvicorn

    from gateway.sdk.simkit import Controls
    from adapters.wco_xml.simulator.app import create_app

    try:
        app = create_app(member, profiles_dir=profiles, controls=Controls(down=down, delay=delay), state=state_file)
    except (ProfileError, ValueError) as exc:
        raise click.ClickException(str(exc)) from exc
    click.echo(f"WCO single-window simulator of {member} on http://{host}:{port} "
               f"(POST /declarations, control at /control)", err=True)
    # A stop is not held up by answers still waiting out a simulated delay: they are cancelled after 1 s.
    uvicorn.run(app, host=host, port=port, log_level="warning", access_log=False, timeout_graceful_shutdown=1)
