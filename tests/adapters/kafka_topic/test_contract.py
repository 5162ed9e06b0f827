"""The kafka adapter meets the adapter contract against a MemberResponder on the session's real Kafka broker."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from adapters.kafka_topic import KafkaTopicAdapter
from adapters.kafka_topic.responder import MemberResponder
from gateway.sdk import Declaration
from gateway.sdk.contract import AdapterContract
from tests.adapters.kafka_topic.conftest import MEMBER, MemberCluster


@pytest.mark.kafka
class TestKafkaTopicAdapterContract(AdapterContract):
    MEMBER = MEMBER
    TIMEOUT = 1.5  # produce (acks=all) + the member's answer on a loaded CI box, with room

    @pytest.fixture
    async def adapter(self, cluster: MemberCluster, responder: MemberResponder) -> AsyncIterator[KafkaTopicAdapter]:
        adapter = KafkaTopicAdapter(self.MEMBER, cluster.settings(responder.request_topic, responder.reply_topic,
                                                                  timeout=self.TIMEOUT, max_items=50))
        try:
            yield adapter
        finally:
            await adapter.aclose()

    def cannot_take_declaration(self) -> Declaration:
        """One goods item more than the member's system takes (max_items)."""
        return self.declaration(items=51)
