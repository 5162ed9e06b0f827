"""The Grafana dashboard (docker/grafana/oco-gateway.json): well-formed for Grafana, and every panel's query
returns series from a real Prometheus scraping a running gateway and delivery worker after real traffic.

Real processes throughout: the session's Kafka broker, the gateway, the delivery workers, a WCO single-window
simulator, and Debian's ``prometheus`` (``make tools``) loading docker/prometheus/rules.yml.
"""

from __future__ import annotations

import asyncio
import json
import re
import secrets
import shutil
import subprocess
import time
import urllib.error
import urllib.parse
import urllib.request
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import pytest
import yaml
from aiokafka import AIOKafkaProducer

from gateway.access.identities import DELIVERY, GATEWAY, member_identity
from gateway.aeo.feed import AeoPublisher
from gateway.aeo.issuing import grant
from gateway.aeo.signing import SigningKey
from gateway.aeo.status import Address
from gateway.config import load_settings
from gateway.ops.broker import free_ports
from gateway.ops.process import ChildProcess, GatewayProcess
from gateway.responses import read_response
from gateway.samples import make_declaration
from gateway.topics import aeo_topic
from gateway.transport.client import ParticipantClient
from tests.conftest import KafkaAccess
from tests.waiting import until

ROOT = Path(__file__).resolve().parents[2]
DASHBOARD = ROOT / "docker" / "grafana" / "oco-gateway.json"
RULES = ROOT / "docker" / "prometheus" / "rules.yml"
DATASOURCE = {"type": "prometheus", "uid": "${datasource}"}
MEMBER = "NC"  # a member no other test uses: its delivery topics and group are this test's alone

# What Grafana puts in place of its variables, for an instant query at "now" against 1 s scrapes.
GRAFANA_VARIABLES = {"$__rate_interval": "1m", "${__rate_interval}": "1m", "$__interval": "15s",
                     "${__interval}": "15s", "$__range": "5m", "${__range}": "5m"}

INSTALL_HINT = (
    "prometheus is not on PATH. It comes with the Debian package `prometheus`: run `make tools`, or "
    "`apt-get update && apt-get install -y --no-install-recommends prometheus`. "
    "This test never skips: a dashboard whose panels are empty is found out during an outage."
)


def dashboard() -> dict[str, Any]:
    found: dict[str, Any] = json.loads(DASHBOARD.read_text(encoding="utf-8"))
    return found


def queries(board: dict[str, Any]) -> list[tuple[str, str, str]]:
    """Every (panel title, refId, PromQL with Grafana's variables substituted) of the dashboard."""
    found = []
    for panel in board["panels"]:
        for target in panel.get("targets", ()):
            expr = target["expr"]
            for variable, value in GRAFANA_VARIABLES.items():
                expr = expr.replace(variable, value)
            found.append((panel["title"], target["refId"], expr))
    return found


