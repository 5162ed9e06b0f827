"""A member's national system goes down: the others keep flowing, and its backlog is registered once when
it is back. Real processes throughout: Kafka, the gateway, the delivery workers, two ASYCUDA simulators."""

from __future__ import annotations

import asyncio
import json
import os
import statistics
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest
import yaml

from gateway.access.identities import DELIVERY, GATEWAY
from gateway.ops.broker import free_ports
from gateway.ops.process import ChildProcess, GatewayProcess
from gateway.responses import read_response
from gateway.samples import make_declaration
from gateway.sdk import idempotency_key
from gateway.transport.client import ParticipantClient
from tests.conftest import KafkaAccess

pytestmark = [pytest.mark.kafka, pytest.mark.slow]

FAST = {"base_delay": 0.2, "max_delay": 1.0, "max_attempts": 100, "breaker_failures": 3, "breaker_reset": 0.5,
        "rate_per_second": 200}


def control(port: int, **changes: object) -> dict:
    request = urllib.request.Request(f"http://127.0.0.1:{port}/control", data=json.dumps(changes).encode(),
                                     headers={"Content-Type": "application/json"}, method="POST")
    with urllib.request.urlopen(request, timeout=5) as resp:
        return json.loads(resp.read())


def registrations(port: int, key: str) -> int:
    url = f"http://127.0.0.1:{port}/control/registrations?key={urllib.request.quote(key)}"
    with urllib.request.urlopen(url, timeout=5) as resp:
        return int(json.loads(resp.read())["count"])


async def submit_and_time(client: ParticipantClient, payloads: list[bytes]) -> tuple[dict[str, float], dict]:
    """Submit; return per tracking id the seconds to the final answer, and the final summaries."""
    started = {}
    for payload in payloads:
        started[await client.submit(payload)] = time.monotonic()
    replies = await client.final_replies(set(started), timeout=60)
    finals = {t: read_response(r[-1]) for t, r in replies.items()}
    return {t: time.monotonic() - started[t] for t in finals}, finals


class TestMemberOutage:
    async def test_outage_of_one_member_leaves_the_other_untouched(self, kafka_access: KafkaAccess,
                                                                  tmp_path: Path) -> None:
        """With PG's ASYCUDA down, SB's declarations are registered at their usual latency; once PG is back,
        its whole backlog is registered, each declaration exactly once."""
        kafka_bootstrap = kafka_access.bootstrap
        fj_port, ws_port, gw_port, dl_port = free_ports(4)
        tag = f"out{time.time_ns() % 10**8}"
        participant = f"{tag}-broker"
        config = tmp_path / "network.yaml"
        config.write_text(yaml.safe_dump({
            "kafka": {"bootstrap_servers": kafka_bootstrap, "group_id": f"gw-{tag}"},
            "participants": {participant: {"name": "Outage test broker"}},
            "members": {code: {"name": code, "submitters": [participant], "delivery": FAST,
                               "adapter": {"name": "asycuda", "settings": {"url": f"http://127.0.0.1:{port}",
                                                                            "timeout": 2}}}
                        for code, port in (("PG", fj_port), ("SB", ws_port))},
        }))
        kafka_access.provision(config)
        processes = [ChildProcess(["simulate", "asycuda", "--member", code, "--port", str(port)],
                                  ready_url=f"http://127.0.0.1:{port}/health", log_path=tmp_path / f"asycuda-{code}.log")
                     for code, port in (("PG", fj_port), ("SB", ws_port))]
        # Members no other test uses (PG, SB): delivery topics and groups are per member and the broker is shared
        # by the session; a worker serving FJ would meet other tests' declarations it may not answer.
        env = {"OCO_KAFKA__GROUP_ID": f"gw-{tag}"}
        processes += [GatewayProcess(config, bootstrap_servers=kafka_bootstrap, metrics_port=gw_port,
                                     log_path=tmp_path / "gateway.log", env={**env, **kafka_access.env(GATEWAY)}),
                      GatewayProcess(config, bootstrap_servers=kafka_bootstrap, metrics_port=dl_port,
                                     log_path=tmp_path / "deliver.log", command=("deliver",),
                                     env={**env, **kafka_access.env(DELIVERY)})]
        for process in processes:
            process.start()
        try:
            async with ParticipantClient(kafka_bootstrap, participant, security=kafka_access.security(participant)) \
                    as client:
                ws = lambda n, s: [make_declaration(member="SB", lrn=f"{tag}-WS{s}-{i}", items=3, seed=i) for i in range(n)]  # noqa: E731
                before, finals = await submit_and_time(client, ws(10, "a"))
                assert {f.status for f in finals.values()} == {"accepted"}

                control(fj_port, down=True)
                fj = [make_declaration(member="PG", lrn=f"{tag}-FJ-{i}", items=3, seed=100 + i) for i in range(20)]
                fj_ids = [await client.submit(p) for p in fj]
                during, finals = await submit_and_time(client, ws(10, "b"))
                assert len(finals) == 10 and {f.status for f in finals.values()} == {"accepted"}
                fj_early = await client.final_replies(set(fj_ids), timeout=0.5)
                assert not any(read_response(r[-1]).status == "accepted" for r in fj_early.values())
                # Same latency, within generous slack for a shared 2-core machine.
                assert statistics.median(during.values()) < max(1.5, 3 * statistics.median(before.values()))

                control(fj_port, down=False)
                replies = await client.final_replies(set(fj_ids), timeout=60)
                assert {read_response(r[-1]).status for r in replies.values()} == {"accepted"}
                assert len(replies) == 20
            counts = [registrations(fj_port, idempotency_key(participant, f"{tag}-FJ-{i}", "9", p))
                      for i, p in enumerate(fj)]
            assert counts == [1] * 20, "each PG declaration must be registered exactly once"

            # What an integrator sees from the command line: the gateway's reply, then the registration.
            path = tmp_path / "one.xml"
            path.write_bytes(make_declaration(member="SB", lrn=f"{tag}-CLI", items=2, seed=7))
            result = await asyncio.to_thread(subprocess.run, [
                sys.executable, "-m", "gateway", "submit", str(path), "--as", participant, "--config", str(config),
                "--final", "--timeout", "60"], capture_output=True, text=True, timeout=120, env={
                **os.environ, "OCO_KAFKA__BOOTSTRAP_SERVERS": kafka_bootstrap,
                "OCO_KAFKA__SECRETS_DIR": str(kafka_access.secrets.path)})
            assert result.returncode == 0, result.stdout + result.stderr
            lines = result.stdout.splitlines()
            assert lines[0].startswith(f"{path}: received lrn={tag}-CLI")
            assert lines[1].startswith(f"{path}: accepted lrn={tag}-CLI customs-reference=SB")
            assert any(line.startswith("  tax ") for line in lines)
        finally:
            for process in reversed(processes):
                process.stop()
