"""Crashes mid-stream, in both delivery modes: SIGKILL of the gateway, and SIGKILL of the broker.

At-least-once (the default) loses nothing and may duplicate (duplicates are counted and printed); exactly-once
(``gateway.exactly_once``) loses nothing and duplicates nothing on any output topic, read committed.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from aiokafka.errors import KafkaError

from gateway.access.local import LocalAccess
from gateway.ops.broker import LocalBroker, free_ports
from gateway.samples import make_declaration
from gateway.topics import deliver_topic, reply_topic
from gateway.transport.client import ParticipantClient, TopicTail
from tests.integration.conftest import Network

pytestmark = [pytest.mark.kafka, pytest.mark.slow]

MODES = {"at_least_once": {}, "exactly_once": {"OCO_GATEWAY__EXACTLY_ONCE": "true"}}


async def collect(tail: TopicTail, ids: set[str], at_least: int, timeout: float) -> None:
    """Read until ``at_least`` of ``ids`` were seen (or the time is up), riding out a broker outage."""
    deadline = time.monotonic() + timeout
    while len(tail.records.keys() & ids) < at_least and time.monotonic() < deadline:
        try:
            await tail.wait_for(ids, timeout=0.5)
        except KafkaError:  # the broker is being restarted
            await asyncio.sleep(0.5)


class Stream:
    """Declarations of one test (every tenth malformed: the rejection path too) and what became of them."""

    def __init__(self, network: Network, tag: str, total: int) -> None:
        self.network, self.total = network, total
        self.ids = [f"crash-{tag}-{i:05d}" for i in range(total)]
        self.valid = {t for i, t in enumerate(self.ids) if i % 10}
        self.replies = TopicTail(network.bootstrap, reply_topic(network.fiji), security=network.admin)
        self.deliveries = TopicTail(network.bootstrap, deliver_topic("FJ"), security=network.admin)
        self.tag = tag

    async def __aenter__(self) -> Stream:
        await self.replies.start()
        await self.deliveries.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.replies.stop()
        await self.deliveries.stop()

    async def submit(self) -> None:
        templates = [make_declaration(member="FJ", lrn=f"CRASH-{i}", items=1 + i % 5, seed=i) for i in range(50)]
        network = self.network
        async with ParticipantClient(network.bootstrap, network.fiji, security=network.identity(network.fiji)) as client:
            sent = []
            for i, tracking_id in enumerate(self.ids):
                lrn = f"CRASH-{self.tag}-{i:05d}"
                body = templates[i % 50].replace(f"CRASH-{i % 50}".encode(), lrn.encode(), 1)
                sent.append(await client.send(body if i % 10 else body[:200], key=f"{network.fiji}:{lrn}".encode(),
                                              tracking_id=tracking_id))
            await asyncio.gather(*(ack for _, ack in sent))

    async def wait_started(self) -> int:
        await collect(self.replies, set(self.ids), at_least=self.total // 4, timeout=120)
        done = len(self.replies.records.keys() & set(self.ids))
        assert done < self.total, "the gateway finished before the crash: the test proved nothing"
        return done

    async def wait_finished(self) -> None:
        await collect(self.replies, set(self.ids), at_least=self.total, timeout=240)
        await collect(self.deliveries, self.valid, at_least=len(self.valid), timeout=60)

    def duplicates(self) -> dict[str, int]:
        """Records seen more than once per output topic, by tracking id."""
        return {tail.topic: sum(len(tail.history[t]) - 1 for t in self.ids if t in tail.history)
                for tail in (self.replies, self.deliveries)}

    def check(self, mode: str) -> None:
        """Nothing lost; exactly-once: nothing twice on any output topic (at-least-once: counted only)."""
        wanted = set(self.ids)
        missing_replies = wanted - self.replies.records.keys()
        missing_deliveries = self.valid - self.deliveries.records.keys()
        assert not missing_replies, f"{len(missing_replies)} inputs lost their reply, e.g. {sorted(missing_replies)[:5]}"
        assert not missing_deliveries, f"{len(missing_deliveries)} valid inputs never delivered"
        assert not (self.deliveries.records.keys() - self.valid), "a malformed input was delivered"
        duplicates = self.duplicates()
        print(f"{mode}: duplicates per output topic: {duplicates}")
        if mode == "exactly_once":
            assert not any(duplicates.values()), f"duplicates in exactly-once mode: {duplicates}"


@pytest.mark.parametrize("mode", list(MODES))
class TestGatewayKilled:
    async def test_sigkill_of_the_gateway_mid_stream(self, network: Network, tmp_path: Path, mode: str) -> None:
        """Kill -9 the gateway while it works through 2000 declarations, restart it: every input has its reply
        and every valid one its delivery; in exactly-once mode none of them twice."""
        async with Stream(network, f"gw-{mode}", 2000) as stream:
            await stream.submit()
            first = network.gateway(tmp_path, "first", env=MODES[mode])
            first.start()
            done = await stream.wait_started()
            first.kill()
            print(f"{mode}: gateway killed after {done} of {stream.total} replies")
            second = network.gateway(tmp_path, "second", env=MODES[mode])
            second.start()
            try:
                await stream.wait_finished()
            finally:
                second.stop()
        stream.check(mode)


@pytest.fixture(scope="module")
def own_broker(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalBroker]:
    """A broker of this module's own (the session's is shared: killing it would fail other tests)."""
    port, controller_port = free_ports(2)
    broker = LocalBroker(tmp_path_factory.mktemp("crash-kafka"), port=port, controller_port=controller_port,
                         insecure=False)
    broker.start(timeout=120)
    try:
        yield broker
    finally:
        broker.stop()


def kill_broker(broker: LocalBroker) -> None:
    """SIGKILL the broker's JVM (no clean shutdown: its logs are recovered at the next start)."""
    pid = int(broker.pid_file.read_text().strip())
    os.kill(pid, signal.SIGKILL)
    deadline = time.monotonic() + 30
    while Path(f"/proc/{pid}").exists() and time.monotonic() < deadline:
        with contextlib.suppress(ChildProcessError):
            os.waitpid(pid, os.WNOHANG)
        time.sleep(0.1)


