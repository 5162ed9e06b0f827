"""Run every phase in order (corpus, baseline b, broker, baseline a, end-to-end, scale-out, per-member delivery,
priority lane) and collect the report."""

from __future__ import annotations

import asyncio
import os
import platform
import signal
import sys
import tempfile
import time
import uuid
from collections import Counter
from collections.abc import Coroutine
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bench import BenchError
from bench.aeo import ISSUERS as AEO_ISSUERS
from bench.aeo import AeoFigures, propagation, registry_load, write_aeo_network
from bench.baselines import consume_only, full_pipeline, parse_validate
from bench.model import declaration_model, model_cost
from bench.concurrency import LATENCY_MEMBERS, ConcurrencyPlan, concurrency_phase
from bench.corpus import Declaration, SizeSummary, generate_corpus
from bench.delivery import FAST, SLOW, MemberPlan, members_phase
from bench.end_to_end import latency, throughput
from bench.exactly_once import exactly_once_phases
from bench.kafka_io import (Outgoing, ReplyCollector, new_tracking_id, produce_all, quiet_kafka_client,
                            read_tracking_ids, use_broker)
from bench.naive import NaivePlan, naive_phases
from bench.network import MEMBERS, PARTICIPANTS, write_network
from bench.priority import LANE_MEMBER, LanePlan, lane_phase
from bench.probes import Probe, describe_interval
from bench.report import Report
from bench.scaleout import ScalePlan, scaleout_phase
from gateway.aeo.feed import aeo_topic_names
from gateway.aeo.signing import SigningKey
from gateway.config import GatewaySettings, load_settings
from gateway.ops.broker import KAFKA_VERSION, LocalBroker, free_ports
from gateway.ops.process import GatewayProcess
from gateway.profiles import ModelReaders, ProfileRegistry
from gateway.topics import deliver_topic, reply_topic, submit_topic
from gateway.transport.topics import ensure_topics

__all__ = ["PHASES", "Options", "run"]

PHASES = ("gateway", "scaleout", "members", "concurrency", "lanes", "aeo")  # what --only may pick

_RATE_CAP = 500.0  # decl/s: the latency phase measures an unsaturated gateway, not a second throughput test


@dataclass(frozen=True, slots=True)
class Options:
    """What to run.

    Attributes:
        count: declarations in the corpus.
        seed: corpus seed.
        max_kb: largest declaration, in KB.
        rate: latency phase rate (decl/s); None: half the measured end-to-end throughput, at most 500.
        latency_seconds: length of the latency phase.
        state_dir: where the processes' logs go (the broker lives in a temporary folder).
        member_count: declarations per member in the per-member delivery phase; 0 skips it.
        slow_delay: seconds the slow member's national system takes before each answer.
        warm_up: declarations per member sent untimed before that phase's first burst.
        rounds: that phase's runs with the slow member busy, each between two runs without.
        lane_backlog: ordinary declarations queued for the priority-lane phase; 0 skips it.
        lane_samples: priority-lane phase: declarations timed one at a time per lane and condition.
        lane_delay: priority-lane phase: seconds the fake national system takes per answer.
        only: run just these phases (of :data:`PHASES`); all by default.
        aeo_traders: traders in the trusted-trader registry phase; 0 skips the AEO phases.
        aeo_samples: status changes timed from issue to every registry.
        concurrency_levels: latency-bound delivery phase: the concurrencies to run; empty skips it.
        concurrency_latency: that phase's national latency (seconds before each answer).
        concurrency_seconds: how long each of its runs should last at its bound.
        scale_rounds: scale-out phase: runs with two gateway processes, each between two with one; 0 skips it.
        scale_backlog: scale-out phase: declarations in its backlog (the corpus, cycled).
    """

    count: int
    seed: int
    max_kb: float
    rate: float | None
    latency_seconds: float
    state_dir: Path
    member_count: int = 0
    slow_delay: float = 0.2
    warm_up: int = 5
    rounds: int = 3
    lane_backlog: int = 0
    lane_samples: int = 10
    lane_delay: float = 0.005
    only: tuple[str, ...] = PHASES
    aeo_traders: int = 100_000
    aeo_samples: int = 50
    concurrency_levels: tuple[int, ...] = ()
    concurrency_latency: float = 0.2
    concurrency_seconds: float = 5.0
    scale_rounds: int = 0
    scale_backlog: int = 8000


