"""``oco-gateway simulate asycuda``: run a member's simulated ASYCUDA World (HTTP, and a hot folder)."""

from __future__ import annotations

import asyncio
import logging
import random
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager, suppress
from pathlib import Path

import click
import uvicorn
from starlette.applications import Starlette

from adapters.asycuda.layout import load_layout
from adapters.asycuda.simulator.app import DroppedConnectionFilter, create_app
from adapters.asycuda.simulator.rates import DEFAULT_RATES, load_tariff
from adapters.asycuda.simulator.service import AsycudaSimulator
from adapters.asycuda.simulator.state import SimulatorState
from adapters.asycuda.simulator.watcher import HotFolderWatcher
from gateway.sdk.simkit import MAX_DELAY, Controls

__all__ = ["asycuda"]


@click.command("asycuda")
@click.option("--member", required=True, help="Member code the simulated ASYCUDA World serves (FJ, WS, TO...).")
@click.option("--port", type=click.IntRange(0, 65535), default=8181, show_default=True, help="HTTP port.")
@click.option("--host", default="127.0.0.1", show_default=True, help="Interface to listen on.")
@click.option("--hotfolder", type=click.Path(file_okay=False, path_type=Path),
              help="Also watch DIR/inbox and answer in DIR/outbox (ASYCUDA's XML import).")
@click.option("--rates", type=click.Path(exists=True, dir_okay=False, path_type=Path), default=DEFAULT_RATES,
              help="Rate table (YAML); the shipped rates.yaml by default.")
@click.option("--delay", type=click.FloatRange(0, MAX_DELAY), default=0.0, help="Seconds before each answer.")
@click.option("--failure-rate", type=click.FloatRange(0, 1), default=0.0,
              help="Share of requests that fail (503 or a dropped connection).")
@click.option("--down", is_flag=True, help="Start down: 503 for everything but /control.")
@click.option("--state", "state_file", type=click.Path(dir_okay=False, path_type=Path),
              help="Keep registrations and numbers in this SQLite file across restarts (created when missing).")
@click.option("--seed", type=int, help="Seed of the simulated failures, for reproducible runs.")
@click.option("--layout", help="The installation's layout (a shipped name or a file): documents that do not "
              "follow it are refused, as that installation's XML import would.")
def asycuda(member: str, port: int, host: str, hotfolder: Path | None, rates: Path, delay: float,
            failure_rate: float, down: bool, state_file: Path | None, seed: int | None, layout: str | None) -> None:
    """Simulate ASYCUDA World for one member: registers, assesses, rejects, fails on demand.

    HTTP API: POST /asycuda/declarations, GET /health, GET|POST /control, GET /control/registrations?key=K.
    """
    try:
        tariff = load_tariff(rates)
        state = SimulatorState(path=state_file, controls=Controls(down=down, delay=delay, failure_rate=failure_rate))
        simulator = AsycudaSimulator(member.upper(), tariff, state, load_layout(layout) if layout else None)
    except (OSError, ValueError) as exc:
        raise click.ClickException(str(exc)) from exc
    rng = random.Random(seed)
    watcher = HotFolderWatcher(simulator, hotfolder, rng=rng) if hotfolder else None

    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        logging.getLogger("uvicorn.error").addFilter(DroppedConnectionFilter())  # after uvicorn set up logging
        task = asyncio.create_task(watcher.run()) if watcher else None
        try:
            yield
        finally:
            if task:
                task.cancel()
                with suppress(asyncio.CancelledError):
                    await task

    app = create_app(simulator, lifespan=lifespan, rng=rng)
    folder = f", hot folder {hotfolder}" if hotfolder else ""
    click.echo(f"ASYCUDA World simulator for {simulator.member} on http://{host}:{port}{folder}", err=True)
    # A stop is not held up by answers still waiting out a simulated delay (the contract's timeout case
    # leaves one sleeping for a minute): they are cancelled after 1 s.
    uvicorn.run(app, host=host, port=port, log_level="warning", access_log=False, timeout_graceful_shutdown=1)
