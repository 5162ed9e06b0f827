"""The trusted-trader network on the real broker: issue, sign, propagate, verify, recognise, prioritise; forged
events refused and parked; the registry rebuilt after a restart; consent enforced by where details go."""

from __future__ import annotations

import asyncio
import dataclasses
import itertools
import json
import secrets
import time
import urllib.error
import urllib.request
from datetime import date, timedelta
from pathlib import Path

import pytest
import yaml
from aiokafka import AIOKafkaProducer
from prometheus_client.parser import text_string_to_metric_families

from gateway import headers as h
from gateway.access.identities import GATEWAY, member_identity
from gateway.aeo.document import write_event
from gateway.aeo.feed import AeoPublisher, RegistryFeed
from gateway.aeo.intake import EventReader
from gateway.aeo.issuing import change_status, grant
from gateway.aeo.registry import AeoRegistry
from gateway.aeo.signing import SigningKey, TrustStore
from gateway.aeo.status import Address
from gateway.config import load_settings
from gateway.ops.broker import free_ports
from gateway.ops.process import GatewayProcess
from gateway.pipeline.chain import build_reading_stages
from gateway.profiles import ProfileRegistry
from gateway.responses import read_response
from gateway.samples import make_declaration
from gateway.topics import DEAD_LETTER, aeo_details_topic, aeo_topic, deliver_topic, priority_topic
from gateway.transport.client import ParticipantClient, TopicTail
from tests.conftest import KafkaAccess

pytestmark = [pytest.mark.kafka, pytest.mark.slow]

REPO = Path(__file__).resolve().parents[2]
TODAY = date.today()
_SEQ = itertools.count()
KEYS = {m: SigningKey.generate(m) for m in ("FJ", "WS", "NZ", "TO")}


def trader(member: str = "FJ") -> str:
    """A trader id no other test (or earlier run on this broker) uses."""
    return f"{member}{secrets.randbelow(10**12):012d}"


class AeoNetwork:
    """A network of its own (unique participants and groups) with a trust store of freshly made keys."""

    def __init__(self, tmp: Path, access: KafkaAccess) -> None:
        n = f"aeo{next(_SEQ)}{secrets.token_hex(2)}"
        self.access = access
        bootstrap = self.bootstrap = access.bootstrap
        self.samoa = f"{n}-ws-broker"
        self.tmp = tmp
        trust = tmp / "trust.yaml"
        trust.write_text(yaml.safe_dump({m: [k.trusted_key().model_dump()] for m, k in KEYS.items()}))
        self.path = tmp / "network.yaml"
        self.path.write_text(yaml.safe_dump({
            "kafka": {"bootstrap_servers": bootstrap, "group_id": f"gw-{n}"},
            "participants": {self.samoa: {"name": "Apia brokers"}},
            "members": {m: {"name": m, "submitters": [self.samoa]} for m in ("FJ", "WS", "NZ", "TO")},
            "aeo": {"trust_store": str(trust)},
        }))
        self.settings = load_settings(self.path)
        access.provision(self.settings)
        self.reader = EventReader(build_reading_stages(self.settings, ProfileRegistry.load([REPO / "schemas"])))

    def gateway(self, name: str) -> GatewayProcess:
        return GatewayProcess(self.path, bootstrap_servers=self.bootstrap, metrics_port=free_ports(1)[0],
                              log_path=self.tmp / f"{name}.log", env=self.access.env(GATEWAY))

    async def publish(self, *events, previous=None) -> None:
        """Publish events as their issuing administrations do: each with its own identity."""
        for event in events:
            identity = self.access.security(member_identity(event.issuer))
            producer = AIOKafkaProducer(bootstrap_servers=self.bootstrap, **identity, acks="all")
            await producer.start()
            try:
                await AeoPublisher(producer, self.settings.members).publish(event, previous)
            finally:
                await producer.stop()

    async def send_raw(self, topic: str, key: str, value: bytes) -> None:
        """Write a record as whoever may write anywhere (the broker's administrator): forgeries, junk."""
        producer = AIOKafkaProducer(bootstrap_servers=self.bootstrap, **self.access.admin, acks="all")
        await producer.start()
        try:
            await producer.send_and_wait(topic, value, key=key.encode())
        finally:
            await producer.stop()

    def feed(self, viewer: str | None = None) -> RegistryFeed:
        """A registry as a member (its own identity: only the details it may read) or the gateway sees it."""
        registry = AeoRegistry(TrustStore.from_settings(self.settings.aeo), viewer=viewer)
        identity = self.access.security(member_identity(viewer) if viewer else GATEWAY)
        return RegistryFeed(registry, self.reader, bootstrap_servers=self.bootstrap, security=identity,
                            issuers=self.settings.aeo_issuers)


