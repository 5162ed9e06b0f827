"""Tests for gateway.transport.confirming: batches confirmed in the background, committed in order and only once
acknowledged, and every partition put back at its first unconfirmed record when a confirmation fails (no Kafka)."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass

import pytest
from aiokafka import TopicPartition

from gateway.transport.confirming import Confirmations, DrainOnRevoke
from gateway.transport.handler import PublishedBatch

P0, P1 = TopicPartition("oco.submit.a", 0), TopicPartition("oco.submit.a", 1)


@dataclass
class Record:
    topic: str
    partition: int
    offset: int


class Consumer:
    """Records seeks and commits, in order."""

    def __init__(self) -> None:
        self.seeks: list[tuple[TopicPartition, int]] = []
        self.commits: list[dict[TopicPartition, int]] = []

    def seek(self, partition: TopicPartition, offset: int) -> None:
        self.seeks.append((partition, offset))

    async def commit(self, offsets: dict[TopicPartition, int]) -> None:
        self.commits.append(dict(offsets))


def batch(tp: TopicPartition, first: int, end: int) -> tuple[list[Record], asyncio.Future[None], PublishedBatch]:
    """A published batch of ``tp``'s offsets first..end-1 whose acknowledgements come when the future is set."""
    acks: asyncio.Future[None] = asyncio.get_running_loop().create_future()

    async def confirm() -> None:
        await acks

    records = [Record(tp.topic, tp.partition, o) for o in range(first, end)]
    return records, acks, PublishedBatch([], {tp: (first, end)}, confirm)


async def submit(confirmations: Confirmations, consumer: Consumer, made: tuple) -> object:
    records, _, published = made

    async def publish() -> PublishedBatch:
        return published

    return await confirmations(publish, records, consumer)


async def settle() -> None:
    for _ in range(10):
        await asyncio.sleep(0)


