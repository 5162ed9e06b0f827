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
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from types import TracebackType
from typing import Any

import httpx

__all__ = ["SimulatorControl", "SimulatorFailed", "SimulatorProcess"]


class SimulatorFailed(RuntimeError):
    """The simulator process exited, or did not answer ``/health`` in time; the message holds its output."""


class SimulatorProcess:
    """``python -m gateway simulate <name> --port P <args>`` in a child process, its output in a log file.

    Args:
        name: the simulator's name under ``oco-gateway simulate``.
        args: its options (``--member FJ``, ``--down``...); ``--port`` is added, on a free port.
        log_path: where its output goes; a temporary file when None.
        host: the address it listens on.
    """

    def __init__(self, name: str, *args: str, log_path: Path | None = None, host: str = "127.0.0.1") -> None:
        self.name = name
        self.port = _free_port(host)
        self.url = f"http://{host}:{self.port}"
        self.log_path = log_path or Path(os.environ.get("TMPDIR", "/tmp")) / f"oco-simulator-{name}-{self.port}.log"
        self.command = [sys.executable, "-m", "gateway", "simulate", name, "--host", host, "--port", str(self.port),
                        *args]
        self._process: subprocess.Popen[bytes] | None = None

    def start(self, timeout: float = 30.0) -> SimulatorProcess:
        """Start it and wait until ``/health`` answers (200, or 503 when started down).

        Args:
            timeout: seconds to wait; a loaded machine needs several to import and load schemas.

        Raises:
            SimulatorFailed: it exited, or did not answer in time (it is stopped then).
        """
        with self.log_path.open("ab") as log:
            self._process = subprocess.Popen(self.command, stdout=log, stderr=subprocess.STDOUT,
                                             start_new_session=True)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self._process.poll() is not None:
                raise SimulatorFailed(f"simulator {self.name!r} exited with code {self._process.returncode}:\n"
                                      f"{self.log()}")
            try:
                httpx.get(f"{self.url}/health", timeout=1.0)
                return self
            except httpx.TransportError:
                time.sleep(0.1)
        self.stop()
        raise SimulatorFailed(f"simulator {self.name!r} did not answer on {self.url} within {timeout:g} s:\n{self.log()}")

    def stop(self) -> None:
        """Stop it: SIGTERM, then SIGKILL after 10 s."""
        if self._process is None or self._process.poll() is not None:
            return
        os.killpg(self._process.pid, signal.SIGTERM)
        try:
            self._process.wait(10)
        except subprocess.TimeoutExpired:
            os.killpg(self._process.pid, signal.SIGKILL)
            self._process.wait(5)

    def log(self) -> str:
        """Return the process's output so far."""
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""

    def __enter__(self) -> SimulatorProcess:
        return self.start() if self._process is None else self

    def __exit__(self, kind: type[BaseException] | None, error: BaseException | None, tb: TracebackType | None) -> None:
        self.stop()


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


def _free_port(host: str) -> int:
    with socket.socket() as sock:
        sock.bind((host, 0))
        return int(sock.getsockname()[1])
