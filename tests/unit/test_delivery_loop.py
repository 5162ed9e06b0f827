"""Tests for gateway.delivery.loop against an in-memory consumer: the lane checked between every national call,
holds, rewinds and rebalances, with no broker."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable

import pytest
from aiokafka import ConsumerRebalanceListener, ConsumerRecord, TopicPartition
from aiokafka.errors import CommitFailedError, IllegalStateError, KafkaTimeoutError

from gateway import headers as h
from gateway.delivery.breaker import CircuitBreaker
from gateway.delivery.lanes import Lane
from gateway.delivery.loop import HELD_PER_PARTITION, DeliveryLoop
from gateway.delivery.worker import MemberWorker
from gateway.sdk.testing import FakeAdapter
from gateway.topics import deliver_topic, priority_topic, retry_topic

M = "FJ"
ORD, PRIO, RETRY = (TopicPartition(deliver_topic(M), 0), TopicPartition(priority_topic(M), 0),
                    TopicPartition(retry_topic(M), 0))


def rec(tp: TopicPartition, offset: int, lrn: str, **extra: str) -> ConsumerRecord:
    headers = {h.TRACKING_ID: lrn, h.PARTICIPANT: "fj-post", h.MEMBER: M, h.LRN: lrn, **extra}
    return ConsumerRecord(tp.topic, tp.partition, offset, 0, 0, f"fj-post:{lrn}".encode(), b"<declaration/>", None,
                          0, 0, [(k, v.encode()) for k, v in headers.items()])


class FakeConsumer:
    """Partitions as lists; positions, pauses, commits and a rebalance listener, as aiokafka's consumer has them."""

    def __init__(self, *partitions: TopicPartition) -> None:
        self.logs: dict[TopicPartition, list[ConsumerRecord]] = {tp: [] for tp in partitions}
        self.positions = dict.fromkeys(partitions, 0)
        self.assigned = set(partitions)
        self.paused: set[TopicPartition] = set()
        self.committed: dict[TopicPartition, int] = {}
        self.listener: ConsumerRebalanceListener | None = None

    def append(self, tp: TopicPartition, lrn: str, **extra: str) -> None:
        self.logs[tp].append(rec(tp, len(self.logs[tp]), lrn, **extra))

    async def start(self) -> None:
        pass

    async def stop(self) -> None:
        pass

    def subscribe(self, topics: list[str], listener: ConsumerRebalanceListener) -> None:
        self.listener = listener

    def assignment(self) -> set[TopicPartition]:
        return set(self.assigned)

    async def getmany(self, *tps: TopicPartition, timeout_ms: int = 0, max_records: int | None = None):
        budget = max_records or 500
        out = {}
        for tp in tps or sorted(self.assigned):
            if tp not in self.assigned or tp in self.paused:
                continue
            found = self.logs[tp][self.positions[tp]:self.positions[tp] + budget]
            if found:
                out[tp] = found
                self.positions[tp] += len(found)
                budget -= len(found)
            if not budget:
                break
        if not out and timeout_ms:
            await asyncio.sleep(0.005)
        return out

    def pause(self, *tps: TopicPartition) -> None:
        self.paused.update(tps)

    def resume(self, *tps: TopicPartition) -> None:
        self.paused.difference_update(tps)

    def seek(self, tp: TopicPartition, offset: int) -> None:
        if tp not in self.assigned:
            raise IllegalStateError(f"{tp} is not assigned")
        self.positions[tp] = offset

    async def commit(self, offsets: dict[TopicPartition, int]) -> None:
        if not set(offsets) <= self.assigned:
            raise CommitFailedError("not assigned")
        self.committed.update(offsets)

    def revoke(self, *tps: TopicPartition) -> None:
        assert self.listener is not None
        self.listener.on_partitions_revoked(set(tps))
        self.assigned.difference_update(tps)
        self.paused.difference_update(tps)

    def assign_again(self, *tps: TopicPartition) -> None:
        """Give partitions back, positioned at their committed offsets (what a new generation does)."""
        for tp in tps:
            self.assigned.add(tp)
            self.positions[tp] = self.committed.get(tp, 0)


class FakeProducer:
    """Collects what the loop publishes; fails the n-th send when told."""

    def __init__(self) -> None:
        self.sent: list[tuple[str, dict[str, str]]] = []
        self.fail_at: set[int] = set()
        self._sends = 0

    async def send(self, topic: str, value: bytes, *, key: bytes | None, headers: list[tuple[str, bytes]]):
        self._sends += 1
        if self._sends in self.fail_at:
            raise KafkaTimeoutError("injected: the broker did not answer")
        self.sent.append((topic, {k: v.decode() for k, v in headers}))
        done: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        done.set_result(None)
        return done

    def answered(self) -> list[str]:
        return [hd[h.LRN] for topic, hd in self.sent if topic.startswith("oco.reply.")]


