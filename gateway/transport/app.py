"""Wire the gateway: a FastStream Kafka app consuming every submit topic in batches, plus HTTP health and metrics."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable
from datetime import UTC, datetime
from typing import Any

import structlog
from aiokafka import AIOKafkaProducer
from faststream.asgi import AsgiFastStream, AsgiResponse, get
from faststream.kafka import KafkaBroker
from faststream.kafka.annotations import KafkaMessage
from faststream.middlewares import AckPolicy
from prometheus_client import make_asgi_app

from gateway import kafka_idempotence
from gateway.aeo.feed import Observed, RegistryFeed
from gateway.aeo.intake import EventReader
from gateway.aeo.recognition import RecognitionPolicy
from gateway.aeo.registry import AeoRegistry
from gateway.aeo.signing import TrustStore
from gateway.aeo.status import TraderStatus, valid_trader_id
from gateway.config import GatewaySettings
from gateway.contract.document import build_document
from gateway.contract.viewer import asyncapi_routes
from gateway.errors import ConfigError
from gateway.kafka_errors import refused_for_good
from gateway.kafka_security import client_options, faststream_security
from gateway.ops.lag import LagWatch
from gateway.ops.metrics import GatewayMetrics, KafkaWatchMetrics
from gateway.ops.middleware import observing, stage_timer, timed_publish
from gateway.pipeline.chain import Pipeline, build_reading_stages, build_stages
from gateway.pipeline.context import SourceRef
from gateway.pipeline.route import Output
from gateway.profiles import ProfileRegistry
from gateway.topics import submit_topic
from gateway.transport import reading
from gateway.transport.confirming import Confirmations, DrainOnRevoke
from gateway.transport.handler import BatchHandler
from gateway.transport.transactions import PartitionTransactions, offsets_to_commit

__all__ = ["GatewayApp", "build_app"]

STALLED_SECONDS = 120.0  # /readyz fails when records wait and nothing was committed for this long

log = structlog.get_logger(__name__)


class GatewayApp(AsgiFastStream):
    """FastStream's ASGI app plus routes matched by prefix (``/aeo/<trader>``); FastStream matches exact paths."""

    def __init__(self, *args: Any, prefix_routes: tuple[tuple[str, Any], ...] = (), **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._prefix_routes = prefix_routes

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] == "http":
            for prefix, route in self._prefix_routes:
                if scope["path"].startswith(prefix):
                    await route(scope, receive, send)
                    return
        await super().__call__(scope, receive, send)


