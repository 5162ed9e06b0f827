"""The naive baseline: the same corpus, on the same broker and in the same run, through what a typical FastStream user
writes (``bench/naive_app.py``: one message at a time, lxml in the event loop, default settings): its throughput over
a backlog and its latency at the gateway's latency rate, so that the report can show the gateway's ratio to it."""

from __future__ import annotations

import asyncio
import subprocess
import sys
import time
import uuid
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient, NewTopic

from bench import BenchError
from bench.corpus import Declaration, relabel
from bench.kafka_io import FETCH_BYTES, network_kafka, producer, quiet_kafka_client, security, send_open_loop
from bench.probes import cpu_seconds
from bench.report import Latency, Measurement

__all__ = ["NAIVE_INPUT", "NAIVE_OUTPUT", "NaivePlan", "naive_phases"]

NAIVE_INPUT, NAIVE_OUTPUT = "bench.naive.in", "bench.naive.out"
_CORRELATION = "correlation_id"  # FastStream's header, carried from the input to what the handler returns


@dataclass(frozen=True, slots=True)
class NaivePlan:
    """What the naive phases run.

    Attributes:
        rate: the latency phase's rate (the gateway's, for a like-for-like comparison).
        seconds: the latency phase's length.
        xsd: the schema the service validates against (the gateway's declaration schema).
        partitions: partitions of its input and output topics.
        log_path: where the service's output goes.
    """

    rate: float
    seconds: float
    xsd: Path
    partitions: int
    log_path: Path


@dataclass(slots=True)
class _Outputs:
    """Follows the output topic from its end: arrival time (``perf_counter``) of each correlation id."""

    bootstrap_servers: str
    partitions: int
    arrived: dict[str, float] = field(default_factory=dict)
    invalid: int = 0
    _consumer: AIOKafkaConsumer | None = None
    _task: asyncio.Task[None] | None = None

    async def start(self) -> None:
        self._consumer = AIOKafkaConsumer(bootstrap_servers=self.bootstrap_servers, **security(),
                                          enable_auto_commit=False, max_partition_fetch_bytes=FETCH_BYTES)
        await self._consumer.start()
        tps = [TopicPartition(NAIVE_OUTPUT, p) for p in range(self.partitions)]
        self._consumer.assign(tps)
        await self._consumer.seek_to_end(*tps)
        for tp in tps:
            await self._consumer.position(tp)
        self._task = asyncio.create_task(self._collect())

    async def _collect(self) -> None:
        assert self._consumer is not None
        while True:
            batch = await self._consumer.getmany(timeout_ms=100, max_records=2000)
            now = time.perf_counter()
            for records in batch.values():
                for record in records:
                    cid = dict(record.headers or ()).get(_CORRELATION)
                    if cid is not None and cid.decode() not in self.arrived:
                        self.arrived[cid.decode()] = now
                        self.invalid += b'"valid": true' not in (record.value or b"")

    async def wait_for(self, ids: set[str], stall_timeout: float) -> set[str]:
        """Wait until every id arrived or nothing new came for ``stall_timeout`` s; return the missing ones."""
        seen, last = len(self.arrived), time.monotonic()
        while missing := ids - self.arrived.keys():
            if self._task is not None and self._task.done():
                self._task.result()
            await asyncio.sleep(0.02)
            if len(self.arrived) != seen:
                seen, last = len(self.arrived), time.monotonic()
            elif time.monotonic() - last > stall_timeout:
                return missing
        return set()

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)
        if self._consumer is not None:
            await self._consumer.stop()


class _Service:
    """The naive service as a child process (``python -m bench.naive_app``)."""

    def __init__(self, bootstrap_servers: str, plan: NaivePlan) -> None:
        kafka = network_kafka()
        self.args = [sys.executable, "-m", "bench.naive_app", "--bootstrap-servers", bootstrap_servers,
                     "--xsd", str(plan.xsd), "--input", NAIVE_INPUT, "--output", NAIVE_OUTPUT,
                     "--group-id", f"bench-naive-{uuid.uuid4().hex[:12]}"]
        if kafka:
            self.args += ["--username", kafka["username"], "--password-file", kafka["password_file"]]
        self.log_path = plan.log_path
        self._process: subprocess.Popen[bytes] | None = None

    def start(self, timeout: float = 60.0) -> float:
        """Start it; return the ``perf_counter`` at which it said it consumes."""
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        with self.log_path.open("wb") as log:
            self._process = subprocess.Popen(self.args, stdout=log, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if b"ready" in self.log_path.read_bytes():
                return time.perf_counter()
            if self._process.poll() is not None:
                break
            time.sleep(0.02)
        self.stop()
        raise BenchError(f"the naive service did not start; its output:\n{self.log_path.read_text()[-2000:]}")

    @property
    def pid(self) -> int | None:
        return self._process.pid if self._process else None

    def stop(self) -> None:
        if self._process is not None and self._process.poll() is None:
            self._process.terminate()
            try:
                self._process.wait(15)
            except subprocess.TimeoutExpired:
                self._process.kill()
                self._process.wait()


async def _create_topics(bootstrap_servers: str, partitions: int) -> None:
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap_servers, **security())
    await admin.start()
    try:
        existing = set(await admin.list_topics())
        await admin.create_topics([NewTopic(t, num_partitions=partitions, replication_factor=1)
                                   for t in (NAIVE_INPUT, NAIVE_OUTPUT) if t not in existing])
    finally:
        await admin.close()