class HookedAdapter(FakeAdapter):
    """A fake national system that runs a hook at each call (to make things happen "during" a call)."""

    def __init__(self, hook: Callable[[str], None]) -> None:
        super().__init__(M, {})
        self.hook = hook

    async def deliver(self, declaration):  # type: ignore[no-untyped-def]
        self.hook(declaration.lrn)
        await asyncio.sleep(0)
        return await super().deliver(declaration)


def make_loop(consumer: FakeConsumer, adapter: FakeAdapter, producer: FakeProducer, *, burst: int = 10,
              breaker: CircuitBreaker | None = None,
              concurrency: int = 1) -> tuple[DeliveryLoop, list[tuple[Lane, str]]]:
    observed: list[tuple[Lane, str]] = []
    worker = MemberWorker(M, adapter, breaker=breaker)
    loop = DeliveryLoop(worker, bootstrap_servers="unused:9092", producer=producer,  # type: ignore[arg-type]
                        priority_burst=burst, concurrency=concurrency,
                        observe=lambda member, lane, decision, seconds: observed.append((lane, decision.outcome)))
    loop._new_consumer = lambda: consumer  # type: ignore[method-assign,assignment]
    return loop, observed


async def run_until(loop: DeliveryLoop, condition: Callable[[], bool], timeout: float = 10.0) -> None:
    task = asyncio.create_task(loop.run())
    try:
        deadline = time.monotonic() + timeout
        while not condition():
            if task.done():
                task.result()
            if time.monotonic() > deadline:
                pytest.fail("the loop did not get there")
            await asyncio.sleep(0.002)
    finally:
        loop.stop()
        await asyncio.wait_for(task, 5)


