"""Fixtures of the wco-xml adapter tests: the WCO single-window simulator as a real process."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator

import pytest

from gateway.sdk.simclient import SimulatorControl, SimulatorProcess

MEMBER = "NZ"


@pytest.fixture(scope="module")
def wco_simulator(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """Run ``python -m gateway simulate wco --member NZ`` on a free port; yield its base URL; stop it after.

    A simulator that does not come up fails the tests that need it, with its output.
    """
    log = tmp_path_factory.mktemp("wco-simulator") / "output.log"
    with SimulatorProcess("wco", "--member", MEMBER, log_path=log) as simulator:
        yield simulator.url


@pytest.fixture
async def wco_control(wco_simulator: str) -> AsyncIterator[SimulatorControl]:
    """Yield a control handle of the simulator, reset to normal before each test."""
    control = SimulatorControl(wco_simulator)
    await control.reset()
    yield control
