"""Exactly-once publishing (``gateway.exactly_once``): each input partition's outputs and consumed offset go
in one Kafka transaction per batch.

**One transactional producer per input partition.** aiokafka sends ``TxnOffsetCommit`` version 0, without the
consumer group's generation (no KIP-447), so the broker can fence a zombie only by transactional id. Each
assigned input partition therefore has its own producer, transactional id ``<group_id>.tx.<topic>.<partition>``
(:func:`transactional_id`). Whoever is assigned a partition initialises that id, which bumps its epoch, aborts
the previous owner's open transaction (or waits for its commit to complete) and fences the previous owner's
producer: a gateway still running after it lost the partition cannot commit its outputs or offsets again.

**Seek to the committed offset after every initialisation.** A partition's position is taken from the group's
committed offset only once its producer is initialised (:meth:`PartitionTransactions.take`), so a transaction
the previous owner committed just before the hand-over is never processed twice.

**Offsets go through the transaction, never the consumer** (the subscriber's ack policy is ``MANUAL``, no
auto-commit). A batch commits, per partition, up to its first record given back (:func:`offsets_to_commit`: not
started, or in the slow lane). Any failure aborts the batch's open transactions and puts every assigned
partition back at its committed offset; a partition whose producer failed is taken again (initialised, then
sought) before it is read again.

**Outputs refused for good** (too large for the topic...) cannot be retried inside a transaction: a refusal
makes it abortable. The refused output is remembered (by input record and topic); when the batch comes again
it is sent first on its own, and refused again it is refused at once, so the handler publishes its replacement.
"""

from __future__ import annotations

import asyncio
import math
import time
from collections.abc import Awaitable, Callable, Iterable, Sequence
from typing import Any

import structlog
from aiokafka import TopicPartition
from aiokafka.abc import ConsumerRebalanceListener
from aiokafka.errors import KafkaError, ProducerFenced

from gateway.kafka_errors import refused_for_good
from gateway.pipeline.context import SourceRef
from gateway.pipeline.route import Output

__all__ = ["NotOwned", "PartitionTransactions", "offsets_to_commit", "transactional_id"]

log = structlog.get_logger(__name__)

_TP = tuple[str, int]
_START_TIMEOUT = 30.0  # seconds to initialise a transactional id (the broker may be restarting)
_REMEMBER = 600.0  # seconds a refused output is remembered (its record comes again within a batch or two)


class NotOwned(KafkaError):
    """An output of an input partition this gateway has no initialised producer for (taken away, or its
    producer failed): the batch is aborted, and the partition taken again before it is read again."""


def transactional_id(group_id: str, topic: str, partition: int) -> str:
    """Return the transactional id of one input partition (``<group_id>.tx.<topic>.<partition>``).

    Args:
        group_id: the gateway's consumer group (``kafka.group_id``); its ACL prefix is ``<group_id>.tx.``.
        topic: the input topic.
        partition: the input partition.
    """
    return f"{group_id}.tx.{topic}.{partition}"


def offsets_to_commit(records: Sequence[Any], given_back: dict[_TP, int]) -> dict[_TP, int]:
    """Return, per partition of a batch, the offset to commit: past its last record, but never past the first
    record the batch gave back (not started, or in the slow lane).

    Args:
        records: the batch's records (anything with ``topic``, ``partition`` and ``offset``).
        given_back: partition -> offset the consumer was sought back to.
    """
    ends: dict[_TP, int] = {}
    for record in records:
        tp = (record.topic, record.partition)
        ends[tp] = max(ends.get(tp, 0), record.offset + 1)
    return {tp: min(end, given_back.get(tp, math.inf)) for tp, end in ends.items()}  # type: ignore[misc]