class TestDeliveryLoop:
    async def test_priority_lane_is_checked_between_every_call(self) -> None:
        """A priority record arriving during a call behind a backlog is the very next one called."""
        consumer = FakeConsumer(ORD, PRIO, RETRY)
        for i in range(30):
            consumer.append(ORD, f"ORD-{i}")

        def hook(lrn: str) -> None:
            if lrn == "ORD-2":
                consumer.append(PRIO, "PRIO-1", **{h.LANE: "priority"})

        adapter, producer = HookedAdapter(hook), FakeProducer()
        loop, observed = make_loop(consumer, adapter, producer)
        await run_until(loop, lambda: len(producer.answered()) == 31)
        assert [d.lrn for d in adapter.calls][:5] == ["ORD-0", "ORD-1", "ORD-2", "PRIO-1", "ORD-3"]
        assert consumer.committed == {ORD: 30, PRIO: 1}
        assert observed.count((Lane.PRIORITY, "accepted")) == 1

    async def test_records_held_per_partition_are_bounded(self) -> None:
        """The loop takes at most 50 records of a partition from the consumer at a time."""
        consumer = FakeConsumer(ORD, PRIO, RETRY)
        for i in range(500):
            consumer.append(ORD, f"ORD-{i}")
        most = 0

        def hook(lrn: str) -> None:
            nonlocal most
            most = max(most, consumer.positions[ORD] - consumer.committed.get(ORD, 0))

        adapter, producer = HookedAdapter(hook), FakeProducer()
        loop, _ = make_loop(consumer, adapter, producer)
        await run_until(loop, lambda: len(producer.answered()) == 500)
        assert 0 < most <= 50

    async def test_partition_taken_away_during_a_call_is_neither_answered_nor_committed(self) -> None:
        """A rebalance during the national call: the record's new owner answers it, not this loop."""
        consumer = FakeConsumer(ORD, PRIO, RETRY)
        for i in range(5):
            consumer.append(ORD, f"ORD-{i}")
        consumer.append(PRIO, "PRIO-0")

        def hook(lrn: str) -> None:
            if lrn == "ORD-2":
                consumer.revoke(ORD)

        adapter, producer = HookedAdapter(hook), FakeProducer()
        loop, _ = make_loop(consumer, adapter, producer)
        await run_until(loop, lambda: "PRIO-0" in producer.answered() and "ORD-2" in [d.lrn for d in adapter.calls])
        assert producer.answered() == ["PRIO-0", "ORD-0", "ORD-1"]
        assert consumer.committed == {PRIO: 1, ORD: 2}

    async def test_partition_given_back_resumes_from_its_committed_offset(self) -> None:
        """Taken away and given back (a new generation): records are read again from the commit, none twice
        in a row, none skipped."""
        consumer = FakeConsumer(ORD, PRIO, RETRY)
        for i in range(8):
            consumer.append(ORD, f"ORD-{i}")

        rebalances = [1]

        def hook(lrn: str) -> None:
            if lrn == "ORD-3" and rebalances:
                rebalances.pop()
                consumer.revoke(ORD)
                consumer.assign_again(ORD)

        adapter, producer = HookedAdapter(hook), FakeProducer()
        loop, _ = make_loop(consumer, adapter, producer)
        await run_until(loop, lambda: consumer.committed.get(ORD) == 8)
        assert [d.lrn for d in adapter.calls] == ["ORD-0", "ORD-1", "ORD-2", "ORD-3", "ORD-3", "ORD-4", "ORD-5",
                                                  "ORD-6", "ORD-7"]
        assert producer.answered() == [f"ORD-{i}" for i in range(8)]

    async def test_kafka_error_rewinds_to_the_first_record_not_committed(self) -> None:
        """A reply the broker does not acknowledge: the record is handled again, nothing after it is lost."""
        consumer = FakeConsumer(ORD, PRIO, RETRY)
        for i in range(6):
            consumer.append(ORD, f"ORD-{i}")
        adapter, producer = FakeAdapter(M, {}), FakeProducer()
        producer.fail_at = {3}
        loop, _ = make_loop(consumer, adapter, producer)
        await run_until(loop, lambda: consumer.committed.get(ORD) == 6)
        assert producer.answered() == [f"ORD-{i}" for i in range(6)]
        assert [d.lrn for d in adapter.calls].count("ORD-2") == 2

    async def test_retry_not_due_pauses_only_its_partition(self) -> None:
        """A retry waiting for its time holds the retry partition; the lane and ordinary records go on."""
        consumer = FakeConsumer(ORD, PRIO, RETRY)
        due = str(int((time.time() + 0.4) * 1000))
        consumer.append(RETRY, "RETRY-0", **{h.ATTEMPT: "2", h.NOT_BEFORE: due})
        for i in range(3):
            consumer.append(ORD, f"ORD-{i}")
            consumer.append(PRIO, f"PRIO-{i}")
        adapter, producer = FakeAdapter(M, {}), FakeProducer()
        loop, observed = make_loop(consumer, adapter, producer)
        await run_until(loop, lambda: len(producer.answered()) == 7)
        answered = producer.answered()
        assert answered[-1] == "RETRY-0" and sorted(answered[:-1]) == sorted(
            [f"ORD-{i}" for i in range(3)] + [f"PRIO-{i}" for i in range(3)])
        assert (Lane.RETRY, "held") in observed and consumer.committed[RETRY] == 1

    async def test_open_circuit_pauses_every_partition_the_lane_included(self) -> None:
        """Once the breaker opens, nothing is called, priority included, until the probe time."""
        consumer = FakeConsumer(ORD, PRIO, RETRY)
        for i in range(3):
            consumer.append(ORD, f"ORD-{i}")
        adapter, producer = FakeAdapter(M, {}), FakeProducer()
        adapter.down = True
        breaker = CircuitBreaker(1, 0.5)
        loop, observed = make_loop(consumer, adapter, producer, breaker=breaker)

        async def arrive_then_recover() -> None:
            await asyncio.sleep(0.1)
            consumer.append(PRIO, "PRIO-0")
            await asyncio.sleep(0.1)
            assert consumer.paused == {ORD, PRIO, RETRY}
            assert [d.lrn for d in adapter.calls] == ["ORD-0"]  # nothing called while open
            adapter.down = False

        helper = asyncio.create_task(arrive_then_recover())
        await run_until(loop, lambda: len(producer.answered()) == 3 and helper.done())
        helper.result()
        # ORD-0 failed (sent to retry), the probe took the priority record, then the rest.
        assert [d.lrn for d in adapter.calls][:2] == ["ORD-0", "PRIO-0"]
        assert (Lane.ORDINARY, "held") in observed

    async def test_decision_kinds_reach_the_observer_with_their_lane(self) -> None:
        """The observer gets each decision with its lane (the service counts them per lane)."""
        consumer = FakeConsumer(ORD, PRIO, RETRY)
        consumer.append(PRIO, "PRIO-0")
        consumer.append(ORD, "ORD-0")
        adapter, producer = FakeAdapter(M, {}), FakeProducer()
        loop, observed = make_loop(consumer, adapter, producer)
        await run_until(loop, lambda: len(observed) == 2)
        assert observed == [(Lane.PRIORITY, "accepted"), (Lane.ORDINARY, "accepted")]

    async def test_publishing_each_records_outputs_is_timed(self) -> None:
        """At-least-once: the publish step is reported once per record, with the member, once acknowledged."""
        consumer = FakeConsumer(ORD, PRIO, RETRY)
        for i in range(3):
            consumer.append(ORD, f"ORD-{i}")
        producer = FakeProducer()
        loop, _ = make_loop(consumer, FakeAdapter(M, {}), producer)
        published: list[tuple[str, float, int]] = []
        loop._observe_publish = lambda member, seconds: published.append((member, seconds, len(producer.sent)))
        await run_until(loop, lambda: consumer.committed.get(ORD) == 3)
        assert [(member, sent) for member, _, sent in published] == [(M, 1), (M, 2), (M, 3)]
        assert all(seconds >= 0 for _, seconds, _ in published)


