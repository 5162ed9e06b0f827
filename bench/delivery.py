"""The per-member delivery phase: three members behind ASYCUDA World simulators, one of them slow. Does the slow
member slow the others down?

Real processes, as an operator runs them: one ``oco-gateway simulate asycuda`` per member (HTTP), the gateway
(``oco-gateway run``) and the delivery workers (``oco-gateway deliver``, one process for the three members).
Runs alternate: FJ and WS get a burst of declarations; then the same burst (new LRNs) plus enough for TO,
whose national system answers ``slow_delay`` seconds late, to stay busy longer than they do; then FJ and WS
alone again, and so on, ending without TO. Each member's figure in a run goes from its first submit to its
last "accepted" reply; a member's runs under one condition are pooled.
"""

from __future__ import annotations

import asyncio
import json
import time
import urllib.request
import uuid
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient, RecordsToDelete

from bench import BenchError
from bench.corpus import Declaration, generate_corpus, relabel
from bench.kafka_io import ReplyCollector, new_tracking_id, producer, quiet_kafka_client, round_trips, security
from bench.members import MemberFigures, Sent, member_figures, outlasted, pooled, slow_share, time_per_record
from bench.network import DELIVERY_MEMBERS, delivery_participant, write_delivery_network
from bench.probes import CpuSnapshot, DeliveryCounters, child_pids, describe_cores
from bench.report import ALONE, WITH_SLOW, Measurement, Report
from gateway import headers as h
from gateway.config import load_settings
from gateway.ops.broker import LocalBroker, free_ports
from gateway.ops.process import ChildProcess, GatewayProcess
from gateway.topics import deliver_topic, reply_topic, retry_topic, submit_topic
from gateway.transport.topics import ensure_topics, gateway_topics

__all__ = ["FAST", "RATE_LIMIT", "SLOW", "MemberPlan", "interleave", "members_phase", "start_all", "truncate_topics"]

SLOW = "TO"
FAST = tuple(m for m in DELIVERY_MEMBERS if m != SLOW)
RATE_LIMIT = 10_000.0  # members.<M>.delivery.rate_per_second: far above what the national calls in flight allow
_STALL = 60.0  # seconds without any reply before a run fails


@dataclass(frozen=True, slots=True)
class MemberPlan:
    """What the phase runs.

    Attributes:
        per_member: declarations per fast member in each run (the slow member gets what keeps it busy).
        slow_delay: seconds the slow member's ASYCUDA World waits before each answer.
        warm_up: declarations per member sent (untimed) before the first burst.
        seed: corpus seed.
        max_kb: largest declaration, in KB.
        log_dir: where the processes' logs go.
        rounds: runs with the slow member busy; each comes between two runs without it.
    """

    per_member: int
    slow_delay: float
    warm_up: int
    seed: int
    max_kb: float
    log_dir: Path
    rounds: int = 3


@dataclass(slots=True)
class _Processes:
    simulators: dict[str, ChildProcess]
    gateway: GatewayProcess
    deliver: GatewayProcess
    bootstrap: str
    broker_pid: int | None

    def all(self) -> list[ChildProcess]:
        # Stopped in this order: the delivery workers first, so none is left calling a stopped simulator.
        return [self.deliver, self.gateway, *self.simulators.values()]

    def pids(self) -> dict[str, int]:
        found_pids = {"broker": self.broker_pid} if self.broker_pid else {}
        needles = {"gateway": "-m gateway run ", "deliver": "-m gateway deliver "}
        needles |= {f"asycuda {m}": f"simulate asycuda --member {m} " for m in self.simulators}
        return found_pids | {name: found[0] for name, needle in needles.items() if (found := child_pids(needle))}


@dataclass(frozen=True, slots=True)
class _Point:
    """CPU seconds and delivery counters at one instant."""

    cpu: CpuSnapshot
    counters: dict[str, DeliveryCounters]


