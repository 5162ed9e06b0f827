"""Trusted-trader phases: how long a registry of N traders takes to load and what it weighs, and how fast an issued
status reaches every registry while declarations flow through the gateway.

Each figure has a baseline taken in the same run: the registry load beside reading the same records with a bare
consumer (no verification), the propagation beside a bare produce → consume round trip on the same broker.
"""

from __future__ import annotations

import asyncio
import gc
import time
import uuid
from dataclasses import dataclass, field
from datetime import date, timedelta
from pathlib import Path

import yaml
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition

from bench.kafka_io import security, use_broker
from bench.report import Latency, Measurement
from gateway.aeo.document import write_event
from gateway.aeo.feed import AeoPublisher, RegistryFeed, aeo_topic_names
from gateway.aeo.intake import EventReader
from gateway.aeo.issuing import change_status, grant
from gateway.aeo.registry import AeoRegistry
from gateway.aeo.signing import SigningKey, TrustStore
from gateway.aeo.status import Address
from gateway.config import GatewaySettings, load_settings
from gateway.pipeline.chain import build_reading_stages
from gateway.profiles import ProfileRegistry
from gateway.topics import aeo_topic
from gateway.transport.client import topic_partitions
from gateway.transport.topics import ensure_topics

__all__ = ["AeoFigures", "propagation", "registry_load", "write_aeo_network"]

ISSUERS = ("FJ", "WS", "NZ")
VIEWERS = (None, "NZ", "WS")  # the gateway's view and two members' own views


@dataclass(slots=True)
class AeoFigures:
    """What the trusted-trader phases measured."""

    measurements: list[Measurement] = field(default_factory=list)
    diagnostics: dict[str, str] = field(default_factory=dict)


def write_aeo_network(path: Path, base: Path, keys: dict[str, SigningKey]) -> Path:
    """Write a copy of the network file ``base`` with a trust store of ``keys``; return its path."""
    trust = path.with_name("aeo-trust.yaml")
    trust.write_text(yaml.safe_dump({m: [k.trusted_key().model_dump()] for m, k in keys.items()}))
    data = yaml.safe_load(base.read_text())
    data["aeo"] = {"trust_store": str(trust)}
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    return path


def _rss_mb() -> float:
    pages = int(Path("/proc/self/statm").read_text().split()[1])
    return pages * 4096 / 1e6


def _reader(settings: GatewaySettings) -> EventReader:
    return EventReader(build_reading_stages(settings, ProfileRegistry.load([settings.profiles_dir])))


async def registry_load(settings: GatewaySettings, keys: dict[str, SigningKey], traders: int,
                        figures: AeoFigures, say) -> None:  # noqa: ANN001 - the runner's progress printer
    """Publish ``traders`` signed statuses, then time a registry loading them (and a bare consumer reading them)."""
    bootstrap = settings.kafka.bootstrap_servers
    today = date.today()
    say(f"AEO registry: signing and publishing {traders} trader statuses ...")
    started = time.perf_counter()
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, **security(), acks="all", linger_ms=20, max_batch_size=1024 * 1024)
    await producer.start()
    try:
        acks = []
        for i in range(traders):
            issuer = ISSUERS[i % len(ISSUERS)]
            event = grant(keys[issuer], trader_id=f"{issuer}{i:09d}", category=("AEOC", "AEOS", "AEOF")[i % 3],
                          effective=today - timedelta(days=i % 300), expiry=today + timedelta(days=400 + i % 700),
                          name=f"Trader {i} Ltd", address=Address(f"{i} Wharf Road", "Suva", issuer),
                          consent=("NZ",) if i % 2 else ())
            acks.append(await producer.send(aeo_topic(issuer), write_event(event, with_details=False),
                                            key=event.trader_id.encode()))
            if len(acks) >= 2000:
                await asyncio.gather(*acks)
                acks.clear()
        await asyncio.gather(*acks)
    finally:
        await producer.stop()
    say(f"  published in {time.perf_counter() - started:.1f} s; loading a registry from the topics ...")

    # Baseline: the same records read by a bare consumer, nothing verified.
    tps_topics = [aeo_topic(i) for i in settings.aeo_issuers]
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, **security(), enable_auto_commit=False, max_partition_fetch_bytes=8 << 20)
    await consumer.start()
    try:
        tps = [TopicPartition(t, p) for t in tps_topics for p in await topic_partitions(consumer, t)]
        consumer.assign(tps)
        await consumer.seek_to_beginning(*tps)
        end = await consumer.end_offsets(tps)
        began, read = time.perf_counter(), 0
        while any([await consumer.position(tp) < end[tp] for tp in tps]):
            read += sum(len(rs) for rs in (await consumer.getmany(timeout_ms=200, max_records=5000)).values())
        bare_seconds = time.perf_counter() - began
    finally:
        await consumer.stop()

    gc.collect()
    before = _rss_mb()
    registry = AeoRegistry(TrustStore(
        {m: [k.trusted_key()] for m, k in keys.items()}))
    feed = RegistryFeed(registry, _reader(settings), bootstrap_servers=bootstrap, security=security(), issuers=settings.aeo_issuers)
    await feed.start()
    try:
        await feed.wait_loaded(1800)
    finally:
        await feed.stop()
    gc.collect()
    grown = _rss_mb() - before
    assert feed.load_seconds is not None
    figures.measurements.append(Measurement(
        "aeo_bare_read", f"AEO topics read bare ({read} records)", read, bare_seconds,
        note="aiokafka reads the public AEO topics from the beginning, nothing parsed or verified: the baseline"))
    figures.measurements.append(Measurement(
        "aeo_registry_load", f"AEO registry load ({len(registry)} traders)", len(registry), feed.load_seconds,
        note="RegistryFeed from start to loaded: each event parsed safely, XSD-validated, Ed25519-verified, "
             "applied; rate is traders/s"))
    figures.diagnostics["AEO registry size"] = (
        f"{len(registry)} traders: process memory grew {grown:.0f} MB while loading it "
        f"({grown * 1e6 / max(1, len(registry)):.0f} bytes per trader, RSS after gc); load "
        f"{feed.load_seconds:.1f} s = {feed.load_seconds / bare_seconds:.1f}x the bare read "
        f"({bare_seconds:.2f} s)")


