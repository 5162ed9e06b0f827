"""Start one isolated delivery loop per member, with its adapter, breaker, limiter and metrics.

The topics a delivery process needs are listed by :func:`delivery_topics`; whoever starts the service creates
them first (``oco-gateway deliver`` does, through ``gateway.transport.topics.ensure_topics``): delivery does not
depend on the gateway's transport package.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterable

import structlog
from aiokafka import AIOKafkaProducer
from aiolimiter import AsyncLimiter

from gateway.config import GatewaySettings
from gateway.delivery.backoff import RetryPolicy
from gateway.delivery.breaker import BreakerState, CircuitBreaker
from gateway.delivery.lanes import Lane
from gateway.delivery.loop import DeliveryLoop
from gateway.delivery.worker import Decision, MemberWorker
from gateway.errors import ConfigError
from gateway.kafka_security import client_options
from gateway.ops.lag import LagWatch
from gateway.ops.metrics import DELIVERY_STEPS, DeliveryMetrics, KafkaWatchMetrics
from gateway.plugins import AdapterCatalog
from gateway.profiles import ModelReaders
from gateway.sdk import Adapter
from gateway.topics import DEAD_LETTER, deliver_topic, priority_topic, reply_topic, retry_topic

__all__ = ["DeliveryService", "delivery_topics"]

log = structlog.get_logger("gateway.delivery")

_BREAKER_VALUE = {BreakerState.CLOSED: 0, BreakerState.HALF_OPEN: 1, BreakerState.OPEN: 2}


def delivery_topics(settings: GatewaySettings, members: Iterable[str]) -> list[str]:
    """Return every topic the delivery workers of ``members`` read or write.

    ``oco.dlq``, ``oco.reply.<p>`` for every participant, and per member its delivery topic, priority lane and
    retry topic.

    Args:
        settings: the network configuration (its participants).
        members: the member codes served.
    """
    names = [DEAD_LETTER] + [reply_topic(p) for p in sorted(settings.participants)]
    for member in members:
        names += [deliver_topic(member), priority_topic(member), retry_topic(member)]
    return names


class DeliveryService:
    """The delivery workers of some or all members, in one process.

    Adapters are created (and their settings checked) here, at start-up, so a wrong setting stops the
    process before it consumes anything.

    Args:
        settings: the network configuration.
        members: the members to serve; all members with an adapter by default (a member's own site
            runs just its own).
        catalog: installed adapters; found through entry points by default.
        metrics: where to record.

    Raises:
        ConfigError: an unknown member, a member without an adapter, or an adapter refusing its settings;
            ProfileError (a ConfigError) when a profile's descriptor or model path is wrong.
        PluginError: an adapter name that is not installed.
    """

    def __init__(self, settings: GatewaySettings, members: Iterable[str] | None = None, *,
                 catalog: AdapterCatalog | None = None, metrics: DeliveryMetrics | None = None) -> None:
        self.settings = settings
        self.metrics = metrics or DeliveryMetrics()
        self._watch_metrics = KafkaWatchMetrics(self.metrics.registry)
        self._watch: LagWatch | None = None
        chosen = list(members) if members else [m for m, s in settings.members.items() if s.adapter]
        catalog = catalog or AdapterCatalog()
        self.workers: list[MemberWorker] = []
        models = ModelReaders.load(settings.profiles_dir)  # a wrong model path stops the start, as in the gateway
        for code in chosen:
            member = settings.members.get(code)
            if member is None:
                raise ConfigError(f"member {code!r} is not in the configuration (members: "
                                  f"{', '.join(sorted(settings.members))})")
            if member.adapter is None:
                raise ConfigError(f"members.{code}.adapter is not set: name the adapter that delivers to {code}")
            adapter: Adapter = catalog.create(member.adapter.name, code, member.adapter.settings)
            d = member.delivery
            self.workers.append(MemberWorker(
                code, adapter,
                policy=RetryPolicy(d.max_attempts, d.base_delay, d.max_delay),
                breaker=CircuitBreaker(d.breaker_failures, d.breaker_reset, on_change=self._breaker_changed(code)),
                limiter=AsyncLimiter(d.rate_per_second, 1.0),
                call_timeout=d.call_timeout, models=models,
            ))
        self._bursts = {code: settings.members[code].delivery.priority_burst for code in chosen}
        self._concurrency = {code: settings.members[code].delivery.concurrency for code in chosen}
        self._loops: list[DeliveryLoop] = []
        self.restart_delay = 5.0  # seconds before a crashed member loop starts again

    def _breaker_changed(self, member: str):  # noqa: ANN202 - a small closure
        def changed(state: BreakerState) -> None:
            self.metrics.breaker.labels(member).set(_BREAKER_VALUE[state])
            log.warning("circuit_" + state.value, member=member)
        return changed

    @property
    def topics(self) -> list[str]:
        """The topics this service's members need (see :func:`delivery_topics`); they must exist before :meth:`run`."""
        return delivery_topics(self.settings, [w.member for w in self.workers])

    def _flying(self, member: str, calls: int) -> None:
        self.metrics.in_flight.labels(member).set(calls)

    def _observe(self, member: str, lane: Lane, decision: Decision, seconds: float) -> None:
        self.metrics.deliveries.labels(member, decision.outcome).inc()
        if decision.answer is not None and decision.answer.duplicate:
            self.metrics.replays.labels(member).inc()
        if decision.outcome != "held":
            self.metrics.call.labels(member).observe(seconds)
            self.metrics.steps.labels(member, "national_call").observe(seconds)
            self.metrics.lanes.labels(member, lane.value).inc()

    def _observe_publish(self, member: str, seconds: float) -> None:
        self.metrics.steps.labels(member, "publish").observe(seconds)

    async def run(self) -> None:
        """Run every member's loop until :meth:`stop`; close adapters at the end.

        The topics (:attr:`topics`) must exist: the broker does not create them, and a loop subscribed to a
        missing topic would not see it for minutes after it is created.
        """
        # linger 0: each call's reply is sent alone and waited for; lingering would only add latency.
        security = client_options(self.settings.kafka)
        def new_producer(**transactional: str) -> AIOKafkaProducer:
            return AIOKafkaProducer(bootstrap_servers=self.settings.kafka.bootstrap_servers, **security, acks="all",
                                    enable_idempotence=True, linger_ms=0,
                                    max_request_size=self.settings.gateway.max_message_bytes + 64 * 1024,
                                    **transactional)

        def new_transactional(transactional_id: str) -> AIOKafkaProducer:
            return new_producer(transactional_id=transactional_id)

        producer = new_producer()
        await producer.start()
        exactly_once = self.settings.gateway.exactly_once
        self._loops = [DeliveryLoop(w, bootstrap_servers=self.settings.kafka.bootstrap_servers, security=security,
                                    producer=producer,
                                    priority_burst=self._bursts[w.member], observe=self._observe,
                                    observe_publish=self._observe_publish,
                                    concurrency=self._concurrency[w.member],
                                    transactional=new_transactional if exactly_once else None,
                                    in_flight=self._flying, grace=self.settings.gateway.shutdown_grace_seconds)
                       for w in self.workers]
        for w in self.workers:
            self.metrics.up.labels(w.member).set(1)
            self.metrics.breaker.labels(w.member).set(0)
            for outcome in ("accepted", "rejected", "retry", "failed", "held"):
                self.metrics.deliveries.labels(w.member, outcome)  # exported at 0, so rate() sees the first one
            for lane in Lane:
                self.metrics.lanes.labels(w.member, lane.value)
            self.metrics.replays.labels(w.member)
            for step in DELIVERY_STEPS:
                self.metrics.steps.labels(w.member, step)
        # Each member's lag and whether Kafka answers, seen from outside the loops (which may be stuck).
        self._watch = watch = LagWatch(bootstrap_servers=self.settings.kafka.bootstrap_servers, security=security,
                                       groups={loop.group: loop.topics for loop in self._loops},
                                       metrics=self._watch_metrics)
        watching = asyncio.create_task(watch.run())
        try:
            await asyncio.gather(*(self._supervise(loop) for loop in self._loops))
        finally:
            watch.stop()
            await watching
            for w in self.workers:
                self.metrics.up.labels(w.member).set(0)
                await w.adapter.aclose()
            await producer.stop()

    async def _supervise(self, loop: DeliveryLoop) -> None:
        # One member's loop failing (a bug, a lost broker) must not stop the others: restart it alone.
        while True:
            try:
                await loop.run()
                return
            except Exception:  # noqa: BLE001 - logged and restarted; other members go on
                log.exception("delivery_loop_crashed_restarting", member=loop.member)
                self.metrics.up.labels(loop.member).set(0)
                await asyncio.sleep(self.restart_delay)
                self.metrics.up.labels(loop.member).set(1)

    def ready(self) -> bool:
        """Tell whether every member's loop is consuming and the broker answered lately (the lag watch)."""
        return (bool(self._loops) and all(loop.running for loop in self._loops)
                and self._watch is not None and self._watch.reachable)

    def stop(self) -> None:
        """Ask every loop to finish after the calls in flight."""
        for loop in self._loops:
            loop.stop()
