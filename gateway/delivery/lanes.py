"""Which record a member's delivery loop handles next: the priority lane first, without starving the others.

No Kafka here: the loop hands records over per partition and asks for the next one, so the rule is tested
directly. The rule:

- Records of one key (participant + LRN) are handled in offset order, one at a time (the per-key order Kafka
  gives); records of different keys may be in flight together (:meth:`LaneScheduler.start`), up to what the
  loop allows. Without ``key_of``, a partition is one key: its records go one at a time.
- A record of the priority lane (``oco.deliver.<M>.priority``) goes before ordinary records
  (``oco.deliver.<M>``) and retries (``oco.retry.<M>``).
- No starvation: after ``burst`` priority records in a row handled while an ordinary record or a retry
  waited, one of those is handled before the next priority record.
- Within a group (priority; ordinary and retries), partitions take turns (round robin), so one busy
  partition never holds the others of its group.
- A held partition (a retry not yet due, an open circuit) is skipped until released; its records stay.
- At most ``capacity`` records are held per partition; a finished record stays until every record before it
  has finished too (:meth:`LaneScheduler.commit_point`), so offsets are never committed past an unfinished one.
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

_WAITING, _FLYING, _FINISHED = 0, 1, 2


class _Entry(Generic[R]):
    __slots__ = ("record", "state")

    def __init__(self, record: R) -> None:
        self.record = record
        self.state = _WAITING


class LaneScheduler(Generic[K, R]):
    """The records a member's loop holds, per partition, and the choice of the next one to handle.

    Args:
        lane_of: the lane of a partition (by its topic).
        burst: priority records handled in a row, while others wait, before one of the others gets its turn.
        capacity: most records held per partition.
        key_of: the record's key (participant + LRN): records of one key are never in flight together. None
            (or a record whose key is None): the partition is the key, its records go one at a time.
    """

    def __init__(self, lane_of: Callable[[K], Lane], *, burst: int = 10, capacity: int = 50,
                 key_of: Callable[[R], Hashable | None] | None = None) -> None:
        if burst < 1 or capacity < 1:
            raise ValueError("burst and capacity must be at least 1")
        self._lane_of = lane_of
        self._key_of = key_of
        self.burst = burst
        self.capacity = capacity
        self._queues: OrderedDict[K, deque[_Entry[R]]] = OrderedDict()  # order = whose turn comes first
        self._busy: dict[Hashable, int] = {}  # keys in flight (kept when a partition is dropped: the call goes on)
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
            while queue and queue[-1].record.offset >= record.offset:
                queue.pop()
            if len(queue) >= self.capacity:
                raise ValueError(f"partition {key!r} holds {self.capacity} records already")
            queue.append(_Entry(record))

    def next(self) -> tuple[K, R] | None:
        """Return the partition and record to handle next, or None when nothing is ready.

        The record is the first of its partition whose key has nothing in flight and no earlier record
        waiting. It stays where it is until :meth:`start` (or :meth:`done`): asked again, the same comes.
        """
        priority, others = self._ready()
        if priority and (not others or self.streak < self.burst):
            key = priority[0]
        elif others:
            key = others[0]
        else:
            return None
        return key, self._startable(key).record  # type: ignore[union-attr]

    def start(self, key: K, record: R) -> None:
        """Note that the call of ``record`` (as :meth:`next` returned it) began: its key is busy until :meth:`ended`.

        Args:
            key: the partition.
            record: the record.
        """
        entry = self._entry(key, record)
        if entry is None or entry.state != _WAITING:
            raise ValueError(f"record at offset {record.offset} of {key!r} is not waiting")
        entry.state = _FLYING
        busy = self._busy_key(key, record)
        self._busy[busy] = self._busy.get(busy, 0) + 1
        self._took_turn(key)

    def ended(self, key: K, record: R) -> None:
        """Note that the call of a started record is over, whatever became of it: its key is free again.

        Args:
            key: the partition.
            record: the record given to :meth:`start`.
        """
        busy = self._busy_key(key, record)
        left = self._busy.get(busy, 0) - 1
        if left > 0:
            self._busy[busy] = left
        else:
            self._busy.pop(busy, None)

    def abort(self, key: K, record: R) -> None:
        """Put a started record back to waiting (it was held: a retry not due, an open circuit).

        Args:
            key: the partition.
            record: the record.
        """
        entry = self._entry(key, record)
        if entry is not None and entry.state == _FLYING:
            entry.state = _WAITING

    def finish(self, key: K, record: R) -> int | None:
        """Note that ``record`` was handled (its outputs acknowledged); return the partition's new commit point.

        Returns None, changing nothing, when the record is no longer held (the partition was dropped
        meanwhile), and None when an earlier record is unfinished. The point may be one a commit under way
        has not reached yet (records finished while it waited for the broker): the caller commits it.

        Args:
            key: the partition.
            record: the record.
        """
        entry = self._entry(key, record)
        if entry is None:
            return None
        entry.state = _FINISHED
        return self.commit_point(key)

    def commit_point(self, key: K) -> int | None:
        """Return the offset to commit for a partition: its first unfinished record's (or one past the last).

        None when the partition holds nothing or its first record is unfinished (nothing new to commit).

        Args:
            key: the partition.
        """
        queue = self._queues.get(key)
        if not queue or queue[0].state != _FINISHED:
            return None
        for entry in queue:
            if entry.state != _FINISHED:
                return entry.record.offset
        return queue[-1].record.offset + 1

    def trim(self, key: K, upto: int) -> None:
        """Forget the finished records of a partition before offset ``upto`` (committed).

        Args:
            key: the partition.
            upto: the committed offset.
        """
        queue = self._queues.get(key)
        while queue and queue[0].state == _FINISHED and queue[0].record.offset < upto:
            queue.popleft()

    def holds(self, key: K, record: R) -> bool:
        """Tell whether ``record`` is still held (not dropped by a rewind or a rebalance meanwhile).

        Args:
            key: the partition.
            record: the record.
        """
        return self._entry(key, record) is not None

    def in_flight(self) -> int:
        """Calls started and not ended, all partitions together (dropped partitions' included)."""
        return sum(self._busy.values())

    def done(self, key: K, record: R) -> bool:
        """Note that ``record`` (the head of ``key``) was handled and committed; give the partition's turn away.

        The one-at-a-time form of :meth:`start` + :meth:`finish` + :meth:`trim`. Returns False, changing
        nothing, when the record is no longer the head (the partition was dropped meanwhile, e.g. taken away
        by a rebalance).

        Args:
            key: the partition.
            record: the record :meth:`next` returned.
        """
        queue = self._queues.get(key)
        if not queue or queue[0].record is not record:
            return False
        entry = queue.popleft()
        if entry.state == _WAITING:
            self._took_turn(key)
        return True

    def head(self, key: K) -> R | None:
        """Return the next record of a partition, if any is held.

        Args:
            key: the partition.
        """
        queue = self._queues.get(key)
        return queue[0].record if queue else None

    def heads(self) -> dict[K, R]:
        """Return the first held record of every partition holding any (held partitions included)."""
        return {key: queue[0].record for key, queue in self._queues.items() if queue}

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
        return [entry.record for entry in queue or ()]

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
        for key in self._queues:
            if self._startable(key) is not None:
                (priority if self._lane_of(key) is Lane.PRIORITY else others).append(key)
        return priority, others

    def _startable(self, key: K) -> _Entry[R] | None:
        """The first waiting record of a partition whose key has nothing in flight nor waiting before it."""
        queue = self._queues.get(key)
        if not queue or key in self._held:
            return None
        seen: set[Hashable] = set()
        for entry in queue:
            if entry.state == _FINISHED:
                continue
            busy = self._busy_key(key, entry.record)
            if entry.state == _WAITING and busy not in seen and busy not in self._busy:
                return entry
            seen.add(busy)
        return None

    def _took_turn(self, key: K) -> None:
        if self._lane_of(key) is Lane.PRIORITY:
            self.streak = self.streak + 1 if self._ready()[1] else 0
        else:
            self.streak = 0
        self._queues.move_to_end(key)  # the other partitions of its group go first next time

    def _busy_key(self, key: K, record: R) -> Hashable:
        found = self._key_of(record) if self._key_of else None
        return ("partition", key) if found is None else ("key", found)

    def _entry(self, key: K, record: R) -> _Entry[R] | None:
        for entry in self._queues.get(key, ()):
            if entry.record is record:
                return entry
        return None
