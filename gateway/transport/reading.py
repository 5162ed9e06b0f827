"""Read submit topics so that no record can stop the reading: headers FastStream cannot decode, and records
aiokafka cannot decode at all.

Two traps, each a single hostile record away from stopping the gateway:

- **Header values.** FastStream decodes every header value of a batch as strict UTF-8 before the handler
  runs: a null value or one that is not UTF-8 fails the whole batch, which is then retried for ever.
  :func:`parse_safely` hands FastStream readable copies (``U+FFFD`` for what is not UTF-8, empty for null);
  the handler reads headers the same lenient way, so nothing changes for a well-formed record.
- **Header names.** aiokafka decodes header *names* as strict UTF-8 while it unpacks fetched records (in C):
  one name that is not UTF-8 (any non-Java client can write one) makes ``getmany`` raise for the whole
  poll, loses the records other partitions had handed over in it, and ends FastStream's consume loop for
  good: the gateway silently stops reading every topic. :func:`harden` wraps the subscriber's read: it puts
  every partition back at its committed offset (nothing is lost), finds the partition and offset aiokafka
  cannot read, and returns an :class:`UnreadableRecord` for it (and for each record after it in the same
  producer batch, which aiokafka cannot read either), so the handler answers and parks each by reference,
  and the commit moves past them.
"""

from __future__ import annotations

import asyncio
import dataclasses
from collections.abc import Awaitable, Callable
from typing import Any

import structlog
from aiokafka import TopicPartition
from aiokafka.errors import ConsumerStoppedError, KafkaError

__all__ = ["UnreadableRecord", "harden", "parse_safely", "poll_promptly"]

log = structlog.get_logger(__name__)

_PROBE_MS = 1000  # how long one probe waits for a fetch
_WALK_LIMIT = 100_000  # records read one by one while looking for the unreadable one


@dataclasses.dataclass(frozen=True, slots=True)
class UnreadableRecord:
    """A record aiokafka could not decode: only where it is, and why (looks enough like a ``ConsumerRecord``)."""

    topic: str
    partition: int
    offset: int
    error: str
    timestamp: int | None = None
    key: bytes | None = None
    value: bytes | None = None
    headers: tuple[tuple[str, bytes], ...] = ()


async def parse_safely(records: tuple[Any, ...], original: Callable[[Any], Awaitable[Any]]) -> Any:
    """FastStream parser for the batch subscriber: never fails on a header value (null, or not UTF-8).

    Args:
        records: the batch's records.
        original: FastStream's own batch parser.
    """
    return await original(tuple(_readable(r) for r in records))


def _readable(record: Any) -> Any:
    headers = record.headers or ()
    if all(isinstance(v, bytes) and _is_utf8(v) for _, v in headers):
        return record
    clean = tuple((k, (v or b"").decode("utf-8", "replace").encode()) for k, v in headers)
    return dataclasses.replace(record, headers=clean)


def _is_utf8(value: bytes) -> bool:
    try:
        value.decode()
    except UnicodeDecodeError:
        return False
    return True


def poll_promptly(subscriber: Any, *, max_records: int, timeout_ms: int) -> Any:
    """Make a FastStream Kafka batch subscriber hand over a record as soon as it is fetched.

    FastStream's batch subscriber sleeps another ``batch_timeout_ms`` after a poll that found nothing, so a
    record arriving then waits for the sleep: at low rates that sleep was the gateway's latency floor. The
    poll itself already waits up to ``timeout_ms`` and returns as soon as a record is there.

    Args:
        subscriber: the object ``broker.subscriber(..., batch=True)`` returned.
        max_records: records per batch at most.
        timeout_ms: how long one poll waits for a record.

    Returns:
        The same subscriber.
    """

    async def get_msg(consumer: Any) -> tuple[Any, ...]:
        fetched = await consumer.getmany(timeout_ms=timeout_ms, max_records=max_records)
        return tuple(record for records in fetched.values() for record in records)

    subscriber.get_msg = get_msg
    return subscriber


