"""Exactly-once mode on the real broker, beyond the crash tests: an output the broker refuses for good."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from aiokafka.admin import AIOKafkaAdminClient
from aiokafka.admin.config_resource import ConfigResource, ConfigResourceType

from gateway import headers as h
from gateway.ops.process import GatewayProcess
from gateway.responses import read_response
from gateway.samples import make_declaration
from gateway.topics import DEAD_LETTER, deliver_topic
from gateway.transport.client import ParticipantClient, TopicTail
from tests.integration.conftest import Network

pytestmark = [pytest.mark.kafka]


@pytest.fixture(scope="module")
def gateway(network: Network, tmp_path_factory: pytest.TempPathFactory) -> Iterator[GatewayProcess]:
    """A gateway with ``gateway.exactly_once`` for the whole module."""
    process = network.gateway(tmp_path_factory.mktemp("gateway"), env={"OCO_GATEWAY__EXACTLY_ONCE": "true"})
    process.start()
    try:
        yield process
    finally:
        process.stop()


class TestRefusedOutput:
    async def test_refused_delivery_is_replaced_once_and_the_partition_goes_on(
            self, network: Network, gateway: GatewayProcess, tmp_path: Path) -> None:
        """A delivery topic whose max.message.bytes is below the declaration: the transactions that tried it are
        aborted, then the gateway parks one reference and answers one rejection (no 'received' is visible), and
        the same partition keeps working."""
        topic = deliver_topic("NZ")
        admin = AIOKafkaAdminClient(bootstrap_servers=network.bootstrap, **network.admin)
        await admin.start()
        try:
            await admin.alter_configs([ConfigResource(ConfigResourceType.TOPIC, topic,
                                                      configs={"max.message.bytes": "100000"})])
        finally:
            await admin.close()
        deliveries = TopicTail(network.bootstrap, topic, security=network.admin)
        dlq = TopicTail(network.bootstrap, DEAD_LETTER, security=network.admin)
        await deliveries.start()
        await dlq.start()
        try:
            async with ParticipantClient(network.bootstrap, network.kiwi,
                                         security=network.identity(network.kiwi)) as kiwi:
                key = f"{network.kiwi}:LRN-EOS-REFUSED".encode()
                big = make_declaration(member="NZ", lrn="LRN-EOS-REFUSED", items=400, seed=3)
                assert len(big) > 100_000
                tid = await kiwi.submit(big, key=key)
                small = make_declaration(member="NZ", lrn="LRN-EOS-REFUSED", items=1, seed=4)
                tid2 = await kiwi.submit(small, key=key)  # same key, same partition, right behind it
                assert read_response((await kiwi.replies({tid2}, timeout=90))[tid2]).status == "received"
                replies = await kiwi.final_replies({tid}, timeout=30)
                assert [read_response(r).status for r in replies[tid]] == ["rejected"], replies[tid]
                assert read_response(replies[tid][0]).issues[0].code == "OCO-NOT-DELIVERED"
                parked = await dlq.wait_for({tid}, timeout=30)
                assert parked[tid].value == b"" and dict(parked[tid].headers)[h.DLQ_STAGE] == b"publish"
                assert (await deliveries.wait_for({tid2}, timeout=30))[tid2].value == small
                await dlq.wait_for({tid}, timeout=2, count=2)  # nothing more comes
                assert len(dlq.history[tid]) == 1 and tid not in deliveries.records
        finally:
            await deliveries.stop()
            await dlq.stop()
        assert 'outcome="aborted"' in gateway.metrics_text()
