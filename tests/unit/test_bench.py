"""Tests for the benchmark's corpus generator and report arithmetic (no broker, no timings asserted)."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import pytest
from lxml import etree
from prometheus_client import generate_latest

from bench.__main__ import parse_args
from bench.corpus import KB, Declaration, SizeSummary, generate_corpus, max_items_for, relabel
from bench.delivery import FAST, RATE_LIMIT, SLOW, interleave
from bench.kafka_io import SeenReplies
from bench.members import (Sent, backlog_for, latency_bound, member_figures, outlasted, peak_in_flight, pooled,
                           slow_share, time_per_record)
from bench.network import DELIVERY_MEMBERS, MEMBERS, allowed_pairs, delivery_participant, write_delivery_network
from bench.priority import LANE_MEMBER, TimedFakeAdapter, calls_ahead, lane_catalog, write_lane_network
from bench.probes import CpuSnapshot, DeliveryCounters, GatewayCounters, describe_cores, machine_seconds
from bench.report import (ALONE, CONCURRENCY, LANE, WITH_SLOW, Latency, Measurement, Report, neighbour_ratios, percentile, ratio,
                          render, spread, to_json, write_json)
from bench.runner import PHASES
from gateway.config import GatewaySettings, load_settings
from gateway.delivery.service import DeliveryService
from gateway.ops.metrics import DeliveryMetrics, GatewayMetrics
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


class TestNaiveBaseline:
    def test_naive_ratios_table_and_json(self, tmp_path: Path) -> None:
        """The gateway's throughput and latency percentiles are divided by the naive baseline's of the same run."""
        report = Report("python -m bench", {"cpus": 2}, SizeSummary(4, 4.0, 26.5, 50.0, 0.1, 1, 76), [
            Measurement("end_to_end", "end-to-end", 1000, 2.0),  # 500/s
            Measurement("latency", "latency", 100, 1.0, Latency(100, 20.0, 40.0, 50.0, 22.0)),
            Measurement("naive_throughput", "naive", 1000, 4.0),  # 250/s
            Measurement("naive_latency", "naive latency", 100, 1.0, Latency(100, 10.0, 80.0, 90.0, 15.0)),
        ])
        assert report.naive_ratios() == {"throughput, gateway / naive": 2.0, "latency p50, gateway / naive": 2.0,
                                         "latency p99, gateway / naive": 0.5}
        table = render(report)
        assert "gateway ÷ naive baseline" in table and "(200.0%)" in table and "(50.0%)" in table
        data = json.loads(write_json(report, tmp_path / "latest.json").read_text())
        assert data["naive_ratios"]["latency p99, gateway / naive"] == 0.5

    def test_without_the_naive_phase_no_section(self) -> None:
        """A run without the naive measurements shows no naive ratios."""
        report = Report("c", {}, SizeSummary(1, 1, 1, 1, 1, 1, 1), [Measurement("end_to_end", "e2e", 10, 1.0)])
        assert report.naive_ratios() == {}
        assert "naive" not in render(report)

    def test_naive_service_validates_the_corpus(self, corpus: list[Declaration]) -> None:
        """Every corpus declaration is valid against the schema the naive service loads (else its figures mean
        nothing)."""
        xsd = Path(__file__).resolve().parents[2] / "schemas" / "oco" / "DocumentMetaData_1_OCO.xsd"
        schema = etree.XMLSchema(etree.parse(str(xsd)))
        assert all(schema.validate(etree.fromstring(d.payload)) for d in corpus)


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

    def test_machine_cpu_and_cores_line(self) -> None:
        """/proc/stat: busy = user + nice + system + irq + softirq, steal apart; per second of wall time."""
        ticks = machine_seconds("cpu  100 0 50 400 10 0 10 40 0 0\ncpu0 1 2 3\n")
        assert ticks is not None
        busy, steal = ticks
        assert steal / busy == pytest.approx(40 / 160)
        start = CpuSnapshot(10.0, {"gateway": 1.0, "bench": 0.5}, (100.0, 1.0))
        end = CpuSnapshot(12.0, {"gateway": 2.0, "bench": 0.7}, (103.0, 1.2))
        assert describe_cores(start, end) == ("gateway 0.50, bench 0.10, total 0.60; whole machine 1.50 busy, "
                                              "0.10 stolen")
        assert describe_cores(replace(start, machine=None), end).endswith("total 0.60")

    def test_quick_defaults_and_overrides(self) -> None:
        """--quick shrinks the run; explicit options still win."""
        quick = parse_args(["--quick"])
        assert (quick.count, quick.latency_seconds) == (200, 3.0)
        assert parse_args(["--quick", "--count", "50"]).count == 50
        assert parse_args([]).count == 2000


class TestPerMemberDelivery:
    def test_figures_per_member(self) -> None:
        """Each member: its count, from its first submit to its last registration, and submit → registration."""
        sent = {"a": Sent("FJ", 0.0), "b": Sent("WS", 0.1), "c": Sent("FJ", 0.2), "d": Sent("WS", 0.3)}
        registered = {"a": 0.5, "b": 0.4, "c": 1.0, "d": 2.1}
        figures = member_figures(sent, registered)
        fj, ws = figures["FJ"], figures["WS"]
        assert (fj.count, fj.seconds, fj.rate) == (2, 1.0, 2.0)
        assert (ws.count, ws.seconds, ws.rate) == (2, pytest.approx(2.0), pytest.approx(1.0))
        assert sorted(fj.samples) == [pytest.approx(0.5), pytest.approx(0.8)]
        assert ws.first_ms == pytest.approx(300)  # its first registration ("b"), not its first submit's
        assert list(figures) == ["FJ", "WS"]

    def test_pooled_runs(self) -> None:
        """All declarations ÷ the sum of the runs' own times (not the gaps between); latency over all of them."""
        one = member_figures({"a": Sent("FJ", 0.0), "b": Sent("FJ", 0.0)}, {"a": 1.0, "b": 2.0})["FJ"]  # 1/s
        two = member_figures({"c": Sent("FJ", 100.0), "d": Sent("FJ", 100.0)}, {"c": 100.5, "d": 100.5})["FJ"]  # 4/s
        pool = pooled([one, two])
        assert (pool.count, pool.seconds, pool.rates) == (4, 2.5, (1.0, 4.0))
        assert pool.latency.max_ms == pytest.approx(2000) and pool.latency.count == 4
        with pytest.raises(ValueError):
            pooled([])

    def test_slow_share_keeps_the_slow_member_busy(self) -> None:
        """150 at 20/s take 7.5 s; at 0.2 + 0.05 s each the slow member needs 30 for that, 45 with the margin."""
        assert slow_share(150, 20.0, 0.2) == 45
        assert slow_share(150, 20.0, 0.2, margin=1.0) == 30
        assert slow_share(10, 100.0, 0.2) == 10  # the minimum
        assert slow_share(150, 0.0, 0.2) == 150  # nothing measured: as many as a fast member
        # Four calls in flight: 0.05 + 0.05 s per record, 75 in 7.5 s, 113 with the margin.
        assert slow_share(150, 20.0, 0.2, concurrency=4) == 113

    def test_figures_need_every_registration(self) -> None:
        """A declaration without its registration is an error, not a faster member."""
        with pytest.raises(ValueError, match="1 declarations"):
            member_figures({"a": Sent("FJ", 0.0), "b": Sent("FJ", 0.1)}, {"a": 1.0})
        with pytest.raises(ValueError):
            member_figures({}, {})

    def test_outlasted(self) -> None:
        """Positive when the slow member still had work after the fast ones were done."""
        fast = [member_figures({"a": Sent("FJ", 0.0)}, {"a": 9.0})["FJ"],
                member_figures({"b": Sent("WS", 0.0)}, {"b": 10.0})["WS"]]
        slow = member_figures({"c": Sent("TO", 0.0)}, {"c": 48.0})["TO"]
        assert outlasted(slow, fast) == 38.0
        assert outlasted(replace(slow, last_registered=8.0), fast) == -2.0

    def test_time_per_record_and_decisions_under_way(self) -> None:
        """30 ms of deciding per record at 20/s: 0.6 decisions under way; at 100/s, 3 (Little's law)."""
        timed = time_per_record(rate=20.0, records=100, handle_seconds=3.0)
        assert timed is not None
        assert (timed.handle_ms, timed.under_way) == (pytest.approx(30), pytest.approx(0.6))
        faster = time_per_record(rate=100.0, records=100, handle_seconds=3.0)
        assert faster is not None and faster.under_way == pytest.approx(3.0)
        assert time_per_record(0.0, 100, 3.0) is None and time_per_record(20.0, 0, 0.0) is None

    def test_neighbour_ratios_and_spread(self) -> None:
        """Each marked run ÷ the mean of the unmarked runs around it; spread is half the range ÷ the mean."""
        runs = [(False, 20.0), (True, 18.0), (False, 16.0), (True, 20.0), (False, 24.0)]
        assert neighbour_ratios(runs) == [pytest.approx(1.0), pytest.approx(1.0)]
        assert neighbour_ratios([(True, 10.0), (False, 20.0)]) == [pytest.approx(0.5)]  # one neighbour only
        assert neighbour_ratios([(True, 10.0)]) == [None]
        assert spread([16.0, 20.0, 24.0]) == pytest.approx(0.2)
        assert spread([20.0]) is None

    def test_isolation_table_and_json(self, tmp_path: Path) -> None:
        """With-slow ÷ without, each pooled; the runs in order; both in the table and the JSON."""
        members = [Measurement(ALONE + "FJ", "FJ alone", 600, 30.0),  # 20/s
                   Measurement(ALONE + "WS", "WS alone", 600, 24.0),  # 25/s
                   Measurement(WITH_SLOW + "FJ", "FJ with TO", 400, 25.0),  # 16/s
                   Measurement(WITH_SLOW + "WS", "WS with TO", 400, 20.0),  # 20/s
                   Measurement(WITH_SLOW + "TO", "TO", 90, 22.5)]
        runs = {"FJ": [(False, 20.0), (True, 16.0), (False, 20.0)]}
        report = Report("c", {}, SizeSummary(1, 1, 1, 1, 1, 1, 1), members=members, member_runs=runs,
                        member_notes=["one at a time"])
        assert report.isolation() == {"FJ": pytest.approx(0.8), "WS": pytest.approx(0.8)}
        table = render(report)
        assert "isolation" in table and "(80.0%)" in table and "one at a time" in table
        assert "FJ run by run, decl/s, [slow member busy]: 20.0 [16.0] 20.0;" in table
        assert "the two around it: 0.800; the runs without it within ±0%" in table
        data = json.loads(write_json(report, tmp_path / "latest.json").read_text())
        assert data["members"][WITH_SLOW + "TO"]["rate"] == 4.0
        assert data["isolation"]["WS"] == pytest.approx(0.8)
        assert data["member_runs"]["FJ"][1] == [True, 16.0]

    def test_no_member_phase_no_section(self) -> None:
        """--member-count 0: the table looks as before."""
        report = Report("c", {}, SizeSummary(1, 1, 1, 1, 1, 1, 1), [Measurement("parse_validate", "pv", 10, 1.0)])
        assert report.isolation() == {} and "per-member" not in render(report)

    def test_replies_received_then_final(self) -> None:
        """"received" is the first reply, "accepted" the final one; a repeat of either is a duplicate."""
        seen = SeenReplies()
        seen.note("a", "received", "", 1.0)
        seen.note("a", "accepted", "FJ", 2.0)
        seen.note("a", "accepted", "FJ", 3.0)
        seen.note("b", "rejected", "", 1.5)  # refused by the gateway: first and final at once
        seen.note("b", "received", "", 4.0)
        assert seen.arrived == {"a": 1.0, "b": 1.5}
        assert (seen.finals["a"].at, seen.finals["a"].status, seen.finals["a"].member) == (2.0, "accepted", "FJ")
        assert seen.finals["b"].status == "rejected"
        assert seen.statuses == {"received": 1, "rejected": 1}
        assert seen.duplicates == 2

    def test_delivery_counters_from_metrics_text(self) -> None:
        """Per member: decisions timed, their seconds, outcomes; subtracted between two readings."""
        metrics = DeliveryMetrics()
        metrics.deliveries.labels("FJ", "accepted").inc(2)
        metrics.call.labels("FJ").observe(0.03)
        metrics.call.labels("FJ").observe(0.02)
        before = DeliveryCounters.parse(generate_latest(metrics.registry).decode())
        metrics.deliveries.labels("FJ", "accepted").inc()
        metrics.deliveries.labels("FJ", "retry").inc()
        metrics.call.labels("FJ").observe(0.01)
        metrics.deliveries.labels("TO", "held").inc()
        after = DeliveryCounters.parse(generate_latest(metrics.registry).decode())
        assert (before["FJ"].records, before["FJ"].seconds) == (2, pytest.approx(0.05))
        delta = after["FJ"].since(before["FJ"])
        assert (delta.records, delta.seconds) == (1, pytest.approx(0.01))
        assert delta.outcomes == {"accepted": 1, "retry": 1}
        assert after["TO"].records == 0 and after["TO"].outcomes == {"held": 1}
        assert after["TO"].since(None) == after["TO"]

    def test_delivery_network_is_accepted_by_the_delivery_service(self, tmp_path: Path) -> None:
        """The phase's network loads, and `oco-gateway deliver` would start a worker per member with it."""
        urls = {m: f"http://127.0.0.1:{8000 + i}" for i, m in enumerate(DELIVERY_MEMBERS)}
        path = write_delivery_network(tmp_path / "members.yaml", bootstrap_servers="127.0.0.1:1", group_id="g",
                                      urls=urls, rate_per_second=RATE_LIMIT)
        settings = load_settings(path)
        assert {m: s.delivery.rate_per_second for m, s in settings.members.items()} == dict.fromkeys(
            DELIVERY_MEMBERS, RATE_LIMIT)
        assert all(settings.members[m].submitters == (delivery_participant(m),) for m in DELIVERY_MEMBERS)
        service = DeliveryService(settings)
        assert [w.member for w in service.workers] == list(DELIVERY_MEMBERS)
        assert SLOW in DELIVERY_MEMBERS and SLOW not in FAST

    def test_member_corpus_and_interleaving(self) -> None:
        """A corpus for one pair has only that pair; bursts go round robin over the members."""
        docs = generate_corpus(3, seed=1, max_kb=10, pairs=[("bench-to-trader", "TO")])
        assert {(d.participant, d.member) for d in docs} == {("bench-to-trader", "TO")}
        a, b = Declaration("p", "FJ", "1", 1, b""), Declaration("p", "WS", "2", 1, b"")
        c = Declaration("p", "FJ", "3", 1, b"")
        assert interleave({"FJ": [a, c], "WS": [b]}) == [a, b, c]

    def test_member_options(self) -> None:
        """150 declarations per fast member and 3 rounds by default, 20 and 1 with --quick, 0 skips the phase."""
        full, quick = parse_args([]), parse_args(["--quick"])
        assert (full.member_count, full.rounds, full.slow_delay) == (150, 3, 0.2)
        assert (quick.member_count, quick.rounds) == (20, 1)
        assert parse_args(["--quick", "--member-count", "0"]).member_count == 0
        for bad in (["--member-count", "-1"], ["--rounds", "0"]):
            with pytest.raises(SystemExit):
                parse_args(bad)