def harden(subscriber: Any) -> Any:
    """Make a FastStream Kafka batch subscriber survive records aiokafka cannot decode (see the module docstring).

    Args:
        subscriber: the object ``broker.subscriber(..., batch=True)`` returned.

    Returns:
        The same subscriber.
    """
    read = subscriber.get_msg

    async def get_msg(consumer: Any) -> tuple[Any, ...]:
        try:
            return tuple(await read(consumer))
        except (KafkaError, ConsumerStoppedError, asyncio.CancelledError):
            raise  # FastStream's loop handles these
        except UnicodeDecodeError as exc:
            log.error("record_unreadable", error=repr(exc))
            return await isolate_unreadable(consumer, exc)
        except Exception as exc:  # noqa: BLE001 - anything else would end the consume loop for good
            log.exception("read_failed_will_retry", error=repr(exc))
            await rewind(consumer)
            await asyncio.sleep(1)
            return ()

    subscriber.get_msg = get_msg
    return subscriber


async def rewind(consumer: Any) -> list[TopicPartition]:
    """Put every assigned, unpaused partition back at its committed offset; return them.

    Between batches the consumer's positions are the committed offsets, so this undoes a read that failed
    half-way (aiokafka may have moved positions past records it never handed over).
    """
    partitions = [tp for tp in consumer.assignment() if tp not in consumer.paused()]
    for tp in partitions:
        committed = await consumer.committed(tp)
        if committed is None:
            await consumer.seek_to_beginning(tp)
        else:
            consumer.seek(tp, committed)
    return partitions


async def isolate_unreadable(consumer: Any, error: BaseException) -> tuple[UnreadableRecord, ...]:
    """Find the record aiokafka cannot decode, move its partition past it, and return it (and the records after
    it that share its producer batch) as :class:`UnreadableRecord`s; the other partitions are left at their
    committed offsets and read again by the next poll.

    Args:
        consumer: the subscriber's ``AIOKafkaConsumer``.
        error: what the failed read raised.
    """
    for tp in await rewind(consumer):
        start = await consumer.position(tp)
        highwater = consumer.highwater(tp)
        if highwater is not None and highwater <= start:
            continue  # nothing to read there
        try:
            await _walk(consumer, tp)
        except UnicodeDecodeError as exc:
            bad = await consumer.position(tp)
            end = await _first_readable(consumer, tp, bad)
            consumer.seek(tp, end)
            log.error("records_unreadable_parked", topic=tp.topic, partition=tp.partition, first=bad,
                      count=end - bad, error=repr(exc))
            return tuple(UnreadableRecord(tp.topic, tp.partition, offset, repr(exc)) for offset in range(bad, end))
        consumer.seek(tp, start)
    log.warning("record_unreadable_not_found", error=repr(error))
    return ()


async def _walk(consumer: Any, tp: TopicPartition) -> None:
    """Read ``tp`` one record at a time from its position (raises where aiokafka cannot decode one)."""
    for _ in range(_WALK_LIMIT):
        got = await consumer.getmany(tp, timeout_ms=_PROBE_MS, max_records=1)
        if not got.get(tp):
            return


async def _first_readable(consumer: Any, tp: TopicPartition, bad: int) -> int:
    """Return the first offset after ``bad`` from which ``tp`` can be read.

    aiokafka unpacks a fetched producer batch from its start, so every offset of the batch holding ``bad`` is
    unreadable, and every offset after it is readable: a binary search finds the batch's end.
    """
    lo, hi = bad + 1, (await consumer.end_offsets([tp]))[tp]
    while lo < hi:
        middle = (lo + hi) // 2
        consumer.seek(tp, middle)
        try:
            await consumer.getmany(tp, timeout_ms=_PROBE_MS, max_records=1)
        except UnicodeDecodeError:
            lo = middle + 1
        else:
            hi = middle
    return lo