async def propagation(settings: GatewaySettings, keys: dict[str, SigningKey], gateway_port: int, samples: int,
                      rate: float, figures: AeoFigures, say) -> None:  # noqa: ANN001 - the runner's printer
    """Time ``aeo issue`` → every registry shows it, ``samples`` times, while declarations naming AEOs flow through
    the gateway at ``rate`` per second; beside a bare Kafka produce → consume round trip on the same broker.

    The registries: the gateway process's (polled on ``GET /aeo/<trader>``) and three in this process (the
    public view, NZ's and WS's own views with the details topics addressed to them).
    """
    from gateway.samples import make_declaration
    from gateway.transport.client import ParticipantClient

    bootstrap = settings.kafka.bootstrap_servers
    trust = TrustStore({m: [k.trusted_key()] for m, k in keys.items()})
    reader = _reader(settings)
    feeds = [RegistryFeed(AeoRegistry(trust, viewer=v), reader, bootstrap_servers=bootstrap, security=security(),
                          issuers=settings.aeo_issuers, client_id=f"bench-aeo-{v or 'public'}") for v in VIEWERS]
    for feed in feeds:
        await feed.start()
    for feed in feeds:
        await feed.wait_loaded(1800)
    participant, member = next((p, code) for code, m in settings.members.items() for p in m.submitters)
    sent = 0

    async def flow() -> None:
        nonlocal sent
        async with ParticipantClient(bootstrap, participant, security=security()) as client:
            began = time.perf_counter()
            while True:
                due = began + sent / rate
                await asyncio.sleep(max(0.0, due - time.perf_counter()))
                await client.send(make_declaration(member=member, lrn=f"AEO-FLOW-{sent}", seed=sent,
                                                   aeo=[("FJ000000001", "AEOF")]))
                sent += 1

    async def gateway_shows(trader: str, sequence: int) -> None:
        import json
        import urllib.error
        import urllib.request

        def look() -> int:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{gateway_port}/aeo/{trader}", timeout=5) as resp:
                    return int(json.loads(resp.read())["sequence"])
            except urllib.error.HTTPError:
                return 0
        deadline = time.monotonic() + 60
        while await asyncio.to_thread(look) < sequence:
            if time.monotonic() > deadline:
                raise TimeoutError(f"the gateway never showed {trader}")
            await asyncio.sleep(0.002)

    scratch = "bench.aeo.round-trip"
    await ensure_topics(settings, [scratch])
    bare = AIOKafkaConsumer(bootstrap_servers=bootstrap, **security(), enable_auto_commit=False, fetch_max_wait_ms=50)
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, **security(), acks="all", enable_idempotence=True, linger_ms=0)
    await bare.start()
    await producer.start()
    flowing = asyncio.create_task(flow())
    times, rounds = [], []
    try:
        tps = [TopicPartition(scratch, p) for p in sorted(await topic_partitions(bare, scratch))]
        bare.assign(tps)
        await bare.seek_to_end(*tps)
        publisher = AeoPublisher(producer, settings.members)
        today = date.today()
        say(f"AEO propagation: {samples} issues, each until 4 registries show it, with declarations at {rate:g}/s ...")
        await asyncio.sleep(1.0)  # the stream is flowing before the first sample
        for i in range(samples):
            trader = f"FJ{uuid.uuid4().int % 10**12:012d}"
            event = grant(keys["FJ"], trader_id=trader, category="AEOF", effective=today, expiry=today + timedelta(days=365),
                          name="Propagation Ltd", address=Address("1 Quay", "Suva", "FJ"), consent=("NZ", "WS"))
            started = time.perf_counter()
            await publisher.publish(event)
            await asyncio.gather(*(f.wait_for(trader, 1, 60) for f in feeds), gateway_shows(trader, 1))
            times.append(time.perf_counter() - started)
            started = time.perf_counter()
            await (await producer.send(scratch, b"x" * 900, key=trader.encode()))
            while not any((await bare.getmany(timeout_ms=100)).values()):
                pass
            rounds.append(time.perf_counter() - started)
            await asyncio.sleep(0.05)
    finally:
        flowing.cancel()
        try:
            await flowing
        except (asyncio.CancelledError, Exception):  # noqa: BLE001 - the stream only loads the gateway
            pass
        await producer.stop()
        await bare.stop()
        for feed in feeds:
            await feed.stop()
    figures.measurements.append(Measurement(
        "aeo_round_trip", "Kafka round trip, bare (baseline)", len(rounds), sum(rounds), Latency.of(rounds),
        note="one 900-byte record produced (acks=all) and consumed by a waiting consumer, same broker, same moments"))
    figures.measurements.append(Measurement(
        "aeo_propagation", "AEO issue → all 4 registries show it", len(times), sum(times), Latency.of(times),
        note=f"signed event published (public + 3 details views, acks=all) until the gateway's GET /aeo and three "
             f"in-process registries (public, NZ, WS views) hold it; {sent} declarations flowed meanwhile"))
    prop, base = Latency.of(times), Latency.of(rounds)
    figures.diagnostics["AEO propagation ÷ bare round trip"] = (
        f"p50 {prop.p50_ms / base.p50_ms:.1f}x, p99 {prop.p99_ms / base.p99_ms:.1f}x")


