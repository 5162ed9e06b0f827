"""Kafka plumbing of the benchmark: bulk produce, a reply collector that timestamps arrivals, a topic reader, and
round-trip timing."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
import uuid
from collections import Counter
from collections.abc import Awaitable, Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field

from typing import Any

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient, NewTopic

from gateway import headers as h
from gateway.ops.broker import ADMIN_USER, LocalBroker

__all__ = ["FinalReply", "Outgoing", "ReplyCollector", "SeenReplies", "network_kafka", "new_tracking_id",
           "produce_all", "producer", "quiet_kafka_client", "read_tracking_ids", "round_trips", "security",
           "send_open_loop", "use_broker"]

FETCH_BYTES = 8 * 1024 * 1024  # as the gateway's consumer: max_message_bytes * 2


@contextlib.contextmanager
def quiet_kafka_client() -> Iterator[None]:
    """Silence aiokafka's logger for a while: a broker just started answers NotLeader and
    GroupCoordinatorNotAvailable until its partitions and ``__consumer_offsets`` exist, and aiokafka retries."""
    logger = logging.getLogger("aiokafka")
    level = logger.level
    logger.setLevel(logging.CRITICAL)
    try:
        yield
    finally:
        logger.setLevel(level)


@dataclass(frozen=True, slots=True)
class Outgoing:
    """One record to produce, carrying its tracking id as the ``oco-tracking-id`` header."""

    topic: str
    key: bytes
    value: bytes
    tracking_id: str


_BROKER: list[LocalBroker] = []  # the benchmark's broker, once use_broker() named it


def use_broker(broker: LocalBroker) -> None:
    """Run every benchmark client, and every process started on the benchmark's network files, as the broker's
    administrator (a secured broker: the ACL checks cost nothing the benchmark could measure).

    Args:
        broker: the benchmark's local broker (its administrator's password is read when a client is made).
    """
    _BROKER[:] = [broker]


def security() -> dict[str, Any]:
    """Return the aiokafka security options of every benchmark client (see :func:`use_broker`)."""
    return _BROKER[0].admin_security() if _BROKER else {}


def network_kafka() -> dict[str, str]:
    """Return the ``kafka:`` keys a benchmark network file adds for its processes: the administrator's user name
    and password file (never the password itself)."""
    if not _BROKER or not _BROKER[0].secured:
        return {}
    return {"username": ADMIN_USER, "password_file": str(_BROKER[0].admin_password_file)}


def new_tracking_id() -> str:
    """Return a fresh tracking id, as a member system would set it."""
    return str(uuid.uuid4())


def producer(bootstrap_servers: str) -> AIOKafkaProducer:
    """Return a producer configured as a careful member system's: acks=all, idempotent.

    Args:
        bootstrap_servers: Kafka address.
    """
    # Batches of up to 1 MiB: the default 16 KiB holds no corpus declaration but the smallest.
    return AIOKafkaProducer(bootstrap_servers=bootstrap_servers, **security(), acks="all", enable_idempotence=True, linger_ms=5,
                            max_batch_size=1024 * 1024, max_request_size=FETCH_BYTES)


async def send_open_loop(batch: Sequence[Any], rate: float,
                         send: Callable[[Any], Awaitable[tuple[str, Awaitable[Any]]]]) -> tuple[dict[str, float], float, float]:
    """Send ``batch`` at ``rate`` per second whatever the answers (open loop), then wait for every ack.

    Args:
        batch: what to send, prepared before the clock starts (the sender should only send).
        rate: sends per second.
        send: sends one item; returns its id and the producer's ack.

    Returns:
        id -> the time it was due (``perf_counter``), the worst lag behind schedule, the first due time.
    """
    due: dict[str, float] = {}
    lag = 0.0
    first = time.perf_counter() + 0.05
    acks = []
    for i, item in enumerate(batch):
        when = first + i / rate
        wait = when - time.perf_counter()
        if wait > 0:
            await asyncio.sleep(wait)
        else:
            lag = max(lag, -wait)
        ident, ack = await send(item)
        due[ident] = when
        acks.append(ack)
    await asyncio.gather(*acks)
    return due, lag, first


async def produce_all(bootstrap_servers: str, records: Iterable[Outgoing], window: int = 500) -> int:
    """Produce every record and wait until the broker acknowledged all; return how many.

    Args:
        bootstrap_servers: Kafka address.
        records: what to send.
        window: records in flight at most (bounds the producer's memory).
    """
    prod = producer(bootstrap_servers)
    await prod.start()
    sent = 0
    try:
        pending: list[asyncio.Future[object]] = []
        for r in records:
            pending.append(await prod.send(r.topic, r.value, key=r.key,
                                           headers=[(h.TRACKING_ID, r.tracking_id.encode())]))
            if len(pending) >= window:
                await asyncio.gather(*pending)
                sent, pending = sent + len(pending), []
        await asyncio.gather(*pending)
        return sent + len(pending)
    finally:
        await prod.stop()


@dataclass(frozen=True, slots=True)
class FinalReply:
    """The final answer to a declaration: ``accepted`` or ``rejected`` (by the national system or the gateway)."""

    at: float  # perf_counter() at arrival
    status: str
    member: str  # its oco-member header ("" when absent)


@dataclass(slots=True)
class SeenReplies:
    """What a :class:`ReplyCollector` saw, per tracking id."""

    arrived: dict[str, float] = field(default_factory=dict)  # tracking id -> perf_counter() at first sight
    statuses: Counter[str] = field(default_factory=Counter)
    finals: dict[str, FinalReply] = field(default_factory=dict)  # tracking id -> first reply not "received"
    duplicates: int = 0

    def note(self, tid: str, status: str, member: str, now: float) -> None:
        """Record one reply.

        Args:
            tid: its tracking id.
            status: its ``oco-status`` header (received, accepted, rejected).
            member: its ``oco-member`` header.
            now: its arrival time.
        """
        first = tid not in self.arrived
        if first:
            self.arrived[tid] = now
            self.statuses[status] += 1
        if status == "received":
            self.duplicates += not first
        elif tid in self.finals:
            self.duplicates += 1
        else:
            self.finals[tid] = FinalReply(now, status, member)


class ReplyCollector:
    """Follow topics from their current end, noting when each tracking id first arrives (``perf_counter``).

    A declaration gets "received" from the gateway, then "accepted" or "rejected" from its member's delivery
    worker when one runs: the first record of each tracking id is in :attr:`arrived`, the first record that is
    not "received" in :attr:`finals`.

    No consumer group: partitions are assigned directly, so nothing here disturbs the gateway's group.

    Args:
        bootstrap_servers: Kafka address.
        topics: the topics to follow (they must exist).
        partitions: partitions of each topic (the benchmark created them).
    """

    def __init__(self, bootstrap_servers: str, topics: Sequence[str], partitions: int) -> None:
        self.topics = list(topics)
        self._tps = [TopicPartition(t, p) for t in topics for p in range(partitions)]
        # read_committed: a reply counts when a consumer could act on it (exactly-once: when its batch committed).
        self._consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap_servers, **security(), enable_auto_commit=False,
                                          max_partition_fetch_bytes=FETCH_BYTES, isolation_level="read_committed")
        self._seen = SeenReplies()
        self._task: asyncio.Task[None] | None = None
        self._changed = asyncio.Event()

    async def start(self) -> None:
        """Connect, position at the end of every partition, and start collecting in the background."""
        await self._consumer.start()
        self._consumer.assign(self._tps)
        await self._consumer.seek_to_end(*self._tps)
        for tp in self._tps:  # resolve the lazy seek now, before anything is produced
            await self._consumer.position(tp)
        self._task = asyncio.create_task(self._collect())

    async def _collect(self) -> None:
        while True:
            batch = await self._consumer.getmany(timeout_ms=100, max_records=2000)
            now = time.perf_counter()  # one arrival time per fetch: what a member system would see
            for records in batch.values():
                for record in records:
                    found = dict(record.headers or ())
                    tid = found.get(h.TRACKING_ID)
                    if tid is None:
                        continue
                    self._seen.note(tid.decode(), found.get(h.STATUS, b"?").decode(),
                               found.get(h.MEMBER, b"").decode(), now)
            if batch:
                self._changed.set()

    @property
    def arrived(self) -> dict[str, float]:
        """Tracking id -> arrival time (``perf_counter``) of its first record."""
        return self._seen.arrived

    @property
    def statuses(self) -> Counter[str]:
        """``oco-status`` header of first records, counted (``received``, ``rejected``)."""
        return self._seen.statuses

    @property
    def finals(self) -> dict[str, FinalReply]:
        """Tracking id -> its final reply (the first one whose status is not "received")."""
        return self._seen.finals

    @property
    def duplicates(self) -> int:
        """Records whose tracking id had been seen already (at-least-once redeliveries)."""
        return self._seen.duplicates

    async def wait_for(self, tracking_ids: set[str], stall_timeout: float = 60.0, *, final: bool = False) -> set[str]:
        """Wait until every id arrived, or nothing arrived for ``stall_timeout`` seconds; return the missing ones.

        Args:
            tracking_ids: the ids to wait for.
            stall_timeout: seconds without any new record before giving up.
            final: wait for each id's final reply (accepted or rejected), not its first.
        """
        seen = self._seen.finals if final else self._seen.arrived
        while True:
            missing = tracking_ids - seen.keys()
            if not missing:
                return missing
            if self._task is not None and self._task.done():
                self._task.result()  # re-raise what stopped the collector
            self._changed.clear()
            try:
                await asyncio.wait_for(self._changed.wait(), stall_timeout)
            except TimeoutError:
                return tracking_ids - seen.keys()

    async def stop(self) -> None:
        """Stop collecting and disconnect."""
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)
        await self._consumer.stop()


async def read_tracking_ids(bootstrap_servers: str, topics: Sequence[str], partitions: int,
                            timeout: float = 120.0) -> Counter[str]:
    """Read topics from the beginning to their current end; return how often each tracking id occurs.

    Args:
        bootstrap_servers: Kafka address.
        topics: topics to read.
        partitions: partitions of each topic.
        timeout: seconds to reach the end of every partition.

    Raises:
        TimeoutError: the end was not reached in time.
    """
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap_servers, **security(), enable_auto_commit=False,
                                max_partition_fetch_bytes=FETCH_BYTES)
    await consumer.start()
    counts: Counter[str] = Counter()
    try:
        tps = [TopicPartition(t, p) for t in topics for p in range(partitions)]
        consumer.assign(tps)
        await consumer.seek_to_beginning(*tps)
        ends = await consumer.end_offsets(tps)
        deadline = time.monotonic() + timeout
        while [tp for tp, end in ends.items() if await consumer.position(tp) < end]:
            if time.monotonic() > deadline:
                raise TimeoutError(f"could not read {topics} to their end in {timeout:g}s")
            batch = await consumer.getmany(timeout_ms=200, max_records=2000)
            for records in batch.values():
                for record in records:
                    tid = dict(record.headers or ()).get(h.TRACKING_ID)
                    if tid is not None:
                        counts[tid.decode()] += 1
        return counts
    finally:
        await consumer.stop()


async def round_trips(bootstrap_servers: str, topic: str = "bench.round-trips", count: int = 50,
                      size: int = 4096) -> tuple[float, float, float]:
    """Time the two Kafka round trips a delivery worker makes per record, one at a time, in milliseconds.

    Publishing with the delivery workers' producer settings (``gateway/delivery/service.py``: acks=all,
    idempotent, ``linger_ms=5``), the same without the linger, and committing one offset.

    Args:
        bootstrap_servers: Kafka address.
        topic: a scratch topic (created when missing, one partition).
        count: round trips of each kind; the mean is returned.
        size: bytes per record, about a reply document.

    Returns:
        Mean publish (linger 5 ms), publish (linger 0) and commit times, in ms.
    """
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap_servers, **security())
    await admin.start()
    try:
        if topic not in await admin.list_topics():
            await admin.create_topics([NewTopic(topic, num_partitions=1, replication_factor=1)])
    finally:
        await admin.close()
    publish = []
    for linger in (5, 0):
        prod = AIOKafkaProducer(bootstrap_servers=bootstrap_servers, **security(), acks="all", enable_idempotence=True,
                                linger_ms=linger)
        await prod.start()
        try:
            await (await prod.send(topic, b"x"))  # metadata, producer id: not per record
            times = []
            for _ in range(count):
                started = time.perf_counter()
                await (await prod.send(topic, b"x" * size))
                times.append(time.perf_counter() - started)
            publish.append(sum(times) / len(times) * 1000)
        finally:
            await prod.stop()
    tp = TopicPartition(topic, 0)
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap_servers, **security(), group_id=f"bench-commit-{uuid.uuid4()}",
                                enable_auto_commit=False)
    await consumer.start()
    try:
        consumer.assign([tp])
        await consumer.commit({tp: 1})  # finds the group coordinator: not per record
        times = []
        for offset in range(2, count + 2):
            started = time.perf_counter()
            await consumer.commit({tp: offset})
            times.append(time.perf_counter() - started)
    finally:
        await consumer.stop()
    return publish[0], publish[1], sum(times) / len(times) * 1000