class TestDashboardFile:
    def test_panels_are_well_formed_for_grafana(self) -> None:
        """Unique panel ids, a gridPos inside the 24-column grid without overlaps, the datasource variable on
        every panel and target, a refId and an expression per target."""
        board = dashboard()
        assert board["uid"] and board["title"] and isinstance(board["schemaVersion"], int)
        assert board["schemaVersion"] >= 39, "export from a current Grafana (schemaVersion 39 or later)"
        panels = board["panels"]
        ids = [p["id"] for p in panels]
        assert len(ids) == len(set(ids)), "panel ids must be unique"
        cells: dict[tuple[int, int], str] = {}
        for panel in panels:
            pos = panel["gridPos"]
            assert {"h", "w", "x", "y"} <= pos.keys() and all(isinstance(pos[k], int) for k in "hwxy"), panel["title"]
            assert pos["w"] > 0 and pos["h"] > 0 and 0 <= pos["x"] and pos["x"] + pos["w"] <= 24, panel["title"]
            for x in range(pos["x"], pos["x"] + pos["w"]):
                for y in range(pos["y"], pos["y"] + pos["h"]):
                    assert (x, y) not in cells, f"{panel['title']!r} overlaps {cells[(x, y)]!r}"
                    cells[(x, y)] = panel["title"]
            if panel["type"] == "row":
                assert not panel.get("targets"), panel["title"]
                continue
            assert panel["title"] and panel["type"] in {"timeseries", "stat", "state-timeline"}, panel["title"]
            assert panel["datasource"] == DATASOURCE, f"{panel['title']}: datasource must be the variable"
            targets = panel["targets"]
            assert targets, f"{panel['title']} has no query"
            assert len({t["refId"] for t in targets}) == len(targets), panel["title"]
            for target in targets:
                assert target["datasource"] == DATASOURCE and target["expr"].strip(), panel["title"]

    def test_datasource_is_a_prometheus_variable(self) -> None:
        """The dashboard picks its Prometheus through the variable ``datasource``, so it imports anywhere."""
        variables = {v["name"]: v for v in dashboard()["templating"]["list"]}
        assert variables["datasource"]["type"] == "datasource"
        assert variables["datasource"]["query"] == "prometheus"

    def test_every_query_reads_series_that_exist(self) -> None:
        """Each oco_gateway_* name a panel reads is exported by the gateway or recorded by rules.yml, and no
        Grafana variable is left once substituted."""
        from tests.unit.test_deploy_files import _exported_metrics

        exported = _exported_metrics()
        recorded = {rule["record"] for group in yaml.safe_load(RULES.read_text(encoding="utf-8"))["groups"]
                    for rule in group["rules"] if "record" in rule}
        for title, _, expr in queries(dashboard()):
            assert "$" not in expr, f"{title}: a Grafana variable the test does not substitute: {expr}"
            for name in re.findall(r"[\w:]*oco_gateway_[\w:]*", expr):
                base = re.sub(r"_(bucket|sum|count)$", "", name)
                assert name in exported or name in recorded or exported.get(base) == "histogram", (
                    f"{title}: {name} is neither exported nor recorded")

    def test_compose_provisions_the_dashboard(self) -> None:
        """docker/compose.yaml's Grafana mounts this dashboard where its provider looks, and a Prometheus
        datasource pointing at the compose Prometheus."""
        compose = yaml.safe_load((ROOT / "docker" / "compose.yaml").read_text(encoding="utf-8"))
        grafana = compose["services"]["grafana"]
        mounts = {v.split(":")[1]: v.split(":")[0] for v in grafana["volumes"]}
        provisioning = ROOT / "docker" / mounts["/etc/grafana/provisioning"]
        providers = yaml.safe_load((provisioning / "dashboards" / "oco-gateway.yml").read_text(encoding="utf-8"))
        path = providers["providers"][0]["options"]["path"]
        dashboards = {target: source for target, source in mounts.items() if target.startswith(path)}
        assert (ROOT / "docker" / dashboards[f"{path}/oco-gateway.json"]).resolve() == DASHBOARD
        sources = yaml.safe_load((provisioning / "datasources" / "prometheus.yml").read_text(encoding="utf-8"))
        (source,) = sources["datasources"]
        assert source["type"] == "prometheus" and source["url"] == "http://prometheus:9090"


# --- the live test ---------------------------------------------------------------------------------------


def network_file(tmp_path: Path, access: KafkaAccess, tag: str, simulator_port: int, key: SigningKey) -> Path:
    """A one-member network, delivered to a WCO single window, with a trust store holding the member's key."""
    trust = tmp_path / "trust.yaml"
    trust.write_text(yaml.safe_dump({MEMBER: [key.trusted_key().model_dump()]}))
    path = tmp_path / "network.yaml"
    path.write_text(yaml.safe_dump({
        "kafka": {"bootstrap_servers": access.bootstrap, "group_id": f"gw-{tag}"},
        "participants": {f"{tag}-p": {"name": "Dashboard test broker"}},
        "members": {MEMBER: {"name": "New Caledonia", "submitters": [f"{tag}-p"],
                             "adapter": {"name": "wco-xml", "settings": {"url": f"http://127.0.0.1:{simulator_port}"}},
                             "delivery": {"rate_per_second": 1000}}},
        "aeo": {"trust_store": str(trust)},
    }))
    access.provision(path)
    return path


