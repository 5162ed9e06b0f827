"""The simulator's memory: its failure controls, the registrations by idempotency key, the counters.

With a state file, registrations and counters survive a restart (written after each registration,
atomically), as a real ASYCUDA database would.
"""

from __future__ import annotations

import json
import os
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

__all__ = ["Controls", "Record", "SimulatorState"]


@dataclass(slots=True)
class Controls:
    """How the simulated system misbehaves; changed at run time through ``POST /control``."""

    down: bool = False
    delay: float = 0.0
    failure_rate: float = 0.0
    reject_next: int = 0

    def update(self, changes: dict[str, Any]) -> None:
        """Apply a ``POST /control`` body.

        Args:
            changes: any of ``down`` (bool), ``delay`` (seconds >= 0), ``failure_rate`` (0 to 1),
                ``reject_next`` (count >= 0).

        Raises:
            ValueError: an unknown key or a value of the wrong type or range; nothing is changed then.
        """
        checked: dict[str, Any] = {}
        for key, value in changes.items():
            if key == "down" and isinstance(value, bool):
                checked[key] = value
            elif key in ("delay", "failure_rate") and _number(value) and value >= 0 and (
                    key == "delay" or value <= 1):
                checked[key] = float(value)
            elif key == "reject_next" and isinstance(value, int) and not isinstance(value, bool) and value >= 0:
                checked[key] = value
            else:
                raise ValueError(f"{key}={value!r} is not a valid control; expected down (bool), delay (seconds "
                                 ">= 0), failure_rate (0 to 1), reject_next (count >= 0)")
        for key, value in checked.items():
            setattr(self, key, value)


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


def _number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)
