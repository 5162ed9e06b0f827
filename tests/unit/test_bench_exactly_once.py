"""Tests for bench.exactly_once: the exactly-once figures as ratios of the default's (no broker)."""

from __future__ import annotations

from bench.corpus import SizeSummary
from bench.exactly_once import LATENCY, THROUGHPUT, describe_cost
from bench.report import Latency, Measurement, Report


def report(*measurements: Measurement) -> Report:
    return Report("bench", {"cpus": 2}, SizeSummary(0, 0, 0, 0, 0, 0, 0), list(measurements))


class TestDescribeCost:
    def test_ratios_of_throughput_and_latency(self) -> None:
        """Throughput and p50/p99 latency of exactly-once divided by the default's, same offered rate."""
        got = describe_cost(report(
            Measurement("end_to_end", "e2e", 100, 1.0), Measurement(THROUGHPUT, "e2e eos", 100, 2.0),
            Measurement("latency", "lat", 50, 5.0, Latency(50, 10.0, 40.0, 50.0, 12.0)),
            Measurement(LATENCY, "lat eos", 50, 5.0, Latency(50, 25.0, 60.0, 70.0, 30.0))))
        assert got.startswith("throughput ×0.50, latency p50 ×2.50, latency p99 ×1.50")

    def test_missing_phase_reads_not_available(self) -> None:
        """A phase that did not run (a failure, --only) gives n/a, not an error."""
        assert describe_cost(report(Measurement("end_to_end", "e2e", 100, 1.0))).startswith(
            "throughput n/a, latency p50 n/a, latency p99 n/a")