class RefusingProducer(FakeProducer):
    """A producer whose broker refuses, for good, every record for the topics named."""

    def __init__(self, refuse: dict[str, Exception]) -> None:
        super().__init__()
        self.refuse = refuse

    async def send(self, topic: str, value: bytes, *, key: bytes | None, headers: list[tuple[str, bytes]]):
        if topic in self.refuse:
            failed: asyncio.Future[None] = asyncio.get_running_loop().create_future()
            failed.set_exception(self.refuse[topic])
            return failed
        return await super().send(topic, value, key=key, headers=headers)


class TestOutputsRefusedForGood:
    async def test_a_reply_the_broker_will_never_take_is_parked_and_the_partition_moves_on(self) -> None:
        """The participant's reply topic may no longer be written (an ACL removed): the reply goes to oco.dlq
        naming the topic it was meant for, the offset is committed, and the next declaration is delivered."""
        from aiokafka.errors import TopicAuthorizationFailedError

        consumer = FakeConsumer(ORD, PRIO, RETRY)
        for i in range(3):
            consumer.append(ORD, f"ORD-{i}")
        producer = RefusingProducer({"oco.reply.fj-post": TopicAuthorizationFailedError()})
        loop, _ = make_loop(consumer, FakeAdapter(M, {}), producer)
        await run_until(loop, lambda: len([t for t, _ in producer.sent if t == "oco.dlq"]) == 3)
        parked = [hd for t, hd in producer.sent if t == "oco.dlq"]
        assert [hd[h.LRN] for hd in parked] == ["ORD-0", "ORD-1", "ORD-2"]
        assert {hd[h.DLQ_TOPIC] for hd in parked} == {"oco.reply.fj-post"}
        assert all("TopicAuthorizationFailed" in hd[h.DLQ_EXCEPTION_CLASS] for hd in parked)
        assert consumer.committed[ORD] == 3

    async def test_a_passing_error_is_still_retried(self) -> None:
        """The broker away for a moment is not 'for good': the record is handled again, nothing parked."""
        consumer = FakeConsumer(ORD, PRIO, RETRY)
        consumer.append(ORD, "ORD-0")
        producer = FakeProducer()
        producer.fail_at = {1}
        loop, _ = make_loop(consumer, FakeAdapter(M, {}), producer)
        await run_until(loop, lambda: producer.answered() == ["ORD-0"], timeout=15)
        assert not [t for t, _ in producer.sent if t == "oco.dlq"]


class SleepingAdapter(FakeAdapter):
    """A national system that takes a while per call (given per tracking id) and notes what overlaps."""

    def __init__(self, seconds: Callable[[str], float]) -> None:
        super().__init__(M, {})
        self.seconds = seconds
        self.flying: list[str] = []  # LRNs of the calls in flight
        self.most = 0
        self.same_key_overlap = False
        self.started: list[str] = []  # tracking ids, in the order the calls began

    async def deliver(self, declaration):  # type: ignore[no-untyped-def]
        if declaration.lrn in self.flying:
            self.same_key_overlap = True
        self.flying.append(declaration.lrn)
        self.started.append(declaration.tracking_id)
        self.most = max(self.most, len(self.flying))
        try:
            await asyncio.sleep(self.seconds(declaration.tracking_id))
            return await super().deliver(declaration)
        finally:
            self.flying.remove(declaration.lrn)