def aeo_view(gateway: GatewayProcess, trader_id: str) -> tuple[int, dict]:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{gateway.metrics_port}/aeo/{trader_id}", timeout=5) as resp:
            return resp.status, json.loads(resp.read())
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read() or b"{}")


async def wait_view(gateway: GatewayProcess, trader_id: str, sequence: int, timeout: float = 30) -> dict:
    """Wait until the gateway's registry shows event ``sequence`` of a trader (generous: a loaded machine)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        code, body = await asyncio.to_thread(aeo_view, gateway, trader_id)
        if code == 200 and body["sequence"] >= sequence:
            return body
        await asyncio.sleep(0.05)
    raise AssertionError(f"the gateway never showed {trader_id} #{sequence}: last {code} {body}")


def issue(member: str, trader_id: str, **kw):
    args = dict(trader_id=trader_id, category="AEOF", effective=TODAY - timedelta(days=10),
                expiry=TODAY + timedelta(days=900), name="Pacific Freight Ltd",
                address=Address("12 Harbour Road", "Suva", "FJ"), consent=("NZ",))
    args.update(kw)
    return grant(KEYS[member], **args)


def refused_of(gateway: GatewayProcess) -> dict[str, float]:
    families = text_string_to_metric_families(gateway.metrics_text())
    return {s.labels["reason"]: s.value for f in families if f.name == "oco_gateway_aeo_refused"
            for s in f.samples if s.name.endswith("_total")}


@pytest.fixture(scope="module")
def net(tmp_path_factory: pytest.TempPathFactory, kafka_access: KafkaAccess) -> AeoNetwork:
    return AeoNetwork(tmp_path_factory.mktemp("aeo"), kafka_access)


@pytest.fixture(scope="module")
def gateway(net: AeoNetwork):
    process = net.gateway("gateway")
    process.start(timeout=120)
    try:
        yield process
    finally:
        process.stop()


async def declare(net: AeoNetwork, holder: str, lrn: str, topics: list[str]) -> tuple[object, dict]:
    """Submit one WS declaration naming ``holder`` as AEO; return its reply summary and where it was delivered."""
    tails = {t: TopicTail(net.bootstrap, t, security=net.access.admin) for t in topics}
    for tail in tails.values():
        await tail.start()
    try:
        async with ParticipantClient(net.bootstrap, net.samoa, security=net.access.security(net.samoa)) as client:
            tid = await client.submit(make_declaration(member="WS", lrn=lrn, aeo=[(holder, "AEOF")], seed=5))
            reply = (await client.replies({tid}, timeout=60))[tid]
        seen = {t: (await tail.wait_for({tid}, timeout=3)).get(tid) for t, tail in tails.items()}
    finally:
        for tail in tails.values():
            await tail.stop()
    return read_response(reply), seen


class TestRecognitionEndToEnd:
    async def test_issued_status_gives_priority_and_suspension_takes_it_away(self, net, gateway) -> None:
        """FJ certifies a trader; the gateway knows within moments; a WS declaration naming it goes to WS's
        priority lane with the recognition header and a Response saying why; after FJ suspends it the next
        declaration is ordinary and the Response says it is suspended."""
        fj = trader("FJ")
        first = issue("FJ", fj)
        await net.publish(first)
        view = await wait_view(gateway, fj, 1)
        assert view["status"] == "granted" and view["active"] and "WS" in view["recognised_by"]
        assert "name" not in view  # the gateway sees the public view only

        summary, seen = await declare(net, fj, f"P-{fj}", [priority_topic("WS"), deliver_topic("WS")])
        assert summary.status == "received"
        assert summary.statement("AEO").code == "AEO-PRIORITY" and "regional" in summary.statement("AEO").description
        delivered = seen[priority_topic("WS")]
        assert delivered is not None and seen[deliver_topic("WS")] is None
        headers = {k: v.decode() for k, v in delivered.headers}
        assert headers[h.LANE] == "priority" and headers[h.AEO_RECOGNISED] == f"{fj} AEOF FJ"

        await net.publish(change_status(KEYS["FJ"], first, "suspended"), previous=first)
        assert (await wait_view(gateway, fj, 2))["status"] == "suspended"
        summary, seen = await declare(net, fj, f"O-{fj}", [priority_topic("WS"), deliver_topic("WS")])
        assert summary.statement("AEO").code == "AEO-NO-PRIORITY" and "suspended" in summary.statement("AEO").description
        assert seen[deliver_topic("WS")] is not None and seen[priority_topic("WS")] is None

    async def test_unknown_aeo_gets_no_priority_and_is_told_why(self, net, gateway) -> None:
        summary, seen = await declare(net, "FJ999999999", "U-1", [deliver_topic("WS")])
        assert summary.status == "received" and seen[deliver_topic("WS")] is not None
        assert "not a certified AEO" in summary.statement("AEO").description

    async def test_a_suspension_applies_to_every_declaration_processed_after_it(self, net, gateway) -> None:
        """The race at the boundary: versions of one declaration (one key, so processed in order) stream in
        while FJ suspends the trader. Their outcomes switch once, from priority to no priority, and every
        version submitted after the gateway showed the suspension is ordinary."""
        fj = trader("FJ")
        first = issue("FJ", fj)
        await net.publish(first)
        await wait_view(gateway, fj, 1)
        lrn = f"R-{fj}"
        key = f"{net.samoa}:{lrn}".encode()
        payload = make_declaration(member="WS", lrn=lrn, aeo=[(fj, "AEOS")], seed=9)
        ids: list[str] = []
        after_seen: list[str] = []
        suspended_seen = asyncio.Event()

        async def watch() -> None:
            await net.publish(change_status(KEYS["FJ"], first, "suspended"), previous=first)
            await wait_view(gateway, fj, 2)
            suspended_seen.set()

        async with ParticipantClient(net.bootstrap, net.samoa, security=net.access.security(net.samoa)) as client:
            for _ in range(10):  # in flight, and the first of them answered, before FJ suspends
                ids.append(await client.submit(payload, key=key))
            await client.replies({ids[0]}, timeout=60)
            watcher = asyncio.create_task(watch())
            for _ in range(400):
                seen_before = suspended_seen.is_set()
                tid = await client.submit(payload, key=key)
                ids.append(tid)
                if seen_before:
                    after_seen.append(tid)
                    if len(after_seen) >= 10:
                        break
                await asyncio.sleep(0.01)
            await watcher
            replies = await client.replies(set(ids), timeout=90)
            history = client._replies.history  # noqa: SLF001 - reply order per key is what is tested
        assert set(replies) == set(ids) and after_seen
        # Replies of one key arrive in processing order: sort by their offset on the reply partition.
        ordered = sorted((history[t][0] for t in ids), key=lambda r: (r.partition, r.offset))
        outcomes = [dict(r.headers)[h.AEO_OUTCOME].decode() for r in ordered]
        switch = outcomes.index("no_priority")
        assert 0 < switch and set(outcomes[:switch]) == {"priority"} and set(outcomes[switch:]) == {"no_priority"}
        assert all(dict(history[t][0].headers)[h.AEO_OUTCOME] == b"no_priority" for t in after_seen)


class TestTrust:
    async def test_forged_replayed_unknown_and_foreign_events_are_refused_and_parked(self, net, gateway) -> None:
        """Every kind of bad event is refused, parked in oco.dlq with its reason, counted; the registry keeps
        the genuine status."""
        fj = trader("FJ")
        genuine = issue("FJ", fj)
        second = change_status(KEYS["FJ"], genuine, "suspended")
        await net.publish(genuine, second)
        await wait_view(gateway, fj, 2)
        before = refused_of(gateway)
        third = change_status(KEYS["FJ"], second, "reinstated")
        ws_trader = trader("WS")
        bad = {
            "unsigned": (aeo_topic("FJ"), fj, dataclasses.replace(third, signature=None)),
            "bad_signature": (aeo_topic("FJ"), fj, dataclasses.replace(third, status="revoked")),
            "unknown_key": (aeo_topic("FJ"), fj, change_status(SigningKey.generate("FJ", "FJ-stolen"), second, "reinstated")),
            "replayed": (aeo_topic("FJ"), fj, genuine),
            "out_of_jurisdiction": (aeo_topic("FJ"), ws_trader, KEYS["FJ"].sign(dataclasses.replace(
                issue("WS", ws_trader), issuer="FJ", signature=None))),
            "invalid": (aeo_topic("FJ"), fj, None),
        }
        dlq = TopicTail(net.bootstrap, DEAD_LETTER, security=net.access.admin)
        await dlq.start()
        try:
            for reason, (topic, key, event) in bad.items():
                value = b"<MetaData>not an event" if event is None else write_event(event, with_details=False)
                await net.send_raw(topic, key, value)

            def parked() -> dict[str, str]:
                return {dict(r.headers)[h.AEO_REFUSAL].decode(): r.key.decode()
                        for rs in dlq.history.values() for r in rs if h.AEO_REFUSAL in dict(r.headers)
                        and r.key.decode() in (fj, ws_trader)}

            assert await dlq.wait_until(lambda: set(parked()) >= set(bad), timeout=60), parked()
        finally:
            await dlq.stop()
        view = await wait_view(gateway, fj, 2)
        assert (view["status"], view["sequence"]) == ("suspended", 2)
        assert aeo_view(gateway, ws_trader)[0] == 404
        after = refused_of(gateway)
        assert all(after.get(r, 0) - before.get(r, 0) >= 1 for r in bad), (before, after)
        log = gateway.log_path.read_text()
        assert '"security_event": true' in log and "aeo_event_refused" in log

    async def test_registry_survives_a_restart_without_parking_twice(self, net, gateway) -> None:
        """A second gateway (a restart) rebuilds the same registry from the compacted topics before it is ready,
        and does not park again what the first already parked."""
        fj = trader("FJ")
        first = issue("FJ", fj)
        dlq = TopicTail(net.bootstrap, DEAD_LETTER, security=net.access.admin)
        await dlq.start()
        try:
            await net.publish(first, change_status(KEYS["FJ"], first, "revoked"))
            await net.send_raw(aeo_topic("FJ"), fj, write_event(dataclasses.replace(first, signature=None)))
            await wait_view(gateway, fj, 2)
            def parked_count() -> int:
                return sum(1 for rs in dlq.history.values() for r in rs if r.key == fj.encode())
            assert await dlq.wait_until(lambda: parked_count() == 1, timeout=60)
            gateway.stop()
            again = net.gateway("gateway-restarted")
            again.start(timeout=120)
            try:
                code, view = aeo_view(again, fj)  # ready means loaded: no waiting here
                assert code == 200 and (view["status"], view["sequence"]) == ("revoked", 2)
                await dlq.wait_until(lambda: False, timeout=3)  # whatever a re-park would have written
                assert parked_count() == 1
            finally:
                again.stop()
                gateway.start(timeout=120)
        finally:
            await dlq.stop()


class TestConsent:
    async def test_details_reach_only_consented_members(self, net) -> None:
        """NZ (consented) sees the name and address; TO does not, and nothing about the trader was ever
        written to TO's details topic; the public topic carries no name."""
        fj = trader("FJ")
        event = issue("FJ", fj, consent=("NZ",))
        await net.publish(event)
        views = {}
        for viewer in ("NZ", "TO", "FJ", None):
            feed = net.feed(viewer)
            await feed.start()
            try:
                await feed.wait_loaded(60)
                views[viewer] = await feed.wait_for(fj, 1, timeout=30)
            finally:
                await feed.stop()
        assert views["NZ"].details.name == "Pacific Freight Ltd" and views["FJ"].details is not None
        assert views["TO"].details is None and views[None].details is None
        for topic in (aeo_details_topic("FJ", "TO"), aeo_topic("FJ")):
            values = await read_all(net.bootstrap, net.access.admin, topic, fj)
            if topic == aeo_topic("FJ"):
                assert values and all(b"Pacific Freight" not in v for v in values)
            else:
                assert values == []

        # Withdrawing consent: a tombstone on NZ's details topic removes the details from NZ's registry.
        withdrawn = change_status(KEYS["FJ"], event, "suspended", consent=())
        await net.publish(withdrawn, previous=event)
        feed = net.feed("NZ")
        await feed.start()
        try:
            await feed.wait_loaded(60)
            assert (await feed.wait_for(fj, 2, timeout=30)).details is None
        finally:
            await feed.stop()


async def read_all(bootstrap: str, auth: dict, topic: str, key: str) -> list[bytes]:
    """Every value ever written under ``key`` to ``topic`` (from the beginning)."""
    from aiokafka import AIOKafkaConsumer, TopicPartition

    from gateway.transport.client import topic_partitions

    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, **auth, enable_auto_commit=False)
    await consumer.start()
    try:
        tps = [TopicPartition(topic, p) for p in await topic_partitions(consumer, topic)]
        consumer.assign(tps)
        await consumer.seek_to_beginning(*tps)
        end = await consumer.end_offsets(tps)
        out: list[bytes] = []
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and any([await consumer.position(tp) < end[tp] for tp in tps]):
            for records in (await consumer.getmany(timeout_ms=500)).values():
                out += [r.value for r in records if r.key == key.encode()]
        return out
    finally:
        await consumer.stop()
