"""Read a member's reply topic in the background and hand each answer to the delivery waiting for it.

The reader joins no consumer group: every gateway instance reads every partition from the end and keeps
only the answers to its own requests, so replies never land on an instance that is not waiting for them.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Mapping
from typing import Any

from aiokafka import AIOKafkaConsumer, ConsumerRecord, TopicPartition
from aiokafka.errors import KafkaError

from adapters.kafka_topic.protocol import IDEMPOTENCY_KEY, header

__all__ = ["ReplyRouter"]


class ReplyRouter:
    """Route the records of a reply topic to futures keyed by idempotency key.

    Args:
        bootstrap_servers: the member's Kafka cluster.
        topic: the reply topic.
        client_id: how the consumer shows in the broker's logs.
        security: the client's security options (``gateway.sdk.kafka_client_options``).
    """

    def __init__(self, bootstrap_servers: str, topic: str, client_id: str, *,
                 security: Mapping[str, Any] | None = None) -> None:
        self.topic = topic
        self._consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap_servers, **(security or {}), group_id=None,
                                          client_id=client_id,
                                          enable_auto_commit=False, auto_offset_reset="latest",
                                          fetch_max_wait_ms=100)  # an answer is awaited: do not batch it up
        self._waiting: dict[str, list[asyncio.Future[ConsumerRecord]]] = {}
        self._task: asyncio.Task[None] | None = None

    @property
    def running(self) -> bool:
        """Whether the background reader is alive."""
        return self._task is not None and not self._task.done()

    async def start(self, partitions: set[int]) -> None:
        """Connect, position at the end of every partition, and start routing.

        Positions are fixed before this returns, so an answer to a request sent afterwards cannot be missed.

        Args:
            partitions: the reply topic's partitions.

        Raises:
            KafkaError: the broker cannot be reached.
        """
        await self._consumer.start()
        assigned = [TopicPartition(self.topic, p) for p in sorted(partitions)]
        self._consumer.assign(assigned)
        await self._consumer.seek_to_end(*assigned)
        for tp in assigned:
            await self._consumer.position(tp)
        self._task = asyncio.create_task(self._run(), name=f"replies:{self.topic}")

    def expect(self, key: str) -> asyncio.Future[ConsumerRecord]:
        """Return a future resolved by the next answer carrying ``key``; register it before sending.

        Args:
            key: the idempotency key of the request.
        """
        future: asyncio.Future[ConsumerRecord] = asyncio.get_running_loop().create_future()
        self._waiting.setdefault(key, []).append(future)
        return future

    def forget(self, key: str, future: asyncio.Future[ConsumerRecord]) -> None:
        """Stop waiting (answered, timed out or failed).

        Args:
            key: the idempotency key.
            future: the future :meth:`expect` returned.
        """
        waiting = self._waiting.get(key, [])
        if future in waiting:
            waiting.remove(future)
        if not waiting:
            self._waiting.pop(key, None)

    async def stop(self) -> None:
        """Stop routing and disconnect; pending deliveries are cancelled."""
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        for futures in self._waiting.values():
            for future in futures:
                future.cancel()
        self._waiting.clear()
        await self._consumer.stop()

    async def _run(self) -> None:
        try:
            while True:
                batch = await self._consumer.getmany(timeout_ms=1000)
                for records in batch.values():
                    for record in records:
                        # Answers nobody waits for (late, or another instance's) are dropped: a redelivery
                        # gets the member's replayed answer.
                        for future in self._waiting.pop(header(record.headers, IDEMPOTENCY_KEY) or "", ()):
                            if not future.done():
                                future.set_result(record)
        except KafkaError as exc:  # the waiting deliveries raise it (as AdapterUnavailable); the next restarts us
            for futures in self._waiting.values():
                for future in futures:
                    if not future.done():
                        future.set_exception(exc)
            self._waiting.clear()