async def members_phase(report: Report, plan: MemberPlan, broker: LocalBroker, network_path: Path, cpus: int) -> None:
    """Run the phase on a running broker; add its measurements, notes and diagnostics to ``report``.

    Args:
        report: filled in as runs finish.
        plan: what to run.
        broker: the benchmark's broker (the gateway phases are over).
        network_path: where to write the phase's network configuration.
        cpus: cores of the machine, to put CPU use in proportion.

    Raises:
        BenchError: a declaration got no final reply, or was not accepted, or was registered twice.
        GatewayError: a process did not start.
    """
    bootstrap = broker.bootstrap_servers
    sim_ports = dict(zip(DELIVERY_MEMBERS, free_ports(len(DELIVERY_MEMBERS)), strict=True))
    gateway_port, deliver_port = free_ports(2)
    config = write_delivery_network(
        network_path, bootstrap_servers=bootstrap, group_id=f"oco-bench-members-{uuid.uuid4().hex[:12]}",
        urls={m: f"http://127.0.0.1:{port}" for m, port in sim_ports.items()}, rate_per_second=RATE_LIMIT)
    settings = load_settings(config)
    members = list(DELIVERY_MEMBERS)
    queues = [t for m in members for t in (deliver_topic(m), retry_topic(m))]
    with quiet_kafka_client():
        await ensure_topics(settings, gateway_topics(settings) + [retry_topic(m) for m in members])
        # The gateway phases left thousands of declarations on oco.deliver.FJ and WS; the delivery groups start
        # from the earliest offset, so the log is cut at its end first: the workers see this phase's records only.
        await truncate_topics(bootstrap, queues, settings.kafka.partitions)

    corpus = {m: generate_corpus(plan.per_member, seed=plan.seed + i, max_kb=plan.max_kb,
                                 pairs=[(delivery_participant(m), m)]) for i, m in enumerate(members)}
    processes = _processes(plan, config, bootstrap, sim_ports, gateway_port, deliver_port, broker.status().pid)
    collector = ReplyCollector(bootstrap, [reply_topic(delivery_participant(m)) for m in members],
                               settings.kafka.partitions)
    try:
        await start_all([(s, 60.0) for s in processes.simulators.values()])
        await start_all([(processes.gateway, 90.0), (processes.deliver, 90.0)])
        await collector.start()
        prod = producer(bootstrap)
        await prod.start()
        try:
            await _measure(report, plan, corpus, processes, collector, prod, cpus,
                           settings.members[SLOW].delivery.concurrency)
        finally:
            await prod.stop()
    finally:
        await collector.stop()
        for process in processes.all():
            await asyncio.to_thread(process.stop)


async def start_all(children: list[tuple[ChildProcess, float]]) -> None:
    """Start children in parallel; when one fails, raise only after all are through (so each is stoppable)."""
    results = await asyncio.gather(*(asyncio.to_thread(c.start, timeout) for c, timeout in children),
                                   return_exceptions=True)
    for result in results:
        if isinstance(result, BaseException):
            raise result


def _processes(plan: MemberPlan, config: Path, bootstrap: str, sim_ports: dict[str, int], gateway_port: int,
               deliver_port: int, broker_pid: int | None) -> _Processes:
    simulators = {}
    for m, port in sim_ports.items():
        args = ["simulate", "asycuda", "--member", m, "--port", str(port)]
        if m == SLOW:
            args += ["--delay", f"{plan.slow_delay:g}"]
        simulators[m] = ChildProcess(args, ready_url=f"http://127.0.0.1:{port}/health",
                                     log_path=plan.log_dir / f"asycuda-{m}.log")
    gateway = GatewayProcess(config, bootstrap_servers=bootstrap, metrics_port=gateway_port,
                             log_path=plan.log_dir / "members-gateway.log")
    deliver = GatewayProcess(config, bootstrap_servers=bootstrap, metrics_port=deliver_port,
                             log_path=plan.log_dir / "deliver.log", command=("deliver",))
    processes = _Processes(simulators, gateway, deliver, bootstrap, broker_pid)
    for p in processes.all():
        p.log_path.unlink(missing_ok=True)  # the logs of this run only
    return processes


