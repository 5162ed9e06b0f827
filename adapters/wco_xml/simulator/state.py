"""What a running simulator remembers: its control knobs and the declarations it registered, by key."""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from typing import Any

__all__ = ["Controls", "Registrations"]


@dataclass(slots=True)
class Controls:
    """The knobs of ``/control``: take the system down, slow it, make it fail or refuse.

    Attributes:
        down: answer every declaration with HTTP 503 at once.
        delay: seconds to wait before answering a declaration.
        failure_rate: share of declarations (0 to 1) answered with HTTP 503 at random.
        reject_next: refuse the next n declarations under a business rule (code ``TSW-REJECTED``).
    """

    down: bool = False
    delay: float = 0.0
    failure_rate: float = 0.0
    reject_next: int = 0

    def update(self, changes: Mapping[str, Any]) -> None:
        """Apply a partial update, all or nothing.

        Args:
            changes: some of ``down``, ``delay``, ``failure_rate``, ``reject_next``.

        Raises:
            ValueError: an unknown key or a value out of range; the message names it.
        """
        unknown = sorted(set(changes) - set(self.as_dict()))
        if unknown:
            raise ValueError(f"unknown control(s) {', '.join(unknown)}; known: {', '.join(self.as_dict())}")
        new = {**self.as_dict(), **changes}
        if not isinstance(new["down"], bool):
            raise ValueError(f"down must be true or false, not {new['down']!r}")
        for key, low, high in (("delay", 0, 3600), ("failure_rate", 0, 1)):
            value = new[key]
            if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value) \
                    or not low <= value <= high:
                raise ValueError(f"{key} must be a number from {low} to {high}, not {value!r}")
        if isinstance(new["reject_next"], bool) or not isinstance(new["reject_next"], int) or new["reject_next"] < 0:
            raise ValueError(f"reject_next must be a whole number from 0, not {new['reject_next']!r}")
        self.down, self.delay = new["down"], float(new["delay"])
        self.failure_rate, self.reject_next = float(new["failure_rate"]), new["reject_next"]

    def take_rejection(self) -> bool:
        """Return whether this declaration is to be refused under ``reject_next``, counting it down."""
        if self.reject_next <= 0:
            return False
        self.reject_next -= 1
        return True

    def as_dict(self) -> dict[str, Any]:
        """Return the knobs as the control API shows them."""
        return asdict(self)


@dataclass(slots=True)
class Registrations:
    """Declarations registered, once per idempotency key, with the answer each got (replayed on redelivery).

    Args:
        member: the member code, the middle of each customs reference.
    """

    member: str
    _answers: dict[str, bytes] = field(default_factory=dict)
    _sequence: int = 0

    def answer_for(self, key: str) -> bytes | None:
        """Return the answer given when ``key`` was registered, or None.

        Args:
            key: an idempotency key.
        """
        return self._answers.get(key)

    def next_reference(self, now: datetime | None = None) -> tuple[str, datetime]:
        """Allocate the next customs reference (``26NZ000000001``) and its acceptance time.

        Args:
            now: the acceptance time; default now (UTC).
        """
        when = now or datetime.now(UTC).replace(microsecond=0)
        self._sequence += 1
        return f"{when:%y}{self.member}{self._sequence:09d}", when

    def record(self, key: str, answer: bytes) -> None:
        """Remember the answer under ``key``; call once, when the declaration is registered.

        Args:
            key: the idempotency key.
            answer: the Response sent.
        """
        self._answers[key] = answer

    def count(self, key: str) -> int:
        """Return how many times ``key`` was registered: 0 or 1, since a key is registered once.

        Args:
            key: an idempotency key.
        """
        return int(key in self._answers)