def prometheus_config(tmp_path: Path, gateway_port: int, delivery_port: int) -> Path:
    path = tmp_path / "prometheus.yml"
    path.write_text(yaml.safe_dump({
        "global": {"scrape_interval": "1s", "evaluation_interval": "1s", "scrape_timeout": "1s"},
        "rule_files": [str(RULES)],
        "scrape_configs": [
            {"job_name": "oco-gateway", "static_configs": [{"targets": [f"127.0.0.1:{gateway_port}"]}]},
            {"job_name": "oco-gateway-delivery", "static_configs": [{"targets": [f"127.0.0.1:{delivery_port}"]}]},
        ],
    }))
    return path


def start_prometheus(tmp_path: Path, config: Path, port: int) -> subprocess.Popen[bytes]:
    exe = shutil.which("prometheus")
    if exe is None:
        pytest.fail(INSTALL_HINT, pytrace=False)
    log = (tmp_path / "prometheus.log").open("wb")
    return subprocess.Popen([exe, f"--config.file={config}", f"--storage.tsdb.path={tmp_path / 'prometheus-data'}",
                             f"--web.listen-address=127.0.0.1:{port}", "--log.level=warn"],
                            stdout=log, stderr=subprocess.STDOUT)


def get_json(url: str) -> Any:
    with urllib.request.urlopen(url, timeout=10) as resp:
        return json.loads(resp.read())


def instant(port: int, expr: str) -> list[dict[str, Any]]:
    """The series an instant query returns now."""
    body = get_json(f"http://127.0.0.1:{port}/api/v1/query?" + urllib.parse.urlencode({"query": expr}))
    assert body["status"] == "success", body
    result: list[dict[str, Any]] = body["data"]["result"]
    return result


def answers(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=5) as resp:
            return resp.status == 200
    except (urllib.error.URLError, OSError):
        return False


async def publish_aeo(access: KafkaAccess, path: Path, key: SigningKey, trader_id: str) -> None:
    """A status event signed by the member's key (applied), then a record that is no event at all (refused)."""
    settings = load_settings(path)
    event = grant(key, trader_id=trader_id, category="AEOF", effective=date.today() - timedelta(days=10),
                  expiry=date.today() + timedelta(days=900), name="Noumea Freight SARL",
                  address=Address("3 rue du Port", "Noumea", "NC"))
    producer = AIOKafkaProducer(bootstrap_servers=access.bootstrap, **access.security(member_identity(MEMBER)),
                                acks="all")
    await producer.start()
    try:
        await AeoPublisher(producer, settings.members).publish(event)
    finally:
        await producer.stop()
    producer = AIOKafkaProducer(bootstrap_servers=access.bootstrap, **access.admin, acks="all")
    await producer.start()
    try:
        await producer.send_and_wait(aeo_topic(MEMBER), b"not a status event", key=trader_id.encode())
    finally:
        await producer.stop()


