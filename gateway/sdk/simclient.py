"""Run a simulator as a real process and drive it over its ``/control`` API: the contract suite's ``national``.

Any simulator built with :mod:`gateway.sdk.simkit` and registered under ``oco-gateway simulate <name>`` (entry
point group ``oco_gateway.simulators``) can be started and driven the same way::

    with SimulatorProcess("example", "--member", "VU", log_path=tmp / "sim.log") as sim:
        control = SimulatorControl(sim.url)
        await control.set_delay(2)
        ...

A simulator that does not start raises :class:`SimulatorFailed` with its output: a test that needs it fails,
it never skips.
"""

from __future__ import annotations

import os
import urllib.error
import urllib.request
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx

from gateway.errors import GatewayError
from gateway.ops.broker import free_ports
from gateway.ops.process import ChildProcess

__all__ = ["SimulatorControl", "SimulatorFailed", "SimulatorProcess"]


class SimulatorFailed(GatewayError):
    """The simulator process exited, or did not answer ``/health`` in time; the message holds its output."""


class SimulatorProcess(ChildProcess):
    """``python -m gateway simulate <name> --port P <args>`` in a child process, its output in a log file.

    Args:
        name: the simulator's name under ``oco-gateway simulate``.
        args: its options (``--member FJ``, ``--down``...); ``--host`` and ``--port`` (a free one) are added.
        log_path: where its output goes; a temporary file when None.
        host: the address it listens on.
    """

    failure = SimulatorFailed

    def __init__(self, name: str, *args: str, log_path: Path | None = None, host: str = "127.0.0.1") -> None:
        self.port = free_ports(1)[0]
        self.url = f"http://{host}:{self.port}"
        log = log_path or Path(os.environ.get("TMPDIR", "/tmp")) / f"oco-simulator-{name}-{self.port}.log"
        super().__init__(["simulate", name, "--host", host, "--port", str(self.port), *args],
                         ready_url=f"{self.url}/health", log_path=log)

    def start(self, timeout: float = 30.0) -> SimulatorProcess:  # type: ignore[override]
        """Start it and wait until ``/health`` answers (200, or 503 when started down); return it.

        Args:
            timeout: seconds to wait; a loaded machine needs several to import and load schemas.

        Raises:
            SimulatorFailed: it exited, or did not answer in time (it is stopped then).
        """
        super().start(timeout)
        return self

    def ready(self) -> bool:
        """Tell whether ``/health`` answers at all: a simulator started down answers 503, and is up."""
        try:
            with urllib.request.urlopen(self.ready_url, timeout=2):
                return True
        except urllib.error.HTTPError:
            return True
        except (urllib.error.URLError, OSError):
            return False

    def stop(self, timeout: float = 10.0) -> int | None:
        """Stop it: SIGTERM, then SIGKILL after ``timeout`` seconds; return its exit code."""
        return super().stop(timeout)

    def __enter__(self) -> SimulatorProcess:
        return self.start()


class SimulatorControl:
    """Drive a running simulator through ``/control``; satisfies ``gateway.sdk.contract.NationalSystem``.

    Args:
        url: the simulator's base URL.
        key_of: turns an idempotency key into the key the simulator knows it by (as it travelled: a header
            value, a file name).
    """

    def __init__(self, url: str, key_of: Callable[[str], str] = str) -> None:
        self.url = url
        self.key_of = key_of

    async def control(self, **changes: Any) -> dict[str, Any]:
        """Change some controls (``down``, ``delay``, ``failure_rate``, ``reject_next``); return them all.

        Raises:
            httpx.HTTPStatusError: the simulator refused a value (400 naming the key).
        """
        async with httpx.AsyncClient(timeout=10) as client:
            response = await client.post(f"{self.url}/control", json=changes)
        response.raise_for_status()
        return dict(response.json())

    async def reset(self) -> None:
        """Back to normal: up, no delay, no failures, no pending rejection."""
        await self.control(down=False, delay=0, failure_rate=0, reject_next=0)

    async def reject_next(self) -> None:
        """Refuse the next declaration under a business rule."""
        await self.control(reject_next=1)

    async def set_delay(self, seconds: float) -> None:
        """Answer declarations after ``seconds`` (0 for none)."""
        await self.control(delay=seconds)

    async def set_down(self, down: bool) -> None:
        """Be unavailable (True) or work normally (False)."""
        await self.control(down=down)

    async def registrations(self, key: str) -> int:
        """Return how many times the simulator registered ``key``."""
        async with httpx.AsyncClient(timeout=10) as client:
            response = await client.get(f"{self.url}/control/registrations", params={"key": self.key_of(key)})
        response.raise_for_status()
        return int(response.json()["count"])

