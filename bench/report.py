"""Benchmark results: percentile and ratio arithmetic, the printed table and the JSON file."""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from bench.corpus import SizeSummary

__all__ = ["ALONE", "CONCURRENCY", "LANE", "SCALE", "WITH_SLOW", "Latency", "Measurement", "Report", "neighbour_ratios",
           "percentile", "ratio", "render", "spread", "to_json", "write_json"]

# Keys of the per-member delivery measurements, prefix + member code: ALONE (runs where only the fast members
# had work), WITH_SLOW (runs where the slow member had work too).
ALONE = "members_alone_"
WITH_SLOW = "members_slow_"
# Keys of the priority-lane measurements: LANE + priority_idle, ordinary_idle, priority_backlog, ordinary_backlog.
LANE = "lane_"
# Keys of the latency-bound delivery measurements: CONCURRENCY + <concurrency>_<member>.
CONCURRENCY = "concurrency_"
# Keys of the scale-out measurements: SCALE + the number of gateway processes (scaleout_1, scaleout_2).
SCALE = "scaleout_"


def percentile(values: Sequence[float], q: float) -> float:
    """Return the q-th percentile, interpolating linearly between closest ranks (numpy's default).

    Args:
        values: the samples, in any order; at least one.
        q: percentile, 0 to 100.

    Raises:
        ValueError: no samples, or q outside 0..100.
    """
    if not values:
        raise ValueError("percentile of no samples")
    if not 0 <= q <= 100:
        raise ValueError(f"q must be between 0 and 100, not {q}")
    ordered = sorted(values)
    rank = (len(ordered) - 1) * q / 100
    low = math.floor(rank)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (rank - low)


def neighbour_ratios(runs: Sequence[tuple[bool, float]]) -> list[float | None]:
    """Return, for each run of the marked kind, its rate ÷ the mean rate of the unmarked runs just before and after.

    With runs alternating (unmarked, marked, unmarked...), each ratio compares a run to the two that bracket
    it, so a slow drift of the machine cancels out.

    Args:
        runs: (marked, rate) in the order run; a marked run without an unmarked neighbour on either side
            is compared to the one it has.
    """
    out: list[float | None] = []
    for i, (marked, rate) in enumerate(runs):
        if not marked:
            continue
        around = [runs[j][1] for j in (i - 1, i + 1) if 0 <= j < len(runs) and not runs[j][0]]
        out.append(ratio(rate, sum(around) / len(around)) if around else None)
    return out


def spread(rates: Sequence[float]) -> float | None:
    """Return half the range of some rates ÷ their mean (0.1: they lie within ±10% of the middle).

    Args:
        rates: rates of identical runs; None when fewer than two.
    """
    if len(rates) < 2 or sum(rates) <= 0:
        return None
    return (max(rates) - min(rates)) / 2 / (sum(rates) / len(rates))


def ratio(numerator: float, denominator: float) -> float | None:
    """Return numerator ÷ denominator, or None when the denominator is not positive (nothing to compare to).

    Args:
        numerator: e.g. end-to-end decl/s.
        denominator: e.g. a baseline's decl/s.
    """
    return numerator / denominator if denominator > 0 else None


@dataclass(frozen=True, slots=True)
class Latency:
    """Latency percentiles of one measurement, in milliseconds."""

    count: int
    p50_ms: float
    p99_ms: float
    max_ms: float
    mean_ms: float

    @classmethod
    def of(cls, seconds: Sequence[float]) -> Latency:
        """Summarise latency samples.

        Args:
            seconds: one sample per message, in seconds; at least one.
        """
        ms = [s * 1000 for s in seconds]
        return cls(count=len(ms), p50_ms=percentile(ms, 50), p99_ms=percentile(ms, 99), max_ms=max(ms),
                   mean_ms=sum(ms) / len(ms))


