"""The latency-bound delivery phase: national systems that answer after a fixed delay, delivered to with 1, 8 and
32 calls in flight. How close does a member come to its bound, concurrency ÷ latency?

Real processes, as in the per-member phase: one ``oco-gateway simulate asycuda --delay`` per member (FJ and
WS), the gateway (``oco-gateway run``) and the delivery workers (``oco-gateway deliver``, started again for
each concurrency with ``members.<M>.delivery.concurrency`` set). For each concurrency both members get a
backlog sized to last ``seconds`` at their bound, sent at once; a member's figure goes from its first submit
to its last "accepted" reply. The declarations are small (a few goods items): the national latency, not the
machine's CPU, is what the phase is about. Each simulator's call log says how many calls really overlapped.
"""

from __future__ import annotations

import asyncio
import json
import time
import urllib.request
import uuid
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from aiokafka import AIOKafkaProducer

from bench import BenchError
from bench.corpus import Declaration, generate_corpus, relabel
from bench.delivery import RATE_LIMIT, interleave, start_all, truncate_topics
from bench.kafka_io import ReplyCollector, new_tracking_id, producer, quiet_kafka_client
from bench.members import (MemberFigures, Sent, backlog_for, latency_bound, member_figures, peak_in_flight,
                           time_per_record)
from bench.network import delivery_participant, write_delivery_network
from bench.probes import CpuSnapshot, DeliveryCounters, child_pids, describe_cores
from bench.report import CONCURRENCY, Latency, Measurement, Report
from gateway import headers as h
from gateway.config import load_settings
from gateway.ops.broker import LocalBroker, free_ports
from gateway.ops.process import ChildProcess, GatewayProcess
from gateway.topics import deliver_topic, reply_topic, retry_topic, submit_topic
from gateway.transport.topics import ensure_topics, gateway_topics

__all__ = ["LATENCY_MEMBERS", "ConcurrencyPlan", "concurrency_phase"]

LATENCY_MEMBERS = ("FJ", "WS")
_STALL = 60.0  # seconds without any reply before a run fails


@dataclass(frozen=True, slots=True)
class ConcurrencyPlan:
    """What the phase runs.

    Attributes:
        levels: the concurrencies to run, in order (``members.<M>.delivery.concurrency``).
        latency: seconds every simulator waits before each answer (``simulate asycuda --delay``).
        seconds: how long each run should last at its bound (the backlog is sized for it).
        warm_up: declarations per member sent (untimed) after each start of the delivery workers.
        seed: corpus seed.
        max_kb: largest declaration, in KB (small: the latency is what bounds, not the CPU).
        log_dir: where the processes' logs go.
    """

    levels: tuple[int, ...]
    latency: float
    seconds: float
    warm_up: int
    seed: int
    log_dir: Path
    max_kb: float = 8.0