@dataclass(slots=True)
class _Condition:
    """One condition's runs (only the fast members busy, or the slow one too), added up."""

    name: str
    runs: dict[str, list[MemberFigures]] = field(default_factory=dict)
    wall: float = 0.0  # seconds the fast members were draining, summed over the runs
    cpu: Counter[str] = field(default_factory=Counter)  # process -> CPU seconds over those intervals
    machine: list[float] = field(default_factory=lambda: [0.0, 0.0])  # whole machine: busy, stolen seconds
    records: Counter[str] = field(default_factory=Counter)  # member -> records decided (delivery /metrics)
    handle: Counter[str] = field(default_factory=Counter)  # member -> seconds deciding

    def add(self, figures: dict[str, MemberFigures], start: _Point, fast_done: _Point, end: _Point) -> None:
        for m, f in figures.items():
            self.runs.setdefault(m, []).append(f)
            until = fast_done if m in FAST else end  # each member's counters over its own figures' interval
            now, before = until.counters.get(m), start.counters.get(m)
            if now is not None:
                delta = now.since(before)
                self.records[m] += delta.records
                self.handle[m] += delta.seconds
        self.wall += fast_done.cpu.wall - start.cpu.wall
        for name, used in fast_done.cpu.cpu.items():
            if name in start.cpu.cpu:
                self.cpu[name] += used - start.cpu.cpu[name]
        if start.cpu.machine and fast_done.cpu.machine:
            for k in (0, 1):
                self.machine[k] += fast_done.cpu.machine[k] - start.cpu.machine[k]

    def cpu_line(self) -> str:
        zero = CpuSnapshot(0.0, dict.fromkeys(self.cpu, 0.0), (0.0, 0.0))
        return describe_cores(zero, CpuSnapshot(self.wall, dict(self.cpu), (self.machine[0], self.machine[1])))


