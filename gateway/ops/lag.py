"""Watch a process's consumer groups from the outside: lag in records and in seconds, and whether Kafka answers.

Every ``interval`` seconds the watch asks the broker, for each group it is given, the committed offset of
each partition of the group's topics and the partition's end; where records wait, it reads the first of
them to learn its age. It keeps doing so while the broker is away: ``oco_gateway_kafka_connected`` then
drops to 0 (the lag gauges keep their last values, which are then stale), so an outage is a series that
alerts can read, not an absence.

A separate client on purpose: the consumers being watched may be stuck, and their own view would be too.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import structlog
from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient
from aiokafka.errors import KafkaError

from gateway.ops.metrics import KafkaWatchMetrics

__all__ = ["LagWatch", "PartitionLag", "Progress", "partition_lags"]

log = structlog.get_logger(__name__)


@dataclass(frozen=True, slots=True)
class PartitionLag:
    """One partition of a group: how many records wait, and from which offset."""

    group: str
    partition: TopicPartition
    committed: int  # the group's next offset to consume (the earliest available when it committed none)
    end: int

    @property
    def records(self) -> int:
        """Records not yet consumed."""
        return max(0, self.end - self.committed)


def partition_lags(group: str, committed: Mapping[TopicPartition, int], ends: Mapping[TopicPartition, int],
                   starts: Mapping[TopicPartition, int]) -> list[PartitionLag]:
    """Return the lag of every partition with an end offset.

    A partition the group never committed counts from its earliest offset (the groups here reset to
    ``earliest``), so records no one has read yet are lag too.

    Args:
        group: the consumer group.
        committed: its committed offsets (missing or negative: none).
        ends: each partition's end offset (the last stable offset for read_committed readers).
        starts: each partition's earliest offset.
    """
    lags = []
    for tp, end in sorted(ends.items()):
        done = committed.get(tp, -1)
        lags.append(PartitionLag(group, tp, done if done >= 0 else starts.get(tp, 0), end))
    return lags


class LagWatch:
    """Refresh the lag and connectivity gauges of some consumer groups every ``interval`` seconds.

    Args:
        bootstrap_servers: Kafka address.
        security: the process's client options (``gateway.kafka_security.client_options``).
        groups: consumer group -> the topics it consumes.
        metrics: the gauges to set.
        interval: seconds between checks.
        clock: wall clock (record ages are measured against record timestamps, which are wall clock).
    """

    def __init__(self, *, bootstrap_servers: str, security: Mapping[str, Any] | None, groups: Mapping[str, Sequence[str]],
                 metrics: KafkaWatchMetrics, interval: float = 5.0, clock: Any = time.time) -> None:
        self._bootstrap = bootstrap_servers
        self._security = dict(security or {})
        self.groups = {g: list(t) for g, t in groups.items()}
        self._metrics = metrics
        self.interval = interval
        self._clock = clock
        self._stopping = asyncio.Event()
        self.last: list[PartitionLag] = []
        self._reached: float | None = None  # monotonic time of the last check that reached the broker
        self.progress = Progress()

    async def run(self) -> None:
        """Check, then wait ``interval``, until :meth:`stop`; Kafka errors only set the gauges to say so."""
        admin = consumer = None
        while not self._stopping.is_set():
            try:
                if admin is None or consumer is None:
                    admin, consumer = await self._connect()
                self.last = await self._check(admin, consumer)
                self._reached = time.monotonic()
                self._metrics.connected.set(1)
                self._metrics.last_contact.set(self._clock())
            except (KafkaError, OSError, asyncio.TimeoutError) as exc:
                self._metrics.connected.set(0)
                log.warning("kafka_unreachable", error=f"{type(exc).__name__}({exc})"[:300])
                await _close(admin, consumer)
                admin = consumer = None
            try:
                await asyncio.wait_for(self._stopping.wait(), self.interval)
            except asyncio.TimeoutError:
                pass
        await _close(admin, consumer)

    @property
    def reachable(self) -> bool:
        """Whether a check reached the broker lately (within three intervals, or 15 s at least)."""
        return self._reached is not None and time.monotonic() - self._reached <= max(3 * self.interval, 15.0)

    def stop(self) -> None:
        """Finish after the check in hand."""
        self._stopping.set()

    async def _connect(self) -> tuple[AIOKafkaAdminClient, AIOKafkaConsumer]:
        admin = AIOKafkaAdminClient(bootstrap_servers=self._bootstrap, request_timeout_ms=self._timeout_ms(),
                                    **self._security)
        consumer = AIOKafkaConsumer(bootstrap_servers=self._bootstrap, enable_auto_commit=False,
                                    request_timeout_ms=self._timeout_ms(), isolation_level="read_committed",
                                    max_partition_fetch_bytes=64 * 1024, **self._security)
        try:
            await asyncio.wait_for(admin.start(), self.interval * 2)
            await asyncio.wait_for(consumer.start(), self.interval * 2)
        except BaseException:
            await _close(admin, consumer)
            raise
        return admin, consumer

    def _timeout_ms(self) -> int:
        return int(max(self.interval * 2, 5.0) * 1000)

    async def _check(self, admin: AIOKafkaAdminClient, consumer: AIOKafkaConsumer) -> list[PartitionLag]:
        budget = self.interval * 2
        partitions = await asyncio.wait_for(self._partitions(consumer), budget)
        ends = await asyncio.wait_for(consumer.end_offsets(partitions), budget) if partitions else {}
        starts = await asyncio.wait_for(consumer.beginning_offsets(partitions), budget) if partitions else {}
        lags: list[PartitionLag] = []
        for group, topics in self.groups.items():
            found = await asyncio.wait_for(admin.list_consumer_group_offsets(group), budget)
            committed = {tp: meta.offset for tp, meta in found.items()}
            mine = {tp: end for tp, end in ends.items() if tp.topic in topics}
            lags += partition_lags(group, committed, mine, starts)
        waiting = [lag for lag in lags if lag.records > 0]
        ages = await asyncio.wait_for(self._ages(consumer, waiting), budget) if waiting else {}
        self.progress.update(lags)
        for lag in lags:
            labels = (lag.group, lag.partition.topic, str(lag.partition.partition))
            self._metrics.lag.labels(*labels).set(lag.records)
            self._metrics.position.labels(*labels).set(lag.committed)
            self._metrics.lag_seconds.labels(*labels).set(ages.get((lag.group, lag.partition), 0.0))
        return lags

    async def _partitions(self, consumer: AIOKafkaConsumer) -> list[TopicPartition]:
        topics = sorted({t for ts in self.groups.values() for t in ts})
        client = consumer._client  # noqa: SLF001 - aiokafka has no public call to ask metadata of given topics
        for topic in topics:
            await client.add_topic(topic)  # asked by name, once; later checks refresh them all
        if not await client.force_metadata_update():
            raise KafkaError("no metadata from the broker")
        return [TopicPartition(t, p) for t in topics for p in sorted(consumer.partitions_for_topic(t) or ())]

    async def _ages(self, consumer: AIOKafkaConsumer, waiting: list[PartitionLag]) -> dict[tuple[str, TopicPartition], float]:
        """Seconds since the first waiting record of each lagging partition was written."""
        by_partition: dict[TopicPartition, int] = {}
        for lag in waiting:  # two groups on one partition: read from the earlier offset once, then each
            by_partition[lag.partition] = min(lag.committed, by_partition.get(lag.partition, lag.committed))
        consumer.assign(list(by_partition))
        for tp, offset in by_partition.items():
            consumer.seek(tp, offset)
        now = self._clock()
        ages: dict[tuple[str, TopicPartition], float] = {}
        for lag in waiting:
            if lag.committed != by_partition[lag.partition]:
                consumer.seek(lag.partition, lag.committed)
            got = await consumer.getmany(lag.partition, timeout_ms=int(self.interval * 1000), max_records=1)
            records = got.get(lag.partition) or []
            if records and records[0].timestamp >= 0:
                ages[(lag.group, lag.partition)] = max(0.0, now - records[0].timestamp / 1000)
        return ages


class Progress:
    """Whether the groups move: how long a partition with records waiting has kept the same committed offset.

    Args:
        clock: monotonic seconds (tests pass their own).
    """

    def __init__(self, clock: Any = time.monotonic) -> None:
        self._clock = clock
        self._since: dict[tuple[str, TopicPartition], tuple[int, float]] = {}  # -> (committed, unchanged since)
        self._waiting: set[tuple[str, TopicPartition]] = set()

    def update(self, lags: Sequence[PartitionLag]) -> None:
        """Take one check's lags."""
        now = self._clock()
        for lag in lags:
            key = (lag.group, lag.partition)
            if self._since.get(key, (None, 0.0))[0] != lag.committed:
                self._since[key] = (lag.committed, now)
        self._waiting = {(lag.group, lag.partition) for lag in lags if lag.records > 0}

    def stalled_for(self) -> float:
        """Seconds the longest-stuck partition with records waiting has kept its committed offset (0: none)."""
        now = self._clock()
        return max((now - since for key, (_, since) in self._since.items() if key in self._waiting), default=0.0)


async def _close(admin: AIOKafkaAdminClient | None, consumer: AIOKafkaConsumer | None) -> None:
    for client in (consumer, admin):
        if client is None:
            continue
        try:
            await (client.stop() if isinstance(client, AIOKafkaConsumer) else client.close())
        except Exception:  # noqa: BLE001 - closing a client of a broker that is away
            pass
