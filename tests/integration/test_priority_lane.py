"""The priority lane on the real broker: a recognised trader's declaration overtakes a backlog, and a lane that
never runs dry still leaves ordinary declarations their turn."""

from __future__ import annotations

import asyncio
import time
from importlib.metadata import EntryPoint

import pytest
import yaml
from aiokafka import AIOKafkaProducer

from gateway import headers as h
from gateway.access.identities import DELIVERY, GATEWAY
from gateway.config import GatewaySettings, load_settings
from gateway.delivery.service import DeliveryService
from gateway.plugins import ADAPTER_GROUP, AdapterCatalog
from gateway.responses import read_response
from gateway.samples import make_declaration
from gateway.sdk.testing import FakeAdapter
from gateway.topics import deliver_topic, priority_topic, reply_topic
from gateway.transport.client import TopicTail
from gateway.transport.topics import ensure_topics
from tests.conftest import KafkaAccess
from tests.waiting import until

pytestmark = [pytest.mark.kafka, pytest.mark.slow]

FAKE = AdapterCatalog([EntryPoint("fake", "gateway.sdk.testing:FakeAdapter", ADAPTER_GROUP)])


def network(tmp_path, access: KafkaAccess, tag: str, member: str, adapter: dict, delivery: dict) -> GatewaySettings:
    """Write and provision a one-member network whose delivery runs as the central delivery identity."""
    path = tmp_path / "network.yaml"
    path.write_text(yaml.safe_dump({
        "kafka": {"bootstrap_servers": access.bootstrap, "group_id": f"gw-{tag}", "username": DELIVERY,
                  "password_file": access.env(DELIVERY)["OCO_KAFKA__PASSWORD_FILE"]},
        "participants": {f"{tag}-p": {"name": "P"}},
        "members": {member: {"name": member, "submitters": [f"{tag}-p"],
                             "adapter": {"name": "fake", "settings": adapter},
                             "delivery": {"rate_per_second": 10_000, **delivery}}},
    }))
    access.provision(path)
    return load_settings(path)


def headers_of(member: str, participant: str, lrn: str, *, priority: bool) -> list[tuple[str, bytes]]:
    """The headers the gateway puts on a routed declaration (and on the lane, the lane and the recognition)."""
    found = {h.TRACKING_ID: f"{member}-{lrn}", h.PARTICIPANT: participant, h.MEMBER: member, h.LRN: lrn,
             h.FUNCTION_CODE: "9"}
    if priority:
        found |= {h.LANE: "priority", h.AEO_RECOGNISED: f"{member}0000001 AEOF {member}"}
    return [(k, v.encode()) for k, v in found.items()]


async def publish(producer: AIOKafkaProducer, member: str, participant: str, lrns: list[str], *,
                  priority: bool, keys: int | None = None) -> None:
    """Publish declarations as the gateway routes them, without waiting for each ack (then all of them).

    Args:
        keys: spread over this many record keys (versions of as many declarations); one key per LRN by default.
    """
    payload = make_declaration(member=member, lrn="LANE-TEST", seed=1)  # the fake reads the LRN from the headers
    topic = priority_topic(member) if priority else deliver_topic(member)
    acks = []
    for i, lrn in enumerate(lrns):
        key = f"{participant}:{lrn if keys is None else f'key-{i % keys}'}".encode()
        acks.append(await producer.send(topic, payload, key=key,
                                        headers=headers_of(member, participant, lrn, priority=priority)))
    await asyncio.gather(*acks)


def call_index(adapter: FakeAdapter, tracking_id: str) -> int | None:
    return next((i for i, d in enumerate(adapter.calls) if d.tracking_id == tracking_id), None)


