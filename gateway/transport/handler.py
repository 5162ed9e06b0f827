"""The batch handler: run the pipeline over a batch of records, publish every output, then let it commit.

At-least-once: the offsets of a batch are committed only after the broker acknowledged every output of it
(``__call__`` awaits the acknowledgements; ``BatchHandler.publish`` leaves them to ``transport/confirming.py``,
which commits in the background while the next batch is processed). Any failure raises, the consumer seeks
back and the batch is processed again: duplicates are possible, loss is not. Exactly-once
(``gateway.exactly_once``): the ``publish`` callable given to the handler sends inside the input partition's
transaction and the caller commits each partition up to :attr:`BatchHandler.given_back` (see
:mod:`gateway.transport.transactions`).

No single input stalls the gateway (docs/architecture.md, *One participant never holds another*):

- **Workers and fairness.** ``gateway.workers`` threads, each with its own pipeline, take the batch's
  records by the rule of :mod:`gateway.transport.fairness`: one message at a time per participant, the
  least served participant first. Each message's outputs go to the producer as soon as it is done.
- **Batch budget.** A batch starts no message after ``gateway.batch_seconds``: the records not started are
  given back to Kafka (the consumer seeks back to them, so the commit stops before them) and come again
  in the next batch, where whoever waited goes first.
- **Slow lane.** A message still running after ``gateway.slow_message_seconds`` leaves its batch: its
  partition is given back from its offset and its participant's partitions are paused until it is done;
  the batch goes on and commits without it. When it is done its result waits here, and is published when
  its record comes again. After ``gateway.max_seconds_per_message`` it is given up (rejected with
  OCO-TIMEOUT and parked) and its worker thread replaced.
- **Outputs that can never be published.** A record the broker refuses for good (too large, invalid) is
  sent once more on its own (a refusal fails the whole produce batch, innocent records included); refused
  again, it is replaced by what :func:`~gateway.pipeline.route.replacements` gives (a dead-letter reference
  with the input's coordinates, and a reply saying so). Only errors that may heal (the broker unreachable,
  a topic missing, no permission) fail the batch and have it retried.
"""

from __future__ import annotations

import asyncio
import dataclasses
import math
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

import structlog
from aiokafka import TopicPartition
from aiokafka.errors import OutOfOrderSequenceNumber

from gateway import headers as h
from gateway.config import LimitsSettings
from gateway.errors import Issue, Rejection, StageFailed, TimedOut, Unreadable
from gateway.kafka_errors import refused_for_good
from gateway.pipeline.chain import Pipeline, tracking_id_for
from gateway.pipeline.context import SourceRef, Submission
from gateway.pipeline.route import Output, plan_outputs, replacements
from gateway.topics import DEAD_LETTER, participant_of
from gateway.transport.fairness import FairQueue, Usage
from gateway.transport.reading import UnreadableRecord
from gateway.transport.workers import Job, Outcome, PipelineWorkers

__all__ = ["BatchHandler", "Consumer", "MessageResult", "Publish", "PublishedBatch"]

log = structlog.get_logger(__name__)

Publish = Callable[[Output, SourceRef], Awaitable[Awaitable[Any]]]
"""Hands one record (and the input record it answers) to the producer, in call order, and returns the
awaitable of the broker's ack."""

_TP = tuple[str, int]
_KEEP_FINISHED = 600.0  # seconds a slow message's result waits for its record to come again
_RUN = 256  # records of one participant handed to a worker at once...
_SLICE = 0.1  # ...which it goes through until this many seconds are spent (then the rest go back in the queue)
_LOG_APPEND_TIME = 1  # ConsumerRecord.timestamp_type of a broker-stamped record


class Consumer(Protocol):
    """What the handler needs of the batch's consumer (aiokafka's ``AIOKafkaConsumer``)."""

    def seek(self, partition: TopicPartition, offset: int) -> None: ...

    def pause(self, *partitions: TopicPartition) -> None: ...

    def resume(self, *partitions: TopicPartition) -> None: ...

    def assignment(self) -> set[TopicPartition]: ...


@dataclass(frozen=True, slots=True)
class PublishedBatch:
    """A batch whose outputs are with the producer: its results, and what may be committed once they are acknowledged.

    Attributes:
        results: one per message answered in this batch.
        offsets: partition -> (first offset of the batch, offset to commit once confirmed); a partition given
            back commits only up to what it gave back.
        confirm: awaits every acknowledgement (replacing records refused for good); raises what may heal.
    """

    results: list[MessageResult]
    offsets: dict[TopicPartition, tuple[int, int]]
    confirm: Callable[[], Awaitable[None]]


