"""The priority-lane phase: how long does a recognised trader's declaration wait when its member has a backlog?

One member (``MH``) and its delivery worker, in this process (``DeliveryService``, as ``oco-gateway deliver``
runs it), in front of a fake national system that answers after ``delay`` seconds. Declarations are published
as the gateway routes them: ordinary ones to ``oco.deliver.MH``, recognised ones to ``oco.deliver.MH.priority``
(headers ``oco-lane: priority`` and ``oco-aeo-recognised``); the gateway itself is not involved. Measured:

1. the member idle: a few priority and ordinary declarations, one at a time, each timed from its publication
   to its final reply (and to the national system's answer);
2. behind a backlog: ``backlog`` ordinary declarations published at once; once the worker is busy with them,
   the same number of priority declarations, one at a time, each timed the same way and with the national
   calls made between its publication and its own counted; then every backlog declaration's time, from its
   publication to its reply, once all are answered.

The figures to read are latency behind the backlog ÷ latency idle, for each lane, from the same run.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from importlib.metadata import EntryPoint
from pathlib import Path

import yaml
from aiokafka import AIOKafkaProducer

from bench import BenchError
from bench.kafka_io import ReplyCollector, network_kafka, producer, quiet_kafka_client
from bench.report import LANE, Latency, Measurement, Report
from gateway import headers as h
from gateway.config import load_settings
from gateway.delivery.service import DeliveryService
from gateway.plugins import ADAPTER_GROUP, AdapterCatalog
from gateway.samples import make_declaration
from gateway.sdk import Declaration, NationalAnswer
from gateway.sdk.testing import FakeAdapter
from gateway.topics import deliver_topic, priority_topic, reply_topic
from gateway.transport.topics import ensure_topics

__all__ = ["LANE_MEMBER", "LanePlan", "TimedFakeAdapter", "calls_ahead", "lane_catalog", "lane_phase",
           "write_lane_network"]

LANE_MEMBER = "MH"
_PARTICIPANT = "bench-mh-trader"
_STALL = 60.0  # seconds without any reply before the phase fails
_WARM_UP = 3  # declarations per lane, untimed, before the first sample


@dataclass(frozen=True, slots=True)
class LanePlan:
    """What the phase runs.

    Attributes:
        backlog: ordinary declarations queued at once for the "behind a backlog" samples.
        samples: declarations timed one at a time, per lane idle and for the priority lane behind the backlog.
        delay: seconds the fake national system takes to answer.
        burst: the member's ``delivery.priority_burst``.
    """

    backlog: int
    samples: int
    delay: float
    burst: int = 10


class TimedFakeAdapter(FakeAdapter):
    """The fake national system, noting when it answered each tracking id (``perf_counter``)."""

    def __init__(self, member: str, settings: Mapping[str, object]) -> None:
        super().__init__(member, settings)
        self.answered: dict[str, float] = {}

    async def deliver(self, declaration: Declaration) -> NationalAnswer:
        """Answer as the fake does; note the time."""
        answer = await super().deliver(declaration)
        self.answered.setdefault(declaration.tracking_id, time.perf_counter())
        return answer


def lane_catalog() -> AdapterCatalog:
    """Return the adapters of the phase's network: ``fake``, the timed fake national system."""
    return AdapterCatalog([EntryPoint("fake", "bench.priority:TimedFakeAdapter", ADAPTER_GROUP)])


