"""Tests for gateway.ops.logging and gateway.ops.repeats: one JSON stream for every library, repeats held back."""

from __future__ import annotations

import io
import json
import logging
import sys
from collections.abc import Iterator

import pytest
import structlog

from gateway.ops.logging import configure_logging
from gateway.ops.repeats import RepeatLimiter


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


class TestRepeatLimiter:
    def test_one_line_per_cause_per_interval_then_the_count_left_out(self) -> None:
        clock = Clock()
        limiter = RepeatLimiter(10, clock=clock)
        assert limiter.admit("broker down") == 0
        assert [limiter.admit("broker down") for _ in range(99)] == [None] * 99
        assert limiter.admit("another cause") == 0
        clock.now = 10.0
        assert limiter.admit("broker down") == 99
        assert limiter.admit("broker down") is None
        clock.now = 25.0
        assert limiter.admit("broker down") == 1

    def test_memory_is_bounded_whatever_the_causes(self) -> None:
        limiter = RepeatLimiter(10, clock=Clock(), max_causes=3)
        for i in range(1000):
            limiter.admit(f"cause {i}")
        assert len(limiter._causes) == 3  # noqa: SLF001
        assert limiter.admit("cause 0") == 0  # forgotten: written again

    def test_interval_must_be_positive(self) -> None:
        with pytest.raises(ValueError, match="positive"):
            RepeatLimiter(0)


@pytest.fixture
def json_logging(monkeypatch: pytest.MonkeyPatch) -> Iterator[io.StringIO]:
    """The process's log stream (stderr), configured for production, read back by the test."""
    stream = io.StringIO()
    monkeypatch.setattr(sys, "stderr", stream)
    configure_logging("json", "INFO", repeat_seconds=3600)
    try:
        yield stream
    finally:
        structlog.reset_defaults()
        root = logging.getLogger()
        for handler in list(root.handlers):
            root.removeHandler(handler)


class TestOneStream:
    def test_every_library_writes_json_lines_with_its_logger_name(self, json_logging) -> None:  # type: ignore[no-untyped-def]
        structlog.get_logger().info("gateway_started", topics=3)
        logging.getLogger("aiokafka.conn").warning("Unable connect to node with id %s: %s", 1, "refused")
        logging.getLogger("uvicorn.error").error("port in use")
        logging.getLogger("faststream").warning("subscriber stopped")
        try:
            raise ZeroDivisionError("x")
        except ZeroDivisionError:
            logging.getLogger("asyncio").exception("Task exception was never retrieved")
        lines = [json.loads(line) for line in json_logging.getvalue().splitlines()]
        assert [(line.get("logger"), line["event"]) for line in lines] == [
            (None, "gateway_started"), ("aiokafka.conn", "Unable connect to node with id 1: refused"),
            ("uvicorn.error", "port in use"), ("faststream", "subscriber stopped"),
            ("asyncio", "Task exception was never retrieved")]
        assert all("timestamp" in line and "level" in line for line in lines)
        assert "ZeroDivisionError" in lines[-1]["exception"]

    def test_an_outage_repeating_the_same_errors_writes_each_once(self, json_logging) -> None:  # type: ignore[no-untyped-def]
        for node in range(500):
            logging.getLogger("aiokafka.conn").warning("Unable connect to node with id %s", node % 2)
            structlog.get_logger().warning("delivery_fetch_error", member="FJ", error="KafkaConnectionError('down')")
            structlog.get_logger().warning("delivery_fetch_error", member="WS", error="KafkaConnectionError('down')")
            structlog.get_logger().info("delivery_decided", member="FJ")  # info: never held back
        lines = [json.loads(line) for line in json_logging.getvalue().splitlines()]
        warnings = [line for line in lines if line["level"] == "warning"]
        assert len(warnings) == 3  # one per cause: the aiokafka template, and the event per member
        assert len([line for line in lines if line["event"] == "delivery_decided"]) == 500

    def test_a_fresh_brokers_passing_errors_are_warnings(self, json_logging) -> None:  # type: ignore[no-untyped-def]
        """While __consumer_offsets is created the client logs coordinator errors it retries by itself."""
        coordinator = logging.getLogger("aiokafka.consumer.group_coordinator")
        coordinator.error("Group Coordinator Request failed: [Error 15] GroupCoordinatorNotAvailableError")
        coordinator.error("Error fetching offsets: [Error 29] TopicAuthorizationFailedError")  # a real error
        lines = [json.loads(line) for line in json_logging.getvalue().splitlines()]
        assert [line["level"] for line in lines] == ["warning", "error"]
