"""What a running simulator remembers: the declarations it registered, by key (its knobs: ``gateway.sdk.simkit``)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime

__all__ = ["Registrations"]


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
