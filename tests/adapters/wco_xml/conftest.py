"""Fixtures of the wco-xml adapter tests: the WCO single-window simulator as a real process."""

from __future__ import annotations

import subprocess
import sys
import time
from collections.abc import AsyncIterator, Iterator

import httpx
import pytest

from adapters.wco_xml.simulator import SimulatorControl
from gateway.ops.broker import free_ports

MEMBER = "NZ"
_START_TIMEOUT = 30.0  # seconds: the process loads the XSDs and uvicorn; a loaded CI box is slow


@pytest.fixture(scope="module")
def wco_simulator(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """Run ``python -m gateway simulate wco --member NZ`` on a free port; yield its base URL; stop it after.

    A simulator that does not come up fails the tests that need it, with its output.
    """
    port = free_ports(1)[0]
    log = tmp_path_factory.mktemp("wco-simulator") / "output.log"
    with log.open("wb") as out:
        process = subprocess.Popen([sys.executable, "-m", "gateway", "simulate", "wco", "--member", MEMBER,
                                    "--port", str(port)], stdout=out, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + _START_TIMEOUT
        while True:
            if process.poll() is not None:
                pytest.fail(f"the WCO simulator exited with {process.returncode}:\n{log.read_text()}", pytrace=False)
            try:
                if httpx.get(f"{url}/health", timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            if time.monotonic() > deadline:
                pytest.fail(f"the WCO simulator did not answer /health within {_START_TIMEOUT:g} s:\n"
                            f"{log.read_text()}", pytrace=False)
            time.sleep(0.1)
        yield url
    finally:
        process.terminate()
        try:
            process.wait(10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


@pytest.fixture
async def wco_control(wco_simulator: str) -> AsyncIterator[SimulatorControl]:
    """Yield a control handle of the simulator, reset to normal before each test."""
    control = SimulatorControl(wco_simulator)
    await control.reset()
    try:
        yield control
    finally:
        await control.aclose()
