"""Wire the gateway: a FastStream Kafka app consuming every submit topic in batches, plus HTTP health and metrics."""

from __future__ import annotations

from collections.abc import Awaitable
from typing import Any

import structlog
from faststream.asgi import AsgiFastStream, AsgiResponse, get
from faststream.kafka import KafkaBroker
from faststream.kafka.annotations import KafkaMessage
from faststream.middlewares import AckPolicy
from prometheus_client import make_asgi_app

from gateway.config import GatewaySettings
from gateway.errors import ConfigError
from gateway.ops.metrics import GatewayMetrics
from gateway.ops.middleware import observing
from gateway.pipeline.chain import Pipeline, build_stages
from gateway.pipeline.route import Output
from gateway.profiles import ProfileRegistry
from gateway.topics import submit_topic
from gateway.transport.handler import BatchHandler, MessageResult

__all__ = ["build_app"]

log = structlog.get_logger(__name__)


def build_app(settings: GatewaySettings, registry: ProfileRegistry,
              metrics: GatewayMetrics | None = None) -> AsgiFastStream:
    """Build the runnable gateway (its topics must exist: see ``transport.topics.ensure_topics``).

    Args:
        settings: validated configuration.
        registry: loaded schema profiles (compiled once, here at start-up).
        metrics: metrics to record into; a fresh set by default.

    Raises:
        ConfigError: no participant is configured, so there is nothing to consume.
    """
    if not settings.participants:
        raise ConfigError("no participants configured: add at least one under 'participants'")
    metrics = metrics or GatewayMetrics()
    k = settings.kafka
    broker = KafkaBroker(
        k.bootstrap_servers,
        client_id=k.client_id,
        acks="all",  # an output counts as sent only once the broker has it durably
        enable_idempotence=True,
        linger_ms=5,  # lets the producer batch the outputs of a consumed batch
        # Room for the largest accepted message plus headers; aiokafka's default (1 MiB) would make a
        # valid 2 MiB declaration unpublishable and block its partition.
        max_request_size=settings.gateway.max_message_bytes + 64 * 1024,
        # Declarations are 5-50 KB: aiokafka's 16 KiB default would send each as its own batch.
        max_batch_size=1024 * 1024,
        middlewares=[observing(metrics)],
        logger=None,
    )

    async def publish(out: Output) -> Awaitable[Any]:
        return await broker.publish(out.value, out.topic, key=out.key, headers=out.headers, no_confirm=True)

    handler = BatchHandler(Pipeline(build_stages(settings, registry)), publish)
    topics = [submit_topic(p) for p in sorted(settings.participants)]

    @broker.subscriber(
        *topics,
        group_id=k.group_id,
        batch=True,
        max_records=k.batch_max_records,
        batch_timeout_ms=k.batch_timeout_ms,
        auto_offset_reset="earliest",
        # Commit after the handler returned (outputs acknowledged); on failure seek back and retry.
        # FastStream's Kafka default, ACK_FIRST, commits before processing: at-most-once.
        ack_policy=AckPolicy.NACK_ON_ERROR,
        max_partition_fetch_bytes=settings.gateway.max_message_bytes * 2,
    )
    async def on_batch(msg: KafkaMessage) -> list[MessageResult]:
        raw = msg.raw_message
        records = raw if isinstance(raw, tuple) else (raw,)
        return await handler(records)

    ready = {"ok": False}

    async def mark_ready() -> None:
        ready["ok"] = True
        metrics.up.set(1)
        log.info("gateway_started", topics=topics, members=sorted(settings.members),
                 profiles=list(registry.names))

    async def mark_stopping() -> None:
        ready["ok"] = False
        metrics.up.set(0)
        handler.close()

    @get(include_in_schema=False)
    async def healthz(scope: Any) -> AsgiResponse:
        # Liveness answers from the event loop alone: a Kafka outage must not restart every pod
        # (readiness reports it instead).
        return AsgiResponse(b"alive\n", 200)

    @get(include_in_schema=False)
    async def readyz(scope: Any) -> AsgiResponse:
        if ready["ok"] and await broker.ping(timeout=2.0):
            return AsgiResponse(b"ready\n", 200)
        return AsgiResponse(b"not ready\n", 503)

    return AsgiFastStream(
        broker,
        asgi_routes=[
            ("/metrics", make_asgi_app(metrics.registry)),
            ("/healthz", healthz),
            ("/readyz", readyz),
        ],
        after_startup=[mark_ready],
        on_shutdown=[mark_stopping],
        logger=None,
    )