@dataclass(frozen=True, slots=True)
class Measurement:
    """One measured figure: ``count`` declarations in ``seconds``, with per-message latency when measured.

    Attributes:
        key: stable name in the JSON (``parse_validate``, ``consume_only``, ``end_to_end``...).
        label: what the table shows.
        count: declarations handled.
        seconds: wall time they took.
        latency: per-message latency, when measured.
        note: how it was measured, one line.
    """

    key: str
    label: str
    count: int
    seconds: float
    latency: Latency | None = None
    note: str = ""

    @property
    def rate(self) -> float:
        """Declarations per second."""
        return self.count / self.seconds if self.seconds > 0 else 0.0


@dataclass(slots=True)
class Report:
    """Everything one run measured, ready to print or save.

    Attributes:
        command: the command line that produced it.
        machine: CPU count, Python, platform, Kafka version.
        corpus: size distribution of the corpus.
        measurements: in the order measured.
        diagnostics: secondary figures (CPU use per process, gateway metrics), label -> text.
        members: the per-member delivery phase, one measurement per condition and member, its runs pooled
            (keys ``ALONE`` or ``WITH_SLOW`` + member code); decl/s there is registered per second.
        member_runs: fast member -> (slow member busy?, registered per second) of each run, in order.
        member_notes: how to read them, printed under their table.
        lanes: the priority-lane phase, one measurement per lane and condition (keys ``LANE`` + ...); their
            latency is from publication to the final reply.
        lane_notes: how to read them.
        aeo: the trusted-trader phase: registry load (rate: traders/s) and propagation (latency), each
            beside its bare Kafka baseline.
        concurrency: the latency-bound delivery phase, one measurement per concurrency and member (keys
            ``CONCURRENCY`` + ...); decl/s there is registered per second.
        concurrency_bounds: measurement key -> the registered/s it cannot pass (concurrency ÷ latency, and the
            rate limit).
        concurrency_notes: how to read them.
        scaleout: the scale-out phase, one measurement per process count, its runs pooled (keys ``SCALE`` + count).
        scaleout_runs: (gateway processes, decl/s) of each scale-out run, in order.
        scaleout_notes: how to read them.
    """

    command: str
    machine: dict[str, Any]
    corpus: SizeSummary
    measurements: list[Measurement] = field(default_factory=list)
    diagnostics: dict[str, str] = field(default_factory=dict)
    members: list[Measurement] = field(default_factory=list)
    member_runs: dict[str, list[tuple[bool, float]]] = field(default_factory=dict)
    member_notes: list[str] = field(default_factory=list)
    lanes: list[Measurement] = field(default_factory=list)
    lane_notes: list[str] = field(default_factory=list)
    aeo: list[Measurement] = field(default_factory=list)
    concurrency: list[Measurement] = field(default_factory=list)
    concurrency_bounds: dict[str, float] = field(default_factory=dict)
    concurrency_notes: list[str] = field(default_factory=list)
    scaleout: list[Measurement] = field(default_factory=list)
    scaleout_runs: list[tuple[int, float]] = field(default_factory=list)
    scaleout_notes: list[str] = field(default_factory=list)

    def get(self, key: str) -> Measurement | None:
        """Return the measurement with this key, if taken.

        Args:
            key: a ``Measurement.key``.
        """
        return next((m for m in self.measurements if m.key == key), None)

    def ratios(self) -> dict[str, float | None]:
        """Return end-to-end throughput divided by each baseline's (None when either is missing)."""
        e2e, consume, pv = self.get("end_to_end"), self.get("consume_only"), self.get("parse_validate")
        return {
            "e2e / consume_only": ratio(e2e.rate, consume.rate) if e2e and consume else None,
            "e2e / parse_validate": ratio(e2e.rate, pv.rate) if e2e and pv else None,
        }

    def naive_ratios(self) -> dict[str, float | None]:
        """Return the gateway's figures ÷ the naive baseline's, same run (None when either is missing).

        Throughput: above 1 the gateway drains a backlog faster. Latency (p50, p99, at the same offered rate):
        below 1 the gateway answers sooner.
        """
        e2e, naive = self.get("end_to_end"), self.get("naive_throughput")
        paced, naive_paced = self.get("latency"), self.get("naive_latency")
        found: dict[str, float | None] = {}
        if e2e and naive:
            found["throughput, gateway / naive"] = ratio(e2e.rate, naive.rate)
        if paced and naive_paced and paced.latency and naive_paced.latency:
            found["latency p50, gateway / naive"] = ratio(paced.latency.p50_ms, naive_paced.latency.p50_ms)
            found["latency p99, gateway / naive"] = ratio(paced.latency.p99_ms, naive_paced.latency.p99_ms)
        return found

    def isolation(self) -> dict[str, float | None]:
        """Return, per fast member, its registered/s with the slow member busy ÷ with only the fast members busy.

        Each side pools its runs. 1.0: the slow member cost it nothing; below 1: it was slowed down. Only
        members measured both ways.
        """
        alone = {x.key.removeprefix(ALONE): x.rate for x in self.members if x.key.startswith(ALONE)}
        slow = {x.key.removeprefix(WITH_SLOW): x.rate for x in self.members if x.key.startswith(WITH_SLOW)}
        return {m: ratio(slow[m], alone[m]) for m in alone if m in slow}

    def bound_ratios(self) -> dict[str, float | None]:
        """Return, per latency-bound measurement, its registered/s ÷ its bound (1.0: the bound reached)."""
        return {x.key: ratio(x.rate, self.concurrency_bounds.get(x.key, 0.0)) for x in self.concurrency}

    def lane_ratios(self) -> dict[str, float | None]:
        """Return, per lane, the p50 latency behind the backlog ÷ the p50 latency with the member idle.

        Near 1 for the priority lane: the backlog costs a recognised declaration nothing but the call in hand.
        Only lanes measured both ways.
        """
        found = {x.key.removeprefix(LANE): x.latency for x in self.lanes if x.latency is not None}
        return {lane: ratio(found[f"{lane}_backlog"].p50_ms, found[f"{lane}_idle"].p50_ms)
                for lane in ("priority", "ordinary") if f"{lane}_backlog" in found and f"{lane}_idle" in found}

    def scale_ratio(self) -> float | None:
        """Return the pooled decl/s of the most processes measured ÷ that of one process (None: not both measured)."""
        found = {int(x.key.removeprefix(SCALE)): x.rate for x in self.scaleout if x.key.startswith(SCALE)}
        return ratio(found[max(found)], found[1]) if 1 in found and max(found) > 1 else None


