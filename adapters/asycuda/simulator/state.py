"""The simulator's memory: its failure controls (:class:`gateway.sdk.simkit.Controls`), the registrations by
idempotency key, the counters.

With a state file, registrations and counters survive a restart (written after each registration,
atomically), as a real ASYCUDA database would.
"""

from __future__ import annotations

import json
import os
from dataclasses import asdict, dataclass, field
from pathlib import Path

from gateway.sdk.simkit import Controls

__all__ = ["Record", "SimulatorState"]


@dataclass(slots=True)
class Record:
    """A declaration registered under an idempotency key: the answer and how often it was registered."""

    document: bytes
    registrations: int = 1
    replays: int = 0


@dataclass(slots=True)
class SimulatorState:
    """Everything the simulator remembers.

    Args:
        path: the state file; None keeps everything in memory only.
    """

    path: Path | None = None
    controls: Controls = field(default_factory=Controls)
    records: dict[str, Record] = field(default_factory=dict)
    counters: dict[str, int] = field(default_factory=dict)  # "registration:2026" -> last number

    def load(self) -> None:
        """Read the state file, if there is one.

        Raises:
            ValueError: the file is not a state file written by the simulator.
        """
        if self.path is None or not self.path.exists():
            return
        try:
            data = json.loads(self.path.read_text(encoding="utf-8"))
            self.counters = {str(k): int(v) for k, v in data["counters"].items()}
            self.records = {key: Record(document=r["document"].encode(), registrations=r["registrations"],
                                        replays=r["replays"]) for key, r in data["records"].items()}
        except (OSError, json.JSONDecodeError, KeyError, TypeError, AttributeError) as exc:
            raise ValueError(f"{self.path} is not a simulator state file: {exc!r}") from exc

    def save(self) -> None:
        """Write the state file (atomically), if there is one."""
        if self.path is None:
            return
        data = {"counters": self.counters,
                "records": {key: {**asdict(r), "document": r.document.decode()} for key, r in self.records.items()}}
        temporary = self.path.with_name(f".{self.path.name}.tmp")
        temporary.write_text(json.dumps(data), encoding="utf-8")
        os.replace(temporary, self.path)

    def next_number(self, series: str, year: int) -> int:
        """Return the next number of a series (``registration``, ``assessment``...) for a year.

        Args:
            series: the series name.
            year: numbers restart at 1 every year.
        """
        key = f"{series}:{year}"
        self.counters[key] = self.counters.get(key, 0) + 1
        return self.counters[key]
