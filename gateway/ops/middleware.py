"""FastStream middleware: metrics and log context wrap the handler and never sit inside a stage."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from typing import Any

import structlog
from faststream import BaseMiddleware

from gateway import headers as h
from gateway.ops.metrics import GatewayMetrics

__all__ = ["observing", "stage_timer", "timed_publish"]

log = structlog.get_logger("gateway.batch")


def observing(metrics: GatewayMetrics) -> type[BaseMiddleware]:
    """Return a middleware class that records metrics and logs for every consumed batch.

    The handler returns a list of ``MessageResult``, read after the handler (and thus after the outputs were
    acknowledged), or a ``Confirming`` whose results are read once its outputs are acknowledged and its offsets
    committed (``transport/confirming.py``): either way counts only include what really went out.

    Args:
        metrics: where to record.
    """

    class ObservingMiddleware(BaseMiddleware):
        async def consume_scope(self, call_next: Any, msg: Any) -> Any:
            started = time.perf_counter()
            try:
                results = await call_next(msg)
            except Exception:
                metrics.publish_failures.inc()
                log.exception("batch_failed_will_retry")
                raise
            confirmed = getattr(results, "confirmed", None)
            if confirmed is None:
                _observe_batch(metrics, results or (), started)
            else:  # acknowledged and committed in the background (transport/confirming.py): count it then
                confirmed.add_done_callback(lambda done: _confirmed(metrics, done, results.results, started))
            return results

    return ObservingMiddleware


def _confirmed(metrics: GatewayMetrics, done: Any, results: Any, started: float) -> None:
    if done.cancelled():
        return
    if done.exception() is not None:
        metrics.publish_failures.inc()
        log.warning("batch_failed_will_retry", error=repr(done.exception()))
        return
    _observe_batch(metrics, results, started)


def _observe_batch(metrics: GatewayMetrics, results: Any, started: float) -> None:
    metrics.batch.observe(time.perf_counter() - started)
    now_ms = time.time() * 1000
    for r in results:
        _observe(metrics, r, now_ms)


def _observe(metrics: GatewayMetrics, result: Any, now_ms: float) -> None:
    rejection = result.rejection
    if rejection is None:
        outcome = "received"
    else:
        outcome = "dead_lettered" if rejection.dead_letter else "rejected"
        metrics.rejections.labels(rejection.stage, rejection.issues[0].code).inc()
    metrics.messages.labels(result.participant, outcome).inc()
    if result.slow:
        metrics.slow_messages.labels(result.participant).inc()
    if result.replaced:
        metrics.outputs_replaced.inc(result.replaced)
    metrics.processing.observe(result.seconds)
    metrics.message_bytes.observe(result.size)
    if result.timestamp_ms:
        metrics.end_to_end.observe(max(0.0, (now_ms - result.timestamp_ms) / 1000))
    for out in result.outputs:
        if out.topic.startswith("oco.deliver."):
            member = out.headers.get(h.MEMBER) or out.topic.split(".")[2]
            metrics.deliveries.labels(member).inc()
            aeo = out.headers.get(h.AEO_OUTCOME)
            if aeo:
                metrics.aeo_declarations.labels(member, aeo).inc()
    if rejection is not None:
        log.info("rejected", tracking_id=result.tracking_id, participant=result.participant, stage=rejection.stage,
                 code=rejection.issues[0].code, dead_letter=rejection.dead_letter, issues=len(rejection.issues))


def stage_timer(metrics: GatewayMetrics) -> Callable[[str, float], None]:
    """Return the pipeline's ``observe`` hook: each stage's time into ``oco_gateway_stage_seconds{stage}``.

    Called from the pipeline's worker threads (prometheus-client is thread-safe); the label set is the stage
    list, built in code, so it stays bounded.

    Args:
        metrics: where to record.
    """
    children: dict[str, Any] = {}

    def observe(stage: str, seconds: float) -> None:
        child = children.get(stage)
        if child is None:
            child = children[stage] = metrics.stage.labels(stage)
        child.observe(seconds)

    return observe


def timed_publish(publish: Callable[..., Awaitable[Awaitable[Any]]],
                  metrics: GatewayMetrics) -> Callable[..., Awaitable[Awaitable[Any]]]:
    """Wrap the handler's ``publish``: each output's time from the producer to the broker's acknowledgement
    into ``oco_gateway_stage_seconds{stage="publish"}`` (an output the broker refused is not counted).

    Args:
        publish: hands one output to the producer and returns the awaitable of its acknowledgement.
        metrics: where to record.
    """
    histogram = metrics.stage.labels("publish")

    async def publish_timed(*args: Any, **kwargs: Any) -> Awaitable[Any]:
        started = time.perf_counter()
        ack = asyncio.ensure_future(await publish(*args, **kwargs))

        def acknowledged(done: asyncio.Future[Any]) -> None:
            if not done.cancelled() and done.exception() is None:
                histogram.observe(time.perf_counter() - started)

        ack.add_done_callback(acknowledged)
        return ack

    return publish_timed
