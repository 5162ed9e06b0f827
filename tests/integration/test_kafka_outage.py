"""A Kafka outage as an operator sees it: a real Prometheus scrapes the gateway and the delivery workers while
the broker is stopped. The outage is a series (connected 0) and the broker-down alert fires; both
processes' /readyz say 503, their logs stay JSON and short; when the broker is back, all of it recovers."""

from __future__ import annotations

import json
import shutil
import subprocess
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from gateway.access.identities import DELIVERY, GATEWAY
from gateway.access.local import LocalAccess
from gateway.ops.broker import LocalBroker, free_ports
from gateway.ops.process import ChildProcess, GatewayProcess
from tests.waiting import wait_until

pytestmark = [pytest.mark.kafka, pytest.mark.slow]

ROOT = Path(__file__).resolve().parents[2]
JOBS = {"oco-gateway": "gateway", "oco-gateway-delivery": "deliver"}


def http_status(url: str) -> int:
    try:
        with urllib.request.urlopen(url, timeout=5) as resp:
            return int(resp.status)
    except urllib.error.HTTPError as exc:
        return exc.code
    except OSError:
        return 0


class Prometheus:
    """Debian's prometheus, scraping the two processes every second with the project's rules loaded."""

    def __init__(self, tmp: Path, targets: dict[str, int]) -> None:
        binary = shutil.which("prometheus")
        if binary is None:
            pytest.fail("prometheus is not installed: run `make tools` (Debian package prometheus)")
        self.port = free_ports(1)[0]
        rules = (ROOT / "docker" / "prometheus" / "rules.yml").read_text()
        # The broker-down alert's own expression, with `for` cut from 2 minutes to 5 s so that the test sees it
        # fire; promtool's cases (rules_test.yml) test the 2 minutes.
        alert = rules.index("- alert: OcoGatewayKafkaUnreachable")
        wait = rules.index("for: 2m", alert)
        assert wait - alert < 200, "the alert's `for` moved: update this test"
        (tmp / "rules.yml").write_text(rules[:wait] + "for: 5s" + rules[wait + len("for: 2m"):])
        config = tmp / "prometheus.yml"
        config.write_text(yaml.safe_dump({
            "global": {"scrape_interval": "1s", "evaluation_interval": "1s"},
            "rule_files": [str(tmp / "rules.yml")],
            "scrape_configs": [{"job_name": job, "static_configs": [{"targets": [f"127.0.0.1:{port}"]}]}
                               for job, port in targets.items()],
        }))
        self.log = (tmp / "prometheus.log").open("wb")
        self.process = subprocess.Popen(
            [binary, f"--config.file={config}", f"--storage.tsdb.path={tmp / 'data'}",
             f"--web.listen-address=127.0.0.1:{self.port}"], stdout=self.log, stderr=subprocess.STDOUT)
        wait_until(lambda: http_status(f"http://127.0.0.1:{self.port}/-/ready") == 200, "prometheus to be ready", 60,
                   every=0.5)

    def query(self, expr: str) -> list[dict[str, Any]]:
        url = f"http://127.0.0.1:{self.port}/api/v1/query?" + urllib.parse.urlencode({"query": expr})
        with urllib.request.urlopen(url, timeout=5) as resp:
            return list(json.loads(resp.read())["data"]["result"])

    def alerts(self, name: str) -> list[dict[str, Any]]:
        with urllib.request.urlopen(f"http://127.0.0.1:{self.port}/api/v1/alerts", timeout=5) as resp:
            return [a for a in json.loads(resp.read())["data"]["alerts"] if a["labels"]["alertname"] == name]

    def stop(self) -> None:
        self.process.terminate()
        self.process.wait(30)
        self.log.close()


@pytest.fixture
def own_broker(tmp_path: Path) -> Iterator[LocalBroker]:
    """A secured broker of this test's own: it is stopped and started again, which the session's must not be."""
    port, controller = free_ports(2)
    broker = LocalBroker(tmp_path / "kafka", port=port, controller_port=controller, insecure=False)
    broker.start(timeout=120)
    try:
        yield broker
    finally:
        broker.stop()


