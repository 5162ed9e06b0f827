"""A reference member-side responder for the ``kafka`` adapter: the "national system" of its contract tests.

It reads the member's request topic, judges each declaration like the WCO single-window simulator (OCO
profile, then business rules), registers each idempotency key once, and answers a WCO DM Response on the
reply topic. A member building its own Kafka integration can read it as the protocol's executable spec.

Controls (async, so the responder is a ``gateway.sdk.contract.NationalSystem``): ``set_down`` stops
answering (requests wait in the topic, as with a real outage, and are answered once back up), ``set_delay``,
``reject_next``, and ``registrations(key)``.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Mapping
from pathlib import Path
from types import TracebackType
from typing import Any

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, ConsumerRecord, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.errors import TopicAlreadyExistsError

from adapters.kafka_topic.protocol import (
    IDEMPOTENCY_KEY,
    REPLAYED,
    TRACKING_ID,
    default_reply_topic,
    default_request_topic,
    header,
)
from adapters.wco_xml.simulator.rules import DeclarationJudge
from adapters.wco_xml.simulator.state import Registrations
from gateway.errors import Issue
from gateway.responses import TaxDue, build_response

__all__ = ["MemberResponder"]


class MemberResponder:
    """Answer declarations on a member's topics. Use ``async with``, or :meth:`start` and :meth:`stop`.

    Args:
        bootstrap_servers: the Kafka cluster.
        member: the member it plays.
        request_topic: where declarations arrive (default ``member.<CODE>.declarations``).
        reply_topic: where answers go (default ``member.<CODE>.answers``).
        profiles_dir: schema profiles; default the gateway's.
        create_topics: create both topics when missing (the member owns them).
        partitions: partitions of topics it creates.
        security: its clients' security options (``gateway.sdk.kafka_client_options``).

    Raises:
        ProfileError: the profiles cannot be loaded.
    """

    def __init__(self, bootstrap_servers: str, member: str, *, request_topic: str | None = None,
                 reply_topic: str | None = None, profiles_dir: str | Path | None = None,
                 create_topics: bool = True, partitions: int = 3,
                 security: Mapping[str, Any] | None = None) -> None:
        self.bootstrap_servers = bootstrap_servers
        self._security = dict(security or {})
        self.member = member
        self.request_topic = request_topic or default_request_topic(member)
        self.reply_topic = reply_topic or default_reply_topic(member)
        self._create_topics = create_topics
        self._partitions = partitions
        self._judge = DeclarationJudge(member, profiles_dir, prefix="MEMBER")
        self._registered = Registrations(member)
        self._up = asyncio.Event()
        self._up.set()
        self.delay = 0.0
        self.pending_rejections = 0
        self._consumer: AIOKafkaConsumer | None = None
        self._producer: AIOKafkaProducer | None = None
        self._loop_task: asyncio.Task[None] | None = None
        self._answering: set[asyncio.Task[None]] = set()

    async def __aenter__(self) -> MemberResponder:
        await self.start()
        return self

    async def __aexit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                        tb: TracebackType | None) -> None:
        await self.stop()

    async def start(self) -> None:
        """Create the topics if asked, then answer every request sent from now on.

        Raises:
            KafkaError: the broker cannot be reached or refused to create a topic.
        """
        if self._create_topics:
            await self._ensure_topics()
        self._producer = AIOKafkaProducer(bootstrap_servers=self.bootstrap_servers, **self._security, acks="all",
                                          enable_idempotence=True, client_id=f"member-{self.member}-responder")
        await self._producer.start()
        partitions = await self._producer.partitions_for(self.request_topic)
        await self._producer.partitions_for(self.reply_topic)
        self._consumer = AIOKafkaConsumer(bootstrap_servers=self.bootstrap_servers, **self._security, group_id=None,
                                          enable_auto_commit=False, fetch_max_wait_ms=50,
                                          client_id=f"member-{self.member}-responder")
        await self._consumer.start()
        assigned = [TopicPartition(self.request_topic, p) for p in sorted(partitions)]
        self._consumer.assign(assigned)
        await self._consumer.seek_to_end(*assigned)
        for tp in assigned:
            await self._consumer.position(tp)
        self._loop_task = asyncio.create_task(self._run(), name=f"responder:{self.request_topic}")

    async def stop(self) -> None:
        """Stop answering and disconnect."""
        for task in (self._loop_task, *self._answering):
            if task is not None:
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await task
        if self._consumer is not None:
            await self._consumer.stop()
        if self._producer is not None:
            await self._producer.stop()

    async def reject_next(self) -> None:
        """Refuse the next declaration to arrive (code MEMBER-REJECTED)."""
        self.pending_rejections += 1

    async def set_delay(self, seconds: float) -> None:
        """Answer each declaration ``seconds`` after it arrives.

        Args:
            seconds: the delay; 0 for none.
        """
        self.delay = seconds

    async def set_down(self, down: bool) -> None:
        """Stop reading requests (True): they wait in the topic and are answered once back up (False).

        Args:
            down: the outage switch.
        """
        if down:
            self._up.clear()
        else:
            self._up.set()

    async def registrations(self, key: str) -> int:
        """Return how many times ``key`` was registered (0 or 1).

        Args:
            key: an idempotency key.
        """
        return self._registered.count(key)

    async def _ensure_topics(self) -> None:
        admin = AIOKafkaAdminClient(bootstrap_servers=self.bootstrap_servers, **self._security)
        await admin.start()
        try:
            existing = set(await admin.list_topics())
            missing = [NewTopic(t, self._partitions, 1) for t in (self.request_topic, self.reply_topic)
                       if t not in existing]
            if missing:
                with contextlib.suppress(TopicAlreadyExistsError):  # another responder was quicker
                    await admin.create_topics(missing)
        finally:
            await admin.close()

    async def _run(self) -> None:
        assert self._consumer is not None
        while True:
            await self._up.wait()
            batch = await self._consumer.getmany(timeout_ms=200)
            for records in batch.values():
                for record in records:
                    # Checked per record: one fetched just before an outage began waits for its end too.
                    await self._up.wait()
                    # Decided on arrival, so a request still sleeping off an old delay cannot take a
                    # rejection meant for a later one.
                    key = header(record.headers, IDEMPOTENCY_KEY) or ""
                    reject = self._registered.answer_for(key) is None and self.pending_rejections > 0
                    if reject:
                        self.pending_rejections -= 1
                    task = asyncio.create_task(self._answer(record, key, reject, self.delay))
                    self._answering.add(task)
                    task.add_done_callback(self._answering.discard)

    async def _answer(self, record: ConsumerRecord, key: str, reject: bool, delay: float) -> None:
        assert self._producer is not None
        if delay:
            await asyncio.sleep(delay)
        tracking_id = header(record.headers, TRACKING_ID) or "unknown"
        headers = [(IDEMPOTENCY_KEY, key.encode()), (TRACKING_ID, tracking_id.encode())]
        earlier = self._registered.answer_for(key)
        if earlier is not None:
            await self._producer.send_and_wait(self.reply_topic, earlier, key=record.key,
                                               headers=[*headers, (REPLAYED, b"true")])
            return
        verdict = self._judge(record.value or b"")
        issues = list(verdict.issues)
        if not key:
            issues.append(Issue("MEMBER-NO-IDEMPOTENCY-KEY", f"the {IDEMPOTENCY_KEY} header is required"))
        if reject:
            issues.append(Issue("MEMBER-REJECTED", "refused by a business rule of the member (reject_next)"))
        if issues:
            body = build_response(status="rejected", tracking_id=tracking_id, lrn=verdict.lrn, member=self.member,
                                  issues=issues)
        else:
            reference, accepted_at = self._registered.next_reference()
            taxes = [TaxDue("GST", amount, currency, f"A{reference}") for amount, currency in verdict.gst]
            body = build_response(status="accepted", tracking_id=tracking_id, lrn=verdict.lrn, member=self.member,
                                  declaration_id=reference, accepted_at=accepted_at, taxes=taxes)
            self._registered.record(key, body)
        await self._producer.send_and_wait(self.reply_topic, body, key=record.key, headers=headers)