async def concurrency_phase(report: Report, plan: ConcurrencyPlan, broker: LocalBroker, network_path: Path,
                            cpus: int) -> None:
    """Run the phase on a running broker; add its measurements, notes and diagnostics to ``report``.

    Args:
        report: filled in as runs finish.
        plan: what to run.
        broker: the benchmark's broker.
        network_path: where to write the phase's network configuration (rewritten for each concurrency).
        cpus: cores of the machine, to put CPU use in proportion.

    Raises:
        BenchError: a declaration got no final reply, or was not accepted, or was registered twice.
        GatewayError: a process did not start.
    """
    bootstrap = broker.bootstrap_servers
    members = list(LATENCY_MEMBERS)
    sim_ports = dict(zip(members, free_ports(len(members)), strict=True))
    gateway_port, deliver_port = free_ports(2)
    urls = {m: f"http://127.0.0.1:{port}" for m, port in sim_ports.items()}
    group = f"oco-bench-concurrency-{uuid.uuid4().hex[:12]}"

    def network(concurrency: int) -> Path:
        return write_delivery_network(network_path, bootstrap_servers=bootstrap, group_id=group, urls=urls,
                                      rate_per_second=RATE_LIMIT, concurrency=concurrency, members=members)

    settings = load_settings(network(plan.levels[0]))
    with quiet_kafka_client():
        await ensure_topics(settings, gateway_topics(settings) + [retry_topic(m) for m in members])
        # Earlier phases leave declarations on oco.deliver.FJ and WS that no delivery group has read, and the
        # per-member phase its submissions, which this phase's gateway (a group of its own) would route again.
        queues = [t for m in members for t in (submit_topic(delivery_participant(m)), deliver_topic(m), retry_topic(m))]
        await truncate_topics(bootstrap, queues, settings.kafka.partitions)

    bounds = {c: latency_bound(c, plan.latency, RATE_LIMIT) for c in plan.levels}
    biggest = max(backlog_for(b, plan.seconds) for b in bounds.values())
    corpus = {m: generate_corpus(max(biggest, plan.warm_up), seed=plan.seed + 100 + i, max_kb=plan.max_kb,
                                 pairs=[(delivery_participant(m), m)]) for i, m in enumerate(members)}
    simulators = {m: ChildProcess(["simulate", "asycuda", "--member", m, "--port", str(port), "--delay",
                                   f"{plan.latency:g}"], ready_url=f"{urls[m]}/health",
                                  log_path=plan.log_dir / f"concurrency-asycuda-{m}.log") for m, port in sim_ports.items()}
    gateway = GatewayProcess(network_path, bootstrap_servers=bootstrap, metrics_port=gateway_port,
                             log_path=plan.log_dir / "concurrency-gateway.log")
    for p in [gateway, *simulators.values()]:
        p.log_path.unlink(missing_ok=True)
    collector = ReplyCollector(bootstrap, [reply_topic(delivery_participant(m)) for m in members],
                               settings.kafka.partitions)
    run = _Run(report, plan, corpus, collector, simulators, broker.status().pid, cpus)
    try:
        await start_all([(s, 60.0) for s in simulators.values()] + [(gateway, 90.0)])
        await collector.start()
        run.producer = producer(bootstrap)
        await run.producer.start()
        for c in plan.levels:
            deliver = GatewayProcess(network(c), bootstrap_servers=bootstrap, metrics_port=deliver_port,
                                     log_path=plan.log_dir / f"concurrency-deliver-{c}.log", command=("deliver",))
            deliver.log_path.unlink(missing_ok=True)
            try:
                await start_all([(deliver, 90.0)])
                await run.level(c, bounds[c], backlog_for(bounds[c], plan.seconds), deliver)
            finally:
                await asyncio.to_thread(deliver.stop)
        run.check_registrations()
    finally:
        if run.producer is not None:
            await run.producer.stop()
        await collector.stop()
        for process in [gateway, *simulators.values()]:
            await asyncio.to_thread(process.stop)
    _notes(report, plan)


