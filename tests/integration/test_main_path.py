"""The main path on the real broker: declarations in, validated, routed to members, answered."""

from __future__ import annotations

import asyncio
import time

import pytest
from prometheus_client.parser import text_string_to_metric_families

from gateway import headers as h
from gateway.ops.process import GatewayProcess
from gateway.responses import read_response
from gateway.samples import make_declaration
from gateway.topics import DEAD_LETTER, deliver_topic, submit_topic
from gateway.transport.client import ParticipantClient, TopicTail

pytestmark = [pytest.mark.kafka]


def headers_of(record) -> dict[str, str]:
    return {k: v.decode() for k, v in record.headers or ()}


async def submit_and_follow(network, participant: str, payloads: list[bytes], topics: list[str]):
    """Submit payloads as one participant; return tracking ids, replies, and the records seen on ``topics``."""
    tails = {t: TopicTail(network.bootstrap, t, security=network.admin) for t in topics}
    for tail in tails.values():
        await tail.start()
    try:
        async with ParticipantClient(network.bootstrap, participant, security=network.identity(participant)) as client:
            ids = [await client.submit(p) for p in payloads]
            replies = await client.replies(set(ids), timeout=60)
        # Outputs of a message are acknowledged together with its reply: a short grace is enough.
        seen = {t: await tail.wait_for(set(ids), timeout=2) for t, tail in tails.items()}
    finally:
        for tail in tails.values():
            await tail.stop()
    return ids, replies, seen