async def naive_phases(bootstrap_servers: str, corpus: Sequence[Declaration], plan: NaivePlan,
                       say: Callable[[str], None]) -> tuple[list[Measurement], dict[str, str]]:
    """Run the naive service's throughput phase (backlog drained) and latency phase (open loop at ``plan.rate``).

    Args:
        bootstrap_servers: the benchmark broker.
        corpus: the gateway's corpus (the same declarations).
        plan: rate, length, schema, topics, log.
        say: progress lines.

    Returns:
        The two measurements (keys ``naive_throughput`` and ``naive_latency``) and diagnostics lines.

    Raises:
        BenchError: outputs missing, or the service found a corpus declaration invalid.
    """
    with quiet_kafka_client():
        await _create_topics(bootstrap_servers, plan.partitions)
    backlog = {str(uuid.uuid4()): d for d in corpus}
    say(f"naive baseline: producing the corpus to {NAIVE_INPUT} ...")
    await _produce(bootstrap_servers, backlog)
    outputs = _Outputs(bootstrap_servers, plan.partitions)
    await outputs.start()
    service = _Service(bootstrap_servers, plan)
    try:
        say("naive baseline: throughput, starting the service on the backlog ...")
        ready = await asyncio.to_thread(service.start)
        missing = await outputs.wait_for(set(backlog), 60.0)
        if missing:
            raise BenchError(f"the naive service answered {len(backlog) - len(missing)} of {len(backlog)}")
        drained = Measurement("naive_throughput", "naive baseline: throughput, backlog drained", len(backlog),
                              max(outputs.arrived[t] for t in backlog) - ready,
                              note="bench/naive_app.py (FastStream subscriber, defaults, lxml validation, publish), "
                                   "timed from its start-up to its last output")
        await asyncio.sleep(1.0)
        say(f"naive baseline: latency, {plan.rate:.0f} decl/s for {plan.seconds:g} s ...")
        pid = service.pid
        cpu_before = cpu_seconds(pid) if pid else None
        due, lag, started = await _paced(bootstrap_servers, corpus, plan.rate, plan.seconds)
        missing = await outputs.wait_for(set(due), 30.0)
        cpu_after = cpu_seconds(pid) if pid else None
        if missing:
            raise BenchError(f"the naive service answered {len(due) - len(missing)} of {len(due)} paced declarations")
        samples = [outputs.arrived[t] - when for t, when in due.items()]
        paced = Measurement("naive_latency", f"naive baseline: latency, open loop {plan.rate:.0f}/s", len(due),
                            len(due) / plan.rate, Latency.of(samples),
                            note="submit → its output, from its due send time, as the gateway's latency phase")
    finally:
        await outputs.stop()
        await asyncio.to_thread(service.stop)
    if outputs.invalid:
        raise BenchError(f"the naive service found {outputs.invalid} corpus declarations invalid against {plan.xsd}")
    diagnostics = {"naive baseline, sender": f"at most {lag * 1000:.1f} ms behind schedule"}
    if cpu_before is not None and cpu_after is not None:
        wall = max(outputs.arrived.values()) - started
        diagnostics["naive baseline, latency phase, CPU"] = f"naive service {(cpu_after - cpu_before) / wall:.2f} cores"
    return [drained, paced], diagnostics


async def _produce(bootstrap_servers: str, backlog: dict[str, Declaration], window: int = 500) -> None:
    """Produce the backlog, each record with its correlation id, and wait for every acknowledgement."""
    prod = producer(bootstrap_servers)
    await prod.start()
    try:
        pending = []
        for cid, d in backlog.items():
            pending.append(await prod.send(NAIVE_INPUT, d.payload, key=d.key, headers=[(_CORRELATION, cid.encode())]))
            if len(pending) >= window:
                await asyncio.gather(*pending)
                pending = []
        await asyncio.gather(*pending)
    finally:
        await prod.stop()


async def _paced(bootstrap_servers: str, corpus: Sequence[Declaration], rate: float,
                 seconds: float) -> tuple[dict[str, float], float, float]:
    """Send at ``rate`` regardless of outputs (open loop); return id -> due time, the worst lag, the start."""
    count = max(1, round(rate * seconds))
    batch = [relabel(corpus[i % len(corpus)], f"BNAI-{i:07d}") for i in range(count)]
    prod = producer(bootstrap_servers)
    await prod.start()

    async def send(d: Declaration) -> tuple[str, Awaitable[object]]:
        cid = str(uuid.uuid4())
        return cid, await prod.send(NAIVE_INPUT, d.payload, key=d.key, headers=[(_CORRELATION, cid.encode())])

    try:
        return await send_open_loop(batch, rate, send)
    finally:
        await prod.stop()
