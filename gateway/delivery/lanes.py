"""Which record a member's delivery loop handles next: the priority lane first, without starving the others.

No Kafka here: the loop hands records over per partition and asks for the next one, so the rule is tested
directly. The rule:

- Records of a partition are handled in offset order, one at a time (the per-key order Kafka gives).
- A record of the priority lane (``oco.deliver.<M>.priority``) goes before ordinary records
  (``oco.deliver.<M>``) and retries (``oco.retry.<M>``).
- No starvation: after ``burst`` priority records in a row handled while an ordinary record or a retry
  waited, one of those is handled before the next priority record.
- Within a group (priority; ordinary and retries), partitions take turns (round robin), so one busy
  partition never holds the others of its group.
- A held partition (a retry not yet due, an open circuit) is skipped until released; its records stay.
- At most ``capacity`` records are held per partition.
"""

from __future__ import annotations

from collections import OrderedDict, deque
from collections.abc import Callable, Hashable, Iterable
from enum import Enum
from typing import Generic, Protocol, TypeVar

__all__ = ["Lane", "LaneScheduler"]


class Lane(str, Enum):
    """Where a record comes from: the priority lane, the ordinary delivery topic, or the retry topic."""

    PRIORITY = "priority"
    ORDINARY = "ordinary"
    RETRY = "retry"


class _HasOffset(Protocol):
    @property
    def offset(self) -> int: ...


K = TypeVar("K", bound=Hashable)
R = TypeVar("R", bound=_HasOffset)


class LaneScheduler(Generic[K, R]):
    """The records a member's loop holds, per partition, and the choice of the next one to handle.

    Args:
        lane_of: the lane of a partition (by its topic).
        burst: priority records handled in a row, while others wait, before one of the others gets its turn.
        capacity: most records held per partition.
    """

    def __init__(self, lane_of: Callable[[K], Lane], *, burst: int = 10, capacity: int = 50) -> None:
        if burst < 1 or capacity < 1:
            raise ValueError("burst and capacity must be at least 1")
        self._lane_of = lane_of
        self.burst = burst
        self.capacity = capacity
        self._queues: OrderedDict[K, deque[R]] = OrderedDict()  # order = whose turn comes first
        self._held: set[K] = set()
        self.streak = 0  # priority records handled in a row while others waited

    def room(self, key: K) -> int:
        """Return how many records may be added to a partition now (0 while held).

        Args:
            key: the partition.
        """
        if key in self._held:
            return 0
        return self.capacity - len(self._queues.get(key, ()))

    def add(self, key: K, records: Iterable[R]) -> None:
        """Append fetched records of a partition, in offset order.

        A record at or before one already held means the consumer went back (a rewind, a partition taken
        away and given back): the held records from that offset on are dropped first, so nothing is handled
        twice in a row and the order stays that of the log.

        Args:
            key: the partition.
            records: its next records, in offset order.

        Raises:
            ValueError: more records than the partition has room for.
        """
        queue = self._queues.setdefault(key, deque())
        for record in records:
            while queue and queue[-1].offset >= record.offset:
                queue.pop()
            if len(queue) >= self.capacity:
                raise ValueError(f"partition {key!r} holds {self.capacity} records already")
            queue.append(record)

    def next(self) -> tuple[K, R] | None:
        """Return the partition and record to handle next, or None when nothing is ready.

        The record stays where it is until :meth:`done`: if its handling is interrupted, it comes again.
        """
        priority, others = self._ready()
        if priority and (not others or self.streak < self.burst):
            key = priority[0]
        elif others:
            key = others[0]
        else:
            return None
        return key, self._queues[key][0]

    def done(self, key: K, record: R) -> bool:
        """Note that ``record`` (the head of ``key``) was handled and committed; give the partition's turn away.

        Returns False, changing nothing, when the record is no longer the head (the partition was dropped
        meanwhile, e.g. taken away by a rebalance).

        Args:
            key: the partition.
            record: the record :meth:`next` returned.
        """
        queue = self._queues.get(key)
        if not queue or queue[0] is not record:
            return False
        queue.popleft()
        if self._lane_of(key) is Lane.PRIORITY:
            self.streak = self.streak + 1 if self._ready()[1] else 0
        else:
            self.streak = 0
        self._queues.move_to_end(key)  # the other partitions of its group go first next time
        return True

    def head(self, key: K) -> R | None:
        """Return the next record of a partition, if any is held.

        Args:
            key: the partition.
        """
        queue = self._queues.get(key)
        return queue[0] if queue else None

    def heads(self) -> dict[K, R]:
        """Return the first held record of every partition holding any (held partitions included)."""
        return {key: queue[0] for key, queue in self._queues.items() if queue}

    def hold(self, key: K) -> None:
        """Skip a partition until :meth:`release` (its records stay, in order).

        Args:
            key: the partition.
        """
        self._held.add(key)

    def release(self, key: K) -> None:
        """Let a held partition be chosen again.

        Args:
            key: the partition.
        """
        self._held.discard(key)

    def is_held(self, key: K) -> bool:
        """Tell whether a partition is held.

        Args:
            key: the partition.
        """
        return key in self._held

    def drop(self, key: K) -> list[R]:
        """Forget the records held for a partition (it keeps its held state); return them, first first.

        Args:
            key: the partition.
        """
        queue = self._queues.pop(key, None)
        return list(queue or ())

    def forget(self, key: K) -> None:
        """Forget a partition altogether: its records and its held state (it was taken away).

        Args:
            key: the partition.
        """
        self._queues.pop(key, None)
        self._held.discard(key)

    def __len__(self) -> int:
        """Records held, all partitions together."""
        return sum(len(q) for q in self._queues.values())

    def _ready(self) -> tuple[list[K], list[K]]:
        priority: list[K] = []
        others: list[K] = []
        for key, queue in self._queues.items():
            if queue and key not in self._held:
                (priority if self._lane_of(key) is Lane.PRIORITY else others).append(key)
        return priority, others
