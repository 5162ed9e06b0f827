"""Read the dead-letter topic and put parked messages back where they came from (for operators)."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from aiokafka.errors import KafkaError

from gateway import headers as h
from gateway.errors import BrokerError
from gateway.topics import DEAD_LETTER
from gateway.transport.client import topic_partitions

__all__ = ["ParkedMessage", "read_parked", "replay"]

_DROP_ON_REPLAY = {h.DLQ_TOPIC, h.DLQ_PARTITION, h.DLQ_OFFSET, h.DLQ_STAGE, h.DLQ_EXCEPTION_CLASS,
                   h.DLQ_EXCEPTION_MESSAGE, h.ATTEMPT, h.NOT_BEFORE}
REPLAYED_FROM = "oco-replayed-from"


@dataclass(frozen=True, slots=True)
class ParkedMessage:
    """One record of the dead-letter topic, with its context headers."""

    partition: int
    offset: int
    timestamp: datetime
    key: bytes | None
    value: bytes
    headers: dict[str, str]

    @property
    def ref(self) -> str:
        """``partition:offset`` in the dead-letter topic, as operators name a parked message."""
        return f"{self.partition}:{self.offset}"

    @property
    def origin(self) -> str:
        """The topic the message was read from when it failed."""
        return self.headers.get(h.DLQ_TOPIC, "")


async def read_parked(bootstrap_servers: str, *, topic: str = DEAD_LETTER,
                      security: Mapping[str, Any] | None = None) -> list[ParkedMessage]:
    """Return every message in the dead-letter topic, oldest first per partition (no consumer group).

    Args:
        bootstrap_servers: Kafka address.
        topic: the dead-letter topic.
        security: the client's security options (``gateway.kafka_security.client_options``).

    Raises:
        BrokerError: Kafka cannot be reached or the topic does not exist.
    """
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap_servers, **(security or {}), enable_auto_commit=False)
    try:
        await consumer.start()
        partitions = await topic_partitions(consumer, topic, wait=2.0)
        tps = [TopicPartition(topic, p) for p in sorted(partitions)]
        consumer.assign(tps)
        await consumer.seek_to_beginning(*tps)
        ends = await consumer.end_offsets(tps)
        found: list[ParkedMessage] = []
        while [tp for tp in tps if await consumer.position(tp) < ends[tp]]:
            batch = await consumer.getmany(timeout_ms=1000)
            for records in batch.values():
                found += [ParkedMessage(r.partition, r.offset, datetime.fromtimestamp(r.timestamp / 1000, UTC), r.key,
                                        r.value or b"", {k: v.decode("utf-8", "replace") for k, v in r.headers or ()})
                          for r in records]
        return sorted(found, key=lambda m: (m.timestamp, m.partition, m.offset))
    except KafkaError as exc:
        raise BrokerError(f"cannot read {topic} from {bootstrap_servers}: {exc}") from exc
    finally:
        await consumer.stop()


async def replay(bootstrap_servers: str, messages: Iterable[ParkedMessage],
                 on_sent: Callable[[ParkedMessage], None] | None = None, *,
                 security: Mapping[str, Any] | None = None) -> int:
    """Publish parked messages again to the topic they failed on; return how many were sent.

    The dead-letter context headers are dropped, attempts start afresh, and ``oco-replayed-from`` names
    the parked copy. The tracking id stays, so the submitter can match the new answer.

    Args:
        bootstrap_servers: Kafka address.
        messages: the parked messages to replay.
        on_sent: called after each acknowledged send.
        security: the client's security options (``gateway.kafka_security.client_options``).

    Raises:
        BrokerError: Kafka refused a send; those before it were replayed.
        ValueError: a message without the topic it came from, or parked without a copy of its payload (it was
            too large to copy: its headers say where the original is); nothing is sent then.
    """
    messages = list(messages)
    for message in messages:
        omitted = message.headers.get(h.DLQ_PAYLOAD_OMITTED)
        if omitted is not None:
            where = (f"{message.headers.get(h.DLQ_TOPIC)}[{message.headers.get(h.DLQ_PARTITION)}]@"
                     f"{message.headers.get(h.DLQ_OFFSET)}")
            raise ValueError(f"parked message {message.ref} holds no copy of its payload ({omitted} bytes, too large "
                             f"to copy, or unreadable); the original is at {where} for that topic's retention")
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap_servers, **(security or {}), acks="all",
                                enable_idempotence=True,
                                max_request_size=8 * 1024 * 1024)
    sent = 0
    try:
        await producer.start()
        for message in messages:
            if not message.origin:
                raise ValueError(f"parked message {message.ref} does not say which topic it came from")
            headers = {k: v for k, v in message.headers.items() if k not in _DROP_ON_REPLAY}
            headers[REPLAYED_FROM] = f"{DEAD_LETTER}/{message.ref}"
            await producer.send_and_wait(message.origin, message.value, key=message.key,
                                         headers=[(k, v.encode()) for k, v in headers.items()])
            sent += 1
            if on_sent:
                on_sent(message)
    except KafkaError as exc:
        raise BrokerError(f"replay stopped after {sent} message(s): {exc}") from exc
    finally:
        await producer.stop()
    return sent
