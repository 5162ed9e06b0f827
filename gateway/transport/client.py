"""A member system's side of the exchange: submit declarations and collect the gateway's replies."""

from __future__ import annotations

import asyncio
import uuid
from types import TracebackType
from typing import Any, Literal
from collections.abc import Callable, Mapping

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from aiokafka.errors import KafkaError

from gateway import headers as h
from gateway.errors import BrokerError
from gateway.topics import reply_topic, submit_topic

__all__ = ["ParticipantClient", "TopicTail", "topic_partitions"]


async def topic_partitions(consumer: AIOKafkaConsumer, topic: str, wait: float = 10.0) -> set[int]:
    """Return a topic's partitions, refreshing the consumer's metadata until it knows the topic.

    Args:
        consumer: a started consumer.
        topic: the topic.
        wait: seconds to keep asking (a topic just created takes a moment to appear).

    Raises:
        BrokerError: the topic does not exist, or this client's identity may not see it.
    """
    client = consumer._client  # noqa: SLF001 - aiokafka has no public call for either
    await client.add_topic(topic)  # asked by name: the broker then says whether this identity may see it
    for _ in range(max(1, int(wait / 0.2))):
        found = consumer.partitions_for_topic(topic)
        if found:
            return found
        if topic in client.cluster.unauthorized_topics:
            raise BrokerError(f"this client's Kafka identity may not read topic {topic} (the broker's ACLs): "
                              "connect as the identity it belongs to (OCO_KAFKA__USERNAME), or ask the network's "
                              "operator to provision it")
        await client.force_metadata_update()
        await asyncio.sleep(0.2)
    raise BrokerError(f"topic {topic} does not exist: is the gateway running with it configured?")


class TopicTail:
    """Read a topic from its current end on, collecting records by tracking id (no consumer group).

    Args:
        bootstrap_servers: Kafka address.
        topic: the topic to follow.
        security: the client's security options (``gateway.kafka_security.client_options``).
        isolation_level: ``read_committed`` (default) skips the outputs of aborted transactions
            (``gateway.exactly_once``) and changes nothing for records written without one;
            ``read_uncommitted`` sees everything, aborted outputs included.
    """

    def __init__(self, bootstrap_servers: str, topic: str, *, security: Mapping[str, Any] | None = None,
                 isolation_level: Literal["read_committed", "read_uncommitted"] = "read_committed") -> None:
        self.topic = topic
        self._bootstrap = bootstrap_servers
        self._consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap_servers, **(security or {}),
                                          enable_auto_commit=False, isolation_level=isolation_level)
        self.records: dict[str, Any] = {}  # first record per tracking id
        self.history: dict[str, list[Any]] = {}  # every record per tracking id, in arrival order

    async def start(self) -> None:
        """Connect and position at the end of every partition.

        Raises:
            BrokerError: Kafka cannot be reached or the topic does not exist.
        """
        try:
            await self._consumer.start()
            partitions = await topic_partitions(self._consumer, self.topic)
            self._consumer.assign([TopicPartition(self.topic, p) for p in sorted(partitions)])
            await self._consumer.seek_to_end()
        except KafkaError as exc:
            await self.stop()
            raise BrokerError(f"cannot read {self.topic} from Kafka at {self._bootstrap}: {exc}") from exc
        except BaseException:
            await self.stop()
            raise

    async def stop(self) -> None:
        """Disconnect."""
        await self._consumer.stop()

    async def wait_for(self, tracking_ids: set[str], timeout: float = 30.0, *, count: int = 1) -> dict[str, Any]:
        """Collect records until every tracking id was seen ``count`` times or the time is up.

        Args:
            tracking_ids: the ids to wait for.
            timeout: seconds to wait in all.
            count: records wanted per id.

        Returns:
            The first record of each id seen.
        """
        await self.wait_until(lambda: all(len(self.history.get(t, ())) >= count for t in tracking_ids), timeout)
        return {t: self.records[t] for t in tracking_ids if t in self.records}

    async def wait_until(self, done: Callable[[], bool], timeout: float = 30.0) -> bool:
        """Collect records until ``done()`` holds or the time is up; return whether it holds.

        Args:
            done: the condition, checked against :attr:`records` and :attr:`history`.
            timeout: seconds to wait in all.
        """
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while not done() and loop.time() < deadline:
            batch = await self._consumer.getmany(timeout_ms=200, max_records=1000)
            for records in batch.values():
                for record in records:
                    tid = dict(record.headers or ()).get(h.TRACKING_ID)
                    if tid is not None:
                        self.records.setdefault(tid.decode(), record)
                        self.history.setdefault(tid.decode(), []).append(record)
        return done()


