"""A circuit breaker per member: stop calling a national system that keeps failing, probe it now and then."""

from __future__ import annotations

import time
from collections.abc import Callable
from enum import Enum

__all__ = ["BreakerState", "CircuitBreaker"]


class BreakerState(str, Enum):
    """Closed: calls flow. Open: no calls until the cool-down ends. Half open: one probe call decides."""

    CLOSED = "closed"
    OPEN = "open"
    HALF_OPEN = "half_open"


class CircuitBreaker:
    """Opens after ``failure_threshold`` consecutive failures; after ``reset_timeout`` lets one probe through.

    Args:
        failure_threshold: consecutive failures that open the circuit.
        reset_timeout: seconds the circuit stays open before a probe.
        clock: monotonic clock (tests pass a fake one).
        on_change: called with the new state on every transition (metrics, logs).
    """

    def __init__(self, failure_threshold: int = 5, reset_timeout: float = 30.0, *,
                 clock: Callable[[], float] = time.monotonic,
                 on_change: Callable[[BreakerState], None] | None = None) -> None:
        self.failure_threshold = failure_threshold
        self.reset_timeout = reset_timeout
        self._clock = clock
        self._on_change = on_change
        self._state = BreakerState.CLOSED
        self._failures = 0
        self._opened_at = 0.0

    @property
    def state(self) -> BreakerState:
        """The current state; an open circuit whose cool-down is over reads as half open."""
        if self._state is BreakerState.OPEN and self._clock() >= self._opened_at + self.reset_timeout:
            self._set(BreakerState.HALF_OPEN)
        return self._state

    def allows_call(self) -> bool:
        """Tell whether a call may be made now (closed, or half open for the probe)."""
        return self.state is not BreakerState.OPEN

    def probe_at(self) -> float:
        """Return the clock time at which the next probe is allowed."""
        return self._opened_at + self.reset_timeout

    def record_success(self) -> None:
        """Note a call that got an answer: the circuit closes."""
        self._failures = 0
        if self._state is not BreakerState.CLOSED:
            self._set(BreakerState.CLOSED)

    def record_failure(self) -> None:
        """Note a call that failed: a failed probe, or one failure too many, opens the circuit."""
        self._failures += 1
        if self.state is BreakerState.HALF_OPEN or self._failures >= self.failure_threshold:
            self._opened_at = self._clock()
            self._set(BreakerState.OPEN)

    def _set(self, state: BreakerState) -> None:
        if state is not self._state:
            self._state = state
            if self._on_change:
                self._on_change(state)