@pytest.mark.kafka
@pytest.mark.slow
class TestDashboardQueries:
    async def test_every_panel_query_returns_series(self, kafka_access: KafkaAccess, tmp_path: Path) -> None:
        """After valid, rejected, dead-lettered and AEO-priority submissions delivered to a national system,
        and a status event applied and one refused, every query of every panel returns at least one series
        from a Prometheus scraping the gateway and the delivery worker (rules.yml loaded)."""
        sim_port, gw_port, dl_port, prom_port = free_ports(4)
        tag = f"dash{time.time_ns() % 10**8}"
        key = SigningKey.generate(MEMBER)
        path = network_file(tmp_path, kafka_access, tag, sim_port, key)
        participant = f"{tag}-p"
        processes = [
            ChildProcess(["simulate", "wco", "--member", MEMBER, "--port", str(sim_port)],
                         ready_url=f"http://127.0.0.1:{sim_port}/health", log_path=tmp_path / "wco.log"),
            GatewayProcess(path, bootstrap_servers=kafka_access.bootstrap, metrics_port=gw_port,
                           log_path=tmp_path / "gateway.log", env=kafka_access.env(GATEWAY)),
            GatewayProcess(path, bootstrap_servers=kafka_access.bootstrap, metrics_port=dl_port,
                           log_path=tmp_path / "deliver.log", command=("deliver",), env=kafka_access.env(DELIVERY)),
        ]
        prometheus = start_prometheus(tmp_path, prometheus_config(tmp_path, gw_port, dl_port), prom_port)
        started: list[ChildProcess] = []
        try:
            for process in processes:
                process.start(timeout=120)
                started.append(process)

            trader_id = f"{MEMBER}{secrets.randbelow(10**12):012d}"
            await publish_aeo(kafka_access, path, key, trader_id)
            await until(lambda: answers(f"http://127.0.0.1:{gw_port}/aeo/{trader_id}"),
                        "the gateway's registry to hold the trader", every=0.5, blocking=True)

            async with ParticipantClient(kafka_access.bootstrap, participant,
                                         security=kafka_access.security(participant)) as client:
                valid = {await client.submit(make_declaration(member=MEMBER, lrn=f"{tag}-{i}", seed=i))
                         for i in range(4)}
                valid.add(await client.submit(make_declaration(member=MEMBER, lrn=f"{tag}-aeo", seed=7,
                                                               aeo=[(trader_id, "AEOF")])))
                invalid = make_declaration(member=MEMBER, lrn=f"{tag}-bad", seed=8).replace(
                    b"</FunctionalReferenceID>", b"</FunctionalReferenceID><Nope/>", 1)
                refused = {await client.submit(invalid), await client.submit(b"<MetaData><oops></MetaData>")}
                replies = await client.final_replies(valid | refused, timeout=120)
            finals = {t: read_response(r[-1]).status for t, r in replies.items()}
            assert {finals.get(t) for t in valid} == {"accepted"}, finals
            assert {finals.get(t) for t in refused} == {"rejected"}, finals

            await until(lambda: answers(f"http://127.0.0.1:{prom_port}/-/ready"), "Prometheus to be ready",
                        every=0.5, blocking=True)
            board = queries(dashboard())
            assert len(board) >= 30
            empty: list[str] = []

            def all_return_series() -> bool:
                empty[:] = [f"{title} [{ref}]: {expr}" for title, ref, expr in board if not instant(prom_port, expr)]
                return not empty

            deadline = time.monotonic() + 180  # scrapes every second, rules evaluated every second
            while not await asyncio.to_thread(all_return_series):
                if prometheus.poll() is not None:
                    pytest.fail(f"prometheus exited: {(tmp_path / 'prometheus.log').read_text()[-3000:]}")
                if time.monotonic() > deadline:
                    pytest.fail("panel queries without series after 180 s:\n  " + "\n  ".join(empty))
                await asyncio.sleep(1)
            timed = {s["metric"]["stage"] for s in instant(prom_port, "oco_gateway_stage_seconds_count > 0")}
            assert timed == {"parse", "identify", "validate", "extract", "authorize", "recognise", "route", "publish"}
            steps = {s["metric"]["step"] for s in instant(
                prom_port, f'oco_gateway_delivery_step_seconds_count{{member="{MEMBER}"}} > 0')}
            assert steps == {"national_call", "publish"}
        finally:
            prometheus.terminate()
            try:
                prometheus.wait(timeout=30)
            except subprocess.TimeoutExpired:
                prometheus.kill()
            for process in reversed(started):
                process.stop()