class TestConfirmations:
    async def test_returns_before_the_acks_and_commits_after_them(self) -> None:
        """The handler returns at once; the batch's offsets are committed only once its outputs are acknowledged."""
        consumer, confirmations = Consumer(), Confirmations()
        first = batch(P0, 0, 5)
        returned = await submit(confirmations, consumer, first)
        await settle()
        assert consumer.commits == []
        first[1].set_result(None)
        await returned.confirmed
        assert consumer.commits == [{P0: 5}]

    async def test_commits_in_consumption_order(self) -> None:
        """A batch acknowledged before the one consumed before it is committed after it."""
        consumer, confirmations = Consumer(), Confirmations()
        first, second = batch(P0, 0, 5), batch(P1, 0, 3)
        one = await submit(confirmations, consumer, first)
        two = await submit(confirmations, consumer, second)
        second[1].set_result(None)
        await settle()
        assert consumer.commits == []
        first[1].set_result(None)
        await asyncio.gather(one.confirmed, two.confirmed)
        assert consumer.commits == [{P0: 5}, {P1: 3}]

    async def test_failed_confirmation_rewinds_and_commits_nothing_after_it(self) -> None:
        """Acks that fail put every partition back at its first unconfirmed record; later batches are not committed."""
        consumer, confirmations = Consumer(), Confirmations()
        first, second = batch(P0, 10, 15), batch(P0, 15, 20)
        one = await submit(confirmations, consumer, first)
        two = await submit(confirmations, consumer, second)
        second[1].set_result(None)
        first[1].set_exception(ConnectionError("broker down"))
        with pytest.raises(ConnectionError):
            await one.confirmed
        with pytest.raises(RuntimeError):
            await two.confirmed
        assert consumer.commits == []
        assert consumer.seeks == [(P0, 10)]

    async def test_failure_during_a_batch_rewinds_at_its_end_and_fails_it(self) -> None:
        """A confirmation failing while the next batch is processed rewinds after that batch, to before both."""
        consumer, confirmations = Consumer(), Confirmations()
        first = batch(P0, 10, 15)
        one = await submit(confirmations, consumer, first)
        records = [Record(P1.topic, P1.partition, 7)]

        async def publish() -> PublishedBatch:
            first[1].set_exception(ConnectionError("broker down"))
            await settle()
            consumer.seek(P1, 8)  # the handler gives something back at the end of the batch
            return PublishedBatch([], {P1: (7, 8)}, asyncio.sleep)

        with pytest.raises(ConnectionError):
            await confirmations(publish, records, consumer)
        with pytest.raises(ConnectionError):
            await one.confirmed
        assert consumer.seeks[-2:] in ([(P1, 7), (P0, 10)], [(P0, 10), (P1, 7)])
        assert consumer.commits == []

    async def test_after_a_rewind_batches_are_committed_again(self) -> None:
        """The batches consumed after a rewind are confirmed and committed as usual."""
        consumer, confirmations = Consumer(), Confirmations()
        first = batch(P0, 0, 5)
        one = await submit(confirmations, consumer, first)
        first[1].set_exception(ConnectionError("broker down"))
        with pytest.raises(ConnectionError):
            await one.confirmed
        again = batch(P0, 0, 5)
        returned = await submit(confirmations, consumer, again)
        again[1].set_result(None)
        await returned.confirmed
        assert consumer.commits == [{P0: 5}]

    async def test_publish_that_raises_rewinds_its_own_records(self) -> None:
        """A batch whose publishing raises is consumed again from its first records."""
        consumer, confirmations = Consumer(), Confirmations()

        async def publish() -> PublishedBatch:
            raise ConnectionError("broker down")

        with pytest.raises(ConnectionError):
            await confirmations(publish, [Record(P0.topic, 0, 3), Record(P0.topic, 0, 4)], consumer)
        assert consumer.seeks == [(P0, 3)]

    async def test_offsets_confirmed_during_a_commit_go_in_the_next_one(self) -> None:
        """While one commit is in flight the batches confirmed meanwhile wait and are committed together."""
        consumer, confirmations = Consumer(), Confirmations()
        gate = asyncio.Event()
        commit = consumer.commit

        async def slow_commit(offsets: dict[TopicPartition, int]) -> None:
            await gate.wait()
            await commit(offsets)

        consumer.commit = slow_commit  # type: ignore[method-assign]
        made = [batch(P0, 0, 5), batch(P1, 0, 2), batch(P0, 5, 9)]
        returned = [await submit(confirmations, consumer, m) for m in made]
        for m in made:
            m[1].set_result(None)
            await settle()
        gate.set()
        await asyncio.gather(*(r.confirmed for r in returned))
        assert consumer.commits == [{P0: 5}, {P1: 2, P0: 9}]

    async def test_drain_waits_for_the_confirmations_in_flight(self) -> None:
        """Stopping waits for the batches answered but not yet committed."""
        consumer, confirmations = Consumer(), Confirmations()
        first = batch(P0, 0, 5)
        await submit(confirmations, consumer, first)
        asyncio.get_running_loop().call_later(0.01, first[1].set_result, None)
        await confirmations.drain(timeout=5)
        assert consumer.commits == [{P0: 5}]

    async def test_when_finishing_a_batch_returns_only_once_committed(self) -> None:
        """Once stopping, the batch in hand is committed before the handler returns (the consumer closes after)."""
        consumer, confirmations = Consumer(), Confirmations()
        await confirmations.finish(timeout=1)
        first = batch(P0, 0, 5)
        asyncio.get_running_loop().call_later(0.01, first[1].set_result, None)
        await submit(confirmations, consumer, first)
        assert consumer.commits == [{P0: 5}]


class TestDrainOnRevoke:
    async def test_revocation_waits_for_the_commits_in_flight(self) -> None:
        """Before partitions move to another gateway, what was answered is committed."""
        consumer, confirmations = Consumer(), Confirmations()
        first = batch(P0, 0, 5)
        await submit(confirmations, consumer, first)
        asyncio.get_running_loop().call_later(0.01, first[1].set_result, None)
        await DrainOnRevoke(confirmations).on_partitions_revoked({P0})
        assert consumer.commits == [{P0: 5}]
