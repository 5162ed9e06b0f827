"""The delivery worker killed with SIGKILL mid-stream, on the real broker, against a real ASYCUDA World
simulator: at-least-once loses nothing (duplicates counted), exactly-once loses nothing and answers each
declaration once (read_committed)."""

from __future__ import annotations

import asyncio
import time
from collections import Counter
from pathlib import Path

import pytest
import yaml
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition

from gateway import headers as h
from gateway.access.identities import DELIVERY, GATEWAY
from gateway.ops.broker import free_ports
from gateway.ops.process import ChildProcess, GatewayProcess
from gateway.samples import make_declaration
from gateway.topics import deliver_topic, reply_topic
from gateway.transport.client import topic_partitions
from tests.conftest import KafkaAccess
from tests.waiting import until

pytestmark = [pytest.mark.kafka, pytest.mark.slow]

TOTAL = 240
KILLS = 2


def network_file(tmp_path: Path, access: KafkaAccess, tag: str, member: str, url: str, exactly_once: bool) -> Path:
    """A one-member network delivered to over HTTP, its delivery running as the central delivery identity."""
    path = tmp_path / "network.yaml"
    path.write_text(yaml.safe_dump({
        "kafka": {"bootstrap_servers": access.bootstrap, "group_id": f"gw-{tag}"},
        "gateway": {"exactly_once": exactly_once},
        "participants": {f"{tag}-p": {"name": "P"}},
        "members": {member: {"name": member, "submitters": [f"{tag}-p"],
                             "adapter": {"name": "asycuda", "settings": {"url": url}},
                             "delivery": {"rate_per_second": 10_000, "concurrency": 4}}},
    }))
    access.provision(path)
    return path


async def publish(access: KafkaAccess, member: str, participant: str, count: int) -> set[str]:
    """Route ``count`` declarations to the member as the gateway does; return their tracking ids."""
    producer = AIOKafkaProducer(bootstrap_servers=access.bootstrap, **access.security(GATEWAY), acks="all",
                                linger_ms=5)
    await producer.start()
    ids, acks = set(), []
    try:
        for i in range(count):
            lrn = f"KILL-{i:04d}"
            tid = f"{member}-{lrn}"
            headers = {h.TRACKING_ID: tid, h.PARTICIPANT: participant, h.MEMBER: member, h.LRN: lrn,
                       h.FUNCTION_CODE: "9"}
            acks.append(await producer.send(deliver_topic(member), make_declaration(member=member, lrn=lrn, seed=i),
                                            key=f"{participant}:{lrn}".encode(),
                                            headers=[(k, v.encode()) for k, v in headers.items()]))
            ids.add(tid)
        await asyncio.gather(*acks)
    finally:
        await producer.stop()
    return ids


async def replies(access: KafkaAccess, topic: str) -> Counter[str]:
    """Every committed reply on ``topic`` from its beginning, counted per tracking id."""
    consumer = AIOKafkaConsumer(bootstrap_servers=access.bootstrap, **access.admin, enable_auto_commit=False,
                                isolation_level="read_committed")
    await consumer.start()
    try:
        partitions = [TopicPartition(topic, p) for p in sorted(await topic_partitions(consumer, topic))]
        consumer.assign(partitions)
        await consumer.seek_to_beginning(*partitions)
        # The last stable offset: what read_committed readers can reach (no transaction left open).
        ends = await consumer.end_offsets(partitions)
        seen: Counter[str] = Counter()
        deadline = time.monotonic() + 60  # a transaction left open by a killed worker ends when it is fenced
        while [tp for tp in partitions if await consumer.position(tp) < ends[tp]] and time.monotonic() < deadline:
            for records in (await consumer.getmany(timeout_ms=500)).values():
                for r in records:
                    seen[dict(r.headers).get(h.TRACKING_ID, b"").decode()] += 1
        return seen
    finally:
        await consumer.stop()


class TestDeliveryCrash:
    @pytest.mark.parametrize("exactly_once", [False, True], ids=["at-least-once", "exactly-once"])
    async def test_sigkill_of_the_delivery_worker_mid_stream(self, kafka_access: KafkaAccess, tmp_path: Path,
                                                             exactly_once: bool) -> None:
        """Kill -9 the delivery worker twice while it delivers, restart it each time: every declaration gets
        its reply; in exactly-once mode each gets exactly one (the national system sees the replays)."""
        member = "VU" if exactly_once else "CK"  # members no other test uses: topics and groups of their own
        tag = f"dk{time.time_ns() % 10**8}"
        sim_port, metrics_port = free_ports(2)
        simulator = ChildProcess(["simulate", "asycuda", "--member", member, "--port", str(sim_port),
                                  "--delay", "0.02"], ready_url=f"http://127.0.0.1:{sim_port}/health",
                                 log_path=tmp_path / "asycuda.log")
        path = network_file(tmp_path, kafka_access, tag, member, f"http://127.0.0.1:{sim_port}", exactly_once)
        participant = f"{tag}-p"
        topic = reply_topic(participant)
        deliver = GatewayProcess(path, bootstrap_servers=kafka_access.bootstrap, metrics_port=metrics_port,
                                 log_path=tmp_path / "deliver.log", command=("deliver",), env=kafka_access.env(DELIVERY))
        with simulator:
            ids = await publish(kafka_access, member, participant, TOTAL)
            try:
                for kill in range(1, KILLS + 1):
                    deliver.start()
                    goal = TOTAL * kill // (KILLS + 1)

                    async def halfway(goal: int = goal) -> bool:
                        return len((await replies(kafka_access, topic)).keys() & ids) >= goal

                    await until(halfway, f"{goal} replies before kill {kill}", 240, every=0.2)
                    deliver.kill()
                deliver.start()

                async def all_answered() -> bool:
                    return (await replies(kafka_access, topic)).keys() >= ids

                await until(all_answered, "every reply", 240, every=0.2)
            finally:
                deliver.stop()  # finishes its calls in flight and commits: every reply it will ever send is out
        seen = await replies(kafka_access, topic)
        duplicates = sum(n - 1 for n in seen.values())
        print(f"{'exactly' if exactly_once else 'at-least'}-once: {len(seen)} answered, {duplicates} duplicates")
        assert seen.keys() == ids
        if exactly_once:
            assert duplicates == 0, f"{duplicates} replies published twice: {[t for t, n in seen.items() if n > 1][:5]}"
