"""Arithmetic of the delivery phases: registered per second and latency per member, runs pooled, the slow
member's share sized, the time per record read with Little's law, and the latency-bound run's bound, backlog
and calls in flight (the isolation ratios themselves are ``Report.isolation``). No Kafka, no processes: tested
directly."""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from typing import Any
from dataclasses import dataclass

from bench.report import Latency

__all__ = ["MemberFigures", "Pooled", "Sent", "TimePerRecord", "backlog_for", "latency_bound", "member_figures",
           "outlasted", "peak_in_flight", "pooled", "slow_share", "time_per_record"]


@dataclass(frozen=True, slots=True)
class Sent:
    """One submitted declaration: its member and when the benchmark sent it (``perf_counter``)."""

    member: str
    at: float


@dataclass(frozen=True, slots=True)
class MemberFigures:
    """One member's share of a burst: ``count`` declarations from the first submit to the last registration.

    Attributes:
        member: the member code.
        count: its declarations in the burst.
        first_sent: when the first of them was sent.
        last_registered: when the last "accepted" reply arrived.
        samples: submit → "accepted" reply per declaration, in seconds.
        first_ms: that of the member's first registration: nothing of its member's was handled before it.
    """

    member: str
    count: int
    first_sent: float
    last_registered: float
    samples: tuple[float, ...]
    first_ms: float

    @property
    def seconds(self) -> float:
        """From the member's first submit to its last registration."""
        return self.last_registered - self.first_sent

    @property
    def rate(self) -> float:
        """Declarations registered per second."""
        return self.count / self.seconds if self.seconds > 0 else 0.0


def member_figures(sent: Mapping[str, Sent], registered: Mapping[str, float]) -> dict[str, MemberFigures]:
    """Group a burst by member: registered per second and submit → registration latency.

    Args:
        sent: tracking id -> what was sent and when.
        registered: tracking id -> arrival of its "accepted" reply (same clock).

    Raises:
        ValueError: nothing was sent, or a declaration has no registration (the caller waits for all first).
    """
    if not sent:
        raise ValueError("no declarations were sent")
    missing = sent.keys() - registered.keys()
    if missing:
        raise ValueError(f"{len(missing)} declarations have no registration")
    by_member: dict[str, list[str]] = {}
    for tid, s in sent.items():
        by_member.setdefault(s.member, []).append(tid)
    figures = {}
    for member, tids in sorted(by_member.items()):
        first = min(tids, key=lambda t: registered[t])
        figures[member] = MemberFigures(
            member=member, count=len(tids), first_sent=min(sent[t].at for t in tids),
            last_registered=max(registered[t] for t in tids),
            samples=tuple(registered[t] - sent[t].at for t in tids),
            first_ms=(registered[first] - sent[first].at) * 1000)
    return figures


@dataclass(frozen=True, slots=True)
class Pooled:
    """Several runs of one member under one condition, added up: declarations over the sum of the runs' times.

    Attributes:
        count: declarations in all the runs.
        seconds: the runs' times (first submit to last registration), summed; the gaps between runs excluded.
        latency: every declaration's submit → registration.
        rates: each run's registered per second, in order.
    """

    count: int
    seconds: float
    latency: Latency
    rates: tuple[float, ...]


def pooled(runs: Sequence[MemberFigures]) -> Pooled:
    """Add up a member's runs under one condition.

    Args:
        runs: at least one run.

    Raises:
        ValueError: no runs.
    """
    if not runs:
        raise ValueError("nothing to pool")
    return Pooled(count=sum(r.count for r in runs), seconds=sum(r.seconds for r in runs),
                  latency=Latency.of([s for r in runs for s in r.samples]), rates=tuple(r.rate for r in runs))