async def _measure(report: Report, plan: MemberPlan, corpus: dict[str, list[Declaration]], processes: _Processes,
                   collector: ReplyCollector, prod: AIOKafkaProducer, cpus: int, concurrency: int) -> None:
    n, slow, fast = plan.per_member, f"{plan.slow_delay:g} s", " and ".join(FAST)

    def batch(prefix: str, counts: dict[str, int]) -> list[Declaration]:
        # New LRNs each time: a declaration sent again would be an idempotent replay, cheaper than a registration.
        return interleave({m: [relabel(d, f"{prefix}-{m}-{i:05d}") for i, d in enumerate(corpus[m][:k])]
                           for m, k in counts.items()})

    report.member_notes += [
        f"the delivery worker keeps up to {concurrency} national calls in flight per member (members.<M>.delivery."
        "concurrency, the gateway's default here; never two of one declaration), each record's call followed by "
        "its reply published with acks=all and its offset committed; so a member's registered/s is at most "
        f"{concurrency} ÷ its time per record (the national system's latency plus those Kafka round trips), or "
        "what the machine's CPU allows, and at most its rate limit (members.<M>.delivery.rate_per_second). The "
        f"benchmark network sets that limit to {RATE_LIMIT:g}/s for every member, so the limit is not what is "
        "measured here.",
        f"{fast} have delivery loops (a consumer group each) of their own, in the same process as {SLOW}'s; "
        f"{SLOW}'s simulator only sleeps for {slow}, so a slow member costs the others the CPU of its own records "
        "(gateway, delivery process, broker), not its waiting.",
        f"runs with {SLOW} alternate with runs without it, so a drift of the machine falls on both; how much the "
        "runs without it differ from one another is the noise to read the isolation ratio against.",
        "in a burst every declaration waits behind its member's earlier ones: p50 is about half of the member's "
        "run and p99 nearly all of it (queueing, not the time of one declaration: see 'first registration' in "
        "the diagnostics).",
    ]

    # Untimed: every member's consumer joins its group, connections open, first calls warm up.
    if plan.warm_up:
        await _burst(prod, collector, processes, batch("BDW", dict.fromkeys(DELIVERY_MEMBERS, plan.warm_up)))

    # Runs without the slow member's work and with it, alternating, starting and ending without.
    alone, with_slow = _Condition(f"only {fast} busy"), _Condition(f"with {SLOW} busy and slow")
    runs: dict[str, list[tuple[bool, float]]] = {m: [] for m in FAST}
    report.member_runs = runs  # filled run by run: a failed run leaves the ones before it in the report
    slow_counts, overlaps = [], []
    for i, busy in enumerate([False] + [True, False] * plan.rounds):
        if i:
            await asyncio.sleep(1.0)  # let the workers go idle
        counts = dict.fromkeys(FAST, n)
        if busy:  # as many as keep it busy through the fast members' run, sized from the run before
            counts[SLOW] = min(n, slow_share(n, sum(runs[m][-1][1] for m in FAST) / len(FAST), plan.slow_delay,
                                             concurrency=concurrency))
            slow_counts.append(counts[SLOW])
        start = _point(processes)
        figures, fast_done = await _burst(prod, collector, processes, batch(f"BR{i}", counts))
        end = _point(processes)
        (with_slow if busy else alone).add(figures, start, fast_done, end)
        for m in FAST:
            runs[m].append((busy, figures[m].rate))
        if busy:
            overlaps.append(outlasted(figures[SLOW], [figures[m] for m in FAST]))

    for cond, key in ((alone, ALONE), (with_slow, WITH_SLOW)):
        for m in FAST:
            pool = pooled(cond.runs[m])
            note = ""
            if m == FAST[0] and cond is alone:
                note = (f"{n} declarations each for {fast} per run, interleaved, sent at once; a member's figure "
                        "runs from its first submit to its last 'accepted' reply; decl/s: all its declarations ÷ "
                        "the sum of its runs' times")
            elif m == FAST[0]:
                note = (f"the same declarations under new LRNs, plus {'/'.join(map(str, slow_counts))} for {SLOW}: "
                        f"enough to keep it busy longer than {fast}, sized from the run before")
            label = f"{m}, {cond.name} ({len(cond.runs[m])} run{'s' if len(cond.runs[m]) > 1 else ''})"
            report.members.append(Measurement(key + m, label, pool.count, pool.seconds, pool.latency, note))
    pool = pooled(with_slow.runs[SLOW])
    report.members.append(Measurement(
        WITH_SLOW + SLOW, f"{SLOW}, slow: answers +{slow} late", pool.count, pool.seconds, pool.latency,
        f"its ASYCUDA World simulator runs with --delay {plan.slow_delay:g}; timed like the others"))

    for cond in (alone, with_slow):
        _describe(report, cond, cpus, concurrency)
    report.diagnostics[f"members, {with_slow.name}, overlap"] = (
        f"{SLOW}'s last registration came " + ", ".join(f"{o:.1f} s" for o in overlaps)
        + f" after the last of {fast}'s" + (
            ": it had work during the whole of their runs, as the comparison needs" if min(overlaps) > 0 else
            f": WARNING, {SLOW} ran out of work first; the comparison understates what a slow member costs"))

    expected = dict.fromkeys(DELIVERY_MEMBERS, plan.warm_up)
    for m in FAST:
        expected[m] += n * len(runs[m])
    expected[SLOW] += sum(slow_counts)
    _check_registrations(report, processes, expected, _point(processes), collector)
    publish, publish_no_linger, commit = await round_trips(processes.bootstrap)
    report.diagnostics["members, Kafka per record"] = (
        f"publishing one reply (acks=all, idempotent) {publish_no_linger:.1f} ms with linger_ms=0 as the delivery "
        f"workers do ({publish:.1f} ms with linger_ms=5), committing one offset {commit:.1f} ms (from this process, "
        "same broker, after the runs)")


def interleave(decls: dict[str, list[Declaration]]) -> list[Declaration]:
    """Round robin over the members: FJ, WS, TO, FJ, WS, TO..."""
    out = []
    for i in range(max(len(ds) for ds in decls.values())):
        out += [ds[i] for ds in decls.values() if i < len(ds)]
    return out


async def _burst(prod: AIOKafkaProducer, collector: ReplyCollector, processes: _Processes,
                 decls: Sequence[Declaration]) -> tuple[dict[str, MemberFigures], _Point]:
    """Send every declaration at once; wait until each has its final reply.

    Returns:
        The figures per member, and a reading taken when the fast members' declarations were all answered.
    """
    sent: dict[str, Sent] = {}
    acks = []
    for d in decls:
        tid = new_tracking_id()
        sent[tid] = Sent(d.member, time.perf_counter())
        acks.append(await prod.send(submit_topic(d.participant), d.payload, key=d.key,
                                    headers=[(h.TRACKING_ID, tid.encode())]))
    await asyncio.gather(*acks)
    await _wait_final(collector, {t for t, s in sent.items() if s.member in FAST}, processes)
    fast_done = _point(processes)
    await _wait_final(collector, set(sent), processes)
    finals = {t: collector.finals[t] for t in sent}
    refused = Counter(f"{f.member or sent[t].member} {f.status}" for t, f in finals.items() if f.status != "accepted")
    if refused:
        raise BenchError(f"not every declaration was accepted by its national system: {dict(refused)}; the "
                         f"delivery workers' log ends with:\n{processes.deliver.log_tail()}")
    return member_figures(sent, {t: f.at for t, f in finals.items()}), fast_done