def write_lane_network(path: Path, *, bootstrap_servers: str, delay: float, burst: int) -> Path:
    """Write the phase's network: one member delivered to by the timed fake adapter; return the path.

    Args:
        path: the YAML file to write.
        bootstrap_servers: the benchmark broker.
        delay: seconds the fake national system takes per call.
        burst: the member's ``delivery.priority_burst``.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(yaml.safe_dump({
        "kafka": {"bootstrap_servers": bootstrap_servers, "group_id": f"oco-bench-lanes-{uuid.uuid4().hex[:12]}",
                  **network_kafka()},
        "participants": {_PARTICIPANT: {"name": _PARTICIPANT}},
        "members": {LANE_MEMBER: {"name": "Marshall Islands Customs", "submitters": [_PARTICIPANT],
                                  "adapter": {"name": "fake", "settings": {"delay": delay}},
                                  "delivery": {"rate_per_second": 10_000.0, "priority_burst": burst}}},
    }, sort_keys=False))
    return path


def calls_ahead(calls: Sequence[str], tracking_id: str, before: int) -> int:
    """Return how many national calls began after a declaration's publication and before its own call.

    Args:
        calls: tracking ids of the national calls, in the order they began.
        tracking_id: the declaration's.
        before: calls begun when it was published (the one in flight, if any, among them).

    Raises:
        ValueError: it was never called.
    """
    return calls.index(tracking_id, before) - before


@dataclass(slots=True)
class _Timed:
    """Declarations published, by tracking id: when, and how many national calls had begun then."""

    sent: dict[str, float] = field(default_factory=dict)
    calls_before: dict[str, int] = field(default_factory=dict)

    def reply_latencies(self, collector: ReplyCollector) -> list[float]:
        return [collector.finals[t].at - at for t, at in self.sent.items()]

    def call_latencies(self, adapter: TimedFakeAdapter) -> list[float]:
        return [adapter.answered[t] - at for t, at in self.sent.items()]


class _Phase:
    def __init__(self, plan: LanePlan, service: DeliveryService, collector: ReplyCollector,
                 prod: AIOKafkaProducer) -> None:
        self.plan = plan
        self.adapter: TimedFakeAdapter = service.workers[0].adapter  # type: ignore[assignment]
        self.collector = collector
        self.prod = prod
        self.payload = make_declaration(member=LANE_MEMBER, lrn="BENCH-LANE", seed=1)  # the fake reads headers
        self._n = 0
        self.last = ""

    def calls(self) -> list[str]:
        return [d.tracking_id for d in self.adapter.calls]

    async def send(self, priority: bool, into: _Timed) -> asyncio.Future[object]:
        """Publish one declaration; note when, and the calls begun by then; return its acknowledgement."""
        self._n += 1
        lrn = f"{'P' if priority else 'O'}-{self._n:06d}"
        tid = f"bench-lane-{lrn}-{uuid.uuid4().hex[:8]}"
        found = {h.TRACKING_ID: tid, h.PARTICIPANT: _PARTICIPANT, h.MEMBER: LANE_MEMBER, h.LRN: lrn,
                 h.FUNCTION_CODE: "9"}
        if priority:
            found |= {h.LANE: "priority", h.AEO_RECOGNISED: f"{LANE_MEMBER}0000001 AEOF {LANE_MEMBER}"}
        topic = priority_topic(LANE_MEMBER) if priority else deliver_topic(LANE_MEMBER)
        into.calls_before[tid] = len(self.adapter.calls)
        into.sent[tid] = time.perf_counter()
        ack: asyncio.Future[object] = await self.prod.send(topic, self.payload, key=f"{_PARTICIPANT}:{lrn}".encode(),
                                                           headers=[(k, v.encode()) for k, v in found.items()])
        self.last = tid
        return ack

    async def one_at_a_time(self, priority: bool, count: int, into: _Timed, *, spacing: int = 0) -> None:
        """Publish ``count`` declarations, each after the previous one's reply (and ``spacing`` more calls)."""
        for _ in range(count):
            await (await self.send(priority, into))
            await self.wait({self.last})
            mark = len(self.adapter.calls)
            while spacing and len(self.adapter.calls) < mark + spacing:
                await asyncio.sleep(0.005)

    async def wait(self, ids: set[str]) -> None:
        missing = await self.collector.wait_for(ids, _STALL, final=True)
        if missing:
            raise BenchError(f"priority-lane phase: {len(missing)} of {len(ids)} declarations got no final reply "
                             f"(nothing new for {_STALL:g} s)")
        refused = [t for t in ids if self.collector.finals[t].status != "accepted"]
        if refused:
            raise BenchError(f"priority-lane phase: {len(refused)} declarations were not accepted")


async def lane_phase(report: Report, plan: LanePlan, bootstrap: str, network_path: Path) -> None:
    """Run the phase on a running broker; add its measurements, notes and diagnostics to ``report``.

    Args:
        report: filled in when the phase ends.
        plan: what to run.
        bootstrap: the benchmark broker.
        network_path: where to write the phase's network configuration.

    Raises:
        BenchError: a declaration got no final reply, or was not accepted.
    """
    settings = load_settings(write_lane_network(network_path, bootstrap_servers=bootstrap, delay=plan.delay,
                                                burst=plan.burst))
    service = DeliveryService(settings, catalog=lane_catalog())
    collector = ReplyCollector(bootstrap, [reply_topic(_PARTICIPANT)], settings.kafka.partitions)
    prod = producer(bootstrap)
    running = None
    try:
        # A broker just started answers NotLeader and GroupCoordinatorNotAvailable for a while; aiokafka retries.
        with quiet_kafka_client():
            await ensure_topics(settings, service.topics)
            await collector.start()
            await prod.start()
            running = asyncio.create_task(service.run())
            phase = _Phase(plan, service, collector, prod)
            await _warm_up(phase)
        await _measure(report, plan, phase)
    finally:
        service.stop()
        if running is not None:
            await asyncio.gather(running, return_exceptions=True)
        await prod.stop()
        await collector.stop()