@pytest.mark.parametrize("mode", list(MODES))
class TestBrokerKilled:
    async def test_sigkill_of_the_broker_mid_stream(self, own_broker: LocalBroker, tmp_path: Path, mode: str) -> None:
        """Kill -9 the broker while the gateway works through 2000 declarations, restart it on the same state:
        the gateway resumes, nothing is lost, and in exactly-once mode nothing is published twice."""
        network = Network(tmp_path, LocalAccess(own_broker, tmp_path / "secrets"))  # type: ignore[arg-type]
        async with Stream(network, f"broker-{mode}", 2000) as stream:
            await stream.submit()
            gateway = network.gateway(tmp_path, "gateway", env=MODES[mode])
            gateway.start()
            try:
                done = await stream.wait_started()
                kill_broker(own_broker)
                print(f"{mode}: broker killed after {done} of {stream.total} replies")
                # The gateway notices (its /readyz pings the broker) before the broker comes back.
                deadline = time.monotonic() + 60
                while await asyncio.to_thread(gateway.ready) and time.monotonic() < deadline:
                    await asyncio.sleep(0.2)
                assert not await asyncio.to_thread(gateway.ready), "the gateway never noticed the broker was gone"
                await asyncio.to_thread(own_broker.start, 120)
                await stream.wait_finished()
            finally:
                gateway.stop()
        stream.check(mode)


class TestZombie:
    async def test_frozen_gateway_cannot_commit_after_its_partitions_moved(self, network: Network,
                                                                           tmp_path: Path) -> None:
        """Exactly-once: freeze a gateway (SIGSTOP) mid-stream until a second one takes its partitions over, then
        let it run again (a zombie with a batch in hand): its transactions are fenced, nothing is published twice
        and nothing is lost."""
        mode = "exactly_once"
        async with Stream(network, "zombie", 3000) as stream:
            await stream.submit()
            zombie = network.gateway(tmp_path, "zombie", env=MODES[mode])
            zombie.start()
            taker = network.gateway(tmp_path, "taker", env=MODES[mode])
            try:
                frozen_at = await stream.wait_started()
                os.kill(zombie._process.pid, signal.SIGSTOP)  # noqa: SLF001 - the test's own child
                print(f"zombie frozen after {frozen_at} of {stream.total} replies")
                taker.start()
                ids = set(stream.ids)
                # The taker works only once the group evicted the frozen one (session timeout) and fenced it.
                await collect(stream.replies, ids, at_least=len(stream.replies.records.keys() & ids) + 200,
                              timeout=120)
                os.kill(zombie._process.pid, signal.SIGCONT)  # noqa: SLF001
                await stream.wait_finished()
            finally:
                with contextlib.suppress(ProcessLookupError):
                    os.kill(zombie._process.pid, signal.SIGCONT)  # noqa: SLF001
                zombie.stop()
                taker.stop()
        print(f"zombie: {zombie.log_path.read_text().count('transaction_fenced')} transactions fenced")
        stream.check(mode)