class CheckingConsumer(FakeConsumer):
    """Fails a commit that passes a record whose reply was not published yet."""

    producer: FakeProducer

    async def commit(self, offsets: dict[TopicPartition, int]) -> None:
        answered = {hd[h.TRACKING_ID] for topic, hd in self.producer.sent if topic.startswith("oco.reply.")}
        for tp, point in offsets.items():
            assert point >= self.committed.get(tp, 0), "a commit went backwards"
            for record in self.logs[tp][:point]:
                tracking = dict(record.headers)[h.TRACKING_ID].decode()
                assert tracking in answered, f"committed {tp} up to {point} before {tracking} was answered"
        await super().commit(offsets)


def versions(consumer: FakeConsumer, tp: TopicPartition, keys: int, each: int) -> None:
    """Append ``each`` versions of ``keys`` declarations, interleaved (D0 v0, D1 v0, ..., D0 v1, ...)."""
    for v in range(each):
        for k in range(keys):
            consumer.append(tp, f"{tp.topic[-8:]}-D{k}", **{h.TRACKING_ID: f"{tp.topic}-D{k}-v{v}"})


def per_key(started: list[str]) -> dict[str, list[int]]:
    out: dict[str, list[int]] = {}
    for tracking in started:
        key, version = tracking.rsplit("-v", 1)
        out.setdefault(key, []).append(int(version))
    return out


