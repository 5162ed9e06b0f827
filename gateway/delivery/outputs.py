"""Publishing a member's delivery outputs (replies, retries, dead letters): one by one, or in a transaction.

At-least-once (:func:`publish_all`): a record's outputs are published and acknowledged, then its offset is
committed by the consumer; a crash between the two publishes them again. Exactly-once
(:func:`publish_in_transaction`): the outputs of every record up to a partition's new commit point and that
commit point itself go in one Kafka transaction, so a crash or a Kafka error leaves either all of them or
none (the records are then handled again; the national system answers a replay under its idempotency key).

In both modes an output the broker refuses for good (too large, or a topic this identity may not write) is
parked on ``oco.dlq`` instead, with the topic it was meant for: retrying it would hold the member's partition
for ever.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Mapping, Sequence

import structlog
from aiokafka import AIOKafkaProducer, TopicPartition
from aiokafka.errors import KafkaError

from gateway import headers as h
from gateway.kafka_errors import refused_for_good_or_forbidden
from gateway.kafka_idempotence import guard
from gateway.pipeline.route import Output
from gateway.topics import DEAD_LETTER

__all__ = ["publish_all", "publish_in_transaction"]

log = structlog.get_logger("gateway.delivery")


async def publish_all(producer: AIOKafkaProducer, outputs: Sequence[Output], member: str) -> None:
    """Publish outputs and wait for every acknowledgement (at-least-once).

    Raises:
        KafkaError: the broker did not take an output and may later (unreachable, leader moving): the
            record is handled again.
    """
    outputs = list(outputs)
    results = await asyncio.gather(*[await _send(producer, o) for o in outputs], return_exceptions=True)
    parked = _parked(outputs, results, member)
    await asyncio.gather(*[await _send(producer, o) for o in parked])


async def publish_in_transaction(producer: AIOKafkaProducer, outputs: Sequence[Output],
                                 offsets: Mapping[TopicPartition, int], group: str, member: str) -> None:
    """Publish outputs and commit ``offsets`` for ``group`` in one transaction (exactly-once).

    A refused-for-good output fails the whole transaction (Kafka cannot commit part of one): it is aborted
    and done again once, with the refused outputs replaced by their dead-letter copies.

    Raises:
        KafkaError: the transaction was aborted for a cause that may heal; nothing of it is visible to
            ``read_committed`` readers and the offsets did not move.
    """
    outputs = list(outputs)
    for _ in range(2):
        results: list[object] = []
        try:
            async with producer.transaction():
                sent = [await _send(producer, o, transactional=True) for o in outputs]
                results = list(await asyncio.gather(*sent, return_exceptions=True))
                if any(isinstance(r, BaseException) for r in results):
                    raise _Aborted
                await producer.send_offsets_to_transaction(dict(offsets), group)
            return
        except _Aborted:
            pass
        kept = [o for o, r in zip(outputs, results, strict=True) if not isinstance(r, BaseException)]
        outputs = kept + _parked(outputs, results, member)  # raises what may heal
    raise KafkaError(f"{member}: the broker refused the dead-letter copies of refused outputs too")


class _Aborted(Exception):
    """Raised inside the transaction to abort it (an output was refused)."""


def _parked(outputs: Sequence[Output], results: Sequence[object], member: str) -> list[Output]:
    """The dead-letter copies of the outputs refused for good; raise the first error that may heal."""
    refused = [(o, r) for o, r in zip(outputs, results, strict=True) if isinstance(r, BaseException)]
    for _, exc in refused:
        if not refused_for_good_or_forbidden(exc):
            raise exc
    for original, exc in refused:
        log.error("delivery_output_refused_parked", member=member, topic=original.topic, error=repr(exc),
                  tracking_id=original.headers.get(h.TRACKING_ID))
    return [_unwritable(o, exc) for o, exc in refused]  # type: ignore[arg-type]


async def _send(producer: AIOKafkaProducer, out: Output, *, transactional: bool = False) -> Awaitable[object]:
    try:
        sent = await producer.send(out.topic, out.value, key=out.key or None,
                                   headers=[(k, v.encode()) for k, v in out.headers.items()])
        if not transactional:
            # A refused batch would leave the idempotent producer's sequence numbers wrong for that partition
            # for ever (see gateway.kafka_idempotence): reset its id before it sends the next batch. (An
            # aborted transaction resets them itself.)
            sent.add_done_callback(guard(lambda: producer, refused_for_good_or_forbidden))
        return sent
    except KafkaError as exc:  # refused before it was queued (too large for the producer): an outcome too
        failed: asyncio.Future[object] = asyncio.get_running_loop().create_future()
        failed.set_exception(exc)
        return failed


def _unwritable(out: Output, exc: BaseException) -> Output:
    """The dead-letter copy of an output the broker refused for good, naming where it should have gone."""
    return Output(DEAD_LETTER, out.key, out.value, {
        **out.headers, h.DLQ_TOPIC: out.topic, h.DLQ_PARTITION: "", h.DLQ_OFFSET: "", h.DLQ_STAGE: "deliver-publish",
        h.DLQ_EXCEPTION_CLASS: f"{type(exc).__module__}.{type(exc).__qualname__}",
        h.DLQ_EXCEPTION_MESSAGE: f"the broker refused this record for {out.topic} for good: {exc!r}"[:1000]})