class TestPriorityLane:
    @pytest.mark.parametrize("concurrency", [1, 4])
    async def test_recognised_declaration_overtakes_a_backlog(self, kafka_access: KafkaAccess, tmp_path,
                                                              concurrency: int) -> None:
        """Behind 5,000 queued ordinary declarations, one published on the priority lane reaches the national
        system within a few calls (a few rounds of calls in flight), long before the backlog is drained, and
        is answered."""
        # A member no other test (nor the other concurrency) uses: its topics and group are its own.
        member, backlog = {1: "MH", 4: "NR"}[concurrency], 5000
        tag = f"lane{time.time_ns() % 10**8}"
        participant = f"{tag}-p"
        settings = network(tmp_path, kafka_access, tag, member, {"delay": 0.005}, {"concurrency": concurrency})
        service = DeliveryService(settings, catalog=FAKE)
        await ensure_topics(settings, service.topics)
        adapter: FakeAdapter = service.workers[0].adapter  # type: ignore[assignment]
        producer = AIOKafkaProducer(bootstrap_servers=kafka_access.bootstrap, **kafka_access.security(GATEWAY), acks="all",
                                    linger_ms=20)
        await producer.start()
        replies = TopicTail(kafka_access.bootstrap, reply_topic(participant), security=kafka_access.admin)
        await replies.start()
        running = None
        try:
            await publish(producer, member, participant, [f"ORD-{i}" for i in range(backlog)], priority=False)
            running = asyncio.create_task(service.run())
            await until(lambda: len(adapter.calls) >= 50, "the backlog's first 50 national calls", every=0.01)

            tid = f"{member}-PRIO-1"
            before = len(adapter.calls)  # the call in flight, if any, is among these
            await publish(producer, member, participant, ["PRIO-1"], priority=True)
            await until(lambda: call_index(adapter, tid) is not None, "the priority declaration's call", every=0.01)
            index = call_index(adapter, tid)
            assert index is not None
            ahead = index - before
            # With n calls in flight, n times as many calls are made in the same time.
            assert ahead <= 10 * concurrency, f"{ahead} national calls were made between its publication and its own"
            assert index < backlog - 1000, "it waited for most of the backlog"

            got = await replies.wait_for({tid}, timeout=60)
            assert read_response(got[tid].value).status == "accepted"
            lanes = {lane: service.metrics.registry.get_sample_value(
                "oco_gateway_delivery_lane_total", {"member": member, "lane": lane}) for lane in ("priority", "ordinary")}
            assert lanes["priority"] == 1 and (lanes["ordinary"] or 0) >= 50
        finally:
            service.stop()
            if running is not None:
                await asyncio.wait_for(running, 30)
            await replies.stop()
            await producer.stop()

    async def test_a_lane_that_never_runs_dry_leaves_ordinary_records_their_turn(self, kafka_access: KafkaAccess,
                                                                               tmp_path) -> None:
        """With the priority lane always full, one ordinary declaration goes through after every
        `priority_burst` priority ones; each key's versions still reach the national system in order."""
        member, burst, count = "FM", 3, 60
        tag = f"burst{time.time_ns() % 10**8}"
        participant = f"{tag}-p"
        # One call at a time, so the order of calls is the scheduler's order (with more in flight, a slot no
        # priority record may take, its keys all busy, goes to an ordinary one).
        settings = network(tmp_path, kafka_access, tag, member, {}, {"priority_burst": burst, "concurrency": 1})
        service = DeliveryService(settings, catalog=FAKE)
        await ensure_topics(settings, service.topics)
        adapter: FakeAdapter = service.workers[0].adapter  # type: ignore[assignment]
        producer = AIOKafkaProducer(bootstrap_servers=kafka_access.bootstrap, **kafka_access.security(GATEWAY), acks="all",
                                    linger_ms=20)
        await producer.start()
        running = None
        try:
            # Everything is queued before delivery starts: the lane holds more than the loop can take at once.
            await publish(producer, member, participant, [f"ORD-{i:03d}" for i in range(count)], priority=False, keys=5)
            await publish(producer, member, participant, [f"PRIO-{i:03d}" for i in range(count)], priority=True, keys=5)
            running = asyncio.create_task(service.run())
            await until(lambda: len({d.lrn for d in adapter.calls}) == 2 * count, "every declaration's call",
                        every=0.01)
        finally:
            service.stop()
            if running is not None:
                await asyncio.wait_for(running, 30)
            await producer.stop()

        lanes = "".join("P" if d.lrn.startswith("PRIO") else "o" for d in adapter.calls)
        last_priority = lanes.rindex("P")
        runs = [len(run) for run in lanes[:last_priority + 1].split("o") if run]
        assert max(runs) <= burst, f"a run of {max(runs)} priority calls while ordinary ones waited: {lanes}"
        ordinary_meanwhile = lanes[:last_priority].count("o")
        assert ordinary_meanwhile >= count // burst - 1, lanes  # their turn came
        assert ordinary_meanwhile <= count // burst + 10, lanes  # and the lane still went first
        for key in range(5):  # per-key order: each key's versions in the order published
            for prefix in ("ORD", "PRIO"):
                seen = [int(d.lrn.split("-")[1]) for d in adapter.calls
                        if d.lrn.startswith(prefix) and int(d.lrn.split("-")[1]) % 5 == key]
                firsts = list(dict.fromkeys(seen))
                assert firsts == sorted(firsts), f"{prefix} key {key} out of order: {seen}"
