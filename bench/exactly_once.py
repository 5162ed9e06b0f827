"""The cost of ``gateway.exactly_once``: the end-to-end throughput and latency phases again, transactional.

Same corpus, same network, same offered rate as the default phases, a gateway of its own with
``gateway.exactly_once: true`` and a consumer group of its own that starts at the end of the submit topics (so it
drains only this phase's backlog). Replies are read committed (:class:`bench.kafka_io.ReplyCollector`), so the
latency includes waiting for each batch's transactions to commit. The ratios go beside the default's.
"""

from __future__ import annotations

import asyncio
import dataclasses
import uuid
from collections.abc import Callable, Sequence
from pathlib import Path

import yaml
from aiokafka import AIOKafkaConsumer, TopicPartition

from bench.corpus import Declaration, relabel
from bench.end_to_end import latency, throughput
from bench.kafka_io import Outgoing, ReplyCollector, new_tracking_id, produce_all, security
from bench.network import PARTICIPANTS
from bench.probes import Probe, describe_interval
from bench.report import Report, ratio
from gateway.ops.broker import LocalBroker, free_ports
from gateway.ops.process import GatewayProcess
from gateway.topics import reply_topic, submit_topic

__all__ = ["exactly_once_phases"]

THROUGHPUT, LATENCY = "end_to_end_exactly_once", "latency_exactly_once"


async def exactly_once_phases(report: Report, corpus: Sequence[Declaration], config: Path, broker: LocalBroker,
                              log_dir: Path, *, latency_seconds: float, say: Callable[[str], None]) -> None:
    """Measure throughput and latency with ``gateway.exactly_once``; add them and their ratios to the report.

    Args:
        report: holds the default phases' ``end_to_end`` and ``latency`` (the latency phase's offered rate is
            reused, so both run at the same load).
        corpus: the declarations (re-sent under new LRNs and tracking ids).
        config: the benchmark's network file (copied with exactly-once on and a new group).
        broker: the running broker.
        log_dir: where the gateway's log goes.
        latency_seconds: length of the latency phase.
        say: progress lines.

    Raises:
        BenchError: replies missing, or declarations rejected.
    """
    bootstrap = broker.bootstrap_servers
    network = yaml.safe_load(config.read_text())
    group = f"oco-bench-eos-{uuid.uuid4().hex[:12]}"
    network["kafka"]["group_id"] = group
    network.setdefault("gateway", {})["exactly_once"] = True
    eos_config = config.with_name("network-exactly-once.yaml")
    eos_config.write_text(yaml.safe_dump(network))
    partitions = int(network["kafka"].get("partitions", 3))
    await _group_starts_at_end(bootstrap, group, [submit_topic(p) for p in PARTICIPANTS], partitions)

    backlog = {new_tracking_id(): relabel(d, f"BEOS-{i:07d}") for i, d in enumerate(corpus)}
    say(f"exactly-once: producing a backlog of {len(backlog)} again ...")
    await produce_all(bootstrap, (Outgoing(submit_topic(d.participant), d.key, d.payload, t)
                                  for t, d in backlog.items()))
    gateway = GatewayProcess(eos_config, bootstrap_servers=bootstrap, metrics_port=free_ports(1)[0],
                             log_path=log_dir / "gateway-exactly-once.log")
    gateway.log_path.unlink(missing_ok=True)
    collector = ReplyCollector(bootstrap, [reply_topic(p) for p in PARTICIPANTS], partitions)
    await collector.start()
    probe = Probe(gateway, broker.status().pid)
    try:
        say("exactly-once: end-to-end throughput ...")
        drained = await throughput(gateway, collector, set(backlog), probe)
        default_latency = report.get("latency")
        rate = default_latency.rate if default_latency else drained.measurement.rate / 2
        say(f"exactly-once: end-to-end latency at {rate:.0f} decl/s (as the default) ...")
        paced, _ = await latency(bootstrap, collector, corpus, probe, gateway, rate=rate, seconds=latency_seconds)
    finally:
        await collector.stop()
        say("stopping the exactly-once gateway ...")
        await asyncio.to_thread(gateway.stop)
    eos_drained = dataclasses.replace(drained.measurement, key=THROUGHPUT,
                                      label="end-to-end throughput, exactly-once")
    eos_paced = dataclasses.replace(paced.measurement, key=LATENCY,
                                    label=paced.measurement.label.replace("end-to-end latency", "latency, exactly-once"))
    report.measurements += [eos_drained, eos_paced]
    cpus = int(report.machine.get("cpus") or 1)
    for phase, run in (("throughput", drained), ("latency", paced)):
        report.diagnostics.update({f"exactly-once {phase} phase, {k}": v
                                   for k, v in describe_interval(run.start, run.end, cpus).items()})
    report.diagnostics["exactly-once ÷ default"] = describe_cost(report)
    report.diagnostics["exactly-once, duplicate replies"] = str(collector.duplicates)


def describe_cost(report: Report) -> str:
    """Return the exactly-once figures as ratios of the default's: throughput, latency p50 and p99.

    Args:
        report: with ``end_to_end``, ``latency`` and their exactly-once twins (missing ones read n/a).
    """
    parts = []
    base, eos = report.get("end_to_end"), report.get(THROUGHPUT)
    value = ratio(eos.rate, base.rate) if base and eos else None
    parts.append(f"throughput {_cell(value)}")
    base, eos = report.get("latency"), report.get(LATENCY)
    for name in ("p50_ms", "p99_ms"):
        value = (ratio(getattr(eos.latency, name), getattr(base.latency, name))
                 if base and eos and base.latency and eos.latency else None)
        parts.append(f"latency {name[:3]} {_cell(value)}")
    return ", ".join(parts) + " (throughput below 1 and latency above 1: what exactly-once costs)"


def _cell(value: float | None) -> str:
    return "n/a" if value is None else f"×{value:.2f}"


async def _group_starts_at_end(bootstrap: str, group: str, topics: list[str], partitions: int) -> None:
    """Commit the group's offsets at the end of the topics, so its gateway skips what earlier phases sent."""
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, **security(), group_id=group, enable_auto_commit=False)
    await consumer.start()
    try:
        tps = [TopicPartition(t, p) for t in topics for p in range(partitions)]
        consumer.assign(tps)
        ends = await consumer.end_offsets(tps)
        await consumer.commit({tp: offset for tp, offset in ends.items()})
    finally:
        await consumer.stop()