@dataclass(frozen=True, slots=True)
class MessageResult:
    """What became of one input record: for metrics and logs."""

    participant: str
    tracking_id: str
    outputs: tuple[Output, ...]
    rejection: Rejection | None
    seconds: float
    size: int
    timestamp_ms: int | None
    replaced: int = 0  # outputs the broker refused for good, published as replacements
    slow: bool = False  # left its batch for the slow lane


class BatchHandler:
    """Process batches of submit-topic records and publish the outputs.

    Args:
        make_pipeline: builds one pipeline; called once per worker thread (each needs its own lxml objects).
        publish: hands one output to the producer (called in order, so per-key order holds) and returns
            its acknowledgement, which is awaited with all the others before the batch may be committed.
        limits: the ``gateway`` settings (workers, budgets, record size).
        transactional: ``publish`` sends inside a transaction, where a refused record cannot be sent again:
            any failed acknowledgement fails the batch (the publisher remembers refusals for the next attempt).
    """

    def __init__(self, make_pipeline: Callable[[], Pipeline], publish: Publish,
                 limits: LimitsSettings | None = None, *, transactional: bool = False) -> None:
        self._limits = limits or LimitsSettings()
        self._publish = publish
        self._transactional = transactional
        self.given_back: dict[_TP, int] = {}
        """Partition -> offset the last batch gave back to the consumer (its commit must stop there)."""
        self._workers = PipelineWorkers(make_pipeline, self._limits.workers)
        self._usage = Usage()
        self._slow: dict[_TP, Job] = {}  # partition -> its message in the slow lane
        self._finished: dict[tuple[str, int, int], tuple[MessageResult, float]] = {}
        self._consumer: Consumer | None = None

    async def __call__(self, records: Sequence[Any], consumer: Consumer | None = None) -> list[MessageResult]:
        """Process records (aiokafka ``ConsumerRecord``s), publish their outputs and await every acknowledgement.

        Args:
            records: one consumed batch.
            consumer: the consumer that fetched them, to give back what the batch leaves for later; without
                one, the batch waits for every record (no budget, no slow lane).

        Raises:
            Exception: whatever publishing raised that a retry may heal; the caller must not commit the batch.
        """
        batch = await self.publish(records, consumer)
        await batch.confirm()
        return batch.results

    async def publish(self, records: Sequence[Any], consumer: Consumer | None = None) -> PublishedBatch:
        """Process records and hand their outputs to the producer, without awaiting the acknowledgements.

        The caller awaits :meth:`PublishedBatch.confirm` before committing :attr:`PublishedBatch.offsets`
        (``transport/confirming.py`` does it in the background while the next batch is processed).

        Args:
            records: one consumed batch.
            consumer: as for :meth:`__call__`.

        Raises:
            Exception: whatever publishing raised that a retry may heal; the caller must not commit the batch.
        """
        loop = asyncio.get_running_loop()
        limits = self._limits
        budgeted = consumer is not None and hasattr(consumer, "pause")
        if budgeted:
            self._consumer = consumer
        budget_ends = loop.time() + limits.batch_seconds if budgeted else math.inf
        self._forget_stale()

        sent: list[tuple[Output, SourceRef, Awaitable[Any]]] = []
        results: list[MessageResult] = []
        give_back: dict[_TP, int] = {}
        queue: FairQueue[_TP, Any] = FairQueue(self._usage, lambda tp: participant_of(tp[0]))
        for tp, batch in _by_partition(records).items():
            for record in [r for r in batch if isinstance(r, UnreadableRecord)]:
                results.append(await self._send(self._unreadable(record), record, sent))
                batch.remove(record)
            if not batch:
                continue
            if tp in self._slow:  # an earlier record of it is still in the slow lane
                give_back[tp] = batch[0].offset
                continue
            while batch and (ready := self._finished.pop(_key(batch[0]), None)) is not None:
                results.append(await self._send(ready[0], batch.pop(0), sent))
            queue.add(tp, batch)
        queue.busy.update(participant_of(tp[0]) for tp in self._slow)

        running: dict[asyncio.Future[Any], Job] = {}

        def start_runs() -> None:
            while loop.time() < budget_ends and self._workers.idle and (run := queue.next_run(_RUN)) is not None:
                records_ = [record for _, record in run]
                job = self._workers.submit([self._submission(r) for r in records_], records_, _SLICE)
                running[job.future] = job

        while True:
            start_runs()
            if not running:
                if len(queue) and self._slow and not self._workers.idle and loop.time() < budget_ends:
                    # Every worker holds a slow message (several participants sending expensive input): wait
                    # for one to be free rather than hand the batch back at once and fetch it again in a loop.
                    await asyncio.wait({job.future for job in self._slow.values()},
                                       timeout=budget_ends - loop.time(), return_when=asyncio.FIRST_COMPLETED)
                    continue
                break
            timeout = None
            if budgeted:
                timeout = max(0.0, min(limits.slow_message_seconds - job.elapsed for job in running.values()))
            done, _ = await asyncio.wait(set(running), timeout=timeout, return_when=asyncio.FIRST_COMPLETED)
            finished: list[tuple[MessageResult, Any]] = []
            for future in done:
                job = running.pop(future)
                ran = [(self._result(job, i), job.records[i]) for i in range(len(job.outcomes))]
                for tp, left in _by_partition(job.records[len(ran):]).items():
                    queue.push_front(tp, left)  # what the slice left: next turn
                queue.done_participant(job.submissions[0].participant, sum(result.seconds for result, _ in ran))
                finished += ran
            if budgeted:
                for future, job in list(running.items()):
                    if job.elapsed >= limits.slow_message_seconds:
                        del running[future]
                        self._to_slow_lane(job)
                        for tp, held in _by_partition(job.records).items():
                            give_back[tp] = held[0].offset
                            queue.drop(tp)
            start_runs()  # before publishing these: the workers need not wait for the producer
            for result, record in finished:
                results.append(await self._send(result, record, sent))

        self.given_back = give_back
        if budgeted:
            assert consumer is not None
            for tp, waiting in queue.waiting().items():
                give_back[tp] = min(give_back.get(tp, waiting[0].offset), waiting[0].offset)
            for (topic, partition), offset in give_back.items():
                consumer.seek(TopicPartition(topic, partition), offset)
            self._pause_slow_participants()
            if give_back:
                log.debug("batch_gave_back", partitions=len(give_back), slow=len(self._slow))
        return PublishedBatch(results, _offsets(records, give_back), lambda: self._confirm(sent, results))

    def _submission(self, record: Any) -> Submission:
        source = SourceRef(record.topic, record.partition, record.offset)
        headers = {k: (v or b"").decode("utf-8", "replace") for k, v in (record.headers or ())}
        return Submission(
            payload=record.value or b"",
            participant=participant_of(record.topic),
            tracking_id=tracking_id_for(source, headers.get(h.TRACKING_ID)),
            source=source,
            headers=headers,
            # Only the broker's own stamp says when it was submitted (see gateway.topics.topic_configs).
            submitted_ms=record.timestamp if getattr(record, "timestamp_type", None) == _LOG_APPEND_TIME else None,
        )

    def _result(self, job: Job, i: int, outcome: Outcome | BaseException | None = None) -> MessageResult:
        """The result of a run's ``i``-th record (a pipeline that raised parks its message)."""
        submission, record = job.submissions[i], job.records[i]
        outcome = job.outcomes[i] if outcome is None else outcome
        if isinstance(outcome, BaseException):
            log.error("pipeline_failed", tracking_id=submission.tracking_id, error=repr(outcome))
            rejection: Rejection | None = StageFailed("pipeline", outcome)  # type: ignore[arg-type]
            outputs, seconds = self._plan_bare(submission, rejection), 0.0
        else:
            outputs, rejection, seconds = outcome
        return MessageResult(
            participant=submission.participant,
            tracking_id=submission.tracking_id,
            outputs=tuple(outputs),
            rejection=rejection,
            seconds=seconds,
            size=len(record.value or b""),
            timestamp_ms=record.timestamp,
        )

    def _unreadable(self, record: UnreadableRecord) -> MessageResult:
        """The outcome of a record aiokafka could not decode: a reply and a dead-letter reference."""
        submission = Submission(payload=b"", participant=participant_of(record.topic),
                                tracking_id=tracking_id_for(SourceRef(record.topic, record.partition, record.offset), None),
                                source=SourceRef(record.topic, record.partition, record.offset))
        rejection = Unreadable([Issue("OCO-UNREADABLE-RECORD", "the Kafka record cannot be decoded (a header name "
                                      "is not UTF-8, or the record is corrupt); nothing of it was read: correct the "
                                      "client that wrote it and submit again")], stage="read")
        rejection.__cause__ = ValueError(record.error)
        outputs = [Output(o.topic, o.key, o.value, {**o.headers, h.DLQ_PAYLOAD_OMITTED: "unknown"})
                   if o.topic == DEAD_LETTER else o for o in self._plan_bare(submission, rejection)]
        return MessageResult(participant=submission.participant, tracking_id=submission.tracking_id,
                             outputs=tuple(outputs), rejection=rejection, seconds=0.0, size=0, timestamp_ms=None)

    def _plan_bare(self, submission: Submission, rejection: Rejection) -> list[Output]:
        # The worker may still be filling in ``submission``: plan from a fresh one, echoing nothing.
        bare = Submission(payload=submission.payload, participant=submission.participant,
                          tracking_id=submission.tracking_id, source=submission.source, headers=submission.headers)
        return plan_outputs(bare, rejection, record_limit=self._limits.max_record_bytes)

    # -- the slow lane ---------------------------------------------------------------------------------

    def _to_slow_lane(self, job: Job) -> None:
        """The run's record in hand is slow: the run stops after it; the batch goes on without the run, and
        every partition of the run waits for it."""
        job.stop = True
        partitions = list(_by_partition(job.records))
        for tp in partitions:
            self._slow[tp] = job
        loop = asyncio.get_running_loop()
        give_up = loop.call_later(max(0.0, self._limits.max_seconds_per_message - job.elapsed), self._give_up, job)
        job.future.add_done_callback(lambda _: self._slow_done(partitions, job, give_up))
        slow = job.submissions[min(len(job.outcomes), len(job.submissions) - 1)]
        source = slow.source
        log.warning("message_slow", tracking_id=slow.tracking_id, participant=slow.participant,
                    topic=source.topic if source else None, partition=source.partition if source else None,
                    offset=source.offset if source else None, seconds=round(job.elapsed, 3), size=len(slow.payload))

    def _give_up(self, job: Job) -> None:
        if job.future.done():
            return
        in_hand = len(job.outcomes)
        if in_hand >= len(job.submissions):
            return  # it just finished: its worker is handing it back
        self._workers.abandon(job)
        submission = job.submissions[in_hand]
        rejection = TimedOut(self._limits.max_seconds_per_message)
        log.error("message_timed_out", tracking_id=submission.tracking_id, participant=submission.participant,
                  seconds=self._limits.max_seconds_per_message)
        job.given_up = (in_hand, (self._plan_bare(submission, rejection), rejection, job.elapsed))
        job.future.set_result(None)

    def _slow_done(self, partitions: list[_TP], job: Job, give_up: asyncio.TimerHandle) -> None:
        """A slow run ended (or was given up): keep each of its records' results for when they come again."""
        give_up.cancel()
        mine = [tp for tp in partitions if self._slow.get(tp) is job]
        if not mine:
            return
        for tp in mine:
            del self._slow[tp]
        outcomes: list[Outcome | BaseException] = list(job.outcomes)
        if job.given_up is not None:
            outcomes = [*outcomes[: job.given_up[0]], job.given_up[1]]
        now = time.monotonic()
        for i, outcome in enumerate(outcomes):
            result = dataclasses.replace(self._result(job, i, outcome), slow=True)
            self._usage.charge(result.participant, result.seconds)
            self._finished[_key(job.records[i])] = (result, now)
        log.info("message_slow_done", participant=job.submissions[0].participant, records=len(outcomes),
                 seconds=round(job.elapsed, 3))
        self._resume(job.submissions[0].participant)

    def _pause_slow_participants(self) -> None:
        consumer = self._consumer
        if consumer is None or not self._slow:
            return
        held = {participant_of(topic) for topic, _ in self._slow}
        try:
            consumer.pause(*[tp for tp in consumer.assignment() if _participant(tp.topic) in held])
        except Exception as exc:  # noqa: BLE001 - pausing only saves fetching: given back records come again anyway
            log.warning("pause_failed", error=repr(exc))

    def _resume(self, participant: str) -> None:
        consumer = self._consumer
        if consumer is None or any(participant_of(topic) == participant for topic, _ in self._slow):
            return
        try:
            consumer.resume(*[tp for tp in consumer.assignment() if _participant(tp.topic) == participant])
        except Exception as exc:  # noqa: BLE001 - e.g. the partitions were revoked meanwhile
            log.warning("resume_failed", participant=participant, error=repr(exc))

    def _forget_stale(self) -> None:
        # A result whose record never comes back (its partition went to another gateway) is dropped.
        now = time.monotonic()
        for key in [k for k, (_, at) in self._finished.items() if now - at > _KEEP_FINISHED]:
            del self._finished[key]

    # -- publishing ------------------------------------------------------------------------------------

    async def _send(self, result: MessageResult, record: Any,
                    sent: list[tuple[Output, SourceRef, Awaitable[Any]]]) -> MessageResult:
        """Hand one message's outputs to the producer, in order; replace any it refuses at once."""
        source = SourceRef(record.topic, record.partition, record.offset)
        replaced = 0
        undelivered = False
        for output in result.outputs:
            if undelivered and output.topic.startswith("oco.reply."):
                continue  # its "received" would be wrong: the replacement says "rejected"
            try:
                sent.append((output, source, await self._publish(output, source)))
            except Exception as exc:
                if not refused_for_good(exc):
                    raise
                replaced += 1
                undelivered = output.topic.startswith("oco.deliver.")
                await self._replace(output, source, exc, sent)
        if replaced:
            result = dataclasses.replace(result, replaced=replaced)
        return result

    async def _replace(self, output: Output, source: SourceRef, exc: BaseException,
                       sent: list[tuple[Output, SourceRef, Awaitable[Any]]]) -> None:
        log.error("output_refused_replaced", topic=output.topic, source=f"{source.topic}[{source.partition}]@{source.offset}",
                  tracking_id=output.headers.get(h.TRACKING_ID), value_bytes=len(output.value), error=repr(exc))
        for replacement in replacements(output, source, exc):
            sent.append((replacement, source, await self._publish(replacement, source)))

    async def _confirm(self, sent: list[tuple[Output, SourceRef, Awaitable[Any]]],
                       results: list[MessageResult]) -> None:
        """Await every acknowledgement; records refused for good are tried alone once, then replaced."""
        outcomes = await asyncio.gather(*(ack for _, _, ack in sent), return_exceptions=True)
        failed = [(output, source, exc) for (output, source, _), exc in zip(sent, outcomes, strict=True)
                  if isinstance(exc, BaseException)]
        if not failed:
            return
        for _, _, exc in failed:
            if self._transactional or not (refused_for_good(exc) or isinstance(exc, OutOfOrderSequenceNumber)):
                raise exc  # may heal (broker down, topic missing, no permission): the batch is retried
        for output, source, exc in failed:
            # A refusal fails the whole produce batch: most of these were only next to the culprit (or behind
            # it: OutOfOrderSequenceNumber until the producer got its new id, see gateway.kafka_idempotence).
            try:
                await (await self._publish(output, source))
                continue
            except Exception as again:
                if not refused_for_good(again):
                    raise
                exc = again
            retry: list[tuple[Output, SourceRef, Awaitable[Any]]] = []
            await self._replace(output, source, exc, retry)
            for _, _, ack in retry:
                await ack
            tracking = output.headers.get(h.TRACKING_ID)
            for i, result in enumerate(results):
                if result.tracking_id == tracking:
                    results[i] = dataclasses.replace(result, replaced=result.replaced + 1)
                    break

    def close(self) -> None:
        """Release the worker threads."""
        self._workers.close()


def _participant(topic: str) -> str | None:
    try:
        return participant_of(topic)
    except ValueError:
        return None


def _key(record: Any) -> tuple[str, int, int]:
    return (record.topic, record.partition, record.offset)


def _offsets(records: Sequence[Any], give_back: dict[_TP, int]) -> dict[TopicPartition, tuple[int, int]]:
    """Each partition's first offset in the batch and the offset to commit (past its last record, or given back)."""
    found: dict[TopicPartition, tuple[int, int]] = {}
    for (topic, partition), batch in _by_partition(records).items():
        first, end = batch[0].offset, batch[-1].offset + 1
        found[TopicPartition(topic, partition)] = (first, min(end, give_back.get((topic, partition), end)))
    return found


def _by_partition(records: Sequence[Any]) -> dict[_TP, list[Any]]:
    found: dict[_TP, list[Any]] = {}
    for record in records:
        found.setdefault((record.topic, record.partition), []).append(record)
    for batch in found.values():
        batch.sort(key=lambda r: r.offset)
    return found