async def standalone(traders: int, samples: int, rate: float, state_dir: Path) -> AeoFigures:
    """Run both phases on a broker and gateway of their own (``python -m bench.aeo``)."""
    import tempfile

    from bench.network import write_network
    from gateway.ops.broker import LocalBroker, free_ports
    from gateway.ops.process import GatewayProcess

    def say(message: str) -> None:
        print(f"[bench.aeo {time.strftime('%H:%M:%S')}] {message}", flush=True)

    figures = AeoFigures()
    keys = {m: SigningKey.generate(m) for m in ISSUERS}
    with tempfile.TemporaryDirectory(prefix="oco-bench-aeo-") as tmp:
        port, controller, metrics_port = free_ports(3)
        broker = LocalBroker(Path(tmp) / "kafka", port=port, controller_port=controller)
        use_broker(broker)
        broker.start(timeout=120)
        try:
            base = write_network(Path(tmp) / "base.yaml", bootstrap_servers=broker.bootstrap_servers,
                                 group_id=f"bench-aeo-{uuid.uuid4().hex[:8]}")
            config = write_aeo_network(Path(tmp) / "network.yaml", base, keys)
            settings = load_settings(config)
            await ensure_topics(settings, aeo_topic_names(settings.aeo_issuers, settings.members), compacted=True)
            await registry_load(settings, keys, traders, figures, say)
            gateway = GatewayProcess(config, bootstrap_servers=broker.bootstrap_servers, metrics_port=metrics_port,
                                     log_path=state_dir / "aeo-gateway.log")
            await asyncio.to_thread(gateway.start, 600)
            try:
                await propagation(settings, keys, metrics_port, samples, rate, figures, say)
            finally:
                await asyncio.to_thread(gateway.stop)
        finally:
            broker.stop()
    return figures


if __name__ == "__main__":
    import argparse

    from bench.report import _row

    parser = argparse.ArgumentParser(prog="python -m bench.aeo", description=__doc__)
    parser.add_argument("--traders", type=int, default=100_000)
    parser.add_argument("--samples", type=int, default=50)
    parser.add_argument("--rate", type=float, default=100.0, help="declarations per second meanwhile")
    args = parser.parse_args()
    result = asyncio.run(standalone(args.traders, args.samples, args.rate, Path(".state/bench")))
    for m in result.measurements:
        print(_row(m))
    for k, v in result.diagnostics.items():
        print(f"{k}: {v}")
