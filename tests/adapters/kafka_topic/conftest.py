"""Fixtures of the kafka adapter tests: a MemberResponder on fresh topics of the session's real broker."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import pytest

from adapters.kafka_topic.responder import MemberResponder
from gateway.ops.broker import ADMIN_USER, LocalBroker

MEMBER = "NZ"


@dataclass(frozen=True)
class MemberCluster:
    """The member's own Kafka cluster, played by the session broker: where it is and how to log in."""

    bootstrap: str
    security: dict[str, Any]  # the adapter's ``settings.security``: user and password file, never a password
    auth: dict[str, Any]  # the same, as aiokafka options: for the member's side (responder, tests' clients)

    def settings(self, request_topic: str, reply_topic: str, **more: object) -> dict[str, object]:
        """The kafka adapter's settings for these topics."""
        return {"bootstrap_servers": self.bootstrap, "request_topic": request_topic, "reply_topic": reply_topic,
                "security": self.security, **more}


@pytest.fixture(scope="session")
def cluster(kafka_broker: LocalBroker) -> MemberCluster:
    """The member's cluster (the session broker, as its administrator)."""
    return MemberCluster(kafka_broker.bootstrap_servers,
                         {"username": ADMIN_USER, "password_file": str(kafka_broker.admin_password_file)},
                         kafka_broker.admin_security())


@pytest.fixture(scope="module")
async def responder(cluster: MemberCluster) -> AsyncIterator[MemberResponder]:
    """Run a member responder on topics of its own (a fresh pair per test module) for the module's tests."""
    run = uuid.uuid4().hex[:8]
    async with MemberResponder(cluster.bootstrap, MEMBER, request_topic=f"test.{run}.declarations",
                               reply_topic=f"test.{run}.answers", security=cluster.auth) as member:
        yield member


@pytest.fixture
async def national(responder: MemberResponder) -> MemberResponder:
    """The responder, back to normal before each test: up, no delay, no pending rejections."""
    await responder.set_down(False)
    await responder.set_delay(0)
    responder.pending_rejections = 0
    return responder
