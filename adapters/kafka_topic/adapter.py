"""``KafkaTopicAdapter``: request/reply with a member that integrates directly over its own Kafka topics."""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from typing import Any

from aiokafka import AIOKafkaProducer
from aiokafka.errors import KafkaError

from adapters.kafka_topic._replies import ReplyRouter
from adapters.kafka_topic.protocol import IDEMPOTENCY_KEY, REPLAYED, TRACKING_ID, header
from adapters.kafka_topic.settings import KafkaTopicSettings
from adapters.wco_xml.answer import read_answer
from gateway.sdk import (
    Adapter,
    AdapterProtocolError,
    AdapterUnavailable,
    Declaration,
    NationalAnswer,
    kafka_client_options,
    parse_settings,
    too_many_items,
)

__all__ = ["KafkaTopicAdapter", "SYSTEM"]

SYSTEM = "KAFKA"
"""The system tag of the issue codes this adapter makes itself (``NZ-KAFKA-TOO-MANY-ITEMS``)."""


class KafkaTopicAdapter(Adapter):
    """Produce each declaration to the member's request topic and wait for its WCO DM Response.

    The answer is correlated by the ``oco-idempotency-key`` header (see :mod:`adapters.kafka_topic.protocol`)
    and read like the ``wco-xml`` adapter's. One producer and one reply reader per instance, started on the
    first delivery; :meth:`aclose` stops them.

    Settings: ``bootstrap_servers`` (required), ``request_topic``, ``reply_topic``, ``timeout`` (seconds from
    sending to the answer, default 10), ``connect_timeout`` (first connection, default 10), ``max_items`` (the
    most goods items the member's system takes; more is rejected ``<MEMBER>-KAFKA-TOO-MANY-ITEMS`` unsent).

    Args:
        member: the member code.
        settings: the member's adapter settings.

    Raises:
        ConfigError: the settings are wrong; the message names the key.
    """

    NAME = "kafka"

    def __init__(self, member: str, settings: Mapping[str, Any]) -> None:
        super().__init__(member, settings)
        self.config = parse_settings(KafkaTopicSettings, settings, member=member, adapter=self.NAME)
        self._security = kafka_client_options(self.config.security)  # a missing password stops start-up
        self._producer: AIOKafkaProducer | None = None
        self._replies: ReplyRouter | None = None
        self._starting = asyncio.Lock()

    async def deliver(self, declaration: Declaration) -> NationalAnswer:
        """Send one declaration and return the member's answer.

        Args:
            declaration: the validated declaration.

        Raises:
            AdapterUnavailable: Kafka cannot be reached, a topic is missing, or no answer came within
                ``timeout``.
            AdapterProtocolError: the answer is not a WCO DM Response this adapter can read.
        """
        if self.config.max_items is not None:
            refused = too_many_items(declaration.model, self.config.max_items, member=self.member, system=SYSTEM)
            if refused is not None:
                return refused
        producer, replies = await self._started()
        key = declaration.idempotency_key
        answer = replies.expect(key)  # before sending: a fast member must not answer into the void
        step = f"sending to {self.config.request_topic}"
        try:
            async with asyncio.timeout(self.config.timeout):
                await producer.send_and_wait(self.config.request_topic, declaration.payload, key=key.encode(),
                                             headers=[(IDEMPOTENCY_KEY, key.encode()),
                                                      (TRACKING_ID, declaration.tracking_id.encode())])
                step = f"waiting for the member's answer on {self.config.reply_topic}"
                record = await answer
        except TimeoutError as exc:
            raise self._unavailable(f"no answer from member {self.member} within {self.config.timeout:g} s "
                                    f"({step})") from exc
        except KafkaError as exc:
            raise self._unavailable(f"sending to {self.config.request_topic} or reading "
                                    f"{self.config.reply_topic} failed: {exc!r}") from exc
        finally:
            replies.forget(key, answer)
        try:
            return read_answer(record.value or b"", duplicate=header(record.headers, REPLAYED) == "true")
        except ValueError as exc:
            raise AdapterProtocolError(f"member {self.member} answered on {self.config.reply_topic} (offset "
                                       f"{record.partition}:{record.offset}) with something unreadable: {exc}",
                                       member=self.member, adapter=self.NAME) from exc

    async def aclose(self) -> None:
        """Stop the reply reader and the producer."""
        await self._stop()

    async def _started(self) -> tuple[AIOKafkaProducer, ReplyRouter]:
        async with self._starting:
            if self._producer is not None and self._replies is not None and self._replies.running:
                return self._producer, self._replies
            await self._stop()  # a reader that died is replaced whole, producer included
            where = f"the Kafka cluster of member {self.member} at {self.config.bootstrap_servers}"
            producer = AIOKafkaProducer(bootstrap_servers=self.config.bootstrap_servers, **self._security, acks="all",
                                        enable_idempotence=True, client_id=f"oco-gateway-{self.member}",
                                        max_request_size=8 * 1024 * 1024)
            replies = ReplyRouter(self.config.bootstrap_servers, self.config.reply_topic, security=self._security,
                                  client_id=f"oco-gateway-{self.member}-replies")
            self._producer, self._replies = producer, replies
            try:
                async with asyncio.timeout(self.config.connect_timeout):
                    await producer.start()
                    await producer.partitions_for(self.config.request_topic)
                    await replies.start(await producer.partitions_for(self.config.reply_topic))
            except (TimeoutError, KafkaError) as exc:
                await self._stop()
                raise self._unavailable(f"cannot use {where} within {self.config.connect_timeout:g} s (are "
                                        f"{self.config.request_topic} and {self.config.reply_topic} created?): "
                                        f"{exc!r}") from exc
            return producer, replies

    async def _stop(self) -> None:
        replies, producer, self._replies, self._producer = self._replies, self._producer, None, None
        if replies is not None:
            await replies.stop()
        if producer is not None:
            await producer.stop()

    def _unavailable(self, message: str) -> AdapterUnavailable:
        return AdapterUnavailable(message, member=self.member, adapter=self.NAME)
