"""Tests for gateway.transport.fairness: which record the pipeline workers take next."""

from __future__ import annotations

import math

from gateway.transport.fairness import FairQueue, Usage


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def participant(tp: tuple[str, int]) -> str:
    return tp[0]


def queue(usage: Usage | None = None) -> FairQueue[tuple[str, int], str]:
    return FairQueue(usage or Usage(clock=Clock()), participant)


class TestUsage:
    def test_decays_by_half_each_half_life(self) -> None:
        """Worker time counts half after one half-life, a quarter after two."""
        clock = Clock()
        usage = Usage(half_life=10, clock=clock)
        usage.charge("a", 8.0)
        clock.now = 10
        assert math.isclose(usage.of("a"), 4.0)
        clock.now = 20
        assert math.isclose(usage.of("a"), 2.0)
        assert usage.of("nobody") == 0.0

    def test_charges_add_up(self) -> None:
        usage = Usage(clock=Clock())
        usage.charge("a", 1.0)
        usage.charge("a", 2.0)
        assert math.isclose(usage.of("a"), 3.0)


class TestFairQueue:
    def test_one_record_at_a_time_per_participant(self) -> None:
        """While a participant's record is in a worker, none of its other records (any partition) is started."""
        q = queue()
        q.add(("a", 0), ["a0-1", "a0-2"])
        q.add(("a", 1), ["a1-1"])
        first = q.next()
        assert first is not None and first[0][0] == "a"
        assert q.next() is None  # a is busy, nobody else waits
        q.done(first[0], 0.01)
        assert q.next() is not None

    def test_another_participant_goes_while_one_is_busy(self) -> None:
        q = queue()
        q.add(("a", 0), ["a1", "a2", "a3"])
        q.add(("b", 0), ["b1"])
        taken = [q.next(), q.next()]
        assert {t[1] for t in taken if t} == {"a1", "b1"}

    def test_least_served_participant_first(self) -> None:
        """A participant that used a lot of worker time recently waits behind one that did not."""
        usage = Usage(clock=Clock())
        usage.charge("hog", 60.0)
        q = queue(usage)
        q.add(("hog", 0), ["h1"])
        q.add(("quiet", 0), ["q1"])
        assert q.next() == (("quiet", 0), "q1")

    def test_ties_go_to_the_least_recently_served(self) -> None:
        q = queue()
        q.add(("a", 0), ["a1", "a2"])
        q.add(("b", 0), ["b1", "b2"])
        order = []
        for _ in range(4):
            tp, record = q.next()
            order.append(record)
            q.done(tp, 0.0)
        assert order in (["a1", "b1", "a2", "b2"], ["b1", "a1", "b2", "a2"])

    def test_partitions_of_one_participant_take_turns_each_in_order(self) -> None:
        q = queue()
        q.add(("a", 0), ["0-1", "0-2"])
        q.add(("a", 1), ["1-1", "1-2"])
        order = []
        while (picked := q.next()) is not None:
            order.append(picked[1])
            q.done(picked[0], 0.0)
        assert order.index("0-1") < order.index("0-2") and order.index("1-1") < order.index("1-2")
        assert order[:2] in (["0-1", "1-1"], ["1-1", "0-1"])

    def test_drop_and_waiting(self) -> None:
        q = queue()
        q.add(("a", 0), ["1", "2"])
        q.add(("b", 0), ["3"])
        assert q.waiting() == {("a", 0): ["1", "2"], ("b", 0): ["3"]}
        assert q.drop(("a", 0)) == ["1", "2"]
        assert len(q) == 1
        q.add(("c", 0), [])
        assert ("c", 0) not in q.waiting()

    def test_a_run_takes_one_participant_across_its_partitions(self) -> None:
        """A run is one participant's records, its partitions in turn, each in order; then it is busy."""
        q = queue()
        q.add(("a", 0), ["a0-1", "a0-2", "a0-3"])
        q.add(("a", 1), ["a1-1"])
        q.add(("b", 0), ["b0-1"])
        usage_first = q.next_run(3)
        assert usage_first is not None
        participants = {tp[0] for tp, _ in usage_first}
        assert len(participants) == 1
        if participants == {"a"}:
            assert [r for _, r in usage_first] in (["a0-1", "a1-1", "a0-2"], ["a1-1", "a0-1", "a0-2"])
        q.push_front(("a", 0), ["a0-2"])
        assert q.waiting().get(("a", 0), [])[:1] in ([], ["a0-2"])
        other = q.next_run(3)
        assert other is not None and {tp[0] for tp, _ in other} != participants
        assert q.next_run(3) is None  # both busy
        q.done_participant("a", 0.1)
        assert q.next_run(3) is not None or not any(tp[0] == "a" for tp in q.waiting())
