"""SIGTERM to the delivery workers on the real broker, with national calls in flight: within the grace period
they finish, are answered once and committed, and the process exits 0 with no error logged; when the grace
runs out they are handed back (neither answered nor committed) and the next worker answers them, once."""

from __future__ import annotations

import asyncio
import json
import re
import signal
import time
import urllib.request
from collections import Counter
from pathlib import Path

import pytest
import yaml
from aiokafka import AIOKafkaProducer

from gateway import headers as h
from gateway.access.identities import DELIVERY, GATEWAY
from gateway.ops.broker import free_ports
from gateway.ops.process import ChildProcess, GatewayProcess
from gateway.samples import make_declaration
from gateway.topics import deliver_topic, reply_topic
from tests.conftest import KafkaAccess
from tests.integration.test_delivery_crash import replies
from tests.waiting import wait_until

pytestmark = [pytest.mark.kafka, pytest.mark.slow]

MEMBER = "TK"  # a member no other test delivers to: its topics and group are this test's own


def control(port: int, **changes: object) -> None:
    request = urllib.request.Request(f"http://127.0.0.1:{port}/control", data=json.dumps(changes).encode(),
                                     headers={"Content-Type": "application/json"}, method="POST")
    urllib.request.urlopen(request, timeout=5).close()


def in_flight(process: GatewayProcess) -> int:
    found = re.search(rf'oco_gateway_delivery_in_flight{{member="{MEMBER}"}} (\S+)', process.metrics_text())
    return int(float(found.group(1))) if found else 0


async def publish(access: KafkaAccess, participant: str, lrns: list[str]) -> set[str]:
    producer = AIOKafkaProducer(bootstrap_servers=access.bootstrap, **access.security(GATEWAY), acks="all")
    await producer.start()
    try:
        for lrn in lrns:
            headers = {h.TRACKING_ID: f"{MEMBER}-{lrn}", h.PARTICIPANT: participant, h.MEMBER: MEMBER, h.LRN: lrn,
                       h.FUNCTION_CODE: "9"}
            await producer.send_and_wait(deliver_topic(MEMBER), make_declaration(member=MEMBER, lrn=lrn, seed=len(lrn)),
                                         key=f"{participant}:{lrn}".encode(),
                                         headers=[(k, v.encode()) for k, v in headers.items()])
    finally:
        await producer.stop()
    return {f"{MEMBER}-{lrn}" for lrn in lrns}


class TestDeliveryShutdown:
    def test_sigterm_finishes_the_calls_in_flight_or_hands_them_back(self, kafka_access: KafkaAccess,
                                                                    tmp_path: Path) -> None:
        tag = f"sd{time.time_ns() % 10**8}"
        sim_port, metrics_port = free_ports(2)
        participant = f"{tag}-p"
        network = tmp_path / "network.yaml"

        def write(grace: float) -> None:
            network.write_text(yaml.safe_dump({
                "kafka": {"bootstrap_servers": kafka_access.bootstrap, "group_id": f"gw-{tag}"},
                "gateway": {"shutdown_grace_seconds": grace},
                "participants": {participant: {"name": "P"}},
                "members": {MEMBER: {"name": "Tokelau", "submitters": [participant],
                                     "adapter": {"name": "wco-xml", "settings": {"url": f"http://127.0.0.1:{sim_port}",
                                                                                 "timeout": 600}},
                                     "delivery": {"concurrency": 4, "rate_per_second": 1000}}},
            }))

        write(30)
        kafka_access.provision(network)
        simulator = ChildProcess(["simulate", "wco", "--member", MEMBER, "--port", str(sim_port)],
                                 ready_url=f"http://127.0.0.1:{sim_port}/health", log_path=tmp_path / "sim.log")

        def deliver() -> GatewayProcess:
            return GatewayProcess(network, bootstrap_servers=kafka_access.bootstrap, metrics_port=metrics_port,
                                  log_path=tmp_path / "deliver.log", command=("deliver",), env=kafka_access.env(DELIVERY))

        with simulator:
            # 1. A grace long enough: the four calls in flight (2 s each) finish, answered, and the process exits 0.
            control(sim_port, delay=2.0)
            ids = asyncio.run(publish(kafka_access, participant, [f"SD-{i}" for i in range(8)]))
            worker = deliver()
            worker.start()
            wait_until(lambda: in_flight(worker) == 4, "four national calls in flight")
            mark = worker.log_path.stat().st_size
            worker._process.send_signal(signal.SIGTERM)  # noqa: SLF001 - the signal Kubernetes sends
            assert worker._process.wait(60) == 0  # noqa: SLF001
            lines = [json.loads(line) for line in worker.log_path.read_bytes()[mark:].decode().splitlines() if line]
            assert not [line for line in lines if line["level"] in ("error", "critical")], lines
            answered = asyncio.run(replies(kafka_access, reply_topic(participant)))
            assert len(answered) == 4 and set(answered) <= ids and set(answered.values()) == {1}

            # 2. A grace of 1 s against calls of minutes: handed back, the process still exits 0 at once.
            write(1)
            control(sim_port, delay=500.0)
            worker = deliver()
            worker.start()
            wait_until(lambda: in_flight(worker) == 4, "four more calls in flight")
            mark = worker.log_path.stat().st_size
            worker._process.send_signal(signal.SIGTERM)  # noqa: SLF001
            assert worker._process.wait(60) == 0  # noqa: SLF001
            lines = [json.loads(line) for line in worker.log_path.read_bytes()[mark:].decode().splitlines() if line]
            assert [line["handed_back"] for line in lines if line["event"] == "delivery_shutdown_grace_expired"] == [4]
            assert len(asyncio.run(replies(kafka_access, reply_topic(participant)))) == 4  # none of those answered

            # 3. The next worker makes the handed-back calls again and answers every declaration once.
            control(sim_port, delay=0.0)
            write(30)
            with deliver():
                def all_answered() -> bool:
                    return asyncio.run(replies(kafka_access, reply_topic(participant))).keys() >= ids

                wait_until(all_answered, "every declaration answered")
            final: Counter[str] = asyncio.run(replies(kafka_access, reply_topic(participant)))
            assert set(final) == ids and set(final.values()) == {1}
