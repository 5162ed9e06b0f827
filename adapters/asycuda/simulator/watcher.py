"""The simulator's hot folder: ASYCUDA World's XML import, as files.

A declaration dropped as ``<dir>/inbox/<name>.xml`` is claimed (moved to ``<dir>/work``), processed like an
HTTP submission with ``<name>`` as its idempotency key, and answered as ``<dir>/outbox/<name>.xml`` (the
assessed declaration) or ``<dir>/outbox/<name>.err.xml`` (the errors), written atomically. While down
nothing is picked up; a simulated failure leaves a file for a later round; a delay delays the result.
"""

from __future__ import annotations

import asyncio
import os
import random
from pathlib import Path

from adapters.asycuda.simulator.service import AsycudaSimulator

__all__ = ["HotFolderWatcher"]


class HotFolderWatcher:
    """Polls ``<folder>/inbox`` and answers in ``<folder>/outbox``; creates the folders.

    Args:
        simulator: the simulated system.
        folder: the hot folder's root.
        poll_interval: seconds between two looks at the inbox.
        rng: draws the simulated failures.
    """

    def __init__(self, simulator: AsycudaSimulator, folder: Path, *, poll_interval: float = 0.05,
                 rng: random.Random | None = None) -> None:
        self.simulator = simulator
        self.inbox, self.outbox, self.work = folder / "inbox", folder / "outbox", folder / "work"
        for path in (self.inbox, self.outbox, self.work):
            path.mkdir(parents=True, exist_ok=True)
        self.poll_interval = poll_interval
        self._draw = rng or random.Random()
        self._tasks: set[asyncio.Task[None]] = set()

    async def run(self) -> None:
        """Watch until cancelled; each file is processed in its own task, so a slow one holds up no other."""
        try:
            while True:
                self.poll()
                await asyncio.sleep(self.poll_interval)
        finally:
            for task in self._tasks:
                task.cancel()

    def poll(self) -> None:
        """Claim the declarations waiting in the inbox and start processing them."""
        controls = self.simulator.state.controls
        if controls.down:
            return
        for path in sorted(self.inbox.glob("*.xml")):  # writers' temporary files end in .tmp
            if controls.trouble(self._draw):  # a simulated failure: the file waits for a later round
                continue
            claimed = self.work / path.name
            try:
                os.replace(path, claimed)  # atomic: the writer may withdraw the file at the same moment
            except FileNotFoundError:
                continue
            task = asyncio.create_task(self._process(claimed))
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)

    async def _process(self, claimed: Path) -> None:
        name = claimed.name.removesuffix(".xml")
        outcome = await self.simulator.submit(claimed.read_bytes(), name)
        target = self.outbox / (f"{name}.xml" if outcome.accepted else f"{name}.err.xml")
        temporary = self.outbox / f".{target.name}.tmp"
        temporary.write_bytes(outcome.document)
        os.replace(temporary, target)
        claimed.unlink(missing_ok=True)