def slow_share(fast_count: int, fast_rate: float, slow_delay: float, margin: float = 1.5, minimum: int = 10,
               concurrency: int = 1) -> int:
    """Return how many declarations keep the slow member busy through the fast members' whole run, with margin.

    The fast members need ``fast_count / fast_rate`` seconds; the slow member, with ``concurrency`` calls in
    flight, takes about ``slow_delay / concurrency`` plus a fast member's time per record for each of its own.
    Sending it no more than that keeps the run short: what it still has queued after the fast members are done
    measures nothing.

    Args:
        fast_count: declarations per fast member.
        fast_rate: a fast member's registered per second, measured in the run before.
        slow_delay: the seconds the slow member's national system adds to each answer.
        margin: how much longer than the fast members the slow one should be busy.
        minimum: the smallest share.
        concurrency: the slow member's national calls in flight at most (``members.<M>.delivery.concurrency``).
    """
    if fast_rate <= 0:
        return max(minimum, fast_count)
    window = fast_count / fast_rate
    per_record = slow_delay / max(1, concurrency) + 1 / fast_rate
    return max(minimum, math.ceil(margin * window / per_record))


def outlasted(slow: MemberFigures, fast: Iterable[MemberFigures]) -> float:
    """Return how many seconds the slow member's last registration came after the fast members' last.

    Positive: it still had work during the whole of theirs, as the comparison requires; negative: it ran dry
    first, and the fast members spent the rest of their run without it.

    Args:
        slow: the slow member's figures.
        fast: the fast members' figures, of the same burst.
    """
    return slow.last_registered - max(f.last_registered for f in fast)


@dataclass(frozen=True, slots=True)
class TimePerRecord:
    """A member's delivery time per record, read with Little's law: decisions under way = rate × time per decision.

    Attributes:
        handle_ms: mean time to decide about one record, the national call included (the worker's
            ``oco_gateway_delivery_seconds``: mapping, the call, reading the answer).
        rate: registered per second over the same interval.
    """

    handle_ms: float
    rate: float

    @property
    def under_way(self) -> float:
        """Decisions under way at once, on average: 1 at most one record at a time, up to the concurrency."""
        return self.rate * self.handle_ms / 1000


def time_per_record(rate: float, records: float, handle_seconds: float) -> TimePerRecord | None:
    """Return a member's mean time deciding about a record, beside its rate.

    Args:
        rate: measured registrations per second.
        records: records the worker decided about in the interval.
        handle_seconds: the total time those decisions took (they overlap when several are in flight).

    Returns:
        None when there is nothing to divide by.
    """
    if rate <= 0 or records <= 0 or handle_seconds <= 0:
        return None
    return TimePerRecord(handle_ms=handle_seconds / records * 1000, rate=rate)


def latency_bound(concurrency: int, latency: float, rate_limit: float) -> float:
    """Return the registered/s a member cannot pass: ``concurrency`` calls in flight, each ``latency`` long, and
    its rate limit.

    Args:
        concurrency: national calls in flight at most (``members.<M>.delivery.concurrency``).
        latency: seconds the national system takes to answer.
        rate_limit: ``members.<M>.delivery.rate_per_second``.

    Raises:
        ValueError: concurrency below 1, or a negative latency or rate limit.
    """
    if concurrency < 1 or latency < 0 or rate_limit <= 0:
        raise ValueError(f"need concurrency >= 1, latency >= 0, rate limit > 0; got {concurrency}, {latency}, "
                         f"{rate_limit}")
    return min(concurrency / latency, rate_limit) if latency > 0 else rate_limit


def backlog_for(bound: float, seconds: float, minimum: int = 10) -> int:
    """Return how many declarations keep a member busy ``seconds`` at its bound.

    Args:
        bound: the member's registered/s bound (:func:`latency_bound`).
        seconds: how long a run should last at that rate.
        minimum: the smallest backlog.
    """
    return max(minimum, math.ceil(bound * seconds))


def peak_in_flight(calls: Iterable[Mapping[str, Any]]) -> int:
    """Return the most calls a national system was answering at once, from its call log.

    Args:
        calls: ``GET /control/calls`` entries: ``started`` and ``ended`` numbered in one sequence of events;
            ``ended`` None (still in flight) counts as after every other event.
    """
    events = []
    for call in calls:
        events.append((call["started"], 1))
        events.append((call["ended"] if call["ended"] is not None else math.inf, -1))
    level = peak = 0
    for _, step in sorted(events):
        level += step
        peak = max(peak, level)
    return peak