def render(report: Report) -> str:
    """Return the report as the table ``make bench`` prints.

    Args:
        report: a finished (or partial) run.
    """
    c, m = report.corpus, report.machine
    lines = [
        f"oco-gateway benchmark: {m.get('cpus')} CPUs, Python {m.get('python')}, Kafka {m.get('kafka')}",
        f"command: {report.command}",
    ]
    if report.measurements or c.count:  # not with --only members / lanes
        lines.append(f"corpus: {c.count} declarations, {c.min_items}-{c.max_items} goods items, {c.min_kb:.1f} / "
                     f"{c.median_kb:.1f} / {c.max_kb:.1f} KB (min / median / max), {c.total_mb:.1f} MB in all")
    if report.measurements:  # not with --only scaleout
        lines += [
            "",
            f"{'measurement':<46}{'decl/s':>9}{'p50 ms':>9}{'p99 ms':>9}{'max ms':>9}  {'n':>6}{'seconds':>9}",
            "-" * 98,
        ]
        lines += [_row(x) for x in report.measurements]
        lines += ["", "ratios (end-to-end throughput ÷ baseline throughput):"]
        for name, value in report.ratios().items():
            lines.append(f"  {name:<24}" + _ratio_cell(value))
        naive = report.naive_ratios()
        if naive:
            lines += ["", "gateway ÷ naive baseline (same run, same corpus and rate; throughput above 1 and latency "
                          "below 1: the gateway does better):"]
            lines += [f"  {name:<30}" + _ratio_cell(value) for name, value in naive.items()]
    if report.scaleout:
        lines += ["", "scale-out (the same backlog drained by one gateway process, then by several in one group):",
                  f"{'measurement':<46}{'decl/s':>9}{'':>27}  {'n':>6}{'seconds':>9}", "-" * 98]
        lines += [_row(x) for x in report.scaleout]
        most = max(int(x.key.removeprefix(SCALE)) for x in report.scaleout)
        lines += ["", f"  {f'{most} processes ÷ 1, pooled':<24}" + _ratio_cell(report.scale_ratio())]
        runs = [(n > 1, rate) for n, rate in report.scaleout_runs]
        pairs = ", ".join("n/a" if r is None else f"{r:.3f}" for r in neighbour_ratios(runs))
        noise = spread([rate for several, rate in runs if not several])
        lines.append("  run by run, decl/s, [several processes]: "
                     + " ".join(f"[{rate:.1f}]" if several else f"{rate:.1f}" for several, rate in runs)
                     + f"; each [run] ÷ the two around it: {pairs}"
                     + (f"; the one-process runs within ±{noise:.0%}" if noise is not None else ""))
        if report.scaleout_notes:
            lines += ["", "reading them:"] + [f"  {note}" for note in report.scaleout_notes]
    if report.members or report.member_notes:
        lines += ["", "per-member delivery (decl/s here: registered per second, from submit to the 'accepted' reply):",
                  f"{'measurement':<46}{'decl/s':>9}{'p50 ms':>9}{'p99 ms':>9}{'max ms':>9}  {'n':>6}{'seconds':>9}",
                  "-" * 98]
        lines += [_row(x) for x in report.members]
        isolated = report.isolation()
        if isolated:
            lines += ["", "isolation (a fast member's registered/s with the slow member busy ÷ without it, "
                          "runs pooled):"]
            lines += [f"  {member:<24}" + _ratio_cell(value) for member, value in isolated.items()]
        for member, runs in report.member_runs.items():
            pairs = ", ".join("n/a" if r is None else f"{r:.3f}" for r in neighbour_ratios(runs))
            noise = spread([rate for busy, rate in runs if not busy])
            lines.append(f"  {member} run by run, decl/s, [slow member busy]: "
                         + " ".join(f"[{rate:.1f}]" if busy else f"{rate:.1f}" for busy, rate in runs)
                         + f"; each [run] ÷ the two around it: {pairs}"
                         + (f"; the runs without it within ±{noise:.0%}" if noise is not None else ""))
        if report.member_notes:
            lines += ["", "reading them:"] + [f"  {note}" for note in report.member_notes]
    if report.concurrency:
        lines += ["", "latency-bound delivery (decl/s: registered per second, submit → 'accepted' reply; bound: "
                      "concurrency ÷ national latency):",
                  f"{'measurement':<40}{'decl/s':>8}{'bound':>8}{'ratio':>7}{'p50 ms':>9}{'p99 ms':>9}  {'n':>6}"
                  f"{'seconds':>8}", "-" * 97]
        bound_ratios = report.bound_ratios()
        for x in report.concurrency:
            lat, r = x.latency, bound_ratios.get(x.key)
            lines.append(f"{x.label:<40}{x.rate:>8.1f}{report.concurrency_bounds.get(x.key, 0.0):>8.1f}"
                         + (f"{r:>7.2f}" if r is not None else f"{'n/a':>7}")
                         + (f"{lat.p50_ms:>9.1f}{lat.p99_ms:>9.1f}" if lat else f"{'':>18}")
                         + f"  {x.count:>6}{x.seconds:>8.2f}")
        if report.concurrency_notes:
            lines += ["", "reading them:"] + [f"  {note}" for note in report.concurrency_notes]
    if report.lanes:
        lines += ["", "priority lane (latency: publication on the member's delivery topic or its priority lane → "
                      "final reply):",
                  f"{'measurement':<46}{'p50 ms':>9}{'p99 ms':>9}{'max ms':>9}  {'n':>6}", "-" * 80]
        lines += [_lane_row(x) for x in report.lanes]
        lane_ratios = report.lane_ratios()
        if lane_ratios:
            lines += ["", "latency behind the backlog ÷ latency with the member idle (p50, same run):"]
            lines += [f"  {lane:<24}" + _ratio_cell(value) for lane, value in lane_ratios.items()]
        if report.lane_notes:
            lines += ["", "reading them:"] + [f"  {note}" for note in report.lane_notes]
    if report.aeo:
        lines += ["", "trusted traders (registry load: rate = traders/s; propagation: aeo issue → every registry "
                      "shows it):",
                  f"{'measurement':<46}{'per s':>9}{'p50 ms':>9}{'p99 ms':>9}{'max ms':>9}  {'n':>6}{'seconds':>9}",
                  "-" * 98]
        lines += [_row(x) for x in report.aeo]
    notes = [(x.label, x.note) for x in report.measurements + report.members + report.aeo + report.scaleout
             if x.note]
    if notes:
        lines += ["", "how each figure was taken:"]
        lines += [f"  {label}: {note}" for label, note in notes]
    if report.diagnostics:
        lines += ["", "diagnostics:"]
        lines += [f"  {label}: {text}" for label, text in report.diagnostics.items()]
    return "\n".join(lines)