class PartitionTransactions:
    """The transactional producers of the assigned input partitions, and their transactions.

    Args:
        make_producer: builds an unstarted ``AIOKafkaProducer`` for a transactional id.
        group_id: the consumer group whose offsets the transactions commit.
        consumer: returns the subscriber's consumer (it exists once the subscriber started).
        count: called with ``"committed"``, ``"aborted"`` or ``"fenced"`` per transaction (metrics).
    """

    def __init__(self, make_producer: Callable[[str], Any], group_id: str, consumer: Callable[[], Any],
                 count: Callable[[str], None] = lambda outcome: None) -> None:
        self._make = make_producer
        self._group = group_id
        self._consumer = consumer
        self._count = count
        self._producers: dict[_TP, Any] = {}
        self._open: set[_TP] = set()
        self._committed: dict[_TP, int] = {}
        self._refused: dict[tuple[Any, ...], tuple[BaseException, float]] = {}
        self._suspect: dict[tuple[Any, ...], float] = {}
        self._fenced: set[_TP] = set()  # taken over by another gateway: not taken again until assigned again
        self.lock = asyncio.Lock()  # a batch, a rebalance: one at a time

    # -- ownership -------------------------------------------------------------------------------------

    def listener(self) -> ConsumerRebalanceListener:
        """Return the rebalance listener for the subscriber: take assigned partitions, release revoked ones."""
        return _Listener(self)

    async def take(self, partitions: Iterable[_TP]) -> None:
        """Initialise each partition's transactional id, then put the consumer at its committed offset.

        A partition whose id cannot be initialised (the broker unreachable) is left without a producer: its
        records fail the batch (:class:`NotOwned`) and it is taken again then.
        """
        consumer = self._consumer()
        wanted = list(partitions)
        for tp in wanted:
            await self._release(tp)
            self._fenced.discard(tp)
        # All at once: a rebalance waits for this, and the broker may take a while to answer each.
        started = await asyncio.gather(*(self._start(tp) for tp in wanted))
        for tp, producer in zip(wanted, started, strict=True):
            if producer is None:
                continue
            self._producers[tp] = producer
            if consumer is not None:
                await self._seek(consumer, tp)

    async def _seek(self, consumer: Any, tp: _TP) -> None:
        """Put the consumer at the partition's committed offset; if that fails, release the partition, so that its
        records fail their batch until it is taken again (reading on from where it is could skip records)."""
        try:
            self._committed[tp] = await _seek_committed(consumer, tp)
        except KafkaError as exc:
            log.warning("committed_offset_unknown", topic=tp[0], partition=tp[1], error=repr(exc))
            await self._release(tp)

    async def _start(self, tp: _TP) -> Any:
        producer = self._make(transactional_id(self._group, *tp))
        try:
            await asyncio.wait_for(producer.start(), _START_TIMEOUT)  # init_transactions: fences the old owner
        except (KafkaError, TimeoutError) as exc:
            log.warning("transactional_id_not_ready", topic=tp[0], partition=tp[1], error=repr(exc))
            await _stop(producer)
            return None
        return producer

    async def release(self, partitions: Iterable[_TP]) -> None:
        """Stop the producers of partitions taken away (after the batch in progress, see :attr:`lock`)."""
        for tp in partitions:
            await self._release(tp)

    async def _release(self, tp: _TP) -> None:
        producer = self._producers.pop(tp, None)
        self._open.discard(tp)
        self._committed.pop(tp, None)
        if producer is not None:
            await _stop(producer)

    async def close(self) -> None:
        """Stop every producer (open transactions are aborted by the broker, or by the next owner)."""
        await self.release(list(self._producers))

    # -- one batch -------------------------------------------------------------------------------------

    def fresh(self, records: Sequence[Any]) -> list[Any]:
        """Drop the records below their partition's committed offset.

        A batch may have been fetched before a rebalance or an abort put its partition back at the committed
        offset: its records below that offset were committed already (by this gateway or the previous owner),
        and processing them again would publish their outputs twice.

        Args:
            records: a consumed batch.
        """
        kept = [r for r in records if r.offset >= self._committed.get((r.topic, r.partition), -1)]
        if len(kept) < len(records):
            log.info("records_already_committed_dropped", records=len(records) - len(kept))
        return kept

    async def publish(self, output: Output, source: SourceRef) -> Awaitable[Any]:
        """Send one output inside its input partition's transaction; return the broker's acknowledgement.

        Args:
            output: the record to publish.
            source: the input record it answers (which transaction it belongs to).

        Raises:
            NotOwned: no initialised producer for the input partition.
            KafkaError: the output was refused for good before (the handler replaces it), or sending failed.
        """
        tp = (source.topic, source.partition)
        producer = self._producers.get(tp)
        if producer is None:
            raise NotOwned(f"no transactional producer for {tp[0]}[{tp[1]}]: taken away or not initialised")
        key = (source.topic, source.partition, source.offset, output.topic)
        if (refused := self._refused.get(key)) is not None:
            raise refused[0]
        if tp not in self._open:
            await producer.begin_transaction()
            self._open.add(tp)
        alone = key in self._suspect
        if alone:  # refused last time, maybe only for sharing a produce batch with the culprit: on its own now
            await producer.flush()
        ack = await producer.send(output.topic, output.value, key=output.key,
                                  headers=[(k, v.encode()) for k, v in output.headers.items()])
        ack.add_done_callback(lambda future: self._note_refusal(key, alone, future))
        if alone:
            await asyncio.wait([ack])
            if key in self._refused:
                raise self._refused[key][0]
        return ack

    def _note_refusal(self, key: tuple[Any, ...], alone: bool, future: asyncio.Future[Any]) -> None:
        if future.cancelled() or future.exception() is None or not refused_for_good(future.exception()):
            return
        now = time.monotonic()
        if alone:
            self._refused[key] = (future.exception(), now)  # type: ignore[assignment]
            self._suspect.pop(key, None)
        else:
            self._suspect[key] = now

    async def commit(self, offsets: dict[_TP, int]) -> None:
        """Commit each partition's transaction with its consumed offset (a partition without outputs whose offset
        did not move needs none). Partitions commit independently; any failure aborts the rest.

        Args:
            offsets: partition -> the offset to commit (:func:`offsets_to_commit`).

        Raises:
            Exception: a transaction could not be committed (the caller calls :meth:`abort`).
        """
        due = {tp: offset for tp, offset in offsets.items()
               if tp in self._open or offset > self._committed.get(tp, -1)}
        outcomes = await asyncio.gather(*(self._commit_one(tp, offset) for tp, offset in due.items()),
                                        return_exceptions=True)
        self._forget_stale()
        for outcome in outcomes:
            if isinstance(outcome, BaseException):
                raise outcome

    async def _commit_one(self, tp: _TP, offset: int) -> None:
        producer = self._producers.get(tp)
        if producer is None:
            raise NotOwned(f"no transactional producer for {tp[0]}[{tp[1]}]")
        if tp not in self._open:
            await producer.begin_transaction()
            self._open.add(tp)
        try:
            await producer.send_offsets_to_transaction({TopicPartition(*tp): offset}, self._group)
            await producer.commit_transaction()
        except ProducerFenced:
            self._fenced.add(tp)  # abort() releases it
            raise
        self._open.discard(tp)
        self._committed[tp] = offset
        self._count("committed")

    async def abort(self) -> None:
        """Abort every open transaction and put every assigned partition back at its committed offset.

        A partition whose transaction was aborted gets a fresh producer (initialising its id again): aiokafka
        does not bump the epoch after an abort, and a producer left with sequence numbers the broker no longer
        expects would fail every later transaction. A fenced partition (another gateway owns it now) is released
        and paused until a rebalance assigns it again.
        """
        consumer = self._consumer()
        aborted: list[_TP] = []
        for tp in list(self._open):
            producer = self._producers.get(tp)
            self._open.discard(tp)
            if producer is None:
                continue
            fenced = tp in self._fenced or _was_fenced(producer)
            if not fenced:
                try:
                    await asyncio.wait_for(producer.abort_transaction(), _START_TIMEOUT)
                except ProducerFenced:
                    fenced = True
                except Exception as exc:  # noqa: BLE001 - broker gone, or aiokafka's state errors: the fresh
                    # producer below initialises the id again, which aborts the transaction for us
                    log.warning("transaction_abort_failed", topic=tp[0], partition=tp[1], error=repr(exc))
            if fenced:
                log.warning("transaction_fenced", topic=tp[0], partition=tp[1])
                self._count("fenced")
                await self._release(tp)
                self._fenced.add(tp)
                if consumer is not None:
                    _pause(consumer, tp)
                continue
            self._count("aborted")
            aborted.append(tp)
        if consumer is None:
            return
        assigned = {(tp.topic, tp.partition) for tp in consumer.assignment()} - self._fenced
        again = sorted({*aborted, *(tp for tp in assigned if tp not in self._producers)} & assigned)
        if again:
            await self.take(again)
        for tp in sorted(assigned - set(again)):
            await self._seek(consumer, tp)

    def _forget_stale(self) -> None:
        horizon = time.monotonic() - _REMEMBER
        for key in [k for k, (_, at) in self._refused.items() if at < horizon]:
            del self._refused[key]
        for key in [k for k, at in self._suspect.items() if at < horizon]:
            del self._suspect[key]


