"""The Kafka side of one member's delivery: consume its delivery and retry topics, pause, publish, commit.

One consumer group per member (``oco-deliver-<M>``), so one member's outage or slowness never holds
another's. Records are handled one at a time per member (the national call is the slow part, and one
declaration's versions must stay in order); each record's offset is committed after its outputs were
acknowledged (at-least-once; adapters get an idempotency key for the duplicates).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable

import structlog
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, ConsumerRecord, TopicPartition
from aiokafka.errors import KafkaError

from gateway.delivery.worker import Decision, InRecord, MemberWorker
from gateway.topics import deliver_topic, retry_topic

__all__ = ["DeliveryLoop"]

log = structlog.get_logger("gateway.delivery")


class DeliveryLoop:
    """Run one member's worker against Kafka until stopped.

    Args:
        worker: the member's worker.
        bootstrap_servers: Kafka address.
        producer: a started producer shared by the process (acks=all).
        group_prefix: consumer group is ``<prefix>-<member>``.
        observe: called with (member, decision, seconds) after each handled record.
    """

    def __init__(self, worker: MemberWorker, *, bootstrap_servers: str, producer: AIOKafkaProducer,
                 group_prefix: str = "oco-deliver",
                 observe: Callable[[str, Decision, float], None] | None = None) -> None:
        self.worker = worker
        self.member = worker.member
        self._producer = producer
        self._observe = observe
        self._bootstrap = bootstrap_servers
        self._group = f"{group_prefix}-{self.member}"
        self._consumer: AIOKafkaConsumer | None = None
        self._paused_until: dict[TopicPartition, float] = {}
        self._next: dict[TopicPartition, int] = {}  # first offset not yet committed, per partition in hand
        self._stopping = asyncio.Event()
        self.running = False

    def _new_consumer(self) -> AIOKafkaConsumer:
        return AIOKafkaConsumer(
            deliver_topic(self.member), retry_topic(self.member),
            bootstrap_servers=self._bootstrap, group_id=self._group, client_id=self._group,
            enable_auto_commit=False, auto_offset_reset="earliest", max_poll_records=50,
            max_partition_fetch_bytes=8 * 1024 * 1024,
            # A national call may take long; the consumer must not be evicted from its group meanwhile.
            max_poll_interval_ms=15 * 60 * 1000,
        )

    async def run(self) -> None:
        """Consume until :meth:`stop`; a Kafka hiccup is logged and the loop goes on.

        Each run uses a consumer of its own, so a supervisor can call it again after a crash.
        """
        self._consumer = self._new_consumer()
        self._paused_until.clear()
        await self._consumer.start()
        self.running = True
        log.info("delivery_started", member=self.member, adapter=self.worker.adapter.NAME)
        try:
            while not self._stopping.is_set():
                self._resume_due()
                try:
                    batch = await self._consumer.getmany(timeout_ms=200)
                except KafkaError as exc:
                    log.warning("delivery_fetch_error", member=self.member, error=repr(exc))
                    await asyncio.sleep(1)
                    continue
                pending = dict(batch)  # partitions whose records are not all handled yet
                try:
                    for tp, records in batch.items():
                        if not await self._handle_partition(tp, records, pending):
                            break
                        del pending[tp]
                except KafkaError as exc:
                    # The consumer is already past the whole batch: go back to the first record not
                    # committed, or the rest of the batch would be skipped by the next commit.
                    self._rewind(pending)
                    log.warning("delivery_kafka_error_rewound", member=self.member, error=repr(exc))
                    await asyncio.sleep(1)
        finally:
            self.running = False
            await self._consumer.stop()

    def _rewind(self, pending: dict[TopicPartition, list[ConsumerRecord]]) -> None:
        assert self._consumer is not None
        for tp, records in pending.items():
            if records and tp not in self._paused_until:
                self._consumer.seek(tp, max(records[0].offset, self._next.get(tp, records[0].offset)))

    def stop(self) -> None:
        """Ask the loop to finish after the record in hand."""
        self._stopping.set()

    async def _handle_partition(self, tp: TopicPartition, records: list[ConsumerRecord],
                                pending: dict[TopicPartition, list[ConsumerRecord]]) -> bool:
        """Handle a partition's records in order; return False when every partition was put on hold."""
        assert self._consumer is not None
        for i, record in enumerate(records):
            started = time.perf_counter()
            decision = await self.worker.handle(_in_record(record))
            if self._observe:
                self._observe(self.member, decision, time.perf_counter() - started)
            if decision.hold_until is not None:
                if decision.hold_all:
                    self._hold_everything(pending, tp, record.offset, decision.hold_until)
                    return False
                self._hold(tp, record.offset, decision.hold_until)
                return True
            await _publish_all(self._producer, decision)
            await self._consumer.commit({tp: record.offset + 1})
            self._next[tp] = record.offset + 1
        return True

    def _hold(self, tp: TopicPartition, offset: int, until: float) -> None:
        assert self._consumer is not None
        self._consumer.seek(tp, offset)
        self._consumer.pause(tp)
        self._paused_until[tp] = until

    def _hold_everything(self, pending: dict[TopicPartition, list[ConsumerRecord]], current: TopicPartition,
                         offset: int, until: float) -> None:
        # Rewind the partitions with unhandled records to the first of them, then pause every partition.
        for tp, records in pending.items():
            if tp == current:
                self._hold(tp, offset, until)
            elif records:
                self._hold(tp, records[0].offset, until)
        assert self._consumer is not None
        for tp in self._consumer.assignment():
            if tp not in self._paused_until:
                self._consumer.pause(tp)
                self._paused_until[tp] = until

    def _resume_due(self) -> None:
        assert self._consumer is not None
        now = time.time()
        assigned = self._consumer.assignment()
        for tp, until in list(self._paused_until.items()):
            if until <= now or tp not in assigned:
                del self._paused_until[tp]
                if tp in assigned:
                    self._consumer.resume(tp)


async def _publish_all(producer: AIOKafkaProducer, decision: Decision) -> None:
    sends: list[Awaitable[object]] = [
        await producer.send(o.topic, o.value, key=o.key or None,
                            headers=[(k, v.encode()) for k, v in o.headers.items()])
        for o in decision.outputs
    ]
    await asyncio.gather(*sends)


def _in_record(record: ConsumerRecord) -> InRecord:
    return InRecord(topic=record.topic, partition=record.partition, offset=record.offset, key=record.key,
                    value=record.value or b"", headers={k: v.decode("utf-8", "replace") for k, v in record.headers or ()})
