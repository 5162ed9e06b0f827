"""The lag watch on the real broker: records waiting for a group are counted and aged; an unreachable broker is
a series (connected 0), not an absence."""

from __future__ import annotations

import asyncio
import time

import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from prometheus_client import CollectorRegistry

from gateway.ops.broker import free_ports
from gateway.ops.lag import LagWatch
from gateway.ops.metrics import KafkaWatchMetrics
from tests.conftest import KafkaAccess
from tests.waiting import until

pytestmark = [pytest.mark.kafka]


def gauge(registry: CollectorRegistry, name: str, **labels: str) -> float | None:
    return registry.get_sample_value(name, labels)


class TestLagWatch:
    async def test_lag_in_records_and_seconds_per_group_and_partition(self, kafka_access: KafkaAccess) -> None:
        """17 records, a group that consumed 5 of partition 0 and none of partition 1: the watch says 12 and
        the rest wait, the oldest waiting record's age grows; once the group catches up, 0 and 0 s."""
        topic, group = f"lagwatch.{time.time_ns()}", f"lagwatch-g-{time.time_ns()}"
        admin = AIOKafkaAdminClient(bootstrap_servers=kafka_access.bootstrap, **kafka_access.admin)
        await admin.start()
        try:
            await admin.create_topics([NewTopic(topic, 2, 1)])
        finally:
            await admin.close()
        producer = AIOKafkaProducer(bootstrap_servers=kafka_access.bootstrap, **kafka_access.admin)
        await producer.start()
        try:
            for i in range(17):
                await producer.send_and_wait(topic, b"x", partition=0 if i < 10 else 1)
        finally:
            await producer.stop()
        group_consumer = AIOKafkaConsumer(bootstrap_servers=kafka_access.bootstrap, **kafka_access.admin,
                                          group_id=group, enable_auto_commit=False)
        await group_consumer.start()
        p0, p1 = TopicPartition(topic, 0), TopicPartition(topic, 1)
        group_consumer.assign([p0, p1])
        await group_consumer.commit({p0: 5})
        registry = CollectorRegistry()
        watch = LagWatch(bootstrap_servers=kafka_access.bootstrap, security=kafka_access.admin,
                         groups={group: [topic]}, metrics=KafkaWatchMetrics(registry), interval=0.5)
        task = asyncio.create_task(watch.run())
        try:
            labels0, labels1 = {"group": group, "topic": topic, "partition": "0"}, {"group": group, "topic": topic, "partition": "1"}
            await until(lambda: gauge(registry, "oco_gateway_consumer_lag_messages", **labels0) == 5
                        and gauge(registry, "oco_gateway_consumer_lag_messages", **labels1) == 7, "lag 5 and 7")
            assert gauge(registry, "oco_gateway_kafka_connected") == 1
            first_age = gauge(registry, "oco_gateway_consumer_lag_seconds", **labels0)
            assert first_age is not None and first_age > 0
            await until(lambda: (gauge(registry, "oco_gateway_consumer_lag_seconds", **labels0) or 0) > first_age,
                        "the waiting record to age")
            await group_consumer.commit({p0: 10, p1: 7})
            await until(lambda: gauge(registry, "oco_gateway_consumer_lag_messages", **labels0) == 0
                        and gauge(registry, "oco_gateway_consumer_lag_messages", **labels1) == 0, "lag 0")
            assert gauge(registry, "oco_gateway_consumer_lag_seconds", **labels0) == 0
        finally:
            watch.stop()
            await asyncio.wait_for(task, 30)
            await group_consumer.stop()

    async def test_an_unreachable_broker_is_reported_and_the_watch_goes_on(self) -> None:
        """Nothing listens: connected is 0 (a series alerts can use), and the watch keeps trying until stopped."""
        registry = CollectorRegistry()
        (port,) = free_ports(1)
        watch = LagWatch(bootstrap_servers=f"127.0.0.1:{port}", security=None, groups={"g": ["t"]},
                         metrics=KafkaWatchMetrics(registry), interval=0.2)
        task = asyncio.create_task(watch.run())
        try:
            await until(lambda: gauge(registry, "oco_gateway_kafka_connected") == 0, "connected 0")
            await asyncio.sleep(1)
            assert not task.done()
        finally:
            watch.stop()
            await asyncio.wait_for(task, 30)
        assert gauge(registry, "oco_gateway_kafka_last_contact_timestamp_seconds") == 0
