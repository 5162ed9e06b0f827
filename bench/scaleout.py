"""The scale-out phase: the same backlog drained by one gateway process, then by two in one consumer group.

A backlog of the corpus's declarations (cycled under new LRNs up to the size asked) is produced to the end of
the submit topics. Every run then starts a fresh consumer group whose committed offsets are set to where that
backlog begins, so each run reads exactly the same records from the same partitions and nothing a run did
carries over. Runs alternate, one process, two, one... starting and ending with one, so a slow drift of a
shared machine cancels out of the ratio.

Both processes of a run are started at once, but a group cannot hand out its partitions to two members at
once: the first to join gets them all and starts, and the second's join waits until the first rejoins (at
its next heartbeat, up to 3 s later). A run is therefore timed from the moment its last process answered
``/readyz`` (every member assigned its share; for one process, its own ``/readyz`` as in the end-to-end
phase) to the last reply, counting the declarations first answered in that window. What the first process
drained alone before is reported, not counted. The backlog must outlast that head start by several seconds.
"""

from __future__ import annotations

import asyncio
import threading
import time
import uuid
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient
from prometheus_client.parser import text_string_to_metric_families

from bench import BenchError
from bench.corpus import Declaration
from bench.kafka_io import Outgoing, ReplyCollector, new_tracking_id, produce_all, quiet_kafka_client, security
from bench.network import PARTICIPANTS, write_network
from bench.probes import CpuSnapshot, child_pids
from bench.report import Report
from bench.scaling import ScaleRun, cycle, describe_run, pool, run_order, scale_notes, window
from gateway.config import load_settings
from gateway.ops.broker import LocalBroker, free_ports
from gateway.ops.process import GatewayProcess
from gateway.topics import reply_topic, submit_topic
from gateway.transport.topics import ensure_topics

__all__ = ["ScalePlan", "scaleout_phase"]

_STALL = 60.0  # seconds without any reply before a run fails
_READY_POLL = 0.02


@dataclass(frozen=True, slots=True)
class ScalePlan:
    """What the phase runs.

    Attributes:
        rounds: two-process runs; each comes between two one-process runs (2K+1 runs).
        backlog: declarations in the backlog: the corpus, cycled under new LRNs.
        log_dir: where the gateways' logs go (``scaleout-gateway-1.log``, ``-2.log``).
        processes: gateway processes in the group for the scaled-out runs.
    """

    rounds: int
    backlog: int
    log_dir: Path
    processes: int = 2


async def scaleout_phase(report: Report, plan: ScalePlan, broker: LocalBroker, network: Path,
                         corpus: Sequence[Declaration], cores: int) -> None:
    """Run the phase on a running broker; add its measurements, runs, notes and diagnostics to ``report``.

    Args:
        report: filled in as runs finish.
        plan: what to run.
        broker: the benchmark's broker.
        network: the gateway phases' network file (the same participants, members and topics).
        corpus: the declarations the backlog cycles through.
        cores: CPUs of the machine.

    Raises:
        BenchError: a submit topic has fewer than 2 partitions, or a declaration got no reply.
        GatewayError: a gateway did not start.
    """
    bootstrap = broker.bootstrap_servers
    settings = load_settings(network)
    topics = [submit_topic(p) for p in PARTICIPANTS]
    with quiet_kafka_client():
        await ensure_topics(settings)
    starts = await _partitions_at_end(bootstrap, topics)
    tracking_ids = [new_tracking_id() for _ in range(plan.backlog)]
    began = time.perf_counter()
    await produce_all(bootstrap, (Outgoing(submit_topic(d.participant), d.key, d.payload, tid) for tid, d in
                                  zip(tracking_ids, cycle(corpus, plan.backlog), strict=True)))
    ends = await _partitions_at_end(bootstrap, topics)
    per_partition = sorted(ends[tp] - starts[tp] for tp in starts)
    report.diagnostics["scale-out, backlog"] = (
        f"{plan.backlog} declarations (the corpus cycled, new LRNs) on {len(starts)} partitions "
        f"({len(topics)} submit topics): {per_partition[0]}-{per_partition[-1]} per partition; produced in "
        f"{time.perf_counter() - began:.1f} s")
    for k in range(plan.processes):
        (plan.log_dir / f"scaleout-gateway-{k + 1}.log").unlink(missing_ok=True)
    runs: list[ScaleRun] = []
    order = run_order(plan.rounds, plan.processes)
    for i, n in enumerate(order, 1):
        run = await _run(n, i, plan, bootstrap, broker.status().pid, network, starts, set(tracking_ids),
                         settings.kafka.partitions)
        runs.append(run)
        report.scaleout_runs.append((n, run.rate))
        report.diagnostics[f"scale-out run {i} of {len(order)}, {n} process{'es' * (n > 1)}"] = describe_run(run, cores)
    # The later phases' gateways (the trusted-trader phase's) read the submit topics with the network's own
    # group: the backlog is not theirs to drain.
    with quiet_kafka_client():
        await _commit(bootstrap, settings.kafka.group_id, ends)
    report.scaleout += [pool(runs, 1), pool(runs, plan.processes)]
    report.scaleout_notes += scale_notes(runs, plan.processes, cores)


