"""Tests for gateway.transport.handler: fairness, the batch budget, the slow lane, time-outs and outputs the broker
refuses, with a fake consumer and producer (no Kafka)."""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from aiokafka import TopicPartition
from aiokafka.errors import KafkaConnectionError, MessageSizeTooLargeError

from gateway import headers as h
from gateway.config import LimitsSettings, load_settings
from gateway.pipeline.chain import Pipeline, build_stages
from gateway.pipeline.context import Submission
from gateway.pipeline.route import Output
from gateway.profiles import ProfileRegistry
from gateway.responses import read_response
from gateway.samples import make_declaration
from gateway.topics import DEAD_LETTER, submit_topic
from gateway.transport.handler import BatchHandler
from gateway.transport.reading import UnreadableRecord

REPO = Path(__file__).resolve().parents[2]
A, B = submit_topic("fj-post"), submit_topic("fj-broker-a")


@dataclass
class Record:
    topic: str
    partition: int
    offset: int
    value: bytes | None
    headers: list[tuple[str, bytes | None]] = field(default_factory=list)
    timestamp: int | None = None
    key: bytes | None = None


def record(topic: str, offset: int, *, partition: int = 0, sleep: float = 0.0, lrn: str | None = None,
           payload: bytes | None = None) -> Record:
    headers: list[tuple[str, bytes | None]] = [(h.TRACKING_ID, f"{topic[11:]}-{partition}-{offset}".encode())]
    if sleep:
        headers.append(("sleep", str(sleep).encode()))
    value = payload if payload is not None else make_declaration(member="FJ", lrn=lrn or f"L{offset}", seed=offset)
    return Record(topic, partition, offset, value, headers)


class Consumer:
    """Records what the handler asks of the consumer."""

    def __init__(self, *partitions: TopicPartition) -> None:
        self.partitions = set(partitions)
        self.seeks: dict[TopicPartition, int] = {}
        self.paused: set[TopicPartition] = set()
        self.resumed: list[TopicPartition] = []

    def seek(self, partition: TopicPartition, offset: int) -> None:
        self.seeks[partition] = offset

    def pause(self, *partitions: TopicPartition) -> None:
        self.paused |= set(partitions)

    def resume(self, *partitions: TopicPartition) -> None:
        self.paused -= set(partitions)
        self.resumed += partitions

    def assignment(self) -> set[TopicPartition]:
        return self.partitions


class Producer:
    """A fake producer: acks at once, or fails as told; keeps what it was given, in order."""

    def __init__(self) -> None:
        self.sent: list[Output] = []
        self.at: list[float] = []
        self.refuse_now: set[str] = set()  # topics whose records fail at once (producer's size check)
        self.refuse_ack: dict[str, int] = {}  # topic -> how many more acks fail (broker refusal)
        self.collateral = 0  # acks of any topic that fail once (innocent records of a refused produce batch)
        self.ack_error: type[Exception] = MessageSizeTooLargeError

    async def __call__(self, output: Output, source: Any = None) -> asyncio.Future[Any]:
        if output.topic in self.refuse_now:
            raise MessageSizeTooLargeError()
        self.sent.append(output)
        self.at.append(time.monotonic())
        ack: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        if self.refuse_ack.get(output.topic, 0) > 0:
            self.refuse_ack[output.topic] -= 1
            ack.set_exception(self.ack_error())
        elif self.collateral > 0:
            self.collateral -= 1
            ack.set_exception(self.ack_error())
        else:
            ack.set_result(None)
        return ack

    def replies(self) -> list[Output]:
        return [o for o in self.sent if o.topic.startswith("oco.reply.")]


calls: list[str] = []


def sleeper(submission: Submission) -> Submission:
    calls.append(submission.tracking_id)
    seconds = float(submission.headers.get("sleep") or 0)
    if seconds:
        time.sleep(seconds)
    return submission


@pytest.fixture(scope="module")
def settings():
    return load_settings(REPO / "config" / "network.yaml")


@pytest.fixture(scope="module")
def registry() -> ProfileRegistry:
    return ProfileRegistry.load([REPO / "schemas"])


def handler(settings, registry, producer: Producer, *, transactional: bool = False, **limits: Any) -> BatchHandler:
    settings_limits = LimitsSettings(**{"slow_message_seconds": 0.3, "batch_seconds": 0.3,
                                        "max_seconds_per_message": 10.0, **limits})

    def make() -> Pipeline:
        return Pipeline([sleeper, *build_stages(settings, registry.clone())], settings_limits)

    return BatchHandler(make, producer, settings_limits, transactional=transactional)


def statuses(producer: Producer) -> dict[str, str]:
    return {o.headers[h.TRACKING_ID]: read_response(o.value).status for o in producer.replies()}