def build_app(settings: GatewaySettings, registry: ProfileRegistry,
              metrics: GatewayMetrics | None = None) -> GatewayApp:
    """Build the runnable gateway (its topics must exist: see ``transport.topics.ensure_topics``).

    Before it consumes anything, the app loads the trusted-trader registry from ``oco.aeo.*`` (readiness
    waits for it), so that no declaration is judged against a half-loaded registry.

    Args:
        settings: validated configuration.
        registry: loaded schema profiles (compiled once, here at start-up).
        metrics: metrics to record into; a fresh set by default.

    Raises:
        ConfigError: no participant is configured, so there is nothing to consume; or the AEO trust store,
            the Kafka password or a TLS file cannot be read.
    """
    if not settings.participants:
        raise ConfigError("no participants configured: add at least one under 'participants'")
    metrics = metrics or GatewayMetrics()
    aeo = AeoRegistry(TrustStore.from_settings(settings.aeo))
    recognition = RecognitionPolicy(settings.aeo, settings.members)
    feed = RegistryFeed(
        aeo, EventReader(build_reading_stages(settings, registry)),
        bootstrap_servers=settings.kafka.bootstrap_servers, security=client_options(settings.kafka),
        issuers=settings.aeo_issuers,
        client_id=f"{settings.kafka.client_id}-aeo", park=True, audit_group=f"{settings.kafka.group_id}-aeo-audit",
        observe=_aeo_observer(metrics, aeo), max_message_bytes=settings.gateway.max_message_bytes)
    k = settings.kafka
    broker = KafkaBroker(
        k.bootstrap_servers,
        # On SIGTERM the batch in hand is finished (published, committed) for up to this long; after it, it
        # is cancelled uncommitted and the partition's next owner processes it again.
        graceful_timeout=settings.gateway.shutdown_grace_seconds,
        security=faststream_security(k),
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

    # A record the broker refuses for good must not leave the idempotent producer stuck (kafka_idempotence.py).
    keep_usable = kafka_idempotence.guard(lambda: kafka_idempotence.aiokafka_producer_of(broker), refused_for_good)

    async def publish(out: Output, source: SourceRef) -> Awaitable[Any]:
        ack = await broker.publish(out.value, out.topic, key=out.key, headers=out.headers, no_confirm=True)
        ack.add_done_callback(keep_usable)
        return ack

    def make_pipeline() -> Pipeline:  # one per worker thread: lxml schemas are not shared across threads
        stages = build_stages(settings, registry.clone(), aeo_lookup=aeo.get, recognition=recognition)
        return Pipeline(stages, settings.gateway, observe=stage_timer(metrics))

    exactly_once = settings.gateway.exactly_once
    transactions = PartitionTransactions(
        lambda txn_id: AIOKafkaProducer(
            bootstrap_servers=k.bootstrap_servers, client_id=k.client_id, transactional_id=txn_id,
            enable_idempotence=True, acks="all", linger_ms=5, max_batch_size=1024 * 1024,
            max_request_size=settings.gateway.max_message_bytes + 64 * 1024, **client_options(k)),
        k.group_id, lambda: submissions.consumer, lambda outcome: metrics.transactions.labels(outcome=outcome).inc())
    handler = BatchHandler(make_pipeline, timed_publish(transactions.publish if exactly_once else publish, metrics),
                           settings.gateway, transactional=exactly_once)
    topics = [submit_topic(p) for p in sorted(settings.participants)]

    confirmations = Confirmations()  # the next batch is processed while this one's outputs are acknowledged
    submissions = broker.subscriber(
        *topics,
        group_id=k.group_id,
        batch=True,
        max_records=k.batch_max_records,
        batch_timeout_ms=k.batch_timeout_ms,
        auto_offset_reset="earliest",
        # Offsets are never committed by FastStream (its Kafka default, ACK_FIRST, commits before processing:
        # at-most-once). At-least-once: `confirmations` commits a batch, in order, once its outputs are
        # acknowledged, and seeks back on failure. Exactly-once: the offsets go through each partition's
        # transaction, never through the consumer.
        ack_policy=AckPolicy.MANUAL,
        isolation_level="read_committed",  # the submit topics are not transactional: harmless, and future-proof
        # Before a rebalance moves partitions away: exactly-once, each partition's transaction ends; at-least-once,
        # what was answered is committed.
        listener=transactions.listener() if exactly_once else DrainOnRevoke(confirmations),
        max_partition_fetch_bytes=settings.gateway.max_message_bytes * 2,
        parser=reading.parse_safely,  # FastStream's own fails the batch on a header value that is not UTF-8
    )

    @submissions
    async def on_batch(msg: KafkaMessage) -> Any:  # a Confirming (exactly-once: the results); pydantic cannot model it
        raw = msg.raw_message
        records = raw if isinstance(raw, tuple) else (raw,)
        if not exactly_once:
            # the consumer: to give back what the batch leaves for later, and to commit
            return await confirmations(lambda: handler.publish(records, msg.consumer), records, msg.consumer)
        async with transactions.lock:  # no rebalance takes a partition's producer away in the middle
            records = transactions.fresh(records)  # fetched before a rebalance or an abort: maybe committed
            try:
                results = await handler(records, msg.consumer)
                await transactions.commit(offsets_to_commit(records, handler.given_back))
            except BaseException:
                await transactions.abort()
                raise
        return results

    reading.poll_promptly(submissions, max_records=k.batch_max_records, timeout_ms=k.batch_timeout_ms)
    reading.harden(submissions)  # a record aiokafka cannot decode must not end the consume loop

    ready = {"ok": False}
    # Lag of the submit topics and whether Kafka answers, seen from outside the consumer (which may be stuck).
    watch = LagWatch(bootstrap_servers=k.bootstrap_servers, security=client_options(k), groups={k.group_id: topics},
                     metrics=KafkaWatchMetrics(metrics.registry))
    watching: list[asyncio.Task[None]] = []

    async def start_watch() -> None:
        watching.append(asyncio.create_task(watch.run()))

    async def load_registry() -> None:
        # Before the subscriber starts: a declaration must never be judged on a half-loaded registry.
        await feed.start()
        log.info("aeo_registry_loading", topics=len(feed.topics))
        await feed.wait_loaded(settings.aeo.load_timeout)
        metrics.aeo_loaded.set(1)
        metrics.aeo_traders.set(len(aeo))

    unbound = sorted(p for p, s in settings.participants.items() if s.acts_for is None)
    if unbound:
        log.warning("participants_not_bound", participants=unbound,
                    hint="set participants.<id>.acts_for: they may name any declarant or representative")

    async def mark_ready() -> None:
        ready["ok"] = True
        metrics.up.set(1)
        log.info("gateway_started", topics=topics, members=sorted(settings.members),
                 profiles=list(registry.names))

    async def mark_stopping() -> None:
        # Before the broker stops: it then waits (graceful_timeout) for the batch in hand to be published and
        # committed, and leaves the group.
        ready["ok"] = False
        metrics.up.set(0)
        # From now on each batch waits for its own commit (the broker's graceful stop then covers it), and the
        # batches already answered are committed now: nothing answered is answered again after the restart.
        await confirmations.finish(settings.gateway.shutdown_grace_seconds)

    async def release() -> None:
        # After the broker stopped: nothing is in flight any more.
        handler.close()
        await transactions.close()
        await feed.stop()
        watch.stop()
        await asyncio.gather(*watching, return_exceptions=True)

    @get(include_in_schema=False)
    async def healthz(scope: Any) -> AsgiResponse:
        # Liveness answers from the event loop alone: a Kafka outage must not restart every pod
        # (readiness reports it instead).
        return AsgiResponse(b"alive\n", 200)

    @get(include_in_schema=False)
    async def readyz(scope: Any) -> AsgiResponse:
        # Not ready either when records wait and the group has committed nothing for STALLED_SECONDS: a consumer
        # that is connected but makes no progress is not doing its job.
        moving = watch.progress.stalled_for() < STALLED_SECONDS
        if ready["ok"] and feed.loaded.is_set() and moving and await broker.ping(timeout=2.0):
            return AsgiResponse(b"ready\n", 200)
        return AsgiResponse(b"not ready\n", 503)

    async def aeo_status(scope: Any, receive: Any, send: Any) -> None:
        trader = scope["path"].removeprefix("/aeo/")
        if scope.get("method") not in ("GET", "HEAD"):
            code, body = 405, {"error": "only GET"}
        elif not valid_trader_id(trader):
            code, body = 400, {"error": f"{trader!r} is not an AEO code (country code + national number)"}
        elif not feed.loaded.is_set():
            code, body = 503, {"error": "the AEO registry is still loading"}
        elif (found := aeo.get(trader)) is None:
            code, body = 404, {"trader_id": trader, "error": "not a trader certified in the network"}
        else:
            code, body = 200, describe_status(found, recognition, sorted(settings.members))
        await AsgiResponse(json.dumps(body).encode() + b"\n", code,
                           headers={"content-type": "application/json"})(scope, receive, send)

    return GatewayApp(
        broker,
        asgi_routes=[
            ("/metrics", make_asgi_app(metrics.registry)),
            ("/livez", healthz),
            ("/healthz", healthz),  # the former name of /livez, kept for existing probes
            ("/readyz", readyz),
            # The Kafka contract (AsyncAPI), generated from this app's broker and network: gateway/contract/.
            *asyncapi_routes(lambda: build_document([broker], settings)),
        ],
        on_startup=[start_watch, load_registry],
        after_startup=[mark_ready],
        on_shutdown=[mark_stopping],
        after_shutdown=[release],
        logger=None,
        prefix_routes=(("/aeo/", aeo_status),),
    )


def describe_status(status: TraderStatus, recognition: RecognitionPolicy, members: list[str]) -> dict[str, Any]:
    """Return what ``GET /aeo/<trader>`` answers: the public view, validity, who recognises it, and the name
    and address only when this process's registry holds them (a member's own view)."""
    active = status.active_on(datetime.now(UTC).date())
    body: dict[str, Any] = {
        "trader_id": status.trader_id, "category": status.category, "status": status.status,
        "active": active, "issuer": status.issuer, "effective": status.effective.isoformat(),
        "expiry": status.expiry.isoformat(), "sequence": status.sequence, "issued": status.issued,
        "key_id": status.signature.key_id if status.signature else None,
        "recognised_by": [m for m in members if active and recognition.basis(m, status.issuer, status.category)],
    }
    if status.details is not None:
        d = status.details
        body["name"] = d.name
        body["address"] = None if d.address is None else {
            "line": d.address.line, "city": d.address.city, "postcode": d.address.postcode,
            "country": d.address.country}
    return body


def _aeo_observer(metrics: GatewayMetrics, registry: AeoRegistry):  # noqa: ANN202 - a small closure
    def observe(event: Observed) -> None:
        if not event.live:
            return  # a rebuild at start-up: these were counted when they first arrived
        metrics.aeo_events.labels(event.issuer, event.result.outcome).inc()
        if event.result.refusal is not None:
            metrics.aeo_refused.labels(event.result.refusal.reason).inc()
        metrics.aeo_traders.set(len(registry))
    return observe