class _Run:
    """The phase's state across its concurrencies: what was sent, and what each national system received."""

    def __init__(self, report: Report, plan: ConcurrencyPlan, corpus: dict[str, list[Declaration]],
                 collector: ReplyCollector, simulators: dict[str, ChildProcess], broker_pid: int | None,
                 cpus: int) -> None:
        self.report, self.plan, self.corpus, self.collector = report, plan, corpus, collector
        self.simulators, self.broker_pid, self.cpus = simulators, broker_pid, cpus
        self.producer: AIOKafkaProducer | None = None
        self.sent = Counter[str]()  # member -> declarations sent (registrations expected)
        self.peaks: list[str] = []

    async def level(self, concurrency: int, bound: float, backlog: int, deliver: GatewayProcess) -> None:
        """Warm up, then one timed burst of ``backlog`` declarations per member at this concurrency."""
        if self.plan.warm_up:
            await self._burst(self._batch(f"CW{concurrency}", self.plan.warm_up), deliver)
        marks = {m: self._calls(m, 0)["last_event"] for m in self.simulators}
        cpu, counters = CpuSnapshot.take(self._pids()), _counters(deliver)
        figures = await self._burst(self._batch(f"CR{concurrency}", backlog), deliver)
        used, decided = describe_cores(cpu, CpuSnapshot.take(self._pids())), _counters(deliver)
        peaks = {m: peak_in_flight(self._calls(m, mark)["calls"]) for m, mark in marks.items()}
        parts = []
        for m, f in figures.items():
            if m in decided:
                delta = decided[m].since(counters.get(m))
                timed = time_per_record(f.rate, delta.records, delta.seconds)
                if timed is not None:
                    parts.append(f"{m} deciding {timed.handle_ms:.0f} ms per record, {timed.under_way:.1f} under way")
        if parts:
            self.report.diagnostics[f"concurrency {concurrency}, time per record"] = "; ".join(parts) + (
                " (deciding: the worker's own timing, national call included; under way: registered/s × deciding "
                f"time, the calls in progress on average, at most {concurrency})")
        for m, f in figures.items():
            key = f"{CONCURRENCY}{concurrency}_{m}"
            label = f"{m}, concurrency {concurrency}, +{self.plan.latency:g} s"
            self.report.concurrency.append(Measurement(key, label, f.count, f.seconds, Latency.of(f.samples)))
            self.report.concurrency_bounds[key] = bound
        self.report.diagnostics[f"concurrency {concurrency}, CPU while draining, in cores busy (of {self.cpus})"] = used
        self.report.diagnostics[f"concurrency {concurrency}, national calls in flight at most"] = ", ".join(
            f"{m} {p}" for m, p in peaks.items()) + f" (each simulator's call log; the most allowed: {concurrency})"

    def _batch(self, prefix: str, count: int) -> list[Declaration]:
        # New LRNs each time: a declaration sent again would be an idempotent replay, cheaper than a registration.
        return interleave({m: [relabel(d, f"{prefix}-{m}-{i:05d}") for i, d in enumerate(self.corpus[m][:count])]
                           for m in self.simulators})

    async def _burst(self, decls: list[Declaration], deliver: GatewayProcess) -> dict[str, MemberFigures]:
        """Send every declaration at once; wait until each has its final reply; return the figures per member."""
        assert self.producer is not None
        sent: dict[str, Sent] = {}
        acks = []
        for d in decls:
            tid = new_tracking_id()
            sent[tid] = Sent(d.member, time.perf_counter())
            acks.append(await self.producer.send(submit_topic(d.participant), d.payload, key=d.key,
                                                 headers=[(h.TRACKING_ID, tid.encode())]))
            self.sent[d.member] += 1
        await asyncio.gather(*acks)
        missing = await self.collector.wait_for(set(sent), _STALL, final=True)
        if missing:
            raise BenchError(f"{len(missing)} of {len(sent)} declarations got no final reply (nothing new for "
                             f"{_STALL:g} s); the delivery workers' log ends with:\n{deliver.log_tail()}")
        finals = {t: self.collector.finals[t] for t in sent}
        refused = Counter(f"{f.member or sent[t].member} {f.status}" for t, f in finals.items()
                          if f.status != "accepted")
        if refused:
            raise BenchError(f"not every declaration was accepted by its national system: {dict(refused)}; the "
                             f"delivery workers' log ends with:\n{deliver.log_tail()}")
        return member_figures(sent, {t: f.at for t, f in finals.items()})

    def _calls(self, member: str, after: int) -> dict[str, Any]:
        url = self.simulators[member].ready_url.replace("/health", f"/control/calls?after={after}")
        with urllib.request.urlopen(url, timeout=10) as resp:
            return json.loads(resp.read())

    def _pids(self) -> dict[str, int]:
        found = {"broker": self.broker_pid} if self.broker_pid else {}
        needles = {"gateway": "-m gateway run ", "deliver": "-m gateway deliver "}
        needles |= {f"asycuda {m}": f"simulate asycuda --member {m} " for m in self.simulators}
        return found | {name: pids[0] for name, needle in needles.items() if (pids := child_pids(needle))}

    def check_registrations(self) -> None:
        """Each national system registered each declaration once: no loss, no double delivery."""
        found = {}
        for m, sim in self.simulators.items():
            with urllib.request.urlopen(sim.ready_url.replace("/health", "/control/registrations"), timeout=5) as resp:
                found[m] = json.loads(resp.read())
        wrong = {m: f["total"] for m, f in found.items() if f["total"] != self.sent[m]}
        if wrong:
            raise BenchError(f"national systems registered {wrong} declarations, expected {dict(self.sent)}")
        self.report.diagnostics["concurrency, outputs"] = (
            "the national systems registered " + ", ".join(f"{m} {f['total']} ({f['replays']} replays)"
                                                           for m, f in found.items())
            + f": every declaration once; duplicate replies: {self.collector.duplicates}")


def _counters(deliver: GatewayProcess) -> dict[str, DeliveryCounters]:
    try:
        return DeliveryCounters.parse(deliver.metrics_text())
    except OSError:
        return {}  # diagnostics only: a failed scrape must not fail the run


def _notes(report: Report, plan: ConcurrencyPlan) -> None:
    members = " and ".join(LATENCY_MEMBERS)
    report.concurrency_notes += [
        f"{members}'s ASYCUDA World simulators answer every declaration after {plan.latency:g} s; for each "
        "concurrency the delivery workers start again with members.<M>.delivery.concurrency set, and each member "
        f"gets a backlog sized to last {plan.seconds:g} s at its bound, both members at once, sent in one burst; "
        "small declarations (a few goods items), so the latency, not the CPU, is what bounds.",
        f"bound: concurrency ÷ {plan.latency:g} s, and the rate limit ({RATE_LIMIT:g}/s, set far above); ratio: "
        "decl/s ÷ bound. What keeps it below 1: each call slot also publishes the reply and commits before its "
        "next call, and the run includes the first declaration's way through the gateway; at high concurrency, the "
        "machine's CPU (see the CPU lines: the delivery process, the simulators and the gateway share the cores).",
        "p50/p99: submit → 'accepted' reply of every declaration of the burst: queueing behind the member's "
        "earlier ones, about half and nearly all of the run.",
    ]