class TestLatencyBoundPhase:
    def test_bound_is_concurrency_over_latency_and_the_rate_limit(self) -> None:
        """1, 8 and 32 calls of 0.2 s: 5, 40 and 160/s; a rate limit below that is the bound instead."""
        assert [latency_bound(c, 0.2, RATE_LIMIT) for c in (1, 8, 32)] == [pytest.approx(5), pytest.approx(40),
                                                                            pytest.approx(160)]
        assert latency_bound(32, 0.2, 100.0) == 100.0
        assert latency_bound(4, 0.0, 50.0) == 50.0  # no latency: only the limit
        for bad in ((0, 0.2, 1.0), (1, -0.1, 1.0), (1, 0.2, 0.0)):
            with pytest.raises(ValueError):
                latency_bound(*bad)

    def test_backlog_lasts_the_seconds_at_the_bound(self) -> None:
        """160/s for 5 s is 800 declarations; never fewer than the minimum."""
        assert backlog_for(160.0, 5.0) == 800
        assert backlog_for(5.0, 2.5) == 13  # rounded up
        assert backlog_for(5.0, 1.0) == 10 and backlog_for(5.0, 1.0, minimum=1) == 5

    def test_peak_in_flight_from_a_call_log(self) -> None:
        """Arrivals and answers numbered in one sequence: the most overlapping; one still in flight stays to the end."""
        one_at_a_time = [{"started": 1, "ended": 2}, {"started": 3, "ended": 4}]
        assert peak_in_flight(one_at_a_time) == 1
        overlapping = [{"started": 1, "ended": 4}, {"started": 2, "ended": 3}, {"started": 5, "ended": None},
                       {"started": 6, "ended": 7}]
        assert peak_in_flight(overlapping) == 2
        assert peak_in_flight([]) == 0

    def test_table_and_json(self, tmp_path: Path) -> None:
        """Each row shows decl/s, its bound and the ratio; the JSON carries both."""
        rows = [Measurement(CONCURRENCY + "1_FJ", "FJ, concurrency 1", 25, 5.5, Latency.of([0.3, 2.0])),
                Measurement(CONCURRENCY + "8_FJ", "FJ, concurrency 8", 200, 5.0, Latency.of([0.3, 2.5]))]
        report = Report("c", {}, SizeSummary(0, 0, 0, 0, 0, 0, 0), concurrency=rows,
                        concurrency_bounds={CONCURRENCY + "1_FJ": 5.0, CONCURRENCY + "8_FJ": 40.0},
                        concurrency_notes=["bound: concurrency ÷ latency"])
        assert report.bound_ratios() == {CONCURRENCY + "1_FJ": pytest.approx(25 / 5.5 / 5),
                                         CONCURRENCY + "8_FJ": pytest.approx(1.0)}
        table = render(report)
        assert "latency-bound delivery" in table and "bound: concurrency ÷ latency" in table
        assert "FJ, concurrency 8                           40.0    40.0   1.00" in table
        data = json.loads(write_json(report, tmp_path / "latest.json").read_text())
        assert data["concurrency"][CONCURRENCY + "8_FJ"]["bound"] == 40.0
        assert data["concurrency"][CONCURRENCY + "1_FJ"]["ratio"] == pytest.approx(0.909, abs=1e-3)

    def test_no_phase_no_section(self) -> None:
        """Without the phase, the table has no latency-bound section."""
        assert "latency-bound" not in render(Report("c", {}, SizeSummary(0, 0, 0, 0, 0, 0, 0)))

    def test_options(self) -> None:
        """1,8,32 by default, 1,8 with --quick, any list with --concurrency; 0 skips; bad lists are refused."""
        full, quick = parse_args([]), parse_args(["--quick"])
        assert (full.concurrency, full.concurrency_latency, full.concurrency_seconds) == ((1, 8, 32), 0.2, 5.0)
        assert (quick.concurrency, quick.concurrency_seconds) == ((1, 8), 2.0)
        assert parse_args(["--concurrency", "4,16"]).concurrency == (4, 16)
        assert parse_args(["--concurrency", "0"]).concurrency == ()
        assert "concurrency" in PHASES
        for bad in (["--concurrency", "a"], ["--concurrency", "-1"], ["--concurrency-latency", "0"],
                    ["--concurrency-seconds", "0"]):
            with pytest.raises(SystemExit):
                parse_args(bad)

    def test_network_sets_the_concurrency(self, tmp_path: Path) -> None:
        """The phase's network has just its members, each with the concurrency asked, and loads for delivery."""
        urls = {m: f"http://127.0.0.1:{8000 + i}" for i, m in enumerate(DELIVERY_MEMBERS)}
        path = write_delivery_network(tmp_path / "c.yaml", bootstrap_servers="127.0.0.1:1", group_id="g", urls=urls,
                                      rate_per_second=RATE_LIMIT, concurrency=8, members=["FJ", "WS"])
        settings = load_settings(path)
        assert {m: s.delivery.concurrency for m, s in settings.members.items()} == {"FJ": 8, "WS": 8}
        assert "&id" not in path.read_text()  # no YAML aliases: each member's block written out
        assert [w.member for w in DeliveryService(settings).workers] == ["FJ", "WS"]


