"""KafkaTopicAdapter beyond the contract: correlation of concurrent answers, missing topics, bad answers."""

from __future__ import annotations

import asyncio
import time
import uuid

import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient, NewTopic

from adapters.kafka_topic import KafkaTopicAdapter
from adapters.kafka_topic.protocol import IDEMPOTENCY_KEY, TRACKING_ID, header
from adapters.kafka_topic.responder import MemberResponder
from gateway.ops.broker import free_ports
from gateway.samples import make_declaration
from gateway.sdk import AdapterProtocolError, AdapterUnavailable, Declaration, idempotency_key
from tests.adapters.kafka_topic.conftest import MEMBER, MemberCluster


def _declaration(lrn: str) -> Declaration:
    payload = make_declaration(member=MEMBER, lrn=lrn, seed=len(lrn))
    return Declaration(payload=payload, member=MEMBER, participant="p", lrn=lrn, function_code="9",
                       tracking_id=f"trk-{lrn}", idempotency_key=idempotency_key("p", lrn, "9", payload))


def _settings(cluster: MemberCluster, request_topic: str, reply_topic: str, **more: object) -> dict[str, object]:
    return cluster.settings(request_topic, reply_topic, **{"timeout": 5, **more})


@pytest.mark.kafka
class TestKafkaTopicAdapter:
    async def test_concurrent_deliveries_get_their_own_answers(self, cluster: MemberCluster,
                                                               national: MemberResponder) -> None:
        """Twenty deliveries in flight at once each get the answer to their own declaration."""
        adapter = KafkaTopicAdapter(MEMBER, _settings(cluster, national.request_topic, national.reply_topic))
        declarations = [_declaration(f"CONC-{uuid.uuid4().hex[:8]}-{i}") for i in range(20)]
        try:
            answers = await asyncio.gather(*(adapter.deliver(d) for d in declarations))
        finally:
            await adapter.aclose()
        assert all(a.accepted and a.registration for a in answers)
        assert len({a.registration.reference for a in answers if a.registration}) == 20
        for declaration, answer in zip(declarations, answers, strict=True):
            assert declaration.lrn.encode() in (answer.raw or b"")
            assert await national.registrations(declaration.idempotency_key) == 1

    async def test_silent_member_times_out_naming_the_step(self, cluster: MemberCluster,
                                                           national: MemberResponder) -> None:
        """A member that stops answering makes delivery raise AdapterUnavailable saying where it waited."""
        adapter = KafkaTopicAdapter(MEMBER, _settings(cluster, national.request_topic, national.reply_topic,
                                                      timeout=0.5))
        await national.set_down(True)
        try:
            with pytest.raises(AdapterUnavailable, match=f"within 0.5 s \\(waiting for the member's answer on "
                                                         f"{national.reply_topic}\\)"):
                await adapter.deliver(_declaration(f"SILENT-{uuid.uuid4().hex[:8]}"))
        finally:
            await national.set_down(False)
            await adapter.aclose()

    async def test_adapter_works_again_after_aclose(self, cluster: MemberCluster, national: MemberResponder) -> None:
        """After aclose() a new delivery starts fresh clients instead of failing."""
        adapter = KafkaTopicAdapter(MEMBER, _settings(cluster, national.request_topic, national.reply_topic))
        try:
            assert (await adapter.deliver(_declaration(f"AGAIN-{uuid.uuid4().hex[:8]}"))).accepted
            await adapter.aclose()
            assert (await adapter.deliver(_declaration(f"AGAIN-{uuid.uuid4().hex[:8]}"))).accepted
        finally:
            await adapter.aclose()

    async def test_missing_topic_is_unavailable_in_bounded_time(self, cluster: MemberCluster) -> None:
        """A reply topic that does not exist raises AdapterUnavailable naming the topics, within connect_timeout."""
        request_topic, reply_topic = f"missing.{uuid.uuid4().hex}.req", f"missing.{uuid.uuid4().hex}.rep"
        adapter = KafkaTopicAdapter(MEMBER, _settings(cluster, request_topic, reply_topic, connect_timeout=1.5))
        started = time.monotonic()
        try:
            with pytest.raises(AdapterUnavailable, match=f"{request_topic} and {reply_topic} created") as caught:
                await adapter.deliver(_declaration("MISSING-1"))
        finally:
            await adapter.aclose()
        assert time.monotonic() - started < 4
        assert (caught.value.member, caught.value.adapter) == (MEMBER, "kafka")

    async def test_unreadable_answer_is_a_protocol_error(self, cluster: MemberCluster) -> None:
        """A member answering something that is not a WCO DM Response raises AdapterProtocolError."""
        run = uuid.uuid4().hex[:8]
        request_topic, reply_topic = f"test.{run}.garbage.req", f"test.{run}.garbage.rep"
        admin = AIOKafkaAdminClient(bootstrap_servers=cluster.bootstrap, **cluster.auth)
        await admin.start()
        try:
            await admin.create_topics([NewTopic(request_topic, 1, 1), NewTopic(reply_topic, 1, 1)])
        finally:
            await admin.close()
        # A broken member: reads requests and answers each with HTML, correlated correctly.
        consumer = AIOKafkaConsumer(bootstrap_servers=cluster.bootstrap, **cluster.auth, group_id=None, fetch_max_wait_ms=50)
        producer = AIOKafkaProducer(bootstrap_servers=cluster.bootstrap, **cluster.auth)
        await consumer.start()
        await producer.start()
        consumer.assign([TopicPartition(request_topic, 0)])
        await consumer.seek_to_beginning()

        async def broken_member() -> None:
            async for record in consumer:
                await producer.send_and_wait(reply_topic, b"<html>maintenance</html>", headers=[
                    (IDEMPOTENCY_KEY, (header(record.headers, IDEMPOTENCY_KEY) or "").encode()),
                    (TRACKING_ID, b"t")])

        member = asyncio.create_task(broken_member())
        adapter = KafkaTopicAdapter(MEMBER, _settings(cluster, request_topic, reply_topic))
        try:
            with pytest.raises(AdapterProtocolError, match=f"answered on {reply_topic}") as caught:
                await adapter.deliver(_declaration("GARBAGE-1"))
            assert isinstance(caught.value.__cause__, ValueError)
        finally:
            member.cancel()
            await adapter.aclose()
            await consumer.stop()
            await producer.stop()


class TestUnreachableCluster:
    async def test_no_broker_is_unavailable(self) -> None:
        """Nothing listening at bootstrap_servers raises AdapterUnavailable within connect_timeout (no broker)."""
        port = free_ports(1)[0]
        adapter = KafkaTopicAdapter(MEMBER, {"bootstrap_servers": f"127.0.0.1:{port}", "connect_timeout": 2})
        started = time.monotonic()
        try:
            with pytest.raises(AdapterUnavailable, match=f"127.0.0.1:{port}"):
                await adapter.deliver(_declaration("NOBROKER-1"))
        finally:
            await adapter.aclose()
        assert time.monotonic() - started < 4
