"""Delivery on the real broker: members isolated from each other, outages survived, poison messages parked."""

from __future__ import annotations

import asyncio
import time
from importlib.metadata import EntryPoint

import pytest
import yaml
from aiokafka import AIOKafkaProducer

from gateway import headers as h
from gateway.access.identities import DELIVERY, GATEWAY
from gateway.config import load_settings
from gateway.delivery.service import DeliveryService
from gateway.plugins import ADAPTER_GROUP, AdapterCatalog
from gateway.responses import read_response
from gateway.samples import make_declaration
from gateway.sdk.testing import FakeAdapter
from gateway.topics import DEAD_LETTER, deliver_topic, reply_topic
from gateway.transport.client import TopicTail
from gateway.transport.topics import ensure_topics
from tests.conftest import KafkaAccess

pytestmark = [pytest.mark.kafka, pytest.mark.slow]

FAKE = AdapterCatalog([EntryPoint("fake", "gateway.sdk.testing:FakeAdapter", ADAPTER_GROUP)])
FAST = {"base_delay": 0.2, "max_delay": 1.0, "max_attempts": 50, "breaker_failures": 3, "breaker_reset": 0.5,
        "rate_per_second": 500}


def network_file(tmp_path, access: KafkaAccess, tag: str, members: dict[str, dict]) -> str:
    """Write and provision a network whose delivery workers run as the central delivery identity."""
    path = tmp_path / "network.yaml"
    path.write_text(yaml.safe_dump({
        "kafka": {"bootstrap_servers": access.bootstrap, "group_id": f"gw-{tag}", "username": DELIVERY,
                  "password_file": access.env(DELIVERY)["OCO_KAFKA__PASSWORD_FILE"]},
        "participants": {f"{tag}-p": {"name": "P"}},
        "members": {code: {"name": code, "submitters": [f"{tag}-p"],
                           "adapter": {"name": "fake", "settings": settings}, "delivery": FAST}
                    for code, settings in members.items()},
    }))
    access.provision(path)
    return str(path)


async def put(access: KafkaAccess, member: str, participant: str, lrns: list[str]) -> dict[str, str]:
    """Publish declarations to a member's delivery topic as the gateway does; return tracking id → LRN."""
    producer = AIOKafkaProducer(bootstrap_servers=access.bootstrap, **access.security(GATEWAY), acks="all")
    await producer.start()
    sent = {}
    try:
        for lrn in lrns:
            tid = f"{member}-{lrn}"
            headers = {h.TRACKING_ID: tid, h.PARTICIPANT: participant, h.MEMBER: member, h.LRN: lrn,
                       h.FUNCTION_CODE: "9"}
            await producer.send_and_wait(deliver_topic(member), make_declaration(member=member, lrn=lrn, seed=len(sent)),
                                         key=f"{participant}:{lrn}".encode(),
                                         headers=[(k, v.encode()) for k, v in headers.items()])
            sent[tid] = lrn
    finally:
        await producer.stop()
    return sent


class TestDeliveryIsolation:
    async def test_one_members_outage_does_not_hold_another(self, kafka_access: KafkaAccess, tmp_path) -> None:
        """While KI's national system is down, TV's declarations are all delivered; once KI is back its
        backlog is delivered, each declaration registered exactly once."""
        # Members no other test uses: delivery topics are per member and the broker is shared.
        tag = f"iso{time.time_ns() % 10**8}"
        settings = load_settings(network_file(tmp_path, kafka_access, tag, {"KI": {}, "TV": {}}))
        participant = f"{tag}-p"
        service = DeliveryService(settings, catalog=FAKE)
        await ensure_topics(settings, service.topics)
        ki: FakeAdapter = next(w.adapter for w in service.workers if w.member == "KI")  # type: ignore[assignment]
        ki.down = True
        replies = TopicTail(kafka_access.bootstrap, reply_topic(participant), security=kafka_access.admin)
        await replies.start()
        running = asyncio.create_task(service.run())
        try:
            ki_sent = await put(kafka_access, "KI", participant, [f"KI-{i}" for i in range(30)])
            tv_sent = await put(kafka_access, "TV", participant, [f"TV-{i}" for i in range(30)])
            tv_replies = await replies.wait_for(set(tv_sent), timeout=30)
            assert set(tv_replies) == set(tv_sent), "TV waited for KI"
            assert all(read_response(r.value).status == "accepted" for r in tv_replies.values())
            assert not ki.registered and not (replies.records.keys() & ki_sent.keys())

            ki.down = False
            ki_replies = await replies.wait_for(set(ki_sent), timeout=60)
            assert set(ki_replies) == set(ki_sent)
            assert all(read_response(r.value).status == "accepted" for r in ki_replies.values())
            registered_lrns = [key.split(":")[1] for key in ki.registered]
            assert sorted(registered_lrns) == sorted(ki_sent.values())  # each exactly once
        finally:
            service.stop()
            await asyncio.wait_for(running, 30)
            await replies.stop()

    async def test_poison_message_does_not_block_the_ones_behind(self, kafka_access: KafkaAccess, tmp_path) -> None:
        """A declaration whose national answer is unreadable is rejected and parked; the ones after it
        on the same partition are delivered."""
        tag = f"poi{time.time_ns() % 10**8}"
        settings = load_settings(network_file(tmp_path, kafka_access, tag, {"NU": {"poison_lrns": ["NU-1"]}}))
        participant = f"{tag}-p"
        service = DeliveryService(settings, catalog=FAKE)
        await ensure_topics(settings, service.topics)
        replies = TopicTail(kafka_access.bootstrap, reply_topic(participant), security=kafka_access.admin)
        dlq = TopicTail(kafka_access.bootstrap, DEAD_LETTER, security=kafka_access.admin)
        await replies.start()
        await dlq.start()
        running = asyncio.create_task(service.run())
        try:
            # One key: all on one partition, the poison one in the middle.
            producer = AIOKafkaProducer(bootstrap_servers=kafka_access.bootstrap, **kafka_access.admin, acks="all")
            await producer.start()
            tids = []
            for i in range(5):
                tid, lrn = f"poison-{tag}-{i}", f"NU-{i}"
                headers = {h.TRACKING_ID: tid, h.PARTICIPANT: participant, h.MEMBER: "NU", h.LRN: lrn}
                await producer.send_and_wait(deliver_topic("NU"), make_declaration(member="NU", lrn=lrn, seed=i),
                                             key=b"same-key", headers=[(k, v.encode()) for k, v in headers.items()])
                tids.append(tid)
            await producer.stop()
            got = await replies.wait_for(set(tids), timeout=30)
            statuses = [read_response(got[t].value).status for t in tids]
            assert statuses == ["accepted", "rejected", "accepted", "accepted", "accepted"]
            parked = await dlq.wait_for({tids[1]}, timeout=10)
            assert dict((k, v.decode()) for k, v in parked[tids[1]].headers)[h.DLQ_STAGE] == "deliver"
        finally:
            service.stop()
            await asyncio.wait_for(running, 30)
            await replies.stop()
            await dlq.stop()


