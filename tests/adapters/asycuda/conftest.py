"""Fixtures of the ASYCUDA adapter tests: the simulator as a real separate process, its control handle,
and ASYCUDA documents mapped from sample declarations.

A simulator that does not start FAILS the tests that need it: a skipped test would hide a broken simulator.
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from adapters.asycuda.mapping import AsycudaMapping
from gateway.samples import make_declaration
from gateway.sdk import simclient

PATHS_FILE = Path(__file__).resolve().parents[4] / "shared" / "interop" / "asycuda" / "element-paths.txt"
MEMBER = "FJ"


class SimulatorProcess(simclient.SimulatorProcess):
    """``python -m gateway simulate asycuda --member M`` in a child process, its output in a log file.

    Args:
        log_path: where the child's output goes.
        args: extra command-line options (``--down``, ``--rates FILE``...).
        member: the member it simulates.
        hotfolder: also watch this hot folder (``--hotfolder``).
    """

    def __init__(self, log_path: Path, *args: str, member: str = MEMBER, hotfolder: Path | None = None) -> None:
        folder = ["--hotfolder", str(hotfolder)] if hotfolder else []
        super().__init__("asycuda", "--member", member, *folder, *args, log_path=log_path)
        self.hotfolder = hotfolder


SimulatorControl = simclient.SimulatorControl


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
