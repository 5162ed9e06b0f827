"""At-least-once: a gateway killed with SIGKILL mid-stream loses nothing once it is restarted."""

from __future__ import annotations

import asyncio
import time

import pytest

from gateway.samples import make_declaration
from gateway.topics import deliver_topic, reply_topic
from gateway.transport.client import ParticipantClient, TopicTail

pytestmark = [pytest.mark.kafka, pytest.mark.slow]

TOTAL = 3000


async def wait_until(tail: TopicTail, ids: set[str], at_least: int, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while len(tail.records.keys() & ids) < at_least and time.monotonic() < deadline:
        await tail.wait_for(ids, timeout=0.5)


class TestCrashRecovery:
    async def test_sigkill_mid_stream_loses_nothing(self, network, tmp_path) -> None:
        """Kill -9 the gateway while it works through 3000 declarations, restart it: every input has its
        reply and every valid one its delivery (duplicates allowed, loss never)."""
        templates = [make_declaration(member="FJ", lrn=f"CRASH-{i}", items=1 + i % 5, seed=i) for i in range(50)]
        payloads = []
        for i in range(TOTAL):
            body = templates[i % 50].replace(f"CRASH-{i % 50}".encode(), f"CRASH-{i:05d}".encode(), 1)
            payloads.append(body if i % 10 else body[:200])  # every tenth is malformed: a rejection path too
        replies = TopicTail(network.bootstrap, reply_topic(network.fiji), security=network.admin)
        deliveries = TopicTail(network.bootstrap, deliver_topic("FJ"), security=network.admin)
        await replies.start()
        await deliveries.start()
        try:
            async with ParticipantClient(network.bootstrap, network.fiji, security=network.identity(network.fiji)) as client:
                ids = [f"crash-{i:05d}" for i in range(TOTAL)]
                sent = [await client.send(p, key=f"{network.fiji}:CRASH-{i:05d}".encode(), tracking_id=t)
                        for i, (p, t) in enumerate(zip(payloads, ids))]
                await asyncio.gather(*(ack for _, ack in sent))
            wanted = set(ids)

            first = network.gateway(tmp_path, "first")
            first.start()
            await wait_until(replies, wanted, at_least=TOTAL // 4, timeout=120)
            done_before_kill = len(replies.records.keys() & wanted)
            first.kill()
            print(f"killed after {done_before_kill} of {TOTAL} replies")
            assert done_before_kill < TOTAL, "the gateway finished before the kill: the test proved nothing"

            second = network.gateway(tmp_path, "second")
            second.start()
            try:
                await wait_until(replies, wanted, at_least=TOTAL, timeout=240)
                await wait_until(deliveries, {t for i, t in enumerate(ids) if i % 10}, at_least=TOTAL - TOTAL // 10,
                                 timeout=30)
            finally:
                second.stop()
        finally:
            await replies.stop()
            await deliveries.stop()

        missing_replies = wanted - replies.records.keys()
        valid = {t for i, t in enumerate(ids) if i % 10}
        missing_deliveries = valid - deliveries.records.keys()
        assert not missing_replies, f"{len(missing_replies)} inputs lost their reply, e.g. {sorted(missing_replies)[:5]}"
        assert not missing_deliveries, f"{len(missing_deliveries)} valid inputs never delivered"
        assert not (deliveries.records.keys() - valid), "a malformed input was delivered"