async def _warm_up(phase: _Phase) -> None:
    """Untimed: the worker's group joins, connections open."""
    warm = _Timed()
    for priority in (False, True):
        await phase.one_at_a_time(priority, _WARM_UP, warm)


async def _measure(report: Report, plan: LanePlan, phase: _Phase) -> None:
    idle_p, idle_o = _Timed(), _Timed()
    for _ in range(plan.samples):  # alternating, so a drift of the machine falls on both lanes
        await phase.one_at_a_time(True, 1, idle_p)
        await phase.one_at_a_time(False, 1, idle_o)

    backlog, behind = _Timed(), _Timed()
    # At once: acknowledgements are awaited together at the end, so the backlog is all in Kafka before the
    # priority samples (they measure the lane, not a broker busy writing the backlog).
    await asyncio.gather(*[await phase.send(False, backlog) for _ in range(plan.backlog)])
    first_backlog_call = len(phase.adapter.calls)
    busy = min(50, max(1, plan.backlog // 10))
    while len(phase.adapter.calls) < first_backlog_call + busy:  # the worker is in the backlog now
        await asyncio.sleep(0.005)
    await phase.one_at_a_time(True, plan.samples, behind, spacing=max(1, min(20, plan.backlog // (4 * plan.samples))))
    calls = phase.calls()
    ahead = [calls_ahead(calls, t, behind.calls_before[t]) for t in behind.sent]
    left = [plan.backlog - sum(1 for c in calls[:calls.index(t)] if c in backlog.sent) for t in behind.sent]
    await phase.wait(set(backlog.sent))
    drained = max(phase.collector.finals[t].at for t in backlog.sent) - min(backlog.sent.values())

    n, ms = plan.backlog, f"{plan.delay * 1000:g} ms"
    rows = [
        ("priority_idle", f"priority, member idle ({plan.samples} one by one)", idle_p),
        ("ordinary_idle", f"ordinary, member idle ({plan.samples} one by one)", idle_o),
        ("priority_backlog", f"priority, behind {n} ordinary ({plan.samples})", behind),
        ("ordinary_backlog", f"ordinary, the {n} of the backlog", backlog),
    ]
    for key, label, timed in rows:
        samples = timed.reply_latencies(phase.collector)
        seconds = drained if key == "ordinary_backlog" else sum(samples)
        report.lanes.append(Measurement(LANE + key, label, len(samples), seconds, Latency.of(samples)))
    report.lane_notes += [
        f"one member ({LANE_MEMBER}), its delivery worker in the benchmark process, a fake national system answering "
        f"after {ms}; declarations published straight to oco.deliver.{LANE_MEMBER} and its priority lane, as the "
        "gateway routes them (the gateway is not involved); latency: from publication to the final reply.",
        f"the worker asks for the next record before every national call: priority first, and after {plan.burst} "
        "(members.<M>.delivery.priority_burst) priority records in a row while others wait, one of the others.",
        f"the {n} ordinary declarations were published at once; each priority one was published once the worker "
        "was busy with them, after the previous one's reply; the backlog's p50 is about half the time to drain it.",
    ]
    call = {key: Latency.of(timed.call_latencies(phase.adapter)) for key, _, timed in rows}
    report.diagnostics["priority lane, publication to the national system's answer, p50 / max ms"] = "; ".join(
        f"{key.replace('_', ' ')} {lat.p50_ms:.1f} / {lat.max_ms:.1f}" for key, lat in call.items())
    report.diagnostics["priority lane, national calls between a priority declaration's publication and its own"] = (
        ", ".join(map(str, ahead)) + f" (behind {n} ordinary; the call in flight at publication not counted); "
        f"ordinary declarations still queued when it was called: {', '.join(map(str, left))}")
    report.diagnostics["priority lane, backlog"] = (
        f"{n} ordinary declarations answered in {drained:.1f} s ({n / drained:.1f}/s, several calls in flight "
        f"(the default members.<M>.delivery.concurrency), each the {ms} call, publishing the reply, committing)")
