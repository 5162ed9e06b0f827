"""The Kafka side of one member's delivery: consume its topics, pick the next record, pause, publish, commit.

One consumer group per member (``oco-deliver-<M>``), so one member's outage or slowness never holds
another's. The group reads three topics: the priority lane ``oco.deliver.<M>.priority`` (declarations of
traders M recognises), ``oco.deliver.<M>`` and ``oco.retry.<M>``. Up to ``concurrency`` national calls
are in flight per member (the national call is the slow part), never two of one key (participant + LRN, the
record key), so one declaration's versions stay in order; which record starts next is
:class:`~gateway.delivery.lanes.LaneScheduler`'s rule, asked again whenever a call slot is free, so a
priority record that arrives behind a backlog waits for the calls in hand only. A partition's offset is
committed up to its first record not yet finished, after the outputs of those before it were acknowledged
(at-least-once: a crash replays at most the records in flight; adapters get an idempotency key for the
duplicates).

Exactly-once (``gateway.exactly_once``): a finished record's outputs wait until its partition's commit point
passes it; then the outputs of every record the point passes and the point itself are published in one Kafka
transaction (:func:`~gateway.delivery.outputs.publish_in_transaction`), so a ``read_committed`` reader sees
each reply once whatever crashes. The national call may still be made twice (a crash before the
transaction): the idempotency key makes the national system answer the replay as a duplicate.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Mapping
from typing import Any

import structlog
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, ConsumerRebalanceListener, ConsumerRecord, TopicPartition
from aiokafka.errors import KafkaError, ProducerFenced

from gateway.delivery.breaker import BreakerState
from gateway.delivery.lanes import Lane, LaneScheduler
from gateway.delivery.outputs import publish_all, publish_in_transaction
from gateway.delivery.worker import Decision, InRecord, MemberWorker
from gateway.pipeline.route import Output
from gateway.topics import deliver_topic, priority_topic, retry_topic

__all__ = ["HELD_PER_PARTITION", "DeliveryLoop"]

log = structlog.get_logger("gateway.delivery")

HELD_PER_PARTITION = 50  # records taken from the consumer and held per partition, at most


class DeliveryLoop:
    """Run one member's worker against Kafka until stopped.

    Args:
        worker: the member's worker.
        bootstrap_servers: Kafka address.
        security: the client's security options (``gateway.kafka_security.client_options``).
        producer: a started producer shared by the process (acks=all).
        group_prefix: consumer group is ``<prefix>-<member>``.
        priority_burst: priority records handled in a row, while ordinary records or retries wait, before
            one of those gets its turn (``members.<M>.delivery.priority_burst``).
        observe: called with (member, lane, decision, seconds) after each decided record.
        observe_publish: called with (member, seconds) after outputs were acknowledged: one record's
            (at-least-once) or one transaction's (exactly-once).
        concurrency: most national calls in flight (``members.<M>.delivery.concurrency``); 1 handles one
            record at a time. While the circuit is not closed, one call at a time (the probe).
        transactional: makes the loop's own transactional producer (exactly-once), started with each run,
            given its transactional id ``<group>.tx`` (the member's alone: a second process with the same id
            fences the first); None: ``producer`` publishes and the consumer commits (at-least-once).
        in_flight: called with (member, national calls in flight) whenever that number changes.
        grace: after :meth:`stop`, seconds the calls in flight may take to finish; those still running then
            are abandoned, neither answered nor committed, so the partition's next owner makes them again.
    """

    def __init__(self, worker: MemberWorker, *, bootstrap_servers: str, producer: AIOKafkaProducer,
                 security: Mapping[str, Any] | None = None, group_prefix: str = "oco-deliver", priority_burst: int = 10,
                 observe: Callable[[str, Lane, Decision, float], None] | None = None,
                 observe_publish: Callable[[str, float], None] | None = None,
                 concurrency: int = 1, transactional: Callable[[str], AIOKafkaProducer] | None = None,
                 in_flight: Callable[[str, int], None] | None = None, grace: float = 25.0) -> None:
        if concurrency < 1:
            raise ValueError("concurrency must be at least 1")
        self.worker = worker
        self.member = worker.member
        self._producer = producer
        self._transactional = transactional
        self._tx_producer: AIOKafkaProducer | None = None
        self._unsent: dict[TopicPartition, dict[int, tuple[Output, ...]]] = {}  # exactly-once: finished, not committed
        self._observe = observe
        self._observe_publish = observe_publish
        self._in_flight = in_flight
        self.grace = grace
        self._bootstrap = bootstrap_servers
        self._security = dict(security or {})
        self._group = f"{group_prefix}-{self.member}"
        self._burst = priority_burst
        self.concurrency = concurrency
        self._tasks: set[asyncio.Task[None]] = set()
        self._calling = 0  # tasks still calling or publishing (a task committing holds no call slot)
        self._slot_freed: asyncio.Future[None] | None = None
        self._committed: dict[TopicPartition, int] = {}
        self._commit_lock = asyncio.Lock()
        self._lanes_by_topic = {priority_topic(self.member): Lane.PRIORITY, deliver_topic(self.member): Lane.ORDINARY,
                                retry_topic(self.member): Lane.RETRY}
        self._consumer: AIOKafkaConsumer | None = None
        self._lanes = self._new_scheduler()
        self._paused_until: dict[TopicPartition, float] = {}
        self._stopping = asyncio.Event()
        self.running = False

    @property
    def group(self) -> str:
        """The loop's consumer group (``oco-deliver-<M>``)."""
        return self._group

    @property
    def topics(self) -> list[str]:
        """The topics the loop consumes: the priority lane, the delivery topic and the retry topic."""
        return list(self._lanes_by_topic)

    def lane_of(self, tp: TopicPartition) -> Lane:
        """Return the lane of one of the loop's partitions.

        Args:
            tp: a partition of :attr:`topics`.
        """
        return self._lanes_by_topic.get(tp.topic, Lane.ORDINARY)

    def _new_scheduler(self) -> LaneScheduler[TopicPartition, ConsumerRecord]:
        return LaneScheduler(self.lane_of, burst=self._burst, capacity=HELD_PER_PARTITION, key_of=_record_key)

    def _new_consumer(self) -> AIOKafkaConsumer:
        return AIOKafkaConsumer(
            bootstrap_servers=self._bootstrap, **self._security, group_id=self._group, client_id=self._group,
            enable_auto_commit=False, auto_offset_reset="earliest", max_poll_records=HELD_PER_PARTITION,
            # Only what the gateway's transactions committed (the same as read_uncommitted without them).
            isolation_level="read_committed",
            max_partition_fetch_bytes=8 * 1024 * 1024,
            # A national call may take long; the consumer must not be evicted from its group meanwhile.
            max_poll_interval_ms=15 * 60 * 1000,
        )

    async def run(self) -> None:
        """Consume until :meth:`stop`; a Kafka hiccup is logged and the loop goes on.

        Each run uses a consumer of its own, so a supervisor can call it again after a crash.
        """
        self._consumer = self._new_consumer()
        self._lanes = self._new_scheduler()
        self._paused_until.clear()
        self._committed.clear()
        self._unsent.clear()
        self._tasks = set()
        self._calling = 0
        if self._transactional is not None:
            self._tx_producer = self._transactional(f"{self._group}.tx")
            await self._tx_producer.start()  # fences any earlier producer of its id and aborts its transaction
        await self._consumer.start()
        self._consumer.subscribe(self.topics, listener=_Revoked(self))
        self.running = True
        log.info("delivery_started", member=self.member, adapter=self.worker.adapter.NAME,
                 priority_burst=self._burst, concurrency=self.concurrency)
        stopped = asyncio.ensure_future(self._stopping.wait())
        try:
            while not self._stopping.is_set():
                self._resume_due()
                try:
                    await self._take_prefetched()
                    self._start_calls()
                    if not self._tasks:
                        await self._wait_for_records()
                        continue
                except KafkaError as exc:
                    log.warning("delivery_fetch_error", member=self.member, error=repr(exc))
                    await asyncio.sleep(1)
                    continue
                free = self._calling < self._slots()
                # A free slot: look again soon for records fetched meanwhile (a priority record, a released hold).
                # Waiting on `stopped` too: a stop during long calls starts the grace period at once; and on a
                # call slot freed by a task now committing, as on a finished task.
                self._slot_freed = asyncio.get_running_loop().create_future()
                finished, _ = await asyncio.wait({*self._tasks, stopped, self._slot_freed},
                                                 timeout=0.02 if free else None, return_when=asyncio.FIRST_COMPLETED)
                self._slot_freed.cancel()
                finished = {task for task in finished if task in self._tasks}  # not `stopped` nor the slot
                self._tasks.difference_update(finished)
                failed = False
                for task in finished:
                    exc = task.exception()
                    if isinstance(exc, ProducerFenced):
                        # Another process took this member's transactional id: this one must not go on
                        # answering (the supervisor restarts the loop, with a producer of its own again).
                        raise RuntimeError(f"delivery of {self.member} was fenced by another process with its "
                                           "transactional id; run one delivery process per member") from exc
                    if isinstance(exc, KafkaError):
                        self._rewind()
                        log.warning("delivery_kafka_error_rewound", member=self.member, error=repr(exc))
                        failed = True
                    elif exc is not None:
                        raise exc
                if failed:
                    await asyncio.sleep(1)
        finally:
            self.running = False
            stopped.cancel()
            if self._tasks:
                await self._finish_calls()
            await self._consumer.stop()
            if self._tx_producer is not None:
                await self._tx_producer.stop()
                self._tx_producer = None

    def stop(self) -> None:
        """Ask the loop to finish after the calls in flight (for at most :attr:`grace` seconds)."""
        self._stopping.set()

    async def _finish_calls(self) -> None:
        """Stopping: let the calls in flight finish (answered and committed) within the grace period, then hand
        back those still running (cancelled, not committed: the next owner makes them again). A crash of
        the loop itself cancels them at once."""
        if self._stopping.is_set():
            _, late = await asyncio.wait(self._tasks, timeout=self.grace)
        else:
            late = set(self._tasks)
        for task in late:
            task.cancel()
        if late and self._stopping.is_set():
            log.warning("delivery_shutdown_grace_expired", member=self.member, handed_back=len(late),
                        grace_seconds=self.grace)
        await asyncio.gather(*self._tasks, return_exceptions=True)
        self._tasks.clear()
        self._report_flight()

    def _report_flight(self) -> None:
        if self._in_flight is not None:
            self._in_flight(self.member, self._calling)

    def _slots(self) -> int:
        """Calls allowed in flight now: one while the circuit is not closed (the probe decides), else all."""
        return self.concurrency if self.worker.breaker.state is BreakerState.CLOSED else 1

    def _start_calls(self) -> None:
        """Start the next records, by the lane rule, while a call slot is free and a record is ready."""
        while self._calling < self._slots():
            picked = self._lanes.next()
            if picked is None:
                return
            tp, record = picked
            self._lanes.start(tp, record)
            self._calling += 1
            self._tasks.add(asyncio.create_task(self._call(tp, record)))
            self._report_flight()

    async def _call(self, tp: TopicPartition, record: ConsumerRecord) -> None:
        commit = False
        try:
            commit = await self._handle(tp, record)
        finally:
            self._lanes.ended(tp, record)
            self._calling -= 1
            self._report_flight()
            if self._slot_freed is not None and not self._slot_freed.done():
                self._slot_freed.set_result(None)
        if commit:  # answered (or its outputs queued for the transaction): the next call need not wait for the commit
            await self._commit(tp)

    async def _take_prefetched(self) -> None:
        """Move records the consumer already fetched into the scheduler, for every partition with room.

        Only what is in the consumer's memory (``timeout_ms=0``): asked before every national call, so a
        priority record fetched meanwhile is seen at once. With one call at a time, only partitions holding
        none are refilled (as many records at once as they may hold).
        """
        assert self._consumer is not None
        for tp in self._consumer.assignment():
            if tp in self._paused_until:
                continue
            room = self._lanes.room(tp)
            if room <= 0 or (self.concurrency == 1 and self._lanes.head(tp) is not None):
                continue
            found = await self._consumer.getmany(tp, timeout_ms=0, max_records=room)
            self._keep(tp, found.get(tp, []))

    async def _wait_for_records(self) -> None:
        """Nothing to handle: wait a little for the consumer to fetch records of any partition not paused."""
        assert self._consumer is not None
        open_ = [tp for tp in self._consumer.assignment() if tp not in self._paused_until and self._lanes.room(tp) > 0]
        if not open_:  # every partition full or held: fetching would only read again what cannot be kept
            await asyncio.sleep(0.05)
            return
        found = await self._consumer.getmany(*open_, timeout_ms=200, max_records=self._lanes.capacity)
        for tp, records in found.items():
            self._keep(tp, records)

    def _keep(self, tp: TopicPartition, records: list[ConsumerRecord]) -> None:
        assert self._consumer is not None
        if not records:
            return
        room = self._lanes.room(tp)
        if len(records) > room:  # never drop a record silently: read the rest again later
            self._consumer.seek(tp, records[room].offset)
            records = records[:room]
        self._lanes.add(tp, records)

    def _owns(self, tp: TopicPartition, record: ConsumerRecord) -> bool:
        """Tell whether ``record`` is still the loop's to finish (its partition was not taken away meanwhile)."""
        assert self._consumer is not None
        return tp in self._consumer.assignment() and self._lanes.holds(tp, record)

    async def _handle(self, tp: TopicPartition, record: ConsumerRecord) -> bool:
        """Call the national system about one record and publish (or queue) its outputs; return whether its
        partition's commit point moved (the caller commits, after giving its call slot back)."""
        assert self._consumer is not None
        lane = self.lane_of(tp)
        started = time.perf_counter()
        with structlog.contextvars.bound_contextvars(lane=lane.value):
            decision = await self.worker.handle(_in_record(record))
        seconds = time.perf_counter() - started
        if self._observe:
            self._observe(self.member, lane, decision, seconds)
        log.debug("delivery_decided", member=self.member, lane=lane.value, outcome=decision.outcome,
                  topic=tp.topic, partition=tp.partition, offset=record.offset, seconds=round(seconds, 4))
        if not self._owns(tp, record):
            # A rebalance gave the partition away during the call: its new owner handles the record again
            # (the national system replays it under its idempotency key); publishing here would answer twice.
            log.info("delivery_partition_revoked_during_call", member=self.member, topic=tp.topic,
                     partition=tp.partition, offset=record.offset)
            return False
        if decision.hold_until is not None:
            self._lanes.abort(tp, record)
            if decision.hold_all:
                self._hold_everything(decision.hold_until)
            else:
                self._hold(tp, decision.hold_until)
            return False
        if self._tx_producer is not None:  # published with the commit that passes it
            self._unsent.setdefault(tp, {})[record.offset] = decision.outputs
        else:
            started = time.perf_counter()
            await publish_all(self._producer, decision.outputs, self.member)
            if self._observe_publish:
                self._observe_publish(self.member, time.perf_counter() - started)
            if not self._owns(tp, record):
                return False
        return self._lanes.finish(tp, record) is not None

    async def _commit(self, tp: TopicPartition) -> None:
        """Commit a partition up to its first record not yet finished (one commit at a time, never backwards).

        Records that finish while a commit waits for the broker are committed by the next turn of the loop,
        so the last records of a burst never stay uncommitted (and held, taking the partition's room).
        """
        assert self._consumer is not None
        async with self._commit_lock:
            while True:
                point = self._lanes.commit_point(tp)
                if point is None or tp not in self._consumer.assignment() or point <= self._committed.get(tp, -1):
                    return
                if self._tx_producer is not None:
                    await self._commit_in_transaction(tp, point)
                else:
                    await self._consumer.commit({tp: point})
                self._committed[tp] = point
                self._lanes.trim(tp, point)

    async def _commit_in_transaction(self, tp: TopicPartition, point: int) -> None:
        """Publish the outputs of the records before ``point`` and commit ``point``, in one transaction."""
        assert self._tx_producer is not None
        unsent = self._unsent.get(tp, {})
        passed = sorted(offset for offset in unsent if offset < point)
        outputs = [out for offset in passed for out in unsent[offset]]
        started = time.perf_counter()
        await publish_in_transaction(self._tx_producer, outputs, {tp: point}, self._group, self.member)
        if self._observe_publish:
            self._observe_publish(self.member, time.perf_counter() - started)
        for offset in passed:
            del unsent[offset]

    def _hold(self, tp: TopicPartition, until: float) -> None:
        """Pause one partition until ``until``; the record in hand stays first in its queue."""
        assert self._consumer is not None
        self._consumer.pause(tp)
        self._lanes.hold(tp)
        # Two records of one partition held at once (calls in flight together): resume at the earlier time.
        self._paused_until[tp] = min(until, self._paused_until.get(tp, until))

    def _hold_everything(self, until: float) -> None:
        """Pause every partition, the priority lane included (the circuit is open)."""
        assert self._consumer is not None
        for tp in self._consumer.assignment():
            if tp not in self._paused_until:
                self._hold(tp, until)

    def _resume_due(self) -> None:
        assert self._consumer is not None
        now = time.time()
        assigned = self._consumer.assignment()
        for tp, until in list(self._paused_until.items()):
            if until <= now or tp not in assigned:
                del self._paused_until[tp]
                self._lanes.release(tp)
                if tp in assigned:
                    self._consumer.resume(tp)

    def _rewind(self) -> None:
        """After a Kafka error: forget the records held and read again from the first one not committed."""
        assert self._consumer is not None
        assigned = self._consumer.assignment()
        for tp, first in self._lanes.heads().items():
            self._lanes.drop(tp)
            self._unsent.pop(tp, None)
            if tp in assigned:
                self._consumer.seek(tp, first.offset)

    def _forget(self, partitions: set[TopicPartition]) -> None:
        """Partitions taken away by a rebalance: drop their records and holds (a new owner reads them)."""
        for tp in partitions:
            self._lanes.forget(tp)
            self._paused_until.pop(tp, None)
            self._committed.pop(tp, None)
            self._unsent.pop(tp, None)


class _Revoked(ConsumerRebalanceListener):
    """Tells the loop which partitions a rebalance takes away, before the group hands them out again."""

    def __init__(self, loop: DeliveryLoop) -> None:
        self._loop = loop

    def on_partitions_revoked(self, revoked: set[TopicPartition]) -> None:
        self._loop._forget(set(revoked))  # noqa: SLF001 - the loop's own listener

    def on_partitions_assigned(self, assigned: set[TopicPartition]) -> None:
        """Nothing to do: the consumer starts each partition at its committed offset."""


def _in_record(record: ConsumerRecord) -> InRecord:
    return InRecord(topic=record.topic, partition=record.partition, offset=record.offset, key=record.key,
                    value=record.value or b"", headers={k: v.decode("utf-8", "replace") for k, v in record.headers or ()})


def _record_key(record: ConsumerRecord) -> bytes | None:
    """A record's key (participant + LRN): records of one key are never in flight together."""
    return record.key or None
