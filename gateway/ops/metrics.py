"""Every Prometheus metric the gateway exports, declared in one place (prefix ``oco_gateway_``)."""

from __future__ import annotations

import platform

from prometheus_client import (
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    PlatformCollector,
    ProcessCollector,
    disable_created_metrics,
)

from gateway import __version__

__all__ = ["DELIVERY_STEPS", "STAGES", "DeliveryMetrics", "GatewayMetrics", "KafkaWatchMetrics"]

# The *_created series double the exposition for no operational use.
disable_created_metrics()

_LATENCY_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)
_SIZE_BUCKETS = (1024, 4096, 16384, 65536, 262144, 1048576, 4194304)
# Stages take from microseconds (extract) to seconds (validating a huge declaration): finer at the low end.
_STAGE_BUCKETS = (0.0001, 0.00025, 0.0005, *_LATENCY_BUCKETS)

STAGES = ("parse", "identify", "validate", "extract", "authorize", "recognise", "route", "publish")
"""Values of ``oco_gateway_stage_seconds{stage}``: the pipeline's stages, planning the outputs, publishing them."""

DELIVERY_STEPS = ("national_call", "publish")
"""Values of ``oco_gateway_delivery_step_seconds{step}``."""


def _process_metrics(registry: CollectorRegistry) -> None:
    """The process's own series (CPU, memory, file descriptors, start time; Python's version) and build info."""
    ProcessCollector(registry=registry)
    PlatformCollector(registry=registry)
    Gauge("oco_gateway_build_info", "Always 1; the labels say which release and Python run.",
          ["version", "python"], registry=registry).labels(__version__, platform.python_version()).set(1)


class GatewayMetrics:
    """The gateway's metrics, on a registry of their own so tests and several apps never collide.

    Args:
        registry: where to register; a fresh one by default.
    """

    def __init__(self, registry: CollectorRegistry | None = None) -> None:
        self.registry = registry or CollectorRegistry()
        r = self.registry
        _process_metrics(r)
        self.messages = Counter(
            "oco_gateway_messages_total", "Submitted messages by participant and outcome "
            "(received, rejected, dead_lettered).", ["participant", "outcome"], registry=r)
        self.rejections = Counter(
            "oco_gateway_rejections_total", "Rejections by pipeline stage and first issue code.",
            ["stage", "code"], registry=r)
        self.deliveries = Counter(
            "oco_gateway_deliveries_total", "Declarations published to a member's delivery topic.",
            ["member"], registry=r)
        self.processing = Histogram(
            "oco_gateway_processing_seconds", "Pipeline time per message (parse to routing).",
            buckets=_LATENCY_BUCKETS, registry=r)
        self.stage = Histogram(
            "oco_gateway_stage_seconds", "Time per message in each pipeline stage (parse, identify, validate, "
            "extract, authorize, recognise), planning its outputs (route), and per output from the producer to "
            "the broker's acknowledgement (publish).", ["stage"], buckets=_STAGE_BUCKETS, registry=r)
        for stage in STAGES:
            self.stage.labels(stage)  # exported at 0 from the start, so rate() sees the first message
        self.batch = Histogram(
            "oco_gateway_batch_seconds", "Time per consumed batch, including publishing and the commit.",
            buckets=_LATENCY_BUCKETS, registry=r)
        self.end_to_end = Histogram(
            "oco_gateway_end_to_end_seconds", "From the input record's timestamp to its outputs being "
            "acknowledged by the broker.", buckets=_LATENCY_BUCKETS, registry=r)
        self.message_bytes = Histogram(
            "oco_gateway_message_bytes", "Size of submitted messages.", buckets=_SIZE_BUCKETS, registry=r)
        self.publish_failures = Counter(
            "oco_gateway_publish_failures_total", "Batches whose outputs the broker did not acknowledge "
            "(the batch is consumed again).", registry=r)
        self.up = Gauge("oco_gateway_up", "1 while the gateway is consuming.", registry=r)
        self.transactions = Counter(
            "oco_gateway_transactions_total", "Kafka transactions of gateway.exactly_once (one per input partition "
            "and batch), by outcome: committed, aborted (the partition is read again from its committed "
            "offset), fenced (another gateway took the partition over).", ["outcome"], registry=r)
        self.slow_messages = Counter(
            "oco_gateway_slow_messages_total", "Messages that took longer than gateway.slow_message_seconds and "
            "left their batch for the slow lane, by participant.", ["participant"], registry=r)
        self.outputs_replaced = Counter(
            "oco_gateway_outputs_replaced_total", "Output records the broker refused for good (too large, "
            "invalid), published instead as a dead-letter reference (and a reply saying so).", registry=r)
        self.aeo_declarations = Counter(
            "oco_gateway_aeo_declarations_total", "Declarations naming an AEO holder, by destination member and "
            "outcome (priority: recognised, sent to the priority lane; no_priority).", ["member", "outcome"],
            registry=r)
        self.aeo_events = Counter(
            "oco_gateway_aeo_events_total", "Trusted-trader status events read, by issuer and outcome (applied, "
            "details, duplicate, refused).", ["issuer", "outcome"], registry=r)
        self.aeo_refused = Counter(
            "oco_gateway_aeo_refused_total", "Status events refused (security events), by reason: invalid, "
            "unsigned, bad_signature, unknown_key, retired_key, replayed, out_of_jurisdiction.", ["reason"],
            registry=r)
        self.aeo_traders = Gauge("oco_gateway_aeo_registry_traders", "Traders in the AEO registry.", registry=r)
        self.aeo_loaded = Gauge("oco_gateway_aeo_registry_loaded", "1 once the AEO registry has caught up with "
                                "its topics at start-up.", registry=r)


