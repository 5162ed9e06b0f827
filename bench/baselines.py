"""The two baselines: the gateway's parse → identify → validate stages without Kafka, and Kafka without the gateway."""

from __future__ import annotations

import statistics
import time
import uuid
from collections.abc import Callable, Sequence

from aiokafka import AIOKafkaConsumer

from bench.corpus import Declaration
from bench.kafka_io import FETCH_BYTES, quiet_kafka_client, security
from bench.report import Latency, Measurement
from gateway.config import GatewaySettings
from gateway.errors import Rejection
from gateway.pipeline.chain import Pipeline, build_stages
from gateway.pipeline.context import Stage, Submission
from gateway.pipeline.validate import validate_schema
from gateway.profiles import ProfileRegistry

__all__ = ["consume_only", "full_pipeline", "parse_validate", "parse_validate_stages"]

_WARM_UP = 20  # first calls fill lxml's dictionaries and caches; not what a running gateway pays


def parse_validate_stages(settings: GatewaySettings, registry: ProfileRegistry) -> list[Stage]:
    """Return the gateway's own stages up to and including XSD validation (parse, identify, validate).

    Args:
        settings: the network configuration.
        registry: the loaded profiles.
    """
    stages = build_stages(settings, registry)
    return stages[: stages.index(validate_schema) + 1]


def parse_validate(corpus: Sequence[Declaration], settings: GatewaySettings, registry: ProfileRegistry) -> Measurement:
    """Baseline (b): run parse → identify → validate over the corpus in this thread, no Kafka.

    Args:
        corpus: the declarations.
        settings: the network configuration.
        registry: the loaded profiles.

    Raises:
        RuntimeError: a declaration was rejected: the corpus must be valid for the figures to mean anything.
    """
    stages = parse_validate_stages(settings, registry)

    def run(submission: Submission) -> None:
        try:
            for stage in stages:
                submission = stage(submission)
        except Rejection as exc:
            raise RuntimeError(f"{submission.tracking_id} rejected at {exc.stage}: {exc.issues[0]}") from exc

    return _in_process(corpus, run, key="parse_validate", label="(b) parse+validate, no Kafka, 1 thread",
                       note="the gateway's parse, identify and validate stages (lxml) called in a loop")


def full_pipeline(corpus: Sequence[Declaration], settings: GatewaySettings, registry: ProfileRegistry) -> Measurement:
    """Every stage plus output planning (the Response document), in this thread: the gateway's CPU floor.

    Args:
        corpus: the declarations.
        settings: the network configuration.
        registry: the loaded profiles.

    Raises:
        RuntimeError: a declaration was rejected.
    """
    pipeline = Pipeline(build_stages(settings, registry))

    def run(submission: Submission) -> None:
        _, rejection = pipeline(submission)
        if rejection is not None:
            raise RuntimeError(f"{submission.tracking_id} rejected at {rejection.stage}: {rejection.issues[0]}")

    return _in_process(corpus, run, key="full_pipeline", label="    full pipeline + outputs, no Kafka",
                       note="all five stages and plan_outputs (builds the Response), as the gateway's worker thread")


def _in_process(corpus: Sequence[Declaration], run: Callable[[Submission], None], *, key: str, label: str,
                note: str) -> Measurement:
    for d in corpus[:_WARM_UP]:
        run(_submission(d))
    samples = []
    started = time.perf_counter()
    for d in corpus:
        t0 = time.perf_counter()
        run(_submission(d))  # building the Submission is timed too: the gateway does it per record
        samples.append(time.perf_counter() - t0)
    seconds = time.perf_counter() - started
    return Measurement(key, label, len(corpus), seconds, Latency.of(samples), note)


def _submission(d: Declaration) -> Submission:
    return Submission(payload=d.payload, participant=d.participant, tracking_id=d.lrn)


async def consume_only(bootstrap_servers: str, topics: Sequence[str], count: int, *, max_records: int,
                       batch_timeout_ms: int, repeats: int = 3, stall_timeout: float = 30.0) -> Measurement:
    """Baseline (a): read ``count`` records from the beginning of ``topics`` with a plain consumer, no processing.

    Each repeat is a new consumer group; the median run is reported. Timed from ``start()`` (group join
    included, as the end-to-end run includes the gateway's) to the last record. An untimed first run
    makes the broker create ``__consumer_offsets``, a one-off cost nobody should be charged for.

    Args:
        bootstrap_servers: Kafka address.
        topics: the topics holding the corpus.
        count: records they hold.
        max_records: records per ``getmany``, as the gateway's batches.
        batch_timeout_ms: ``getmany`` timeout, as the gateway's.
        repeats: runs; the median is kept.
        stall_timeout: seconds without a record before giving up.

    Raises:
        RuntimeError: fewer than ``count`` records could be read.
    """
    with quiet_kafka_client():
        await _consume_once(bootstrap_servers, topics, count, max_records, batch_timeout_ms, stall_timeout)
    runs = [await _consume_once(bootstrap_servers, topics, count, max_records, batch_timeout_ms, stall_timeout)
            for _ in range(repeats)]
    seconds = statistics.median(runs)
    return Measurement("consume_only", "(a) consume only, aiokafka, no processing", count, seconds,
                       note=f"plain AIOKafkaConsumer on the submit topics, median of {repeats} runs after a warm-up "
                            f"({', '.join(f'{s:.2f}' for s in runs)} s), group join included")


async def _consume_once(bootstrap_servers: str, topics: Sequence[str], count: int, max_records: int,
                        batch_timeout_ms: int, stall_timeout: float) -> float:
    consumer = AIOKafkaConsumer(*topics, bootstrap_servers=bootstrap_servers, **security(), group_id=f"bench-consume-{uuid.uuid4()}",
                                auto_offset_reset="earliest", enable_auto_commit=False,
                                max_partition_fetch_bytes=FETCH_BYTES)
    started = time.perf_counter()
    await consumer.start()
    seen, last_progress = 0, time.monotonic()
    try:
        while seen < count:
            batch = await consumer.getmany(timeout_ms=batch_timeout_ms, max_records=max_records)
            got = sum(len(records) for records in batch.values())
            if got:
                seen, last_progress = seen + got, time.monotonic()
            elif time.monotonic() - last_progress > stall_timeout:
                raise RuntimeError(f"consume-only read {seen} of {count} records, then nothing for {stall_timeout:g}s")
        return time.perf_counter() - started
    finally:
        await consumer.stop()