class TestConcurrency:
    async def test_up_to_n_calls_overlap_never_two_of_one_key_and_order_per_key_is_kept(self) -> None:
        """Concurrency 8: 8 calls in flight, none of one key together, each key's versions called in order,
        and no commit passes a record not yet answered (calls finish out of order)."""
        consumer = CheckingConsumer(ORD, PRIO, RETRY)
        versions(consumer, ORD, keys=12, each=4)
        versions(consumer, PRIO, keys=3, each=3)
        producer = FakeProducer()
        consumer.producer = producer
        # Uneven call times, so later records often finish before earlier ones.
        adapter = SleepingAdapter(lambda tracking: 0.005 + (sum(map(ord, tracking)) % 7) * 0.006)
        loop, _ = make_loop(consumer, adapter, producer, concurrency=8)
        await run_until(loop, lambda: consumer.committed.get(ORD) == 48 and consumer.committed.get(PRIO) == 9)
        assert adapter.most == 8
        assert not adapter.same_key_overlap
        calls = per_key(adapter.started)
        assert len(calls) == 15
        assert all(order == sorted(order) and len(order) == len(set(order)) for order in calls.values())
        assert len(producer.answered()) == 57

    async def test_commit_waits_for_the_lowest_unfinished_record(self) -> None:
        """A slow first record: the records after it are answered, but the offset stays before it until it
        finishes (a crash then replays only what was in flight)."""
        consumer = CheckingConsumer(ORD, PRIO, RETRY)
        for i in range(6):
            consumer.append(ORD, f"ORD-{i}")
        producer = FakeProducer()
        consumer.producer = producer
        adapter = SleepingAdapter(lambda tracking: 0.4 if tracking == "ORD-0" else 0.01)
        loop, _ = make_loop(consumer, adapter, producer, concurrency=4)
        task = asyncio.create_task(loop.run())
        try:
            deadline = time.monotonic() + 5
            while len(producer.answered()) < 5 and time.monotonic() < deadline:
                await asyncio.sleep(0.005)
            assert sorted(producer.answered()) == [f"ORD-{i}" for i in range(1, 6)]
            assert consumer.committed.get(ORD, 0) == 0
            while consumer.committed.get(ORD) != 6 and time.monotonic() < deadline:
                await asyncio.sleep(0.005)
            assert consumer.committed[ORD] == 6
        finally:
            loop.stop()
            await asyncio.wait_for(task, 5)

    async def test_records_finished_while_a_commit_waits_are_committed_too(self) -> None:
        """A commit takes a broker round trip; the records that finish meanwhile are committed after it, so a
        burst longer than the records held per partition drains to its end (it once stalled with the
        partition full of finished, never-committed records)."""

        class SlowCommits(CheckingConsumer):
            async def commit(self, offsets: dict[TopicPartition, int]) -> None:
                await asyncio.sleep(0.01)
                await super().commit(offsets)

        consumer = SlowCommits(ORD, PRIO, RETRY)
        for i in range(3 * HELD_PER_PARTITION):
            consumer.append(ORD, f"ORD-{i}")
        producer = FakeProducer()
        consumer.producer = producer
        adapter = SleepingAdapter(lambda tracking: 0.001 * (sum(map(ord, tracking)) % 5))
        loop, _ = make_loop(consumer, adapter, producer, concurrency=8)
        await run_until(loop, lambda: consumer.committed.get(ORD) == 3 * HELD_PER_PARTITION)
        assert len(producer.answered()) == 3 * HELD_PER_PARTITION

    async def test_versions_of_one_declaration_are_never_in_flight_together(self) -> None:
        """Every record of one key: one call at a time, in offset order, whatever the concurrency."""
        consumer = CheckingConsumer(ORD, PRIO, RETRY)
        versions(consumer, ORD, keys=1, each=6)
        producer = FakeProducer()
        consumer.producer = producer
        adapter = SleepingAdapter(lambda tracking: 0.01)
        loop, _ = make_loop(consumer, adapter, producer, concurrency=8)
        await run_until(loop, lambda: consumer.committed.get(ORD) == 6)
        assert adapter.most == 1
        assert per_key(adapter.started) == {f"{ORD.topic}-D0": list(range(6))}

    async def test_concurrency_one_makes_one_call_at_a_time(self) -> None:
        """Concurrency 1 (the former behaviour): one call at a time, in offset order."""
        consumer = CheckingConsumer(ORD, PRIO, RETRY)
        versions(consumer, ORD, keys=5, each=2)
        producer = FakeProducer()
        consumer.producer = producer
        adapter = SleepingAdapter(lambda tracking: 0.003)
        loop, _ = make_loop(consumer, adapter, producer, concurrency=1)
        await run_until(loop, lambda: consumer.committed.get(ORD) == 10)
        assert adapter.most == 1
        assert adapter.started == [f"{ORD.topic}-D{k}-v{v}" for v in range(2) for k in range(5)]

    async def test_partition_taken_away_during_concurrent_calls_is_neither_answered_nor_committed(self) -> None:
        """A rebalance while several calls of a partition are in flight: none of them is answered."""
        consumer = FakeConsumer(ORD, PRIO, RETRY)
        for i in range(4):
            consumer.append(ORD, f"ORD-{i}")
        producer = FakeProducer()
        adapter = SleepingAdapter(lambda tracking: 0.1)
        loop, _ = make_loop(consumer, adapter, producer, concurrency=8)

        async def revoke_during_calls() -> None:
            while len(adapter.flying) < 4:
                await asyncio.sleep(0.002)
            consumer.revoke(ORD)

        helper = asyncio.create_task(revoke_during_calls())
        await run_until(loop, lambda: helper.done() and len(adapter.calls) == 4)
        assert producer.answered() == [] and ORD not in consumer.committed

    async def test_retry_not_due_holds_its_partition_while_other_calls_go_on(self) -> None:
        """With calls in flight, a retry not yet due still pauses its partition until its time."""
        consumer = FakeConsumer(ORD, PRIO, RETRY)
        due = str(int((time.time() + 0.3) * 1000))
        consumer.append(RETRY, "RETRY-0", **{h.ATTEMPT: "2", h.NOT_BEFORE: due})
        for i in range(6):
            consumer.append(ORD, f"ORD-{i}")
        adapter, producer = SleepingAdapter(lambda tracking: 0.01), FakeProducer()
        loop, observed = make_loop(consumer, adapter, producer, concurrency=4)
        await run_until(loop, lambda: len(producer.answered()) == 7)
        assert producer.answered()[-1] == "RETRY-0"
        assert (Lane.RETRY, "held") in observed and consumer.committed == {RETRY: 1, ORD: 6}

    async def test_a_commit_waiting_for_the_broker_holds_no_call_slot(self) -> None:
        """While a commit waits for the broker, the call slots of the records already answered take the next
        records (a commit is not a national call; a slow broker must not idle the calls)."""

        class StuckCommits(CheckingConsumer):
            release = asyncio.Event()

            async def commit(self, offsets: dict[TopicPartition, int]) -> None:
                await self.release.wait()
                await super().commit(offsets)

        consumer = StuckCommits(ORD, PRIO, RETRY)
        for i in range(6):
            consumer.append(ORD, f"ORD-{i}")
        producer = FakeProducer()
        consumer.producer = producer
        adapter = SleepingAdapter(lambda tracking: 0.005)
        loop, _ = make_loop(consumer, adapter, producer, concurrency=2)
        task = asyncio.create_task(loop.run())
        try:
            deadline = time.monotonic() + 10
            while len(producer.answered()) < 6 and time.monotonic() < deadline and not task.done():
                await asyncio.sleep(0.005)
            assert sorted(producer.answered()) == [f"ORD-{i}" for i in range(6)], "calls waited for a commit"
            assert ORD not in consumer.committed
            consumer.release.set()
            while consumer.committed.get(ORD) != 6 and time.monotonic() < deadline:
                await asyncio.sleep(0.005)
            assert consumer.committed[ORD] == 6
        finally:
            consumer.release.set()
            loop.stop()
            await asyncio.wait_for(task, 5)