class ParticipantClient:
    """Publish to ``oco.submit.<participant>`` and read ``oco.reply.<participant>``, as a member system would.

    The reply reader starts at the end of the reply topic before anything is sent, so it sees exactly
    the replies to this session's submissions; it reads committed (a gateway with ``gateway.exactly_once``
    answers in transactions). Use as ``async with``.

    Args:
        bootstrap_servers: Kafka address.
        participant: the participant to act as.
        security: the client's security options (``gateway.kafka_security.client_options``): on a secured
            cluster, the participant's own identity, the only one allowed to write its submit topic and read
            its reply topic.
    """

    def __init__(self, bootstrap_servers: str, participant: str, *,
                 security: Mapping[str, Any] | None = None) -> None:
        self.participant = participant
        self._producer = AIOKafkaProducer(bootstrap_servers=bootstrap_servers, **(security or {}), acks="all",
                                          enable_idempotence=True, linger_ms=5, max_request_size=8 * 1024 * 1024)
        self._replies = TopicTail(bootstrap_servers, reply_topic(participant), security=security)
        self._bootstrap = bootstrap_servers

    async def __aenter__(self) -> ParticipantClient:
        try:
            await self._replies.start()
            await self._producer.start()
        except KafkaError as exc:
            await self._close()
            raise BrokerError(f"cannot reach Kafka at {self._bootstrap}: {exc}") from exc
        except BaseException:
            await self._close()
            raise
        return self

    async def __aexit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                        tb: TracebackType | None) -> None:
        await self._close()

    async def _close(self) -> None:
        await self._producer.stop()
        await self._replies.stop()

    async def send(self, payload: bytes, *, key: bytes | None = None,
                   tracking_id: str | None = None) -> tuple[str, asyncio.Future[Any]]:
        """Queue one declaration; return its tracking id and a future resolved by the broker's ack.

        Sending many before awaiting their futures lets the producer batch them.

        Args:
            payload: the XML document.
            key: Kafka key (participant + LRN keeps one declaration's versions in order).
            tracking_id: reuse an id; a new UUID by default.

        Raises:
            BrokerError: the message could not be queued.
        """
        tracking_id = tracking_id or str(uuid.uuid4())
        try:
            ack = await self._producer.send(submit_topic(self.participant), payload, key=key,
                                            headers=[(h.TRACKING_ID, tracking_id.encode())])
        except KafkaError as exc:
            raise BrokerError(f"submit to {submit_topic(self.participant)} failed: {exc}") from exc
        return tracking_id, ack

    async def send_raw(self, value: bytes | None, *, headers: list[tuple[str, bytes | None]] | None = None,
                       key: bytes | None = None) -> Any:
        """Publish a record exactly as given (no tracking id added: tests of hostile input); return its metadata.

        Args:
            value: the record value; None sends a tombstone.
            headers: the record's headers, as given.
            key: Kafka key.

        Raises:
            KafkaError: the broker refused the record (too large...).
        """
        ack = await self._producer.send(submit_topic(self.participant), value, key=key, headers=headers or [])
        return await ack

    async def submit(self, payload: bytes, *, key: bytes | None = None, tracking_id: str | None = None) -> str:
        """Publish one declaration; return its tracking id once the broker acknowledged it.

        Args:
            payload: the XML document.
            key: Kafka key.
            tracking_id: reuse an id; a new UUID by default.

        Raises:
            BrokerError: the broker did not acknowledge the message.
        """
        tracking_id, ack = await self.send(payload, key=key, tracking_id=tracking_id)
        try:
            await ack
        except KafkaError as exc:
            raise BrokerError(f"submit to {submit_topic(self.participant)} failed: {exc}") from exc
        return tracking_id

    async def replies(self, tracking_ids: set[str], timeout: float = 30.0) -> dict[str, bytes]:
        """Wait for the replies to the given tracking ids; return the reply documents that came in time.

        Args:
            tracking_ids: ids returned by :meth:`submit`.
            timeout: seconds to wait in all.
        """
        found = await self._replies.wait_for(tracking_ids, timeout)
        return {t: r.value for t, r in found.items()}

    async def final_replies(self, tracking_ids: set[str], timeout: float = 60.0) -> dict[str, list[bytes]]:
        """Wait until each submission has its final answer; return every reply per tracking id.

        A declaration first gets "received" from the gateway, then "accepted" or "rejected" once its
        member's national system answered (or "rejected" at once when the gateway refused it).

        Args:
            tracking_ids: ids returned by :meth:`submit`.
            timeout: seconds to wait in all.
        """
        def final(tid: str) -> bool:
            return any(dict(r.headers or ()).get(h.STATUS, b"received") != b"received"
                       for r in self._replies.history.get(tid, ()))

        await self._replies.wait_until(lambda: all(final(t) for t in tracking_ids), timeout)
        return {t: [r.value for r in self._replies.history[t]] for t in tracking_ids if t in self._replies.history}