class TestBatch:
    async def test_every_record_answered_in_partition_order(self, settings, registry) -> None:
        """Outputs go out per partition in offset order; every record gets its reply; all acks awaited."""
        producer = Producer()
        records = [record(A, i, partition=i % 2) for i in range(6)] + [record(B, i) for i in range(3)]
        results = await handler(settings, registry, producer)(records)
        assert len(results) == 9 and all(r.rejection is None or r.rejection.stage for r in results)
        for partition in (0, 1):
            offsets = [int(o.headers[h.TRACKING_ID].rsplit("-", 1)[1]) for o in producer.replies()
                       if o.headers[h.TRACKING_ID].startswith(f"fj-post-{partition}")]
            assert offsets == sorted(offsets)

    async def test_without_consumer_waits_for_every_record(self, settings, registry) -> None:
        """Without a consumer to give records back to, there is no budget: every record is processed."""
        producer = Producer()
        records = [record(A, i, sleep=0.1) for i in range(4)]
        results = await handler(settings, registry, producer, batch_seconds=0.05, slow_message_seconds=0.05)(records)
        assert len(results) == 4

    async def test_null_and_non_utf8_header_values(self, settings, registry) -> None:
        """Header values that are null or not UTF-8 are read leniently; the record is processed as any other."""
        producer = Producer()
        rec = record(A, 1)
        rec.headers = [(h.TRACKING_ID, None), ("x", b"\xff\xfe")]
        (result,) = await handler(settings, registry, producer)([rec])
        assert result.rejection is None and len(result.tracking_id) == 36


class TestFairness:
    async def test_expensive_participant_does_not_hold_another(self, settings, registry) -> None:
        """A's records take 0.2 s each; B's record, queued behind them, is answered before A's second."""
        producer = Producer()
        records = [record(A, i, sleep=0.2) for i in range(3)] + [record(B, 0)]
        await handler(settings, registry, producer, batch_seconds=5, slow_message_seconds=5)(records, Consumer())
        order = [o.headers[h.TRACKING_ID] for o in producer.replies()]
        b_reply = next(i for i, tid in enumerate(order) if tid.startswith("fj-broker-a"))
        assert b_reply <= 1, order  # behind A's three it would be last; no wall-clock bound (a loaded machine)


class TestBudget:
    async def test_unstarted_records_are_given_back(self, settings, registry) -> None:
        """After batch_seconds no record is started: the rest is given back (seek) and not answered yet."""
        producer, consumer = Producer(), Consumer(TopicPartition(A, 0))
        records = [record(A, i, sleep=0.06) for i in range(10)]
        h_ = handler(settings, registry, producer, batch_seconds=0.1, slow_message_seconds=1.0)
        results = await h_(records, consumer)
        assert 1 <= len(results) < 10
        assert consumer.seeks == {TopicPartition(A, 0): len(results)}
        assert h_.given_back == {(A, 0): len(results)}  # exactly-once commits stop there
        rest = await h_(records[len(results):], Consumer(TopicPartition(A, 0)))
        assert len(results) + len(rest) <= 10

    async def test_publish_commits_only_up_to_what_it_gave_back(self, settings, registry) -> None:
        """``publish`` returns, per partition, the batch's first offset and the offset to commit: past its last
        record, or where it gave the rest back."""
        producer, consumer = Producer(), Consumer(TopicPartition(A, 0), TopicPartition(B, 0))
        records = [record(A, i, sleep=0.06) for i in range(10)] + [record(B, 3)]
        h_ = handler(settings, registry, producer, batch_seconds=0.1, slow_message_seconds=1.0)
        batch = await h_.publish(records, consumer)
        await batch.confirm()
        given_back = consumer.seeks[TopicPartition(A, 0)]
        assert batch.offsets == {TopicPartition(A, 0): (0, given_back), TopicPartition(B, 0): (3, 4)}
        assert 0 < given_back < 10

    async def test_slow_message_leaves_the_batch_and_is_answered_later(self, settings, registry) -> None:
        """A message past slow_message_seconds: its partition is given back from it and paused; the batch ends;
        once done, its result waits and is published when the record comes again, without running it twice."""
        producer = Producer()
        tp = TopicPartition(A, 0)
        consumer = Consumer(tp, TopicPartition(A, 1), TopicPartition(B, 0))
        slow, after, other = record(A, 5, sleep=0.8), record(A, 6), record(B, 0)
        h_ = handler(settings, registry, producer, batch_seconds=0.2, slow_message_seconds=0.2)
        results = await h_([slow, after, other], consumer)
        assert [r.tracking_id for r in results] == ["fj-broker-a-0-0"]
        assert consumer.seeks[tp] == 5
        assert consumer.paused == {tp, TopicPartition(A, 1)}  # every partition of the slow participant
        await asyncio.sleep(0.9)
        assert tp in consumer.resumed and not consumer.paused
        before = calls.count("fj-post-0-5")
        again = await h_([slow, after], consumer)
        assert [r.tracking_id for r in again] == ["fj-post-0-5", "fj-post-0-6"]
        assert again[0].slow and calls.count("fj-post-0-5") == before

    async def test_with_every_worker_in_the_slow_lane_the_batch_waits_then_gives_back(self, settings,
                                                                                    registry) -> None:
        """One worker, held by a slow message: the others' records wait for it until the budget ends, then are
        given back (not fetched again in a tight loop); the next batch processes them."""
        producer = Producer()
        consumer = Consumer(TopicPartition(A, 0), TopicPartition(B, 0))
        h_ = handler(settings, registry, producer, workers=1, batch_seconds=0.3, slow_message_seconds=0.1)
        started = time.monotonic()
        results = await h_([record(A, 1, sleep=0.6), record(B, 4)], consumer)
        assert results == [] and time.monotonic() - started >= 0.25  # it waited for the budget, not less
        assert consumer.seeks == {TopicPartition(A, 0): 1, TopicPartition(B, 0): 4}
        await asyncio.sleep(0.5)
        assert [r.tracking_id for r in await h_([record(B, 4)], consumer)] == ["fj-broker-a-0-4"]

    async def test_message_past_max_seconds_is_given_up(self, settings, registry) -> None:
        """Past max_seconds_per_message the message is rejected (OCO-TIMEOUT) and parked; its worker replaced."""
        producer = Producer()
        consumer = Consumer(TopicPartition(A, 0))
        stuck = record(A, 9, sleep=1.5)
        h_ = handler(settings, registry, producer, batch_seconds=0.1, slow_message_seconds=0.1,
                     max_seconds_per_message=0.4)
        assert await h_([stuck], consumer) == []
        await asyncio.sleep(0.5)
        (result,) = await h_([stuck], consumer)
        assert result.rejection is not None and result.rejection.issues[0].code == "OCO-TIMEOUT"
        assert {o.topic for o in result.outputs} == {DEAD_LETTER, "oco.reply.fj-post"}
        # The pool still has its workers: the next records are processed at once.
        more = await h_([record(A, 10), record(B, 1)], consumer)
        assert len(more) == 2


