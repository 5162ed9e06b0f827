"""Benchmark results: percentile and ratio arithmetic, the printed table and the JSON file."""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from bench.corpus import SizeSummary

__all__ = ["Latency", "Measurement", "Report", "percentile", "ratio", "render", "to_json", "write_json"]


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
    """

    command: str
    machine: dict[str, Any]
    corpus: SizeSummary
    measurements: list[Measurement] = field(default_factory=list)
    diagnostics: dict[str, str] = field(default_factory=dict)

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


def render(report: Report) -> str:
    """Return the report as the table ``make bench`` prints.

    Args:
        report: a finished (or partial) run.
    """
    c, m = report.corpus, report.machine
    lines = [
        f"oco-gateway benchmark: {m.get('cpus')} CPUs, Python {m.get('python')}, Kafka {m.get('kafka')}",
        f"command: {report.command}",
        f"corpus: {c.count} declarations, {c.min_items}-{c.max_items} goods items, "
        f"{c.min_kb:.1f} / {c.median_kb:.1f} / {c.max_kb:.1f} KB (min / median / max), {c.total_mb:.1f} MB in all",
        "",
        f"{'measurement':<46}{'decl/s':>9}{'p50 ms':>9}{'p99 ms':>9}{'max ms':>9}  {'n':>6}{'seconds':>9}",
        "-" * 98,
    ]
    for x in report.measurements:
        lat = x.latency
        cells = (f"{lat.p50_ms:>9.2f}{lat.p99_ms:>9.2f}{lat.max_ms:>9.2f}" if lat else f"{'':>27}")
        lines.append(f"{x.label:<46}{x.rate:>9.1f}{cells}  {x.count:>6}{x.seconds:>9.2f}")
    lines += ["", "ratios (end-to-end throughput ÷ baseline throughput):"]
    for name, value in report.ratios().items():
        lines.append(f"  {name:<24}" + (f"{value:>7.3f}  ({value:.1%})" if value is not None else "    n/a"))
    notes = [(x.label, x.note) for x in report.measurements if x.note]
    if notes:
        lines += ["", "how each figure was taken:"]
        lines += [f"  {label}: {note}" for label, note in notes]
    if report.diagnostics:
        lines += ["", "diagnostics:"]
        lines += [f"  {label}: {text}" for label, text in report.diagnostics.items()]
    return "\n".join(lines)


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
        "diagnostics": report.diagnostics,
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
