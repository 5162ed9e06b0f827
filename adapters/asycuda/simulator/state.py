"""The simulator's memory: its failure controls (:class:`gateway.sdk.simkit.Controls`) and its registration book
(:class:`gateway.sdk.registry.RegistrationBook`: registrations by idempotency key, number series).

With a state file (SQLite), registrations and numbers survive a restart, as a real ASYCUDA database would;
each registration is one small transaction, whatever the number already registered.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from gateway.sdk.registry import RegistrationBook
from gateway.sdk.simkit import Controls

__all__ = ["SimulatorState"]


@dataclass(slots=True)
class SimulatorState:
    """Everything the simulator remembers.

    Args:
        path: the state file (a SQLite database, created when missing); None keeps everything in memory only.
        controls: the failure controls.

    Raises:
        ValueError: ``path`` is not a registration book (an old JSON state file...); the message names it.
    """

    path: Path | None = None
    controls: Controls = field(default_factory=Controls)
    book: RegistrationBook = field(init=False)

    def __post_init__(self) -> None:
        self.book = RegistrationBook(self.path)

    def next_number(self, series: str, year: int) -> int:
        """Return the next number of a series (``registration``, ``assessment``...) for a year.

        Args:
            series: the series name.
            year: numbers restart at 1 every year.
        """
        return self.book.next_number(f"{series}:{year}")