def connected(prometheus: Prometheus, value: int) -> bool:
    found = {r["metric"]["job"]: r["value"][1] for r in prometheus.query("oco_gateway_kafka_connected")}
    return found == {job: str(value) for job in JOBS}


def json_lines(path: Path, start: int) -> list[dict[str, Any]]:
    """The log lines written after byte ``start``, each parsed (a line that is not JSON fails the test)."""
    lines = path.read_bytes()[start:].decode().splitlines()
    return [json.loads(line) for line in lines if line.strip()]


class TestKafkaOutage:
    def test_an_outage_is_seen_alerted_and_recovered(self, own_broker: LocalBroker, tmp_path: Path) -> None:
        access = LocalAccess(own_broker, tmp_path / "secrets")
        sim_port, gateway_port, deliver_port = free_ports(3)
        network = tmp_path / "network.yaml"
        network.write_text(yaml.safe_dump({
            "kafka": {"bootstrap_servers": own_broker.bootstrap_servers, "group_id": "gw-outage"},
            "participants": {"outage-p": {"name": "P"}},
            "members": {"FJ": {"name": "Fiji", "submitters": ["outage-p"],
                               "adapter": {"name": "asycuda", "settings": {"url": f"http://127.0.0.1:{sim_port}"}}}},
        }))
        access.provision(network)
        simulator = ChildProcess(["simulate", "asycuda", "--member", "FJ", "--port", str(sim_port)],
                                 ready_url=f"http://127.0.0.1:{sim_port}/health", log_path=tmp_path / "asycuda.log")
        processes = {
            "gateway": GatewayProcess(network, bootstrap_servers=own_broker.bootstrap_servers, metrics_port=gateway_port,
                                      log_path=tmp_path / "gateway.log", env=access.env(GATEWAY)),
            "deliver": GatewayProcess(network, bootstrap_servers=own_broker.bootstrap_servers, metrics_port=deliver_port,
                                      log_path=tmp_path / "deliver.log", env=access.env(DELIVERY), command=("deliver",)),
        }
        ready = {name: f"http://127.0.0.1:{p.metrics_port}/readyz" for name, p in processes.items()}
        with simulator, processes["gateway"], processes["deliver"]:
            prometheus = Prometheus(tmp_path, {"oco-gateway": gateway_port, "oco-gateway-delivery": deliver_port})
            try:
                wait_until(lambda: connected(prometheus, 1), "both processes to report Kafka connected",
                           180, every=0.5)
                assert prometheus.alerts("OcoGatewayKafkaUnreachable") == []

                marks = {name: p.log_path.stat().st_size for name, p in processes.items()}
                own_broker.stop()
                wait_until(lambda: connected(prometheus, 0), "both processes to report Kafka away", 180, every=0.5)
                wait_until(lambda: {a["labels"]["job"] for a in prometheus.alerts("OcoGatewayKafkaUnreachable")
                                  if a["state"] == "firing"} == set(JOBS), "the broker-down alert to fire",
                           180, every=0.5)
                wait_until(lambda: all(http_status(url) == 503 for url in ready.values()), "both /readyz to say 503",
                           180, every=0.5)
                time.sleep(20)  # an outage long enough for the clients to retry many times
                for name, process in processes.items():
                    lines = json_lines(process.log_path, marks[name])  # every line JSON, libraries' included
                    # Without the repeat limiter aiokafka alone writes a line per connection attempt.
                    assert len(lines) < 80, f"{name} wrote {len(lines)} lines in a short outage"
                    assert any(line.get("logger", "").startswith("aiokafka") or line["event"] == "kafka_unreachable"
                               for line in lines), f"{name} logged nothing of the outage"

                own_broker.start(timeout=120)
                wait_until(lambda: connected(prometheus, 1), "both processes to report Kafka back", 180, every=0.5)
                wait_until(lambda: all(http_status(url) == 200 for url in ready.values()), "both /readyz to say 200",
                           180, every=0.5)
            finally:
                prometheus.stop()