class TransactionalProducer(FakeProducer):
    """A transactional producer as aiokafka's: sends and offsets inside a transaction become visible together
    (``sent``, ``offsets``) when it commits, and not at all when it aborts. ``refuse``: topics whose records the
    broker refuses for good; ``fail_transactions``: how many commits fail with a passing error."""

    def __init__(self, refuse: dict[str, Exception] | None = None, fail_transactions: int = 0) -> None:
        super().__init__()
        self.refuse = refuse or {}
        self.fail_transactions = fail_transactions
        self.offsets: dict[TopicPartition, int] = {}
        self.transactions = self.aborted = 0
        self.ids: list[str] = []
        self._open: list[tuple[str, dict[str, str]]] | None = None
        self._open_offsets: dict[TopicPartition, int] = {}

    async def start(self) -> None:
        pass

    async def stop(self) -> None:
        pass

    def transaction(self):  # type: ignore[no-untyped-def]
        producer = self

        class _Transaction:
            async def __aenter__(self) -> None:
                producer._open, producer._open_offsets = [], {}

            async def __aexit__(self, kind, exc, tb) -> None:  # type: ignore[no-untyped-def]
                opened, producer._open = producer._open, None
                if kind is None and producer.fail_transactions:
                    producer.fail_transactions -= 1
                    producer.aborted += 1
                    raise KafkaTimeoutError("injected: the commit timed out")
                if kind is not None:
                    producer.aborted += 1
                    return
                producer.transactions += 1
                producer.sent.extend(opened or [])
                producer.offsets.update(producer._open_offsets)

        return _Transaction()

    async def send(self, topic: str, value: bytes, *, key: bytes | None, headers: list[tuple[str, bytes]]):
        assert self._open is not None, "sent outside a transaction"
        done: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        if topic in self.refuse:
            done.set_exception(self.refuse[topic])
        else:
            self._open.append((topic, {k: v.decode() for k, v in headers}))
            done.set_result(None)
        return done

    async def send_offsets_to_transaction(self, offsets: dict[TopicPartition, int], group_id: str) -> None:
        assert self._open is not None and group_id == f"oco-deliver-{M}"
        self._open_offsets.update(offsets)


def make_exactly_once_loop(consumer: FakeConsumer, adapter: FakeAdapter, transactional: TransactionalProducer,
                           *, concurrency: int = 4) -> DeliveryLoop:
    loop, _ = make_loop(consumer, adapter, FakeProducer(), concurrency=concurrency)

    def new_producer(transactional_id: str) -> TransactionalProducer:
        transactional.ids.append(transactional_id)
        return transactional

    loop._transactional = new_producer  # type: ignore[assignment]
    return loop