class TestPriorityLanePhase:
    def test_lane_ratios_table_and_json(self, tmp_path: Path) -> None:
        """Behind the backlog ÷ idle, per lane, from the p50s; shown in the table and saved in the JSON."""
        lanes = [Measurement(LANE + "priority_idle", "priority idle", 5, 0.1, Latency.of([0.020] * 5)),
                 Measurement(LANE + "ordinary_idle", "ordinary idle", 5, 0.1, Latency.of([0.020] * 5)),
                 Measurement(LANE + "priority_backlog", "priority behind", 5, 0.15, Latency.of([0.030] * 5)),
                 Measurement(LANE + "ordinary_backlog", "ordinary backlog", 100, 10.0, Latency.of([5.0] * 100))]
        report = Report("c", {}, SizeSummary(0, 0, 0, 0, 0, 0, 0), lanes=lanes, lane_notes=["in-process worker"])
        assert report.lane_ratios() == {"priority": pytest.approx(1.5), "ordinary": pytest.approx(250)}
        table = render(report)
        assert "priority lane" in table and "(150.0%)" in table and "in-process worker" in table
        assert "corpus:" not in table  # --only lanes: no gateway section
        data = json.loads(write_json(report, tmp_path / "latest.json").read_text())
        assert data["lane_ratios"]["priority"] == pytest.approx(1.5)
        assert data["lanes"][LANE + "ordinary_backlog"]["rate"] == 10.0

    def test_no_lane_phase_no_section(self) -> None:
        """--lane-backlog 0: no priority-lane section, no ratios."""
        report = Report("c", {}, SizeSummary(1, 1, 1, 1, 1, 1, 1), [Measurement("parse_validate", "pv", 10, 1.0)])
        assert report.lane_ratios() == {} and "priority lane" not in render(report)

    def test_calls_ahead_counts_calls_begun_after_publication(self) -> None:
        """Calls begun before publication (the one in flight included) do not count; later ones do."""
        calls = ["a", "b", "c", "p", "d"]
        assert calls_ahead(calls, "p", before=2) == 1
        assert calls_ahead(calls, "p", before=3) == 0
        with pytest.raises(ValueError):
            calls_ahead(calls, "never", before=0)

    def test_lane_options(self) -> None:
        """2000 queued and 10 samples by default, 300 and 3 with --quick; 0 skips; --only picks phases."""
        full, quick = parse_args([]), parse_args(["--quick"])
        assert (full.lane_backlog, full.lane_samples, full.lane_delay, full.only) == (2000, 10, 0.005, PHASES)
        assert (quick.lane_backlog, quick.lane_samples) == (300, 3)
        assert parse_args(["--only", "lanes"]).only == ("lanes",)
        assert parse_args(["--only", "lanes", "--only", "members"]).only == ("lanes", "members")
        for bad in (["--lane-backlog", "-1"], ["--lane-samples", "0"], ["--only", "everything"]):
            with pytest.raises(SystemExit):
                parse_args(bad)

    def test_lane_network_is_accepted_by_the_delivery_service(self, tmp_path: Path) -> None:
        """The phase's network loads; its one member's worker has the timed fake adapter and the burst asked for."""
        path = write_lane_network(tmp_path / "lanes.yaml", bootstrap_servers="127.0.0.1:1", delay=0.005, burst=7)
        settings = load_settings(path)
        assert settings.members[LANE_MEMBER].delivery.priority_burst == 7
        service = DeliveryService(settings, catalog=lane_catalog())
        assert isinstance(service.workers[0].adapter, TimedFakeAdapter)
        assert "oco.deliver.MH.priority" in service.topics