def say(message: str) -> None:
    """Print a progress line on stderr (the table goes to stdout).

    Args:
        message: what is happening.
    """
    print(f"[bench {time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


def machine() -> dict[str, object]:
    """Return what the figures depend on: CPUs, CPU model, Python, platform, Kafka version."""
    model = ""
    try:
        model = next((line.split(":", 1)[1].strip() for line in Path("/proc/cpuinfo").read_text().splitlines()
                      if line.startswith("model name")), "")
    except OSError:
        pass
    return {"cpus": os.cpu_count(), "cpu_model": model, "python": platform.python_version(),
            "platform": platform.platform(), "kafka": KAFKA_VERSION}


def run(options: Options, report: Report | None = None, command: str = "") -> Report:
    """Run the benchmark; the report is filled in as phases finish, so a failure still leaves what was measured.

    Args:
        options: what to run.
        report: an empty report to fill (pass one to keep the partial figures if this raises).
        command: the command line, recorded in the report.

    Raises:
        BenchError: a phase could not measure (outputs missing, rejections, stalls).
        BrokerError, GatewayError: the broker or the gateway did not start.
    """
    gateway_phases = "gateway" in options.only
    scale_phase = options.scale_rounds > 0 and "scaleout" in options.only
    corpus: list[Declaration] = []
    if gateway_phases or scale_phase:
        say(f"generating {options.count} declarations (seed {options.seed}, at most {options.max_kb:g} KB) ...")
        corpus = generate_corpus(options.count, seed=options.seed, max_kb=options.max_kb)
        sizes = SizeSummary.of(corpus)
        say(f"corpus: {sizes.min_kb:.1f} / {sizes.median_kb:.1f} / {sizes.max_kb:.1f} KB (min / median / max), "
            f"{sizes.total_mb:.1f} MB")
    else:
        sizes = SizeSummary(0, 0, 0, 0, 0, 0, 0)
    if report is None:
        report = Report(command, machine(), sizes)
    report.corpus = sizes
    with tempfile.TemporaryDirectory(prefix="oco-bench-") as tmp:
        port, controller_port, metrics_port = free_ports(3)
        broker = LocalBroker(Path(tmp) / "kafka", port=port, controller_port=controller_port)
        use_broker(broker)  # every client and process of the run as the broker's administrator
        config = write_network(Path(tmp) / "network.yaml", bootstrap_servers=broker.bootstrap_servers,
                               group_id=f"oco-bench-{uuid.uuid4().hex[:12]}")
        settings = load_settings(config)
        registry = ProfileRegistry.load([settings.profiles_dir])
        if gateway_phases:
            # Before the broker starts, so the JVM takes no CPU from the in-process baseline.
            say("baseline (b): parse + validate in this process ...")
            report.measurements.append(parse_validate(corpus, settings, registry))
            report.measurements.append(full_pipeline(corpus, settings, registry))
            model = declaration_model(corpus, ModelReaders.load([settings.profiles_dir]))
            report.measurements.append(model)
            report.diagnostics["declaration model build"] = model_cost(model, report.get("parse_validate"))
        say(f"starting Kafka {KAFKA_VERSION} on {broker.bootstrap_servers} ...")
        try:
            broker.start(timeout=120)
            if gateway_phases:
                gateway = GatewayProcess(config, bootstrap_servers=broker.bootstrap_servers,
                                         metrics_port=metrics_port, log_path=options.state_dir / "gateway.log")
                gateway.log_path.unlink(missing_ok=True)  # the log of this run only
                asyncio.run(_terminable(_kafka_phases(report, options, corpus, settings, broker, gateway)))
            if scale_phase:
                say(f"scale-out: a backlog of {options.scale_backlog} drained by 1 gateway process, then 2 in one "
                    f"group; {2 * options.scale_rounds + 1} runs ...")
                plan = ScalePlan(rounds=options.scale_rounds, backlog=options.scale_backlog, log_dir=options.state_dir)
                asyncio.run(_terminable(scaleout_phase(report, plan, broker, config, corpus,
                                                       int(report.machine.get("cpus") or 1))))
            if options.member_count > 0 and "members" in options.only:
                say(f"per-member delivery: {' and '.join(FAST)}, then {SLOW} too (+{options.slow_delay:g} s per "
                    f"answer), behind ASYCUDA World simulators; {2 * options.rounds + 1} runs of "
                    f"{options.member_count} declarations per fast member ...")
                plan = MemberPlan(per_member=options.member_count, slow_delay=options.slow_delay,
                                  warm_up=options.warm_up, seed=options.seed, max_kb=options.max_kb,
                                  log_dir=options.state_dir, rounds=options.rounds)
                asyncio.run(_terminable(members_phase(report, plan, broker, Path(tmp) / "members.yaml",
                                                      int(report.machine.get("cpus") or 1))))
            if options.concurrency_levels and "concurrency" in options.only:
                say(f"latency-bound delivery: {' and '.join(LATENCY_MEMBERS)} behind ASYCUDA World simulators "
                    f"answering after {options.concurrency_latency:g} s, concurrency "
                    f"{', '.join(map(str, options.concurrency_levels))} ...")
                latency_plan = ConcurrencyPlan(
                    levels=options.concurrency_levels, latency=options.concurrency_latency,
                    seconds=options.concurrency_seconds, warm_up=options.warm_up, seed=options.seed,
                    log_dir=options.state_dir)
                asyncio.run(_terminable(concurrency_phase(report, latency_plan, broker, Path(tmp) / "concurrency.yaml",
                                                          int(report.machine.get("cpus") or 1))))
            if options.lane_backlog > 0 and "lanes" in options.only:
                say(f"priority lane: {LANE_MEMBER}'s worker in this process, a fake national system answering after "
                    f"{options.lane_delay * 1000:g} ms; {options.lane_samples} declarations per lane idle, then "
                    f"{options.lane_samples} priority ones behind {options.lane_backlog} ordinary ...")
                lanes = LanePlan(backlog=options.lane_backlog, samples=options.lane_samples, delay=options.lane_delay)
                asyncio.run(_terminable(lane_phase(report, lanes, broker.bootstrap_servers, Path(tmp) / "lanes.yaml")))
            if options.aeo_traders > 0 and "aeo" in options.only:
                asyncio.run(_terminable(_aeo_phases(report, options, config, broker)))
        finally:
            say("stopping Kafka ...")
            broker.stop()
    return report


async def _aeo_phases(report: Report, options: Options, config: Path, broker: LocalBroker) -> None:
    """Registry load and size, then propagation with declarations flowing through a gateway of its own."""
    keys = {m: SigningKey.generate(m) for m in AEO_ISSUERS}
    settings = load_settings(write_aeo_network(config.with_name("aeo.yaml"), config, keys))
    with quiet_kafka_client():
        await ensure_topics(settings, aeo_topic_names(settings.aeo_issuers, settings.members), compacted=True)
    figures = AeoFigures()
    try:
        await registry_load(settings, keys, options.aeo_traders, figures, say)
        gateway = GatewayProcess(config.with_name("aeo.yaml"), bootstrap_servers=broker.bootstrap_servers,
                                 metrics_port=free_ports(1)[0], log_path=options.state_dir / "aeo-gateway.log")
        gateway.log_path.unlink(missing_ok=True)
        say("AEO propagation: starting a gateway with the trust store (it loads the registry first) ...")
        await asyncio.to_thread(gateway.start, 900)
        try:
            await propagation(settings, keys, gateway.metrics_port, options.aeo_samples, 100.0, figures, say)
        finally:
            await asyncio.to_thread(gateway.stop)
    finally:
        report.aeo += figures.measurements
        report.diagnostics.update(figures.diagnostics)


async def _terminable(phases: Coroutine[Any, Any, None]) -> None:
    """Run the phases so that SIGTERM cancels them as asyncio.run does on Ctrl-C: their ``finally`` blocks
    stop the gateway and the consumers, then KeyboardInterrupt unwinds to the broker's ``finally``."""
    loop = asyncio.get_running_loop()
    task = asyncio.current_task()
    assert task is not None
    terminated = False

    def on_sigterm() -> None:
        nonlocal terminated
        terminated = True
        task.cancel()

    loop.add_signal_handler(signal.SIGTERM, on_sigterm)
    try:
        await phases
    except asyncio.CancelledError:
        if terminated:
            raise KeyboardInterrupt from None
        raise
    finally:
        loop.remove_signal_handler(signal.SIGTERM)
        signal.signal(signal.SIGTERM, signal.default_int_handler)  # outside the loop: as __main__ set it


async def _kafka_phases(report: Report, options: Options, corpus: list[Declaration], settings: GatewaySettings,
                        broker: LocalBroker, gateway: GatewayProcess) -> None:
    bootstrap = broker.bootstrap_servers
    backlog = {new_tracking_id(): d for d in corpus}
    say(f"producing the corpus to {', '.join(submit_topic(p) for p in PARTICIPANTS)} (acks=all) ...")
    with quiet_kafka_client():
        await ensure_topics(settings)  # every topic of the network, so the reply collector can follow them now
        await produce_all(bootstrap, (Outgoing(submit_topic(d.participant), d.key, d.payload, t)
                                      for t, d in backlog.items()))

    say("baseline (a): consume only ...")
    report.measurements.append(await consume_only(
        bootstrap, [submit_topic(p) for p in PARTICIPANTS], len(corpus),
        max_records=settings.kafka.batch_max_records, batch_timeout_ms=settings.kafka.batch_timeout_ms))

    collector = ReplyCollector(bootstrap, [reply_topic(p) for p in PARTICIPANTS], settings.kafka.partitions)
    await collector.start()
    probe = Probe(gateway, broker.status().pid)
    cpus = int(report.machine.get("cpus") or 1)
    try:
        say(f"end-to-end throughput: starting the gateway on a backlog of {len(corpus)} ...")
        drained = await throughput(gateway, collector, set(backlog), probe)
        report.measurements.append(drained.measurement)
        report.diagnostics.update({f"throughput phase, {k}": v
                                   for k, v in describe_interval(drained.start, drained.end, cpus).items()})
        report.diagnostics["throughput phase, first reply"] = (
            f"{drained.first_reply:.2f} s after /readyz (group join + first batch); "
            f"{drained.before_ready} replies arrived before /readyz")

        rate = options.rate or min(_RATE_CAP, drained.measurement.rate / 2)
        say(f"end-to-end latency: {rate:.0f} decl/s for {options.latency_seconds:g} s ...")
        await asyncio.sleep(1.0)  # let the gateway go idle after the backlog
        paced, paced_ids = await latency(bootstrap, collector, corpus, probe, gateway, rate=rate,
                                         seconds=options.latency_seconds)
        report.measurements.append(paced.measurement)
        report.diagnostics.update({f"latency phase, {k}": v
                                   for k, v in describe_interval(paced.start, paced.end, cpus).items()})
        report.diagnostics["latency phase, sender"] = f"at most {paced.max_send_lag * 1000:.1f} ms behind schedule"
    finally:
        await collector.stop()
        say("stopping the gateway ...")
        await asyncio.to_thread(gateway.stop)

    say("checking every declaration was delivered to oco.deliver.* ...")
    delivered = await read_tracking_ids(bootstrap, [deliver_topic(m) for m in sorted(MEMBERS)],
                                        settings.kafka.partitions)
    report.diagnostics["outputs"] = _check_outputs(delivered, set(backlog) | set(paced_ids), collector.duplicates)

    await exactly_once_phases(report, corpus, gateway.config, broker, options.state_dir,
                              latency_seconds=options.latency_seconds, say=say)

    # The same corpus and rate through what a typical FastStream user writes, with the gateway stopped.
    naive, notes = await naive_phases(bootstrap, corpus, NaivePlan(
        rate=rate, seconds=options.latency_seconds, xsd=settings.profiles_dir / "oco" / "DocumentMetaData_1_OCO.xsd",
        partitions=settings.kafka.partitions, log_path=options.state_dir / "naive.log"), say)
    report.measurements += naive
    report.diagnostics.update(notes)


def _check_outputs(delivered: Counter[str], sent: set[str], reply_duplicates: int) -> str:
    missing = sent - delivered.keys()
    if missing:
        raise BenchError(f"{len(missing)} of {len(sent)} accepted declarations are missing from oco.deliver.*")
    extra = sum(n - 1 for t, n in delivered.items() if t in sent)
    return (f"{len(sent)} replies 'received' and {len(sent)} deliveries on oco.deliver.* verified by tracking id; "
            f"duplicates (at-least-once redeliveries): {extra} deliveries, {reply_duplicates} replies")
