"""Tests for gateway.transport.transactions: one transaction per input partition, offsets through it, aborts,
fencing and refused outputs, with fake producers and a fake consumer (no Kafka)."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from typing import Any

import pytest
from aiokafka import TopicPartition
from aiokafka.errors import KafkaConnectionError, MessageSizeTooLargeError, ProducerFenced

from gateway.access.policy import gateway_transactional_prefix
from gateway.pipeline.context import SourceRef
from gateway.pipeline.route import Output
from gateway.transport.transactions import NotOwned, PartitionTransactions, offsets_to_commit, transactional_id

A = "oco.submit.fj-post"


@dataclass
class Record:
    topic: str
    partition: int
    offset: int


class Producer:
    """A transactional producer that keeps what it was asked, in order."""

    def __init__(self, txn_id: str) -> None:
        self.txn_id = txn_id
        self.calls: list[Any] = []
        self.refuse: set[str] = set()  # topics whose records the broker refuses
        self.commit_error: BaseException | None = None
        self.abort_error: BaseException | None = None

    async def start(self) -> None:
        self.calls.append("start")

    async def stop(self) -> None:
        self.calls.append("stop")

    async def begin_transaction(self) -> None:
        self.calls.append("begin")

    async def flush(self) -> None:
        self.calls.append("flush")

    async def send(self, topic: str, value: bytes, *, key: bytes, headers: list[tuple[str, bytes]]) -> Any:
        self.calls.append(("send", topic))
        ack: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        if topic in self.refuse:
            ack.set_exception(MessageSizeTooLargeError())
        else:
            ack.set_result(None)
        return ack

    async def send_offsets_to_transaction(self, offsets: dict[TopicPartition, int], group_id: str) -> None:
        self.calls.append(("offsets", {(tp.topic, tp.partition): o for tp, o in offsets.items()}, group_id))

    async def commit_transaction(self) -> None:
        if self.commit_error is not None:
            raise self.commit_error
        self.calls.append("commit")

    async def abort_transaction(self) -> None:
        if self.abort_error is not None:
            raise self.abort_error
        self.calls.append("abort")


class Consumer:
    """Committed offsets, and where the consumer was put."""

    def __init__(self, *partitions: tuple[str, int], committed: dict[tuple[str, int], int] | None = None) -> None:
        self.partitions = {TopicPartition(*tp) for tp in partitions}
        self.committed_offsets = dict(committed or {})
        self.positions: dict[tuple[str, int], int] = {}
        self.paused: set[tuple[str, int]] = set()

    async def committed(self, tp: TopicPartition) -> int | None:
        return self.committed_offsets.get((tp.topic, tp.partition))

    async def beginning_offsets(self, tps: list[TopicPartition]) -> dict[TopicPartition, int]:
        return {tp: 0 for tp in tps}

    def seek(self, tp: TopicPartition, offset: int) -> None:
        self.positions[(tp.topic, tp.partition)] = offset

    def pause(self, *tps: TopicPartition) -> None:
        self.paused |= {(tp.topic, tp.partition) for tp in tps}

    def assignment(self) -> set[TopicPartition]:
        return self.partitions


class Setup:
    def __init__(self, *partitions: tuple[str, int], committed: dict[tuple[str, int], int] | None = None) -> None:
        self.producers: dict[str, Producer] = {}
        self.counted: list[str] = []
        self.consumer = Consumer(*partitions, committed=committed)

        def make(txn_id: str) -> Producer:
            self.producers[txn_id] = Producer(txn_id)
            return self.producers[txn_id]

        self.tx = PartitionTransactions(make, "gw", lambda: self.consumer, self.counted.append)

    def producer(self, partition: int) -> Producer:
        return self.producers[transactional_id("gw", A, partition)]


def out(topic: str = "oco.reply.fj-post") -> Output:
    return Output(topic, b"k", b"v", {"oco-tracking-id": "t"})


class TestOffsets:
    def test_commit_stops_at_the_first_record_given_back(self) -> None:
        """Past each partition's last record, but never past what the batch gave back (slow lane, not started)."""
        records = [Record(A, 0, o) for o in (5, 6, 7)] + [Record(A, 1, o) for o in (10, 11)]
        assert offsets_to_commit(records, {(A, 0): 6}) == {(A, 0): 6, (A, 1): 12}

    def test_transactional_ids_fall_under_the_granted_prefix(self) -> None:
        """The id of each input partition starts with the prefix provision grants the gateway."""
        assert transactional_id("gw", A, 2) == "gw.tx.oco.submit.fj-post.2"
        assert transactional_id("gw", A, 2).startswith(gateway_transactional_prefix("gw"))


