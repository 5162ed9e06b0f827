"""Tests for the benchmark's corpus generator and report arithmetic (no broker, no timings asserted)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from prometheus_client import generate_latest

from bench.__main__ import parse_args
from bench.corpus import KB, Declaration, SizeSummary, generate_corpus, max_items_for, relabel
from bench.network import MEMBERS, allowed_pairs
from bench.probes import GatewayCounters
from bench.report import Latency, Measurement, Report, percentile, ratio, render, to_json, write_json
from gateway.config import GatewaySettings
from gateway.ops.metrics import GatewayMetrics
from gateway.pipeline.chain import Pipeline, build_stages
from gateway.pipeline.context import Submission
from gateway.profiles import ProfileRegistry


@pytest.fixture(scope="module")
def corpus() -> list[Declaration]:
    return generate_corpus(12, seed=7, max_kb=20)


class TestCorpus:
    def test_same_seed_same_bytes(self, corpus: list[Declaration]) -> None:
        """A corpus is reproducible, so runs on different days measure the same input."""
        assert generate_corpus(12, seed=7, max_kb=20) == corpus
        assert generate_corpus(12, seed=8, max_kb=20) != corpus

    def test_sizes_respect_the_cap(self, corpus: list[Declaration]) -> None:
        """No declaration exceeds max_kb, and item counts stay within the calibrated range."""
        top = max_items_for(20, seed=7)
        assert all(len(d.payload) <= 20 * KB for d in corpus)
        assert all(1 <= d.items <= top for d in corpus)

    def test_pairs_are_authorised_and_lrns_unique(self, corpus: list[Declaration]) -> None:
        """Every declaration goes from a participant allowed to submit for its member, under its own LRN."""
        assert all(d.participant in MEMBERS[d.member][1] for d in corpus)
        assert len({d.lrn for d in corpus}) == len(corpus)
        assert all(d.key == f"{d.participant}:{d.lrn}".encode() for d in corpus)

    def test_every_declaration_is_accepted_by_the_pipeline(self, corpus: list[Declaration]) -> None:
        """The corpus is valid: a rejection would make the throughput figures meaningless."""
        settings = GatewaySettings(
            participants={p: {"name": p} for p, _ in allowed_pairs()},
            members={code: {"name": name, "submitters": list(subs)} for code, (name, subs) in MEMBERS.items()})
        pipeline = Pipeline(build_stages(settings, ProfileRegistry.load([settings.profiles_dir])))
        for d in corpus:
            outputs, rejection = pipeline(Submission(payload=d.payload, participant=d.participant, tracking_id=d.lrn))
            assert rejection is None, (d.lrn, rejection.issues)
            assert outputs[0].topic == f"oco.deliver.{d.member}"

    def test_max_items_for_is_bounded(self) -> None:
        """The calibration never leaves 1..100 items, and grows with the cap."""
        assert max_items_for(0.1) == 1
        assert max_items_for(10_000) == 100
        assert max_items_for(20) <= max_items_for(40)

    def test_relabel_replaces_the_lrn_once(self, corpus: list[Declaration]) -> None:
        """A re-sent declaration carries its new LRN, in the payload and the key."""
        copy = relabel(corpus[0], "BLAT-0000001")
        assert copy.lrn == "BLAT-0000001" and b"BLAT-0000001" in copy.payload
        assert corpus[0].lrn.encode() not in copy.payload
        assert copy.key.endswith(b":BLAT-0000001")

    def test_relabel_refuses_an_lrn_not_in_the_payload(self, corpus: list[Declaration]) -> None:
        """Relabelling must not silently send the old LRN."""
        with pytest.raises(ValueError):
            relabel(Declaration("p", "FJ", "NOT-THERE", 1, b"<x/>"), "NEW")

    def test_size_summary(self) -> None:
        """Min, median, max in KB and total in MB, from the payload lengths."""
        docs = [Declaration("p", "FJ", str(n), n, b"x" * (n * KB)) for n in (1, 3, 8)]
        s = SizeSummary.of(docs)
        assert (s.count, s.min_kb, s.median_kb, s.max_kb) == (3, 1, 3, 8)
        assert s.total_mb == pytest.approx(12 / KB)
        assert (s.min_items, s.max_items) == (1, 8)


class TestArithmetic:
    @pytest.mark.parametrize(("q", "expected"), [(0, 1), (25, 2), (50, 3), (100, 5), (90, 4.6)])
    def test_percentile_interpolates_between_ranks(self, q: float, expected: float) -> None:
        """Linear interpolation between closest ranks, as numpy's default."""
        assert percentile([5, 1, 4, 2, 3], q) == pytest.approx(expected)

    def test_percentile_edge_cases(self) -> None:
        """One sample is every percentile; p99 of 1..100 sits just below the top."""
        assert percentile([7.0], 99) == 7.0
        assert percentile(list(range(1, 101)), 99) == pytest.approx(99.01)
        with pytest.raises(ValueError):
            percentile([], 50)
        with pytest.raises(ValueError):
            percentile([1.0], 101)

    def test_ratio(self) -> None:
        """A ratio over nothing measured is None, not an error or infinity."""
        assert ratio(300, 1200) == 0.25
        assert ratio(300, 0) is None

    def test_latency_in_milliseconds(self) -> None:
        """Samples in seconds, summary in ms."""
        lat = Latency.of([0.001, 0.002, 0.003, 0.010])
        assert (lat.count, lat.p50_ms, lat.max_ms) == (4, pytest.approx(2.5), pytest.approx(10))
        assert lat.mean_ms == pytest.approx(4)

    def test_report_ratios_table_and_json(self, tmp_path: Path) -> None:
        """Ratios divide end-to-end throughput by each baseline's; the table and the JSON show the same."""
        report = Report("python -m bench", {"cpus": 2}, SizeSummary(4, 4.0, 26.5, 50.0, 0.1, 1, 76), [
            Measurement("parse_validate", "(b) parse+validate", 1000, 0.5),  # 2000/s
            Measurement("consume_only", "(a) consume only", 1000, 0.1),  # 10000/s
            Measurement("end_to_end", "end-to-end", 1000, 2.0, note="timed"),  # 500/s
        ])
        assert report.ratios() == {"e2e / consume_only": 0.05, "e2e / parse_validate": 0.25}
        table = render(report)
        assert "e2e / consume_only" in table and "(5.0%)" in table and "(25.0%)" in table
        data = json.loads(write_json(report, tmp_path / "x" / "latest.json").read_text())
        assert data == json.loads(json.dumps(to_json(report)))
        assert data["measurements"]["end_to_end"]["rate"] == 500
        assert data["ratios"]["e2e / parse_validate"] == 0.25

    def test_missing_measurement_gives_no_ratio(self) -> None:
        """A partial run (a failed phase) still renders, with n/a ratios."""
        report = Report("c", {}, SizeSummary(1, 1, 1, 1, 1, 1, 1), [Measurement("parse_validate", "pv", 10, 1.0)])
        assert report.ratios() == {"e2e / consume_only": None, "e2e / parse_validate": None}
        assert "n/a" in render(report)


class TestDiagnosticsAndOptions:
    def test_gateway_counters_from_metrics_text(self) -> None:
        """Counters are read from real exposition text and subtracted between two readings."""
        metrics = GatewayMetrics()
        metrics.messages.labels("a", "received").inc(3)
        metrics.messages.labels("b", "rejected").inc(1)
        before = GatewayCounters.parse(generate_latest(metrics.registry).decode())
        for _ in range(4):
            metrics.processing.observe(0.002)
        metrics.batch.observe(0.04)
        metrics.messages.labels("a", "received").inc(4)
        delta = GatewayCounters.parse(generate_latest(metrics.registry).decode()).since(before)
        assert before.messages == 4
        assert (delta.messages, delta.batches) == (4, 1)
        assert delta.processing_seconds == pytest.approx(0.008)
        assert "4 messages in 1 batches" in delta.describe()

    def test_quick_defaults_and_overrides(self) -> None:
        """--quick shrinks the run; explicit options still win."""
        quick = parse_args(["--quick"])
        assert (quick.count, quick.latency_seconds) == (200, 3.0)
        assert parse_args(["--quick", "--count", "50"]).count == 50
        assert parse_args([]).count == 2000