class DeliveryMetrics:
    """Metrics of the delivery workers (one label value per member).

    Args:
        registry: where to register; a fresh one by default.
    """

    def __init__(self, registry: CollectorRegistry | None = None) -> None:
        self.registry = registry or CollectorRegistry()
        r = self.registry
        _process_metrics(r)
        self.deliveries = Counter(
            "oco_gateway_delivery_outcomes_total", "Delivery decisions by member and outcome (accepted, "
            "rejected, retry, failed, held).", ["member", "outcome"], registry=r)
        self.call = Histogram(
            "oco_gateway_delivery_seconds", "Time to decide about one record, national call included.",
            ["member"], buckets=_LATENCY_BUCKETS, registry=r)
        self.steps = Histogram(
            "oco_gateway_delivery_step_seconds", "Time per delivery step and member: national_call (deciding a "
            "record with a national call, rate limit included), publish (its outputs acknowledged by the broker; "
            "exactly-once: one transaction, outputs and commit).", ["member", "step"], buckets=_LATENCY_BUCKETS,
            registry=r)
        self.lanes = Counter(
            "oco_gateway_delivery_lane_total", "Records decided with a national call, by member and lane "
            "(priority, ordinary, retry).", ["member", "lane"], registry=r)
        self.breaker = Gauge(
            "oco_gateway_delivery_breaker_state", "Circuit breaker per member: 0 closed, 1 half open, 2 open.",
            ["member"], registry=r)
        self.up = Gauge("oco_gateway_delivery_up", "1 while a member's delivery loop runs.", ["member"], registry=r)
        self.replays = Counter(
            "oco_gateway_delivery_replays_total", "Answers the national system replayed: it had registered the "
            "declaration before under the same idempotency key (after a crash, a timeout or a retry).", ["member"],
            registry=r)
        self.in_flight = Gauge("oco_gateway_delivery_in_flight", "National calls in flight per member (at most "
                               "members.<M>.delivery.concurrency).", ["member"], registry=r)


class KafkaWatchMetrics:
    """Consumer lag and the broker's reachability, as a process's own watch sees them (gateway.ops.lag).

    Label sets stay bounded: a group, one of its topics and a partition number.

    Args:
        registry: the process's registry (the gateway's or the delivery workers').
    """

    def __init__(self, registry: CollectorRegistry) -> None:
        r = registry
        self.lag = Gauge(
            "oco_gateway_consumer_lag_messages", "Records not yet consumed: end offset minus the group's committed "
            "offset.", ["group", "topic", "partition"], registry=r)
        self.lag_seconds = Gauge(
            "oco_gateway_consumer_lag_seconds", "Age of the oldest record not yet consumed (0 when none waits).",
            ["group", "topic", "partition"], registry=r)
        self.position = Gauge(
            "oco_gateway_consumer_committed_offset", "The group's committed offset (the next record it will "
            "consume); unchanged while records wait means the group is stalled.", ["group", "topic", "partition"],
            registry=r)
        self.connected = Gauge(
            "oco_gateway_kafka_connected", "1 when the last check (every few seconds) reached the broker, else 0.",
            registry=r)
        self.last_contact = Gauge(
            "oco_gateway_kafka_last_contact_timestamp_seconds", "Unix time of the last check that reached the broker.",
            registry=r)