class TestRefusedOutputs:
    async def test_record_the_producer_refuses_is_replaced(self, settings, registry) -> None:
        """A delivery the producer refuses at once (too large) becomes a reference and a rejected reply."""
        producer = Producer()
        producer.refuse_now.add("oco.deliver.FJ")
        (result,) = await handler(settings, registry, producer)([record(A, 1)])
        assert result.replaced == 1
        parked = [o for o in producer.sent if o.topic == DEAD_LETTER]
        assert parked and parked[0].value == b"" and parked[0].headers[h.DLQ_STAGE] == "publish"
        assert [read_response(o.value).status for o in producer.replies()] == ["rejected"]

    async def test_refused_ack_is_retried_alone_then_replaced(self, settings, registry) -> None:
        """The broker fails a whole produce batch: the innocent records go again alone and succeed; the one
        refused again is replaced."""
        producer = Producer()
        producer.collateral = 3
        producer.refuse_ack["oco.deliver.FJ"] = 2  # refused in the batch, and again alone
        results = await handler(settings, registry, producer)([record(A, 1), record(A, 2, lrn="X")])
        assert sum(r.replaced for r in results) == 1
        assert sum(1 for o in producer.sent if o.topic == DEAD_LETTER) == 1

    async def test_transactional_refusal_fails_the_batch(self, settings, registry) -> None:
        """Exactly-once: a refused acknowledgement is not retried in place (its transaction is broken): the batch
        fails, is aborted and consumed again (the publisher then sends the output alone, or refuses it at once)."""
        producer = Producer()
        producer.refuse_ack["oco.deliver.FJ"] = 1
        with pytest.raises(MessageSizeTooLargeError):
            await handler(settings, registry, producer, transactional=True)([record(A, 1)])
        assert not [o for o in producer.sent if o.topic == DEAD_LETTER]

    async def test_transactional_refused_at_once_is_replaced(self, settings, registry) -> None:
        """Exactly-once: an output the publisher refuses at once (refused alone before) is replaced."""
        producer = Producer()
        producer.refuse_now.add("oco.deliver.FJ")
        (result,) = await handler(settings, registry, producer, transactional=True)([record(A, 1)])
        assert result.replaced == 1 and [read_response(o.value).status for o in producer.replies()] == ["rejected"]

    async def test_error_that_may_heal_fails_the_batch(self, settings, registry) -> None:
        """An error a retry may heal (broker unreachable) fails the batch: it is consumed again."""
        producer = Producer()
        producer.refuse_ack["oco.reply.fj-post"] = 1
        producer.ack_error = KafkaConnectionError
        with pytest.raises(KafkaConnectionError):
            await handler(settings, registry, producer)([record(A, 1)])


class TestUnreadable:
    async def test_record_aiokafka_cannot_decode_is_answered_and_parked(self, settings, registry) -> None:
        producer = Producer()
        (result,) = await handler(settings, registry, producer)([UnreadableRecord(A, 3, 17, "UnicodeDecodeError")])
        assert result.rejection is not None and result.rejection.issues[0].code == "OCO-UNREADABLE-RECORD"
        parked = next(o for o in producer.sent if o.topic == DEAD_LETTER)
        assert parked.headers[h.DLQ_PAYLOAD_OMITTED] == "unknown" and parked.headers[h.DLQ_OFFSET] == "17"
        assert read_response(producer.replies()[0].value).status == "rejected"
