"""Fixtures of the ASYCUDA adapter tests: the simulator as a real separate process, its control handle,
and ASYCUDA documents mapped from sample declarations.

A simulator that does not start FAILS the tests that need it: a skipped test would hide a broken simulator.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from adapters.asycuda.mapping import AsycudaMapping
from gateway.ops.broker import free_ports
from gateway.samples import make_declaration

PATHS_FILE = Path(__file__).resolve().parents[4] / "shared" / "interop" / "asycuda" / "element-paths.txt"
MEMBER = "FJ"


class SimulatorProcess:
    """``python -m gateway simulate asycuda`` in a child process, its output in a log file.

    Args:
        log_path: where the child's output goes.
        args: extra command-line options (``--down``, ``--rates FILE``...).
        member: the member it simulates.
        hotfolder: also watch this hot folder (``--hotfolder``).
    """

    def __init__(self, log_path: Path, *args: str, member: str = MEMBER, hotfolder: Path | None = None) -> None:
        self.port = free_ports(1)[0]
        self.url = f"http://127.0.0.1:{self.port}"
        self.log_path = log_path
        self.hotfolder = hotfolder
        folder = ["--hotfolder", str(hotfolder)] if hotfolder else []
        self.command = [sys.executable, "-m", "gateway", "simulate", "asycuda", "--member", member,
                        "--port", str(self.port), *folder, *args]
        self._process: subprocess.Popen[bytes] | None = None

    def start(self, timeout: float = 30.0) -> SimulatorProcess:
        """Start it and wait until ``/health`` answers (200, or 503 when started ``--down``).

        Args:
            timeout: seconds to wait.
        """
        with self.log_path.open("ab") as log:
            self._process = subprocess.Popen(self.command, stdout=log, stderr=subprocess.STDOUT,
                                             start_new_session=True)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self._process.poll() is not None:
                pytest.fail(f"the ASYCUDA simulator exited with code {self._process.returncode}:\n{self.log()}",
                            pytrace=False)
            try:
                httpx.get(f"{self.url}/health", timeout=1.0)
                return self
            except httpx.TransportError:
                time.sleep(0.1)
        self.stop()
        pytest.fail(f"the ASYCUDA simulator did not answer on {self.url} within {timeout} s:\n{self.log()}",
                    pytrace=False)

    def stop(self) -> None:
        """Stop it (SIGTERM, then SIGKILL after 10 s)."""
        if self._process is None or self._process.poll() is not None:
            return
        os.killpg(self._process.pid, signal.SIGTERM)
        try:
            self._process.wait(10)
        except subprocess.TimeoutExpired:
            os.killpg(self._process.pid, signal.SIGKILL)
            self._process.wait(5)

    def log(self) -> str:
        """Return the child's output so far."""
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""


class SimulatorControl:
    """The contract kit's :class:`NationalSystem`, through the simulator's control endpoint.

    Args:
        url: the simulator's base URL.
        key_of: turns an idempotency key into the key the simulator knows (hot folder: the file name).
    """

    def __init__(self, url: str, key_of: Callable[[str], str] = str) -> None:
        self.url = url
        self.key_of = key_of

    async def control(self, **changes: Any) -> dict[str, Any]:
        """POST ``changes`` to ``/control`` and return the new state."""
        async with httpx.AsyncClient(timeout=5) as client:
            response = await client.post(f"{self.url}/control", json=changes)
        response.raise_for_status()
        return dict(response.json())

    async def reject_next(self) -> None:
        """Refuse the next declaration (business rule)."""
        await self.control(reject_next=1)

    async def set_delay(self, seconds: float) -> None:
        """Answer after ``seconds``."""
        await self.control(delay=seconds)

    async def set_down(self, down: bool) -> None:
        """Answer 503 (HTTP) or stop picking up files (hot folder) while down."""
        await self.control(down=down)

    async def registrations(self, key: str) -> int:
        """Return how often the simulator registered ``key``."""
        async with httpx.AsyncClient(timeout=5) as client:
            response = await client.get(f"{self.url}/control/registrations", params={"key": self.key_of(key)})
        response.raise_for_status()
        return int(response.json()["count"])

    async def reset(self) -> None:
        """Back to normal: up, no delay, no failures, no pending rejection."""
        await self.control(down=False, delay=0, failure_rate=0, reject_next=0)


@pytest.fixture(scope="module")
def simulator(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SimulatorProcess]:
    """One simulator process for FJ per test module, with a hot folder in a temp directory."""
    folder = tmp_path_factory.mktemp("asycuda")
    process = SimulatorProcess(folder / "simulator.log", hotfolder=folder / "hot").start()
    try:
        yield process
    finally:
        process.stop()


@pytest.fixture
async def control(simulator: SimulatorProcess) -> AsyncIterator[SimulatorControl]:
    """The simulator's control handle; the simulator is reset to normal after the test."""
    handle = SimulatorControl(simulator.url)
    yield handle
    await handle.reset()


@pytest.fixture(scope="session")
def mapping() -> AsycudaMapping:
    """The compiled WCO DM to ASYCUDA stylesheet."""
    return AsycudaMapping()


@pytest.fixture(scope="session")
def asycuda_paths() -> frozenset[str]:
    """Every element path seen in real ASYCUDA World files."""
    return frozenset(PATHS_FILE.read_text().split())


@pytest.fixture(scope="session")
def asycuda_document(mapping: AsycudaMapping) -> Callable[..., bytes]:
    """Build an ASYCUDA document from a sample declaration: ``asycuda_document(items=3, seed=1, ...)``."""

    def build(*, items: int = 2, seed: int = 1, lrn: str | None = None, **options: Any) -> bytes:
        payload = make_declaration(member=MEMBER, lrn=lrn or f"SIM-{time.time_ns()}", items=items, seed=seed,
                                   **options)
        return mapping(payload).document

    return build