class _Listener(ConsumerRebalanceListener):  # type: ignore[misc]
    """Takes and releases partitions between batches (the lock), so a batch never loses its producers."""

    def __init__(self, transactions: PartitionTransactions) -> None:
        self._tx = transactions

    async def on_partitions_revoked(self, revoked: Iterable[TopicPartition]) -> None:
        async with self._tx.lock:
            await self._tx.release([(tp.topic, tp.partition) for tp in revoked])

    async def on_partitions_assigned(self, assigned: Iterable[TopicPartition]) -> None:
        async with self._tx.lock:
            await self._tx.take(sorted((tp.topic, tp.partition) for tp in assigned))


async def _seek_committed(consumer: Any, tp: _TP) -> int:
    """Put the consumer at a partition's committed offset (its beginning if none) and return that offset.

    Explicitly, not with ``seek_to_beginning``: a lazy reset would leave records already fetched in the buffer.
    """
    partition = TopicPartition(*tp)
    committed = await consumer.committed(partition)
    if committed is None:
        committed = (await consumer.beginning_offsets([partition]))[partition]
    consumer.seek(partition, committed)
    return committed


def _was_fenced(producer: Any) -> bool:
    """Tell whether aiokafka's sender learnt the producer was fenced (it then fails later calls with unrelated
    errors: "not in transaction", an invalid state transition). Reads aiokafka's private transaction state
    (pinned ``aiokafka>=0.14,<0.15``, as ``gateway.kafka_idempotence``)."""
    manager = getattr(producer, "_txn_manager", None)
    waiter = getattr(manager, "_transaction_waiter", None)
    try:
        if manager is None or not manager.is_fatal_error() or waiter is None or not waiter.done():
            return False
        return not waiter.cancelled() and isinstance(waiter.exception(), ProducerFenced)
    except AttributeError:  # pragma: no cover - another aiokafka: treated as not fenced (taken again)
        return False


def _pause(consumer: Any, tp: _TP) -> None:
    try:
        consumer.pause(TopicPartition(*tp))
    except Exception as exc:  # noqa: BLE001 - pausing only saves failing batches until the rebalance
        log.warning("pause_failed", topic=tp[0], partition=tp[1], error=repr(exc))


async def _stop(producer: Any) -> None:
    try:
        await producer.stop()
    except Exception as exc:  # noqa: BLE001 - stopping a producer whose broker is gone must not fail a rebalance
        log.warning("producer_stop_failed", error=repr(exc))
