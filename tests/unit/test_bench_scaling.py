"""Tests for the benchmark's scale-out figures (bench/scaling.py), their table and JSON, and the phase's options."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from bench.__main__ import parse_args
from bench.corpus import SizeSummary, generate_corpus
from bench.report import SCALE, Measurement, Report, render, write_json
from bench.runner import PHASES
from bench.scaling import ScaleRun, cpu_ceiling, cycle, describe_run, pool, run_order, scale_notes, window


def _run(processes: int, count: int, seconds: float, **kw: object) -> ScaleRun:
    fields: dict[str, object] = dict(backlog=count, ready_gap=0.0, head_start=0, handled=({"bench-a": count},),
                                     cpu={"gateway 1": 1.0, "broker": 0.5}, machine=1.8, duplicates=0,
                                     cpu_wall=seconds)
    fields.update(kw)
    return ScaleRun(processes, count, seconds, **fields)  # type: ignore[arg-type]


class TestScaleOutArithmetic:
    def test_run_order_alternates_starting_and_ending_with_one(self) -> None:
        """K scaled-out runs, each between two one-process runs."""
        assert run_order(1) == [1, 2, 1]
        assert run_order(2) == [1, 2, 1, 2, 1]
        assert run_order(1, processes=3) == [1, 3, 1]
        with pytest.raises(ValueError):
            run_order(0)

    def test_window_starts_at_the_last_ready(self) -> None:
        """Replies before the later /readyz are the head start; the window runs from it to the last reply."""
        count, seconds, before = window([10.5, 11.0, 12.0, 13.0, 14.0], readies=[10.0, 12.0])
        assert (count, before) == (3, 2)
        assert seconds == pytest.approx(2.0)
        assert window([5.0, 6.0], readies=[4.0]) == (2, pytest.approx(2.0), 0)  # one process: its own /readyz

    def test_window_empty_when_drained_before_the_last_ready(self) -> None:
        """A backlog gone before the second member was assigned leaves nothing to time, never a negative time."""
        assert window([1.0, 2.0], readies=[0.5, 3.0]) == (0, 0.0, 2)
        with pytest.raises(ValueError):
            window([], readies=[1.0])

    def test_pool_adds_counts_and_times_of_one_process_count(self) -> None:
        """All the declarations of the runs with N processes ÷ the sum of their windows."""
        runs = [_run(1, 1000, 2.0), _run(2, 900, 1.0), _run(1, 1000, 3.0), _run(2, 1100, 1.5)]
        one, two = pool(runs, 1), pool(runs, 2)
        assert (one.key, one.count, one.seconds, one.rate) == (SCALE + "1", 2000, 5.0, 400.0)
        assert (two.key, two.count, two.rate) == (SCALE + "2", 2000, 800.0)
        assert "(2 runs)" in one.label and "one group" in two.label
        with pytest.raises(ValueError):
            pool(runs, 3)

    def test_cpu_ceiling_counts_our_processes(self) -> None:
        """CPU per declaration of the gateways, broker and benchmark; the cores ÷ that is the ceiling."""
        runs = [_run(1, 1000, 2.0, cpu={"gateway 1": 1.5, "broker": 1.0, "bench": 0.5}),
                _run(1, 1000, 2.0, cpu={"gateway 1": 1.5, "broker": 1.0, "bench": 0.5})]
        ms, ceiling = cpu_ceiling(runs, cores=2)  # type: ignore[misc]
        assert ms == pytest.approx(3.0)
        assert ceiling == pytest.approx(2 / 0.003)
        assert cpu_ceiling([_run(1, 0, 0.0)], cores=2) is None

    def test_gateway_cpu_sums_every_gateway(self) -> None:
        """The gateways' CPU is every process named gateway, not the broker's."""
        run = _run(2, 10, 1.0, cpu={"gateway 1": 1.0, "gateway 2": 0.75, "broker": 3.0})
        assert run.gateway_cpu() == pytest.approx(1.75)
        assert run.rate == 10.0

    def test_describe_run(self) -> None:
        """One line: rate, head start of a scaled-out run, the split by process and participant, CPU."""
        run = _run(2, 900, 1.5, backlog=1000, ready_gap=3.0, head_start=100,
                   handled=({"bench-fj-broker": 600.0}, {"bench-ws-broker": 410.0, "bench-nz-tradelink": 0.0}),
                   cpu={"gateway 1": 0.9, "gateway 2": 0.9, "broker": 1.0}, machine=2.7, duplicates=10,
                   cpu_wall=1.5)
        line = describe_run(run, cores=2)
        assert line.startswith("600.0 decl/s, 900 in 1.50 s; readies 3.00 s apart, 100 answered before the later one")
        assert "gateway 1 answered 600 (fj-broker 600); gateway 2 answered 410 (ws-broker 410)" in line
        assert "duplicate replies 10" in line and "gateways 2.00 ms per declaration" in line
        assert line.endswith("1.80 of 2 cores busy")
        assert "readies" not in describe_run(_run(1, 10, 1.0), cores=2)

    def test_notes_flag_other_work_and_short_runs(self) -> None:
        """The notes give the CPU ceiling per process count, flag a machine busy with other work, and a run whose
        window held too little of the backlog."""
        quiet = _run(1, 1000, 2.0, cpu={"gateway 1": 2.0, "broker": 1.0}, machine=3.1)
        busy = _run(2, 1000, 2.0, cpu={"gateway 1": 1.0, "gateway 2": 1.0, "broker": 1.0}, machine=3.9)
        notes = scale_notes([quiet, busy], processes=2, cores=2)
        assert notes[0].startswith("2 CPUs for everything")
        assert notes[1] == ("one process: 3.00 ms of CPU per declaration (gateways, broker and benchmark); 2 cores "
                            "give at most 667 decl/s at that cost; cores busy on average: ours 1.50, the whole machine "
                            "1.55 of 2")
        assert notes[2].endswith("the whole machine 1.95 of 2 (other work took 0.45: not a clean measurement)")
        assert len(notes) == 3
        short = _run(2, 100, 0.2, backlog=1000)
        assert "raise --scale-backlog" in scale_notes([quiet, short], processes=2, cores=2)[-1]

    def test_cycle_repeats_the_corpus_under_new_lrns(self) -> None:
        """The backlog is the corpus over and over, the same bytes but for a unique LRN."""
        corpus = generate_corpus(3, seed=1, max_kb=10)
        backlog = list(cycle(corpus, 7))
        assert len(backlog) == 7 and len({d.lrn for d in backlog}) == 7
        assert backlog[4].payload.replace(backlog[4].lrn.encode(), corpus[1].lrn.encode()) == corpus[1].payload
        assert (backlog[4].participant, backlog[4].member) == (corpus[1].participant, corpus[1].member)


class TestScaleOutReport:
    def test_ratio_table_and_json(self, tmp_path: Path) -> None:
        """Two processes ÷ one, pooled; the runs in order with each two-process run ÷ its neighbours."""
        report = Report("c", {"cpus": 2}, SizeSummary(1, 1, 1, 1, 1, 1, 1),
                        scaleout=[Measurement(SCALE + "1", "1 gateway process", 2000, 4.0),  # 500/s
                                  Measurement(SCALE + "2", "2 gateway processes", 1200, 2.0)],  # 600/s
                        scaleout_runs=[(1, 480.0), (2, 600.0), (1, 520.0)], scaleout_notes=["2 CPUs for everything"])
        assert report.scale_ratio() == pytest.approx(1.2)
        table = render(report)
        assert "2 processes ÷ 1, pooled   1.200  (120.0%)" in table
        assert "run by run, decl/s, [several processes]: 480.0 [600.0] 520.0; each [run] ÷ the two around it: " \
               "1.200; the one-process runs within ±4%" in table
        assert "2 CPUs for everything" in table
        assert "measurement" in table and "e2e / consume_only" not in table  # --only scaleout: no empty gateway table
        data = json.loads(write_json(report, tmp_path / "latest.json").read_text())
        assert data["scaleout"][SCALE + "2"]["rate"] == 600.0
        assert data["scale_ratio"] == pytest.approx(1.2)
        assert data["scaleout_runs"][1] == [2, 600.0]

    def test_no_ratio_without_both(self) -> None:
        """Only one process count measured (a failed run): no ratio, no section without measurements."""
        report = Report("c", {}, SizeSummary(1, 1, 1, 1, 1, 1, 1),
                        scaleout=[Measurement(SCALE + "1", "1 gateway process", 10, 1.0)])
        assert report.scale_ratio() is None
        assert "n/a" in render(report)
        assert "scale-out" not in render(Report("c", {}, SizeSummary(1, 1, 1, 1, 1, 1, 1)))


class TestScaleOutOptions:
    def test_defaults_quick_and_skip(self) -> None:
        """2 rounds of 8000 by default, 1 of 1000 with --quick; 0 rounds skips; --only scaleout picks it."""
        full, quick = parse_args([]), parse_args(["--quick"])
        assert (full.scale_rounds, full.scale_backlog) == (2, 8000)
        assert (quick.scale_rounds, quick.scale_backlog) == (1, 1000)
        assert parse_args(["--scale-rounds", "0"]).scale_rounds == 0
        assert "scaleout" in PHASES and parse_args(["--only", "scaleout"]).only == ("scaleout",)
        for bad in (["--scale-rounds", "-1"], ["--scale-backlog", "-5"]):
            with pytest.raises(SystemExit):
                parse_args(bad)
