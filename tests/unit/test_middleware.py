"""Tests for gateway.ops.middleware's timing helpers and the process-level series of gateway.ops.metrics."""

from __future__ import annotations

import asyncio
import platform
import threading

import pytest
from aiokafka.errors import KafkaTimeoutError
from prometheus_client import generate_latest

from gateway import __version__
from gateway.ops.metrics import DeliveryMetrics, GatewayMetrics
from gateway.ops.middleware import stage_timer, timed_publish
from gateway.pipeline.route import Output

OUT = Output("oco.reply.fj-post", b"k", b"<r/>", {})


def count(metrics: GatewayMetrics, stage: str) -> float:
    return metrics.registry.get_sample_value("oco_gateway_stage_seconds_count", {"stage": stage}) or 0.0


def total(metrics: GatewayMetrics, stage: str) -> float:
    return metrics.registry.get_sample_value("oco_gateway_stage_seconds_sum", {"stage": stage}) or 0.0


class TestStageTimer:
    def test_observations_go_to_the_stage_histogram_by_label(self) -> None:
        """Each (stage, seconds) the pipeline reports lands in oco_gateway_stage_seconds{stage}."""
        metrics = GatewayMetrics()
        observe = stage_timer(metrics)
        observe("parse", 0.25)
        observe("parse", 0.5)
        observe("validate", 2.0)
        assert count(metrics, "parse") == 2 and total(metrics, "parse") == 0.75
        assert count(metrics, "validate") == 1 and total(metrics, "validate") == 2.0

    def test_worker_threads_may_observe_at_once(self) -> None:
        """Several pipeline worker threads observing together lose nothing."""
        metrics = GatewayMetrics()
        observe = stage_timer(metrics)

        def work() -> None:
            for _ in range(1000):
                observe("extract", 0.001)

        threads = [threading.Thread(target=work) for _ in range(4)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert count(metrics, "extract") == 4000


class TestTimedPublish:
    async def test_an_acknowledged_output_is_timed_from_hand_over_to_ack(self) -> None:
        """The publish step is observed when the broker acknowledges, not when the producer takes the record."""
        metrics = GatewayMetrics()
        ack: asyncio.Future[str] = asyncio.get_running_loop().create_future()
        handed: list[Output] = []

        async def publish(out: Output) -> asyncio.Future[str]:
            handed.append(out)
            return ack

        got = await timed_publish(publish, metrics)(OUT)
        assert handed == [OUT] and count(metrics, "publish") == 0
        ack.set_result("metadata")
        assert await got == "metadata"
        await asyncio.sleep(0)  # done callbacks run on the next turn of the loop
        assert count(metrics, "publish") == 1

    async def test_a_refused_output_is_not_timed_and_its_error_reaches_the_handler(self) -> None:
        """An acknowledgement that fails is not a publish time; the handler still sees the error."""
        metrics = GatewayMetrics()

        async def publish(out: Output, source: object = None) -> asyncio.Future[None]:
            failed: asyncio.Future[None] = asyncio.get_running_loop().create_future()
            failed.set_exception(KafkaTimeoutError("injected"))
            return failed

        got = await timed_publish(publish, metrics)(OUT, "source")  # extra arguments are passed through
        with pytest.raises(KafkaTimeoutError):
            await got
        await asyncio.sleep(0)
        assert count(metrics, "publish") == 0


class TestProcessSeries:
    @pytest.mark.parametrize("make", [GatewayMetrics, DeliveryMetrics], ids=["gateway", "delivery"])
    def test_build_info_and_process_series_are_exported(self, make: type) -> None:
        """Both processes export oco_gateway_build_info (1, with version and Python) and the process series."""
        registry = make().registry
        assert registry.get_sample_value("oco_gateway_build_info", {
            "version": __version__, "python": platform.python_version()}) == 1
        text = generate_latest(registry).decode()
        for name in ("process_cpu_seconds_total", "process_resident_memory_bytes", "process_start_time_seconds",
                     "python_info"):
            assert f"\n{name}" in text, name