class TestExactlyOnce:
    async def test_replies_and_offsets_become_visible_together_in_offset_order(self) -> None:
        """A slow first record: the replies of the records after it wait (invisible) until it finishes, then
        all of them and the commit point go in one transaction; the consumer itself never commits."""
        consumer = FakeConsumer(ORD, PRIO, RETRY)
        for i in range(5):
            consumer.append(ORD, f"ORD-{i}")
        transactional = TransactionalProducer()
        adapter = SleepingAdapter(lambda tracking: 0.3 if tracking == "ORD-0" else 0.01)
        loop = make_exactly_once_loop(consumer, adapter, transactional)
        task = asyncio.create_task(loop.run())
        try:
            deadline = time.monotonic() + 10
            while len(adapter.calls) < 4 and time.monotonic() < deadline:  # the four quick ones answered
                await asyncio.sleep(0.005)
            assert adapter.flying == ["ORD-0"]
            assert transactional.answered() == [] and transactional.offsets == {}
            while transactional.offsets.get(ORD) != 5 and time.monotonic() < deadline:
                await asyncio.sleep(0.005)
        finally:
            loop.stop()
            await asyncio.wait_for(task, 5)
        assert transactional.answered() == [f"ORD-{i}" for i in range(5)]
        assert transactional.offsets == {ORD: 5} and transactional.transactions == 1
        assert consumer.committed == {} and transactional.ids == [f"oco-deliver-{M}.tx"]

    async def test_publishing_is_timed_once_per_transaction(self) -> None:
        """Exactly-once: the publish step is one transaction (outputs and commit), reported once it committed."""
        consumer = FakeConsumer(ORD, PRIO, RETRY)
        consumer.append(ORD, "ORD-0")
        transactional = TransactionalProducer()
        loop = make_exactly_once_loop(consumer, FakeAdapter(M, {}), transactional, concurrency=1)
        published: list[tuple[str, int]] = []
        loop._observe_publish = lambda member, seconds: published.append((member, transactional.transactions))
        await run_until(loop, lambda: transactional.offsets.get(ORD) == 1)
        assert published == [(M, 1)]

    async def test_an_aborted_transaction_shows_nothing_and_its_records_are_handled_again(self) -> None:
        """The commit of the first transaction fails: none of its replies is visible, the records are
        handled again (the national system sees a replay) and each reply is visible exactly once."""
        consumer = FakeConsumer(ORD, PRIO, RETRY)
        for i in range(3):
            consumer.append(ORD, f"ORD-{i}")
        transactional = TransactionalProducer(fail_transactions=1)
        adapter = FakeAdapter(M, {})
        loop = make_exactly_once_loop(consumer, adapter, transactional, concurrency=1)
        await run_until(loop, lambda: transactional.offsets.get(ORD) == 3, timeout=15)
        assert transactional.aborted == 1
        assert sorted(transactional.answered()) == ["ORD-0", "ORD-1", "ORD-2"]
        assert [d.lrn for d in adapter.calls].count("ORD-0") == 2  # the replay of the aborted transaction's record

    async def test_an_output_refused_for_good_is_parked_in_the_same_transaction_as_the_rest(self) -> None:
        """A reply topic the gateway may not write: the transaction is done again with the reply's dead-letter
        copy, so the offset moves on and nothing is published twice."""
        from aiokafka.errors import TopicAuthorizationFailedError

        consumer = FakeConsumer(ORD, PRIO, RETRY)
        for i in range(2):
            consumer.append(ORD, f"ORD-{i}")
        transactional = TransactionalProducer(refuse={"oco.reply.fj-post": TopicAuthorizationFailedError()})
        loop = make_exactly_once_loop(consumer, FakeAdapter(M, {}), transactional, concurrency=1)
        await run_until(loop, lambda: transactional.offsets.get(ORD) == 2)
        parked = [hd for t, hd in transactional.sent if t == "oco.dlq"]
        assert [hd[h.LRN] for hd in parked] == ["ORD-0", "ORD-1"]
        assert {hd[h.DLQ_TOPIC] for hd in parked} == {"oco.reply.fj-post"}
        assert transactional.answered() == []


class TestStopping:
    async def test_calls_in_flight_finish_within_the_grace_period_answered_and_committed(self) -> None:
        consumer = CheckingConsumer(ORD, PRIO, RETRY)
        for i in range(8):
            consumer.append(ORD, f"ORD-{i}")
        producer = FakeProducer()
        consumer.producer = producer
        adapter = SleepingAdapter(lambda tracking: 0.3)
        loop, _ = make_loop(consumer, adapter, producer, concurrency=4)
        loop.grace = 30
        task = asyncio.create_task(loop.run())
        while len(adapter.flying) < 4:
            await asyncio.sleep(0.005)
        loop.stop()
        await asyncio.wait_for(task, 10)
        assert sorted(producer.answered()) == [f"ORD-{i}" for i in range(4)]  # the four in flight, no more
        assert consumer.committed[ORD] == 4

    async def test_calls_still_running_when_the_grace_runs_out_are_handed_back(self) -> None:
        """Neither answered nor committed: the partition's next owner makes them again (idempotency key)."""
        consumer = CheckingConsumer(ORD, PRIO, RETRY)
        for i in range(4):
            consumer.append(ORD, f"ORD-{i}")
        producer = FakeProducer()
        consumer.producer = producer
        adapter = SleepingAdapter(lambda tracking: 3600)
        flights: list[int] = []
        loop, _ = make_loop(consumer, adapter, producer, concurrency=4)
        loop._in_flight = lambda member, calls: flights.append(calls)  # noqa: SLF001
        loop.grace = 0.1
        task = asyncio.create_task(loop.run())
        while len(adapter.flying) < 4:
            await asyncio.sleep(0.005)
        loop.stop()
        await asyncio.wait_for(task, 10)  # not the hour the calls would take
        assert producer.answered() == [] and ORD not in consumer.committed
        assert max(flights) == 4 and flights[-1] == 0
