"""When to try a failed delivery again: exponential backoff with jitter, bounded in attempts and delay."""

from __future__ import annotations

import random
from dataclasses import dataclass

__all__ = ["RetryPolicy"]


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    """How many deliveries to try and how long to wait between them.

    "Equal jitter" (a random wait between half and all of the exponential bound) spreads the retries of a
    backlog, so a national system coming back is not hit by all of them at once, while still waiting at
    least half the bound.
    """

    max_attempts: int = 8
    base_delay: float = 1.0
    max_delay: float = 300.0

    def delay_before(self, attempt: int, rng: random.Random | None = None) -> float:
        """Return the seconds to wait before ``attempt`` (2 for the first retry).

        Args:
            attempt: the attempt about to be scheduled, 2 or more.
            rng: random source (tests pass a seeded one).
        """
        bound = min(self.max_delay, self.base_delay * 2 ** max(0, attempt - 2))
        return (rng or random).uniform(bound / 2, bound)

    def gives_up_after(self, attempt: int) -> bool:
        """Tell whether a failure of ``attempt`` is the last one allowed.

        Args:
            attempt: the attempt that just failed.
        """
        return attempt >= self.max_attempts
