"""Rate-limit repeated warnings and errors: one line per cause per interval, then how many were left out.

During a Kafka outage the client logs the same failure many times a second per connection; an hour of that
would be millions of lines that say nothing new and bury what does. The first line of a cause is written at
once; the same cause again within ``interval`` seconds is counted, not written; the first line after the
interval carries ``repeated`` (how many were left out) and opens a new interval. Debug and info lines are
never held back.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Hashable

__all__ = ["RepeatLimiter"]


class RepeatLimiter:
    """Decide, per cause, whether a line is written now; count those left out.

    Thread-safe: the standard library's handlers may be called from several threads.

    Args:
        interval: seconds during which a cause is written once.
        clock: monotonic seconds (tests pass their own).
        max_causes: causes remembered at once; the oldest are forgotten first (bounded memory whatever the input).
    """

    def __init__(self, interval: float = 30.0, *, clock: Callable[[], float] = time.monotonic,
                 max_causes: int = 10_000) -> None:
        if interval <= 0:
            raise ValueError("interval must be positive")
        self.interval = interval
        self._clock = clock
        self._max = max_causes
        self._lock = threading.Lock()
        self._causes: dict[Hashable, tuple[float, int]] = {}  # cause -> (interval start, lines left out)

    def admit(self, cause: Hashable) -> int | None:
        """Return None to leave the line out, else how many lines of its cause were left out before it.

        Args:
            cause: what makes two lines the same (logger, level, message template...).
        """
        now = self._clock()
        with self._lock:
            seen = self._causes.get(cause)
            if seen is not None and now - seen[0] < self.interval:
                self._causes[cause] = (seen[0], seen[1] + 1)
                return None
            self._causes.pop(cause, None)
            if len(self._causes) >= self._max:
                self._causes.pop(next(iter(self._causes)))
            self._causes[cause] = (now, 0)
            return seen[1] if seen is not None else 0