class TestMainPath:
    async def test_valid_declaration_is_delivered_and_acknowledged(self, network, running_gateway: GatewayProcess) -> None:
        """A valid declaration reaches its member's delivery topic unchanged, keyed by participant and LRN,
        and the submitter gets a 'received' reply with the same tracking id."""
        payload = make_declaration(member="WS", lrn="LRN-E2E-1", items=3, seed=1)
        ids, replies, seen = await submit_and_follow(network, network.samoa, [payload], [deliver_topic("WS")])
        (tid,) = ids
        summary = read_response(replies[tid])
        assert (summary.status, summary.lrn, summary.tracking_id) == ("received", "LRN-E2E-1", tid)
        delivered = seen[deliver_topic("WS")][tid]
        assert delivered.value == payload
        assert delivered.key == f"{network.samoa}:LRN-E2E-1".encode()
        assert headers_of(delivered)[h.MEMBER] == "WS"

    async def test_each_member_gets_only_its_own(self, network, running_gateway: GatewayProcess) -> None:
        """Declarations from one participant for three members land on three delivery topics, one each."""
        payloads = [make_declaration(member=m, lrn=f"LRN-{m}", items=1, seed=i) for i, m in enumerate(["FJ", "WS", "NZ"])]
        topics = [deliver_topic(m) for m in ("FJ", "WS", "NZ")]
        ids, replies, seen = await submit_and_follow(network, network.kiwi, payloads, topics)
        assert [read_response(replies[t]).status for t in ids] == ["received"] * 3
        for tid, topic in zip(ids, topics):
            assert set(seen[topic]) == {tid}

    async def test_schema_invalid_is_rejected_with_every_error(self, network, running_gateway: GatewayProcess) -> None:
        """A schema-invalid declaration is not delivered; the reply lists each error with code, line and path."""
        good = make_declaration(member="FJ", lrn="LRN-BAD", items=2, seed=3)
        bad = good.replace(b"LRN-BAD", b"L" * 40, 1)
        ids, replies, seen = await submit_and_follow(network, network.fiji, [bad], [deliver_topic("FJ"), DEAD_LETTER])
        summary = read_response(replies[ids[0]])
        assert summary.status == "rejected"
        assert summary.issues and all(i.code and i.message for i in summary.issues)
        assert any(i.line and i.path and "FunctionalReferenceID" in i.path for i in summary.issues)
        assert seen[deliver_topic("FJ")] == {} and seen[DEAD_LETTER] == {}

    async def test_malformed_is_rejected_and_dead_lettered_with_context(self, network, running_gateway: GatewayProcess) -> None:
        """A truncated document gets a rejected reply and lands in the dead-letter topic with its origin."""
        good = make_declaration(member="FJ", lrn="LRN-CUT", items=2, seed=4)
        ids, replies, seen = await submit_and_follow(network, network.fiji, [good[:300]], [DEAD_LETTER])
        assert read_response(replies[ids[0]]).status == "rejected"
        parked = seen[DEAD_LETTER][ids[0]]
        ctx = headers_of(parked)
        assert parked.value == good[:300]
        assert ctx[h.DLQ_TOPIC] == submit_topic(network.fiji)
        assert int(ctx[h.DLQ_OFFSET]) >= 0 and int(ctx[h.DLQ_PARTITION]) >= 0
        assert ctx[h.DLQ_STAGE] == "parse"
        assert ctx[h.DLQ_EXCEPTION_CLASS] and ctx[h.DLQ_EXCEPTION_MESSAGE]

    async def test_member_can_act_only_as_itself(self, network, running_gateway: GatewayProcess) -> None:
        """A participant submitting for a member that does not list it is rejected, and nothing is delivered."""
        payload = make_declaration(member="NZ", lrn="LRN-NOT-MINE", items=1, seed=5)
        ids, replies, seen = await submit_and_follow(network, network.fiji, [payload], [deliver_topic("NZ")])
        summary = read_response(replies[ids[0]])
        assert summary.status == "rejected"
        assert [i.code for i in summary.issues] == ["OCO-NOT-AUTHORISED"]
        assert seen[deliver_topic("NZ")] == {}

    async def test_unknown_member_is_rejected_with_reason(self, network, running_gateway: GatewayProcess) -> None:
        """A declaration for a country that is not a member is rejected naming the code."""
        payload = make_declaration(member="ZZ", lrn="LRN-ZZ", items=1, seed=6)
        ids, replies, _ = await submit_and_follow(network, network.kiwi, [payload], [])
        summary = read_response(replies[ids[0]])
        assert summary.status == "rejected" and "'ZZ'" in summary.issues[0].message

    async def test_entity_attack_is_parked_not_expanded(self, network, running_gateway: GatewayProcess, tmp_path) -> None:
        """An XXE document is refused: the secret file's content appears in no output."""
        secret = tmp_path / "secret.txt"
        secret.write_text("TOP-SECRET-42")
        evil = (f'<?xml version="1.0"?><!DOCTYPE r [<!ENTITY x SYSTEM "file://{secret}">]>'
                f"<r>&x;</r>").encode()
        ids, replies, seen = await submit_and_follow(network, network.fiji, [evil], [DEAD_LETTER])
        assert read_response(replies[ids[0]]).status == "rejected"
        assert b"TOP-SECRET-42" not in replies[ids[0]]
        assert ids[0] in seen[DEAD_LETTER]

    async def test_metrics_count_outcomes(self, network, running_gateway: GatewayProcess) -> None:
        """One good and one malformed message add one 'received' and one 'dead_lettered' to /metrics."""
        def counts() -> tuple[float, float]:
            return (sample(running_gateway, "received", network.samoa),
                    sample(running_gateway, "dead_lettered", network.samoa))

        before = counts()
        good = make_declaration(member="WS", lrn="LRN-M", items=1, seed=7)
        await submit_and_follow(network, network.samoa, [good, b"<not xml"], [])
        expected = (before[0] + 1, before[1] + 1)
        deadline = time.monotonic() + 10
        while counts() != expected and time.monotonic() < deadline:  # counted just after the commit
            await asyncio.sleep(0.2)
        assert counts() == expected
        assert "oco_gateway_up 1.0" in running_gateway.metrics_text()


def sample(gateway: GatewayProcess, outcome: str, participant: str) -> float:
    """Read one oco_gateway_messages_total sample from the gateway's /metrics."""
    for family in text_string_to_metric_families(gateway.metrics_text()):
        for s in family.samples:
            if s.name == "oco_gateway_messages_total" and s.labels == {"outcome": outcome, "participant": participant}:
                return s.value
    return 0.0