async def _run(n: int, index: int, plan: ScalePlan, bootstrap: str, broker_pid: int | None, network: Path,
               starts: Mapping[TopicPartition, int], tracking_ids: set[str], partitions: int) -> ScaleRun:
    group = f"oco-bench-scale-{index}-{uuid.uuid4().hex[:8]}"
    with quiet_kafka_client():  # on a broker just started, the first commit waits for __consumer_offsets
        await _commit(bootstrap, group, starts)
    # One network file per process (the same content): its path in the command line tells the pids apart.
    configs = [write_network(network.with_name(f"scaleout-{k + 1}.yaml"), bootstrap_servers=bootstrap, group_id=group)
               for k in range(n)]
    gateways = [GatewayProcess(c, bootstrap_servers=bootstrap, metrics_port=port,
                               log_path=plan.log_dir / f"scaleout-gateway-{k + 1}.log")
                for k, (c, port) in enumerate(zip(configs, free_ports(n), strict=True))]

    def pids() -> dict[str, int]:
        found = {"broker": broker_pid} if broker_pid else {}
        return found | {f"gateway {k + 1}": p[0] for k, c in enumerate(configs) if (p := child_pids(f"{c} "))}

    collector = ReplyCollector(bootstrap, [reply_topic(p) for p in PARTICIPANTS], partitions)
    await collector.start()
    try:
        waiting = asyncio.create_task(collector.wait_for(tracking_ids, _STALL))
        try:
            readies, start = await _start_all(gateways, pids)
            missing = await waiting
        finally:
            waiting.cancel()
        end = CpuSnapshot.take(pids())  # at once: the window ends with the last reply
        if missing:
            raise BenchError(f"scale-out run {index} ({n} processes): {len(missing)} of {len(tracking_ids)} "
                             f"declarations got no reply; the gateways' logs end with:\n"
                             + "\n".join(g.log_tail(10) for g in gateways))
        received = collector.statuses.get("received", 0)
        if received < len(tracking_ids):
            raise BenchError(f"scale-out run {index}: only {received} of {len(tracking_ids)} replies say 'received' "
                             f"({dict(collector.statuses)})")
        handled = await asyncio.to_thread(_handled, gateways, len(tracking_ids))
    finally:
        await collector.stop()
        await asyncio.gather(*(asyncio.to_thread(g.stop) for g in gateways))
    count, seconds, before = window([collector.arrived[t] for t in tracking_ids], readies)
    machine = (end.machine[0] - start.machine[0]) if end.machine and start.machine else None
    return ScaleRun(processes=n, count=count, seconds=seconds, backlog=len(tracking_ids),
                    ready_gap=max(readies) - min(readies), head_start=before, handled=handled,
                    cpu={k: v - start.cpu[k] for k, v in end.cpu.items() if k in start.cpu}, machine=machine,
                    duplicates=collector.duplicates, cpu_wall=end.wall - start.wall)


async def _start_all(gateways: Sequence[GatewayProcess],
                     pids: Callable[[], dict[str, int]]) -> tuple[list[float], CpuSnapshot]:
    """Start every gateway at once; return when each first answered ``/readyz``, and the CPU at the last of those."""
    returned = threading.Event()

    def watch() -> tuple[list[float], CpuSnapshot]:
        readies: list[float | None] = [None] * len(gateways)
        while None in readies and not returned.is_set():
            for k, g in enumerate(gateways):
                if readies[k] is None and g.ready():
                    readies[k] = time.perf_counter()
            time.sleep(_READY_POLL)
        snapshot = CpuSnapshot.take(pids())
        now = time.perf_counter()  # start() returned first: it saw them ready, a poll earlier at most
        return [r if r is not None else now for r in readies], snapshot

    watching = asyncio.create_task(asyncio.to_thread(watch))
    try:
        await asyncio.gather(*(asyncio.to_thread(g.start, 90.0) for g in gateways))
    finally:
        returned.set()
    return await watching


def _handled(gateways: Sequence[GatewayProcess], count: int, wait: float = 5.0) -> tuple[dict[str, float], ...]:
    """Return each gateway's messages by participant, once they add up to ``count`` (the counter moves after the
    outputs were acknowledged, which the reply collector may see first) or after ``wait`` seconds."""
    deadline = time.monotonic() + wait
    while True:
        found = tuple(_messages(g) for g in gateways)
        if sum(sum(h.values()) for h in found) >= count or time.monotonic() > deadline:
            return found
        time.sleep(0.05)


def _messages(gateway: GatewayProcess) -> dict[str, float]:
    try:
        text = gateway.metrics_text()
    except OSError:
        return {}  # a diagnostic: a failed scrape must not fail the run
    out: dict[str, float] = {}
    for family in text_string_to_metric_families(text):
        for s in family.samples:
            if s.name == "oco_gateway_messages_total":
                out[s.labels["participant"]] = out.get(s.labels["participant"], 0.0) + s.value
    return out


async def _partitions_at_end(bootstrap: str, topics: Sequence[str]) -> dict[TopicPartition, int]:
    """Return the end offset of every partition of the topics; each must have at least 2 partitions."""
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap, **security())
    await admin.start()
    try:
        described = {t["topic"]: t["partitions"] for t in await admin.describe_topics(list(topics))}
    finally:
        await admin.close()
    tps = []
    for topic in topics:
        found = described.get(topic) or []
        if len(found) < 2:
            raise BenchError(f"{topic} has {len(found)} partition(s): two processes in one group need at least "
                             f"2 per submit topic to share it (kafka.partitions)")
        tps += [TopicPartition(topic, p["partition"]) for p in found]
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, **security(), enable_auto_commit=False)
    await consumer.start()
    try:
        return dict(await consumer.end_offsets(tps))
    finally:
        await consumer.stop()


async def _commit(bootstrap: str, group: str, offsets: Mapping[TopicPartition, int]) -> None:
    """Commit ``offsets`` for a group nobody has joined yet, so its first member starts there."""
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, **security(), group_id=group, enable_auto_commit=False)
    await consumer.start()
    try:
        consumer.assign(list(offsets))
        await consumer.commit(dict(offsets))
    finally:
        await consumer.stop()