class TestPartitionTransactions:
    async def test_take_initialises_then_seeks_to_committed(self) -> None:
        """A partition is sought to its committed offset (its beginning without one) after its id is initialised."""
        s = Setup((A, 0), (A, 1), committed={(A, 0): 40})
        await s.tx.take([(A, 0), (A, 1)])
        assert s.producer(0).calls == ["start"] and s.consumer.positions == {(A, 0): 40, (A, 1): 0}

    async def test_one_transaction_per_partition_with_its_offset(self) -> None:
        """Outputs go in their input partition's transaction, committed with the offset; an idle partition whose
        offset did not move commits nothing."""
        s = Setup((A, 0), (A, 1), committed={(A, 0): 5, (A, 1): 9})
        await s.tx.take([(A, 0), (A, 1)])
        await (await s.tx.publish(out(), SourceRef(A, 0, 5)))
        await (await s.tx.publish(out("oco.deliver.FJ"), SourceRef(A, 0, 5)))
        await s.tx.commit({(A, 0): 6, (A, 1): 9})
        assert s.producer(0).calls[1:] == ["begin", ("send", "oco.reply.fj-post"), ("send", "oco.deliver.FJ"),
                                           ("offsets", {(A, 0): 6}, "gw"), "commit"]
        assert s.producer(1).calls == ["start"] and s.counted == ["committed"]

    async def test_offsets_alone_commit_in_a_transaction(self) -> None:
        """A partition whose records had no output to publish still moves its offset, through a transaction."""
        s = Setup((A, 0))
        await s.tx.take([(A, 0)])
        await s.tx.commit({(A, 0): 3})
        assert s.producer(0).calls[1:] == ["begin", ("offsets", {(A, 0): 3}, "gw"), "commit"]

    async def test_no_producer_no_publishing(self) -> None:
        """An output of a partition not taken (revoked, or its id not initialised) fails the batch."""
        s = Setup((A, 0))
        with pytest.raises(NotOwned):
            await s.tx.publish(out(), SourceRef(A, 0, 0))

    async def test_abort_seeks_back_to_committed(self) -> None:
        """A failed commit: the open transaction is aborted, its partition gets a fresh producer, and every
        partition is put back at its committed offset."""
        s = Setup((A, 0), (A, 1), committed={(A, 0): 7, (A, 1): 3})
        await s.tx.take([(A, 0), (A, 1)])
        first, other = s.producer(0), s.producer(1)
        await s.tx.publish(out(), SourceRef(A, 0, 7))
        first.commit_error = KafkaConnectionError()
        s.consumer.positions.clear()
        with pytest.raises(KafkaConnectionError):
            await s.tx.commit({(A, 0): 8})
        await s.tx.abort()
        assert first.calls[-2:] == ["abort", "stop"] and s.producer(0).calls == ["start"]
        assert s.producer(1) is other and s.consumer.positions == {(A, 0): 7, (A, 1): 3}
        assert s.counted == ["aborted"]

    async def test_fenced_partition_is_released(self) -> None:
        """Fenced (another gateway initialised the id): the producer is dropped, the partition paused and not
        taken again until a rebalance assigns it again."""
        s = Setup((A, 0), committed={(A, 0): 7})
        await s.tx.take([(A, 0)])
        await s.tx.publish(out(), SourceRef(A, 0, 7))
        s.producer(0).abort_error = ProducerFenced()
        await s.tx.abort()
        assert s.producer(0).calls[-1] == "stop" and s.counted == ["fenced"] and s.consumer.paused == {(A, 0)}
        with pytest.raises(NotOwned):
            await s.tx.publish(out(), SourceRef(A, 0, 7))

    async def test_fenced_by_the_sender_is_released(self) -> None:
        """aiokafka's sender learnt of the fencing (the producer failed fatally with ProducerFenced): released,
        not taken again (that would fence the new owner in turn)."""
        s = Setup((A, 0), committed={(A, 0): 7})
        await s.tx.take([(A, 0)])
        await s.tx.publish(out(), SourceRef(A, 0, 7))
        waiter: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        waiter.set_exception(ProducerFenced())

        class Manager:  # aiokafka's TransactionManager after TransactionManager.fatal_error(ProducerFenced())
            _transaction_waiter = waiter

            def is_fatal_error(self) -> bool:
                return True

        s.producer(0)._txn_manager = Manager()  # noqa: SLF001
        await s.tx.abort()
        assert s.counted == ["fenced"] and s.consumer.paused == {(A, 0)}

    async def test_broken_producer_is_taken_again(self) -> None:
        """An abort that fails (broker gone): the partition's id is initialised again, which aborts for us."""
        s = Setup((A, 0), committed={(A, 0): 7})
        await s.tx.take([(A, 0)])
        first = s.producer(0)
        await s.tx.publish(out(), SourceRef(A, 0, 7))
        first.abort_error = KafkaConnectionError()
        await s.tx.abort()
        assert first.calls[-1] == "stop" and s.producer(0) is not first and s.producer(0).calls == ["start"]
        assert s.consumer.positions == {(A, 0): 7}

    async def test_records_below_committed_are_dropped(self) -> None:
        """Records fetched before the partition was put back at its committed offset are not processed again."""
        s = Setup((A, 0), committed={(A, 0): 7})
        await s.tx.take([(A, 0)])
        records = [Record(A, 0, o) for o in range(5, 10)] + [Record("oco.submit.other", 0, 0)]
        assert [(r.topic, r.offset) for r in s.tx.fresh(records)] == [(A, 7), (A, 8), (A, 9), ("oco.submit.other", 0)]

    async def test_refused_output_is_tried_alone_then_refused_at_once(self) -> None:
        """A refused output fails its transaction; next time it is sent on its own, and refused again it is
        refused before sending (the handler publishes its replacement)."""
        s = Setup((A, 0))
        await s.tx.take([(A, 0)])
        s.producer(0).refuse.add("oco.deliver.FJ")
        ack = await s.tx.publish(out("oco.deliver.FJ"), SourceRef(A, 0, 0))
        with pytest.raises(MessageSizeTooLargeError):
            await ack
        await asyncio.sleep(0)
        with pytest.raises(MessageSizeTooLargeError):  # the second attempt, alone
            await s.tx.publish(out("oco.deliver.FJ"), SourceRef(A, 0, 0))
        assert s.producer(0).calls[-2:] == ["flush", ("send", "oco.deliver.FJ")]
        sent = len(s.producer(0).calls)
        with pytest.raises(MessageSizeTooLargeError):  # the third: not sent at all
            await s.tx.publish(out("oco.deliver.FJ"), SourceRef(A, 0, 0))
        assert len(s.producer(0).calls) == sent
