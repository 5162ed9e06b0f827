"""Concurrent delivery on the real broker keeps each declaration's versions in order: real processes (Kafka, an
ASYCUDA World simulator answering after a varying delay, ``oco-gateway deliver`` at concurrency 8), and the
national system's own record of the calls it received as the evidence."""

from __future__ import annotations

import asyncio
import contextlib
import json
import random
import time
import urllib.request
from pathlib import Path

import httpx
import pytest
import yaml
from aiokafka import AIOKafkaProducer

from gateway import headers as h
from gateway.access.identities import DELIVERY, GATEWAY
from gateway.ops.broker import free_ports
from gateway.ops.process import ChildProcess, GatewayProcess
from gateway.responses import read_response
from gateway.samples import make_declaration
from gateway.sdk import idempotency_key
from gateway.topics import deliver_topic, reply_topic
from gateway.transport.client import TopicTail
from tests.conftest import KafkaAccess

pytestmark = [pytest.mark.kafka, pytest.mark.slow]

MEMBER = "VU"  # a member no other test uses: its delivery topics and consumer group are its own on the shared broker
CONCURRENCY = 8
KEYS, VERSIONS = 20, 6  # declarations, and versions of each: the original (9), then amendments (13)
DELAYS = (0.0, 0.005, 0.02, 0.05, 0.08)  # the national system's delay, changed at random while it works


def calls_of(port: int) -> list[dict]:
    """The simulator's call log: every declaration it received, in order of arrival, with its events' numbers."""
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/control/calls", timeout=5) as resp:
        return json.loads(resp.read())["calls"]


def peak_in_flight(calls: list[dict]) -> int:
    """The most calls the national system was answering at once (arrivals and answers share one numbering)."""
    events = sorted([(c["started"], 1) for c in calls] + [(c["ended"], -1) for c in calls])
    level = peak = 0
    for _, step in events:
        level += step
        peak = max(peak, level)
    return peak


async def vary_delay(port: int, stop: asyncio.Event) -> None:
    """Change the simulator's delay every few milliseconds, so answers come back in no fixed order."""
    draw = random.Random(8)
    async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}", timeout=5) as client:
        while not stop.is_set():
            await client.post("/control", json={"delay": draw.choice(DELAYS)})
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), 0.015)


class TestConcurrentDeliveryOrder:
    async def test_versions_of_a_declaration_reach_the_national_system_in_order(self, kafka_access: KafkaAccess,
                                                                                tmp_path: Path) -> None:
        """At concurrency 8, calls overlap, yet every declaration's versions reach the national system one at a
        time in offset order, each registered once, and every version gets its final reply."""
        sim_port, dl_port = free_ports(2)
        tag = f"ord{time.time_ns() % 10**8}"
        participant = f"{tag}-broker"
        config = tmp_path / "network.yaml"
        config.write_text(yaml.safe_dump({
            "kafka": {"bootstrap_servers": kafka_access.bootstrap, "group_id": f"gw-{tag}"},
            "participants": {participant: {"name": "Order test broker"}},
            "members": {MEMBER: {"name": MEMBER, "submitters": [participant],
                                 "adapter": {"name": "asycuda", "settings": {"url": f"http://127.0.0.1:{sim_port}"}},
                                 "delivery": {"concurrency": CONCURRENCY, "rate_per_second": 10_000}}},
        }))
        kafka_access.provision(config)

        # Versions interleaved across keys at random (a key's next version often right behind the one before, as
        # often several records later), so a partition holds many keys' versions mixed, more of them than calls in
        # flight; within a key, offset order is the order published.
        draw = random.Random(2026)
        left = {k: list(range(VERSIONS)) for k in range(KEYS)}
        order = []
        while left:
            k = draw.choice(sorted(left))
            order.append((k, left[k].pop(0)))
            if not left[k]:
                del left[k]
        versions: dict[str, tuple[str, int]] = {}  # idempotency key -> (LRN, version)
        tracking: list[str] = []
        producer = AIOKafkaProducer(bootstrap_servers=kafka_access.bootstrap, **kafka_access.security(GATEWAY),
                                    acks="all", enable_idempotence=True)
        await producer.start()
        try:
            acks = []
            for k, v in order:
                lrn, code = f"{tag}-{k:03d}", "9" if v == 0 else "13"
                payload = make_declaration(member=MEMBER, lrn=lrn, function_code=code, seed=k * VERSIONS + v)
                versions[idempotency_key(participant, lrn, code, payload)] = (lrn, v)
                tid = f"{lrn}-v{v}"
                tracking.append(tid)
                headers = {h.TRACKING_ID: tid, h.PARTICIPANT: participant, h.MEMBER: MEMBER, h.LRN: lrn,
                           h.FUNCTION_CODE: code}
                acks.append(await producer.send(deliver_topic(MEMBER), payload, key=f"{participant}:{lrn}".encode(),
                                                headers=[(n, x.encode()) for n, x in headers.items()]))
            await asyncio.gather(*acks)  # all queued before delivery starts: the loop finds a backlog
        finally:
            await producer.stop()
        assert len(versions) == KEYS * VERSIONS

        simulator = ChildProcess(["simulate", "asycuda", "--member", MEMBER, "--port", str(sim_port)],
                                 ready_url=f"http://127.0.0.1:{sim_port}/health", log_path=tmp_path / "asycuda.log")
        deliver = GatewayProcess(config, bootstrap_servers=kafka_access.bootstrap, metrics_port=dl_port,
                                 log_path=tmp_path / "deliver.log", command=("deliver",),
                                 env=kafka_access.env(DELIVERY))
        replies = TopicTail(kafka_access.bootstrap, reply_topic(participant), security=kafka_access.admin)
        await replies.start()
        stop = asyncio.Event()
        varying = None
        try:
            await asyncio.to_thread(simulator.start)
            varying = asyncio.create_task(vary_delay(sim_port, stop))
            await asyncio.to_thread(deliver.start)
            got = await replies.wait_for(set(tracking), timeout=300)
            missing = set(tracking) - set(got)
            assert not missing, f"{len(missing)} versions got no final reply; deliver.log ends:\n{deliver.log_tail()}"
            statuses = {tid: read_response(got[tid].value).status for tid in tracking}
            assert set(statuses.values()) == {"accepted"}, statuses
            calls = calls_of(sim_port)
        finally:
            stop.set()
            if varying is not None:
                await varying
            await replies.stop()
            await asyncio.to_thread(deliver.stop)
            await asyncio.to_thread(simulator.stop)

        # (c) every version was registered exactly once: one call each, no replays, nothing unknown.
        assert sorted(c["key"] for c in calls) == sorted(versions), "a version was called twice, or not at all"
        assert all(c["ended"] is not None for c in calls)
        # (a) concurrency was really used, and never more than configured.
        peak = peak_in_flight(calls)
        assert 1 < peak <= CONCURRENCY, f"at most {peak} calls in flight at the national system"
        # (b) each declaration's versions: in offset order, each answered before the next arrived.
        by_lrn: dict[str, list[dict]] = {}
        for call in calls:  # in order of arrival
            by_lrn.setdefault(versions[call["key"]][0], []).append(call)
        for lrn, own in by_lrn.items():
            assert [versions[c["key"]][1] for c in own] == list(range(VERSIONS)), f"{lrn} out of order"
            for before, after in zip(own, own[1:]):
                assert before["ended"] < after["started"], f"two versions of {lrn} in flight together"
