"""``oco-gateway dlq list|replay`` on the real broker: operators see why a message was parked and can re-inject it."""

from __future__ import annotations

import asyncio
import json
import time

import pytest
from aiokafka import AIOKafkaProducer
from click.testing import CliRunner

from gateway import headers as h
from gateway.cli import main
from gateway.config import GatewaySettings, KafkaSettings
from gateway.ops.broker import ADMIN_USER, LocalBroker
from gateway.topics import DEAD_LETTER
from gateway.transport.client import TopicTail
from gateway.transport.dlq import REPLAYED_FROM
from gateway.transport.topics import ensure_topics

pytestmark = [pytest.mark.kafka]


@pytest.fixture(scope="module")
def operator(kafka_broker: LocalBroker) -> CliRunner:
    """The command run by an operator: the broker's administrator, whose password is in a file."""
    return CliRunner(env={"OCO_KAFKA__USERNAME": ADMIN_USER,
                          "OCO_KAFKA__PASSWORD_FILE": str(kafka_broker.admin_password_file)})


async def park(bootstrap: str, auth: dict, origin: str, tracking_id: str, stage: str) -> None:
    settings = GatewaySettings(kafka=KafkaSettings(bootstrap_servers=bootstrap, username=ADMIN_USER,
                                                   password=auth["sasl_plain_password"]))
    await ensure_topics(settings, [DEAD_LETTER, origin])
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, **auth, acks="all")
    await producer.start()
    headers = {h.TRACKING_ID: tracking_id, h.PARTICIPANT: "fj-post", h.DLQ_TOPIC: origin, h.DLQ_PARTITION: "0",
               h.DLQ_OFFSET: "12", h.DLQ_STAGE: stage, h.DLQ_EXCEPTION_CLASS: "gateway.errors.AdapterUnavailable",
               h.DLQ_EXCEPTION_MESSAGE: "national system down", h.ATTEMPT: "8"}
    await producer.send_and_wait(DEAD_LETTER, b"<declaration/>", key=b"fj-post:L1",
                                 headers=[(k, v.encode()) for k, v in headers.items()])
    await producer.stop()


class TestDlqCommands:
    def test_list_shows_origin_stage_and_reason(self, kafka_bootstrap: str, kafka_auth: dict,
                                                operator: CliRunner) -> None:
        """A parked message is listed with its origin, stage, tracking id and the error that parked it."""
        tid = f"dlq-list-{time.time_ns()}"
        asyncio.run(park(kafka_bootstrap, kafka_auth, "oco.deliver.FJ", tid, "deliver"))
        result = operator.invoke(main, ["dlq", "--bootstrap-servers", kafka_bootstrap, "list", "--json",
                                           "--tracking-id", tid])
        assert result.exit_code == 0, result.output
        (row,) = [json.loads(line) for line in result.output.splitlines()]
        assert row["stage"] == "deliver" and row["origin"] == "oco.deliver.FJ[0]@12"
        assert row["error"] == "AdapterUnavailable" and row["message"] == "national system down"

    def test_replay_puts_it_back_without_its_error_context(self, kafka_bootstrap: str, kafka_auth: dict,
                                                           operator: CliRunner) -> None:
        """Replaying a parked message publishes it to its origin with a fresh attempt count and a replay mark."""
        tid = f"dlq-replay-{time.time_ns()}"
        origin = f"oco.deliver.T{time.time_ns() % 1000}"
        asyncio.run(park(kafka_bootstrap, kafka_auth, origin, tid, "deliver"))

        async def replay_and_read() -> dict[str, str]:
            tail = TopicTail(kafka_bootstrap, origin, security=kafka_auth)
            await tail.start()
            try:
                result = await asyncio.to_thread(operator.invoke, main, [
                    "dlq", "--bootstrap-servers", kafka_bootstrap, "replay", "--tracking-id", tid])
                assert result.exit_code == 0, result.output
                assert "replayed 1 message(s)" in result.output
                record = (await tail.wait_for({tid}, timeout=10))[tid]
                assert record.value == b"<declaration/>" and record.key == b"fj-post:L1"
                return {k: v.decode() for k, v in record.headers}
            finally:
                await tail.stop()

        headers = asyncio.run(replay_and_read())
        assert headers[REPLAYED_FROM].startswith("oco.dlq/")
        assert h.ATTEMPT not in headers and h.DLQ_STAGE not in headers
        assert headers[h.TRACKING_ID] == tid

    def test_replay_needs_a_selection(self, kafka_bootstrap: str, operator: CliRunner) -> None:
        """Replay without any filter or --all refuses to run rather than replaying everything."""
        result = operator.invoke(main, ["dlq", "--bootstrap-servers", kafka_bootstrap, "replay"])
        assert result.exit_code == 2 and "choose what to replay" in result.output
