"""Fixtures of the kafka adapter tests: a MemberResponder on fresh topics of the session's real broker."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator

import pytest

from adapters.kafka_topic.responder import MemberResponder

MEMBER = "NZ"


@pytest.fixture(scope="module")
async def responder(kafka_bootstrap: str) -> AsyncIterator[MemberResponder]:
    """Run a member responder on topics of its own (a fresh pair per test module) for the module's tests."""
    run = uuid.uuid4().hex[:8]
    async with MemberResponder(kafka_bootstrap, MEMBER, request_topic=f"test.{run}.declarations",
                               reply_topic=f"test.{run}.answers") as member:
        yield member


@pytest.fixture
async def national(responder: MemberResponder) -> MemberResponder:
    """The responder, back to normal before each test: up, no delay, no pending rejections."""
    await responder.set_down(False)
    await responder.set_delay(0)
    responder.pending_rejections = 0
    return responder
