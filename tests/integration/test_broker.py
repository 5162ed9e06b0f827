"""The local Kafka broker, for real: topics, messages, and the ``oco-gateway broker`` commands."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import uuid
from pathlib import Path

import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.errors import KafkaTimeoutError, UnknownTopicOrPartitionError

from gateway.ops.broker import LocalBroker, free_ports

pytestmark = pytest.mark.kafka

REPO = Path(__file__).resolve().parents[2]


def unique(prefix: str) -> str:
    """Return a name no other test uses, so tests share the session broker without interfering."""
    return f"{prefix}.{uuid.uuid4().hex[:8]}"


class TestSessionBroker:
    """The broker the test session starts answers like any Kafka cluster."""

    async def test_topic_message_round_trip(self, kafka_bootstrap: str, kafka_auth: dict) -> None:
        """A created topic accepts a message that a consumer then reads back, key and value intact."""
        topic = unique("test.broker")
        admin = AIOKafkaAdminClient(bootstrap_servers=kafka_bootstrap, **kafka_auth)
        await admin.start()
        try:
            await admin.create_topics([NewTopic(topic, num_partitions=3, replication_factor=1)])
            # KRaft publishes a new topic's metadata a moment after create_topics returns.
            for _ in range(50):
                if topic in await admin.list_topics():
                    break
                await asyncio.sleep(0.1)
            assert topic in await admin.list_topics()
        finally:
            await admin.close()

        producer = AIOKafkaProducer(bootstrap_servers=kafka_bootstrap, **kafka_auth, acks="all")
        await producer.start()
        try:
            await producer.send_and_wait(topic, b"<Declaration/>", key=b"FJ")
        finally:
            await producer.stop()

        consumer = AIOKafkaConsumer(topic, bootstrap_servers=kafka_bootstrap, **kafka_auth, group_id=unique("test.group"),
                                    auto_offset_reset="earliest")
        await consumer.start()
        try:
            message = await asyncio.wait_for(consumer.getone(), timeout=30)
        finally:
            await consumer.stop()
        assert (message.key, message.value) == (b"FJ", b"<Declaration/>")

    async def test_unknown_topic_is_not_auto_created(self, kafka_bootstrap: str, kafka_auth: dict) -> None:
        """Producing to a missing topic fails instead of creating it (auto.create.topics.enable=false)."""
        topic = unique("test.nowhere")
        producer = AIOKafkaProducer(bootstrap_servers=kafka_bootstrap, **kafka_auth, request_timeout_ms=3000)
        await producer.start()
        try:
            with pytest.raises((UnknownTopicOrPartitionError, KafkaTimeoutError)):
                await producer.send_and_wait(topic, b"lost")
        finally:
            await producer.stop()
        admin = AIOKafkaAdminClient(bootstrap_servers=kafka_bootstrap, **kafka_auth)
        await admin.start()
        try:
            assert topic not in await admin.list_topics()
        finally:
            await admin.close()


def oco_broker(*args: str) -> subprocess.CompletedProcess[str]:
    """Run ``python -m gateway broker ARGS`` in its own process, as an operator would run ``oco-gateway broker``."""
    return subprocess.run([sys.executable, "-m", "gateway", "broker", *args], cwd=REPO, env=os.environ.copy(),
                          capture_output=True, text=True, timeout=300, check=False)


@pytest.mark.slow
class TestBrokerCommands:
    """``oco-gateway broker start|status|stop`` on a second broker with its own ports and state dir."""

    def test_start_status_stop_round_trip(self, tmp_path: Path) -> None:
        """start detaches a broker that outlives the command; status exits 0 then 3; start and stop are idempotent."""
        state = tmp_path / "state"
        port, controller_port = free_ports(2)
        where = ["--state-dir", str(state)]
        try:
            started = oco_broker("start", *where, "--port", str(port), "--controller-port", str(controller_port),
                                 "--heap-opts", "-Xmx384m -Xms128m", "--timeout", "120")
            assert started.returncode == 0, started.stderr
            assert f"bootstrap 127.0.0.1:{port}" in started.stdout

            # The start command has exited; the broker must still run, and status finds its port by itself.
            running = oco_broker("status", *where)
            assert (running.returncode, running.stdout.split()[0]) == (0, "running"), running.stderr
            assert f"127.0.0.1:{port}" in running.stdout

            again = oco_broker("start", *where)
            assert again.returncode == 0 and "already running" in again.stdout

            stopped = oco_broker("stop", *where)
            assert stopped.returncode == 0 and "stopped" in stopped.stdout, stopped.stderr

            after = oco_broker("status", *where)
            assert (after.returncode, after.stdout.split()[0]) == (3, "stopped")

            twice = oco_broker("stop", *where)
            assert twice.returncode == 0 and "not running" in twice.stdout
        finally:
            LocalBroker(state).stop()  # never leak a broker when an assertion fails midway