async def _wait_final(collector: ReplyCollector, ids: set[str], processes: _Processes) -> None:
    missing = await collector.wait_for(ids, _STALL, final=True)
    if missing:
        raise BenchError(f"{len(missing)} of {len(ids)} declarations got no final reply (nothing new for "
                         f"{_STALL:g} s); the delivery workers' log ends with:\n{processes.deliver.log_tail()}")


def _point(processes: _Processes) -> _Point:
    cpu = CpuSnapshot.take(processes.pids())
    try:
        counters = DeliveryCounters.parse(processes.deliver.metrics_text())
    except OSError:
        counters = {}  # diagnostics only: a failed scrape must not fail the run
    return _Point(cpu, counters)


def _describe(report: Report, cond: _Condition, cpus: int, concurrency: int) -> None:
    fast = " and ".join(FAST)
    report.diagnostics[f"members, {cond.name}, CPU while {fast} drained, in cores busy (of {cpus})"] = cond.cpu_line()
    parts = []
    for m, runs in cond.runs.items():
        pool = pooled(runs)
        timed = time_per_record(pool.count / pool.seconds if pool.seconds > 0 else 0.0, cond.records[m],
                                cond.handle[m])
        if timed is not None:
            parts.append(f"{m} deciding {timed.handle_ms:.1f} ms per record, {timed.under_way:.1f} under way")
    if parts:
        report.diagnostics[f"members, {cond.name}, time per record"] = "; ".join(parts) + (
            " (deciding: the worker's own timing, national call included; under way: registered/s × deciding "
            f"time, the decisions in progress at once on average, at most the concurrency, {concurrency}; the rest "
            "of each call slot's time goes to publishing the reply, committing, fetching, and waiting for the event "
            "loop the members share)")
    report.diagnostics[f"members, {cond.name}, first registration"] = ", ".join(
        f"{m} " + "/".join(f"{f.first_ms:.0f}" for f in runs) + " ms" for m, runs in cond.runs.items()) + (
        " (each run's first: submit → gateway → delivery → national system → 'accepted' reply, nothing of its "
        "member's handled before it)")


def _check_registrations(report: Report, processes: _Processes, expected: dict[str, int], end: _Point,
                         collector: ReplyCollector) -> None:
    """Each national system registered each declaration once: no loss, no double delivery."""
    found = {}
    for m, sim in processes.simulators.items():
        with urllib.request.urlopen(sim.ready_url.replace("/health", "/control/registrations"), timeout=5) as resp:
            found[m] = json.loads(resp.read())
    wrong = {m: f["total"] for m, f in found.items() if f["total"] != expected[m]}
    if wrong:
        raise BenchError(f"national systems registered {wrong} declarations, expected {expected}")
    outcomes = "; ".join(f"{m} " + ", ".join(f"{k} {v:.0f}" for k, v in sorted(c.outcomes.items()) if v)
                         for m, c in end.counters.items())
    report.diagnostics["members, outputs"] = (
        "the national systems registered " + ", ".join(f"{m} {f['total']} ({f['replays']} replays)"
                                                       for m, f in found.items())
        + f": every declaration once; delivery outcomes: {outcomes}; duplicate replies: {collector.duplicates}")


async def truncate_topics(bootstrap: str, topics: Sequence[str], partitions: int) -> None:
    """Delete every record now in ``topics`` (the log start moves to the end), so a new group reads nothing old."""
    tps = [TopicPartition(t, p) for t in topics for p in range(partitions)]
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, **security(), enable_auto_commit=False)
    await consumer.start()
    try:
        ends = await consumer.end_offsets(tps)
    finally:
        await consumer.stop()
    cut = {tp: RecordsToDelete(before_offset=end) for tp, end in ends.items() if end > 0}
    if not cut:
        return
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap, **security())
    await admin.start()
    try:
        await admin.delete_records(cut, timeout_ms=30_000)
    finally:
        await admin.close()
