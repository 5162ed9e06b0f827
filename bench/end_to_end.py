"""End-to-end phases: throughput over a pre-loaded backlog, then latency under a paced open-loop load."""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Awaitable, Sequence
from dataclasses import dataclass

from bench import BenchError
from bench.corpus import Declaration, relabel
from bench.kafka_io import ReplyCollector, new_tracking_id, producer, send_open_loop
from bench.probes import Probe, Reading
from bench.report import Latency, Measurement
from gateway import headers as h
from gateway.ops.process import GatewayProcess
from gateway.topics import submit_topic

__all__ = ["LatencyRun", "ThroughputRun", "latency", "throughput"]

_READY_POLL = 0.02  # GatewayProcess.start polls every 0.2 s: too coarse for the start of a timed interval


@dataclass(frozen=True, slots=True)
class ThroughputRun:
    """The throughput phase: its measurement, and what explains it."""

    measurement: Measurement
    first_reply: float  # seconds from readiness to the first reply
    before_ready: int  # replies that arrived before readiness was seen (then the figure flatters the gateway)
    start: Reading
    end: Reading


@dataclass(frozen=True, slots=True)
class LatencyRun:
    """The latency phase: its measurement, and how well the sender kept to its schedule."""

    measurement: Measurement
    max_send_lag: float  # seconds the sender ran behind its schedule, at worst
    start: Reading
    end: Reading


async def throughput(gateway: GatewayProcess, collector: ReplyCollector, tracking_ids: set[str], probe: Probe,
                     *, stall_timeout: float = 60.0) -> ThroughputRun:
    """Start the gateway on a pre-loaded backlog; time from its readiness until every reply arrived.

    Args:
        gateway: not started yet; the backlog is already in its submit topics.
        collector: following the reply topics since before the gateway started.
        tracking_ids: the backlog's ids.
        probe: reads CPU use and gateway metrics at both ends of the interval.
        stall_timeout: seconds without a new reply before the phase fails.

    Raises:
        BenchError: replies missing, or some declaration was rejected.
        GatewayError: the gateway did not start.
    """
    returned = threading.Event()

    def start_gateway() -> None:
        try:
            gateway.start(90.0)
        finally:
            returned.set()

    starting = asyncio.create_task(asyncio.to_thread(start_gateway))
    ready_at = await asyncio.to_thread(_first_ready, gateway, returned)
    start = probe.read()
    await starting  # re-raises why the gateway did not start
    missing = await collector.wait_for(tracking_ids, stall_timeout)
    if missing:
        raise BenchError(f"{len(missing)} of {len(tracking_ids)} declarations got no reply (nothing new for "
                         f"{stall_timeout:g}s); the gateway's log ends with:\n{gateway.log_tail()}")
    arrivals = [collector.arrived[t] for t in tracking_ids]
    end_at = max(arrivals)
    end = probe.read(messages_at_least=(start.counters.messages if start.counters else 0) + len(tracking_ids))
    _require_all_received(collector, len(tracking_ids), gateway)
    seconds = end_at - ready_at
    m = Measurement("end_to_end", "end-to-end throughput, backlog drained", len(tracking_ids), seconds,
                    note="backlog pre-loaded in the submit topics; timed from the gateway's /readyz to the "
                         "last reply seen on oco.reply.*")
    return ThroughputRun(m, min(arrivals) - ready_at, sum(a < ready_at for a in arrivals), start, end)


def _first_ready(gateway: GatewayProcess, returned: threading.Event) -> float:
    """Return the ``perf_counter`` at which ``/readyz`` first answered 200 (or ``start`` returned)."""
    while not returned.is_set():
        if gateway.ready():
            return time.perf_counter()
        time.sleep(_READY_POLL)
    return time.perf_counter()


def _require_all_received(collector: ReplyCollector, expected: int, gateway: GatewayProcess) -> None:
    received = collector.statuses.get("received", 0)
    if received < expected:
        raise BenchError(f"only {received} of {expected} replies say 'received' ({dict(collector.statuses)}): the "
                         f"corpus is valid, so the gateway rejected good declarations; its log ends with:\n"
                         f"{gateway.log_tail()}")


async def latency(bootstrap_servers: str, collector: ReplyCollector, corpus: Sequence[Declaration], probe: Probe,
                  gateway: GatewayProcess, *, rate: float, seconds: float,
                  stall_timeout: float = 30.0) -> tuple[LatencyRun, dict[str, float]]:
    """Send declarations at a fixed rate regardless of replies (open loop); time each submit → reply.

    Latency is counted from when a message was due, not when it went out, so a sender falling behind
    cannot hide queueing (coordinated omission).

    Args:
        bootstrap_servers: Kafka address.
        collector: following the reply topics.
        corpus: declarations to draw from (re-sent under new LRNs and tracking ids).
        probe: reads CPU use and gateway metrics at both ends.
        gateway: the running gateway, idle.
        rate: declarations per second.
        seconds: how long to send.
        stall_timeout: seconds without a new reply, after the last send, before the phase fails.

    Returns:
        The run, and its tracking ids mapped to their due times.

    Raises:
        BenchError: replies missing, or some declaration was rejected.
    """
    count = max(1, round(rate * seconds))
    # Prepared before the clock starts: the sender should only send.
    batch = [relabel(corpus[i % len(corpus)], f"BLAT-{i:07d}") for i in range(count)]
    already = collector.statuses.get("received", 0)
    prod = producer(bootstrap_servers)
    await prod.start()

    async def send(d: Declaration) -> tuple[str, Awaitable[object]]:
        tid = new_tracking_id()
        return tid, await prod.send(submit_topic(d.participant), d.payload, key=d.key,
                                    headers=[(h.TRACKING_ID, tid.encode())])

    try:
        start = probe.read()
        due, lag, _ = await send_open_loop(batch, rate, send)
    finally:
        await prod.stop()
    missing = await collector.wait_for(set(due), stall_timeout)
    end = probe.read(messages_at_least=(start.counters.messages if start.counters else 0) + count)
    if missing:
        raise BenchError(f"{len(missing)} of {count} paced declarations got no reply; the gateway's log ends "
                         f"with:\n{gateway.log_tail()}")
    _require_all_received(collector, already + count, gateway)
    samples = [collector.arrived[t] - when for t, when in due.items()]
    m = Measurement("latency", f"end-to-end latency, open loop {rate:.0f}/s, {seconds:g} s", count,
                    count / rate, Latency.of(samples),
                    note="submit → reply per message, from its due send time to its reply's arrival; the "
                         "decl/s column is the offered rate")
    return LatencyRun(m, lag, start, end), due