class TestTrustedTraderPhase:
    def test_aeo_section_table_and_json(self, tmp_path: Path) -> None:
        """The trusted-trader figures get a section of their own, their notes and their JSON entries."""
        report = Report("python -m bench --only aeo", {"cpus": 2}, SizeSummary(0, 0, 0, 0, 0, 0, 0))
        report.aeo += [Measurement("aeo_registry_load", "AEO registry load (100 traders)", 100, 0.5, note="verified"),
                       Measurement("aeo_propagation", "AEO issue → all 4 registries show it", 3, 0.06,
                                   Latency.of([0.01, 0.02, 0.03]))]
        text = render(report)
        assert "trusted traders" in text and "AEO registry load (100 traders)" in text and "200.0" in text
        assert "verified" in text
        data = json.loads(write_json(report, tmp_path / "r.json").read_text())
        assert data["aeo"]["aeo_propagation"]["latency"]["p50_ms"] == pytest.approx(20.0)

    def test_aeo_options(self) -> None:
        assert "aeo" in PHASES
        quick = parse_args(["--quick"])
        assert (quick.aeo_traders, quick.aeo_samples) == (3000, 10)
        assert parse_args(["--aeo-traders", "0"]).aeo_traders == 0
        with pytest.raises(SystemExit):
            parse_args(["--aeo-samples", "0"])

    def test_aeo_network_copies_the_base_and_adds_the_trust_store(self, tmp_path: Path) -> None:
        from bench.aeo import write_aeo_network
        from bench.network import write_network
        from gateway.aeo.signing import SigningKey, TrustStore

        base = write_network(tmp_path / "base.yaml", bootstrap_servers="127.0.0.1:1", group_id="g")
        keys = {"FJ": SigningKey.generate("FJ")}
        settings = load_settings(write_aeo_network(tmp_path / "aeo.yaml", base, keys))
        assert settings.kafka.group_id == "g" and set(settings.members) == set(MEMBERS)
        assert TrustStore.from_settings(settings.aeo).members() == ["FJ"]