def _row(x: Measurement) -> str:
    lat = x.latency
    cells = (f"{lat.p50_ms:>9.2f}{lat.p99_ms:>9.2f}{lat.max_ms:>9.2f}" if lat else f"{'':>27}")
    return f"{x.label:<46}{x.rate:>9.1f}{cells}  {x.count:>6}{x.seconds:>9.2f}"


def _lane_row(x: Measurement) -> str:
    lat = x.latency
    cells = f"{lat.p50_ms:>9.2f}{lat.p99_ms:>9.2f}{lat.max_ms:>9.2f}" if lat else f"{'':>27}"
    return f"{x.label:<46}{cells}  {x.count:>6}"


def _ratio_cell(value: float | None) -> str:
    return f"{value:>7.3f}  ({value:.1%})" if value is not None else "    n/a"


def to_json(report: Report) -> dict[str, Any]:
    """Return the report as JSON-ready data (rates included, so readers need not divide).

    Args:
        report: a finished (or partial) run.
    """
    return {
        "command": report.command,
        "machine": report.machine,
        "corpus": asdict(report.corpus),
        "measurements": {x.key: {**asdict(x), "rate": x.rate} for x in report.measurements},
        "ratios": report.ratios(),
        "naive_ratios": report.naive_ratios(),
        "diagnostics": report.diagnostics,
        "members": {x.key: {**asdict(x), "rate": x.rate} for x in report.members},
        "isolation": report.isolation(),
        "member_runs": report.member_runs,
        "member_notes": report.member_notes,
        "lanes": {x.key: {**asdict(x), "rate": x.rate} for x in report.lanes},
        "lane_ratios": report.lane_ratios(),
        "lane_notes": report.lane_notes,
        "aeo": {x.key: {**asdict(x), "rate": x.rate} for x in report.aeo},
        "concurrency": {x.key: {**asdict(x), "rate": x.rate, "bound": report.concurrency_bounds.get(x.key),
                                "ratio": report.bound_ratios().get(x.key)} for x in report.concurrency},
        "concurrency_notes": report.concurrency_notes,
        "scaleout": {x.key: {**asdict(x), "rate": x.rate} for x in report.scaleout},
        "scale_ratio": report.scale_ratio(),
        "scaleout_runs": report.scaleout_runs,
        "scaleout_notes": report.scaleout_notes,
    }


def write_json(report: Report, path: Path) -> Path:
    """Write the report as JSON; return the path.

    Args:
        report: a finished (or partial) run.
        path: the file; its folder is created.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(to_json(report), indent=2, ensure_ascii=False) + "\n")
    return path
