"""Which submitted record the pipeline workers take next: the rule that one participant never holds another.

Pure (no Kafka, no threads), so the rule is unit-tested on its own; ``handler.py`` applies it.

The rule:

1. **One message at a time per participant.** A participant's records (all its partitions) are processed
   one after the other, never two at once, so whatever it sends occupies at most one worker thread; with
   ``gateway.workers`` threads (2 by default) another participant always finds one free, as long as fewer
   than ``workers`` participants send expensive messages at the same moment. A worker takes them in runs
   (:meth:`FairQueue.next_run`), one turn each.
2. **The least served first.** Among the participants with a record waiting, the one that used the least
   worker time recently (decayed, half-life :data:`HALF_LIFE` seconds) goes first; ties go to the one
   served least recently. A participant that has just sent a minute's worth of hostile XML waits behind
   every participant that did not.
3. **Partitions take turns** within a participant, each in offset order (a partition is never processed
   by two workers at once, so the versions of one declaration stay in order).
"""

from __future__ import annotations

import itertools
import math
import time
from collections import deque
from collections.abc import Callable, Hashable, Iterable
from typing import Generic, TypeVar

__all__ = ["HALF_LIFE", "FairQueue", "Usage"]

HALF_LIFE = 30.0
"""Seconds after which a participant's past worker time counts half."""

P = TypeVar("P", bound=Hashable)  # a partition
R = TypeVar("R")  # a record


class Usage:
    """Worker time each participant used recently, decayed exponentially.

    Args:
        half_life: seconds after which past use counts half.
        clock: monotonic seconds (tests pass their own).
    """

    def __init__(self, half_life: float = HALF_LIFE, clock: Callable[[], float] = time.monotonic) -> None:
        self._rate = math.log(2) / half_life
        self._clock = clock
        self._used: dict[str, tuple[float, float]] = {}  # participant -> (seconds, as of)
        self._served: dict[str, int] = {}  # participant -> turn of its last start
        self._turns = itertools.count(1)

    def charge(self, participant: str, seconds: float) -> None:
        """Add ``seconds`` of worker time to a participant."""
        self._used[participant] = (self.of(participant) + max(0.0, seconds), self._clock())
        self._forget()

    def served(self, participant: str) -> None:
        """Note that one of the participant's records was just started."""
        self._served[participant] = next(self._turns)

    def of(self, participant: str) -> float:
        """Return the participant's decayed worker time."""
        used = self._used.get(participant)
        if used is None:
            return 0.0
        seconds, since = used
        return seconds * math.exp(-self._rate * (self._clock() - since))

    def rank(self, participant: str) -> tuple[float, int]:
        """Sort key: least decayed use first, then least recently served."""
        return (round(self.of(participant), 4), self._served.get(participant, 0))

    def _forget(self) -> None:
        if len(self._used) > 10_000:  # participants come and go: keep the table small
            for participant in [p for p in self._used if self.of(p) < 1e-6]:
                del self._used[participant]
                self._served.pop(participant, None)


class FairQueue(Generic[P, R]):
    """The records of one batch, waiting for a worker, with the rule of the module docstring.

    Args:
        usage: the participants' worker time, kept across batches.
        participant_of: the participant a partition belongs to.
    """

    def __init__(self, usage: Usage, participant_of: Callable[[P], str]) -> None:
        self._usage = usage
        self._participant_of = participant_of
        self._pending: dict[P, deque[R]] = {}
        self._turn: dict[P, int] = {}  # partition -> turn of its last start, for round robin within a participant
        self._turns = itertools.count(1)
        self.busy: set[str] = set()  # participants with a record in a worker (or in the slow lane)

    def add(self, partition: P, records: Iterable[R]) -> None:
        """Queue a partition's records, in offset order."""
        queue = self._pending.setdefault(partition, deque())
        queue.extend(records)
        if not queue:
            del self._pending[partition]

    def next(self) -> tuple[P, R] | None:
        """Take the next record a worker may start, or None when every waiting participant is busy."""
        taken = self.next_run(1)
        return None if taken is None else taken[0]

    def next_run(self, max_records: int) -> list[tuple[P, R]] | None:
        """Take the next participant's next records (up to ``max_records``) for one worker, or None.

        The participant is the least served one (rule 2); its partitions take turns, each in offset order, so
        the run can be processed in its order. A run is one turn: the participant is busy until :meth:`done`,
        and records the worker did not get to go back with :meth:`push_front`.
        """
        candidates = [p for p in self._pending if self._participant_of(p) not in self.busy]
        if not candidates:
            return None
        first = min(candidates, key=lambda p: (self._usage.rank(self._participant_of(p)), self._turn.get(p, 0)))
        participant = self._participant_of(first)
        mine = sorted((p for p in candidates if self._participant_of(p) == participant),
                      key=lambda p: (p != first, self._turn.get(p, 0)))
        run: list[tuple[P, R]] = []
        while mine and len(run) < max_records:
            for partition in list(mine):
                queue = self._pending[partition]
                run.append((partition, queue.popleft()))
                if not queue:
                    del self._pending[partition]
                    mine.remove(partition)
                if len(run) >= max_records:
                    break
        for partition in dict.fromkeys(p for p, _ in run):
            self._turn[partition] = next(self._turns)
        self.busy.add(participant)
        self._usage.served(participant)
        return run

    def push_front(self, partition: P, records: list[R]) -> None:
        """Put records a worker did not get to back at the head of their partition, in order."""
        if records:
            self._pending.setdefault(partition, deque()).extendleft(reversed(records))

    def done_participant(self, participant: str, seconds: float) -> None:
        """A run of ``participant`` ended after ``seconds`` of worker time: it may go on."""
        self.busy.discard(participant)
        self._usage.charge(participant, seconds)

    def done(self, partition: P, seconds: float) -> None:
        """A record of ``partition`` finished after ``seconds`` of worker time: its participant may go on."""
        participant = self._participant_of(partition)
        self.busy.discard(participant)
        self._usage.charge(participant, seconds)

    def drop(self, partition: P) -> list[R]:
        """Withdraw a partition's waiting records (they are given back to Kafka); return them."""
        return list(self._pending.pop(partition, ()))

    def waiting(self) -> dict[P, list[R]]:
        """Return every partition's waiting records."""
        return {p: list(q) for p, q in self._pending.items()}

    def __len__(self) -> int:
        return sum(len(q) for q in self._pending.values())