class TestDeliveryLoopFailures:
    async def test_kafka_error_mid_batch_loses_nothing(self, kafka_access: KafkaAccess, tmp_path) -> None:
        """When publishing a reply fails in the middle of a batch, the loop goes back to the first record not
        committed: every declaration of the batch still gets its answer."""
        from aiokafka.errors import KafkaTimeoutError

        tag = f"kerr{time.time_ns() % 10**8}"
        settings = load_settings(network_file(tmp_path, kafka_access, tag, {"CK": {}}))
        participant = f"{tag}-p"
        service = DeliveryService(settings, catalog=FAKE)
        await ensure_topics(settings, service.topics)
        real_send = AIOKafkaProducer.send
        failures = {"left": 1, "seen": 0}

        async def flaky_send(self, topic, *args, **kwargs):  # type: ignore[no-untyped-def]
            if topic == reply_topic(participant):
                failures["seen"] += 1
                if failures["seen"] == 3 and failures["left"]:
                    failures["left"] -= 1
                    raise KafkaTimeoutError("injected: the broker did not answer")
            return await real_send(self, topic, *args, **kwargs)

        replies = TopicTail(kafka_access.bootstrap, reply_topic(participant), security=kafka_access.admin)
        await replies.start()
        AIOKafkaProducer.send = flaky_send  # type: ignore[method-assign]
        try:
            # One key, one partition: all 15 arrive in one batch behind the failing one.
            producer = AIOKafkaProducer(bootstrap_servers=kafka_access.bootstrap, **kafka_access.admin, acks="all")
            await producer.start()
            tids = []
            for i in range(15):
                tid = f"{tag}-{i}"
                headers = {h.TRACKING_ID: tid, h.PARTICIPANT: participant, h.MEMBER: "CK", h.LRN: f"CK-{i}"}
                await producer.send_and_wait(deliver_topic("CK"), make_declaration(member="CK", lrn=f"CK-{i}", seed=i),
                                             key=b"one-key", headers=[(k, v.encode()) for k, v in headers.items()])
                tids.append(tid)
            await producer.stop()
            running = asyncio.create_task(service.run())
            got = await replies.wait_for(set(tids), timeout=30)
            assert failures["left"] == 0, "the injected failure never happened"
            assert set(got) == set(tids)
            fake: FakeAdapter = service.workers[0].adapter  # type: ignore[assignment]
            assert len(fake.registered) == 15  # the failed one was delivered twice, registered once
        finally:
            AIOKafkaProducer.send = real_send  # type: ignore[method-assign]
            service.stop()
            await asyncio.wait_for(running, 30)
            await replies.stop()

    async def test_crashed_member_loop_is_restarted(self, kafka_access: KafkaAccess, tmp_path) -> None:
        """A bug that crashes a member's loop is logged, the loop starts again, and delivery goes on."""
        tag = f"crash{time.time_ns() % 10**8}"
        settings = load_settings(network_file(tmp_path, kafka_access, tag, {"PW": {}}))
        participant = f"{tag}-p"
        service = DeliveryService(settings, catalog=FAKE)
        await ensure_topics(settings, service.topics)
        service.restart_delay = 0.2
        worker = service.workers[0]
        real_handle = worker.handle
        crashes = {"left": 1}

        async def crash_once(record):  # type: ignore[no-untyped-def]
            if crashes["left"]:
                crashes["left"] -= 1
                raise RuntimeError("injected bug")
            return await real_handle(record)

        worker.handle = crash_once  # type: ignore[method-assign]
        replies = TopicTail(kafka_access.bootstrap, reply_topic(participant), security=kafka_access.admin)
        await replies.start()
        running = asyncio.create_task(service.run())
        try:
            sent = await put(kafka_access, "PW", participant, [f"PW-{i}" for i in range(5)])
            got = await replies.wait_for(set(sent), timeout=30)
            assert crashes["left"] == 0
            assert set(got) == set(sent)
        finally:
            service.stop()
            await asyncio.wait_for(running, 30)
            await replies.stop()
