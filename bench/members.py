"""Arithmetic of the per-member delivery phase: registered per second and latency per member, runs pooled, the
slow member's share sized, and what bounds a member that is delivered to one record at a time (the isolation
ratios themselves are ``Report.isolation``). No Kafka, no processes: tested directly."""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

from bench.report import Latency

__all__ = ["MemberFigures", "OneAtATime", "Pooled", "Sent", "member_figures", "one_at_a_time", "outlasted", "pooled",
           "slow_share"]


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


def slow_share(fast_count: int, fast_rate: float, slow_delay: float, margin: float = 1.5, minimum: int = 10) -> int:
    """Return how many declarations keep the slow member busy through the fast members' whole run, with margin.

    The fast members need ``fast_count / fast_rate`` seconds; the slow member takes about ``slow_delay`` plus
    a fast member's time per record for each of its own. Sending it no more than that keeps the run short:
    what it still has queued after the fast members are done measures nothing.

    Args:
        fast_count: declarations per fast member.
        fast_rate: a fast member's registered per second, measured in the run before.
        slow_delay: the seconds the slow member's national system adds to each answer.
        margin: how much longer than the fast members the slow one should be busy.
        minimum: the smallest share.
    """
    if fast_rate <= 0:
        return max(minimum, fast_count)
    window = fast_count / fast_rate
    per_record = slow_delay + 1 / fast_rate
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
class OneAtATime:
    """A member's delivery loop takes one record at a time: its rate is 1 ÷ the time per record.

    Attributes:
        handle_ms: mean time to decide about one record, the national call included (the worker's
            ``oco_gateway_delivery_seconds``).
        ceiling: 1 ÷ that: the rate if nothing else took time.
        per_record_ms: 1 ÷ the measured rate: the whole time per record.
        rest_ms: per record, the time not spent deciding: publishing the reply, committing the offset,
            fetching, and waiting for the event loop the members share.
    """

    handle_ms: float
    ceiling: float
    per_record_ms: float
    rest_ms: float

    @property
    def share(self) -> float:
        """The part of each record's time spent deciding about it."""
        return self.handle_ms / self.per_record_ms if self.per_record_ms > 0 else 0.0


def one_at_a_time(rate: float, records: float, handle_seconds: float) -> OneAtATime | None:
    """Split a member's time per record into the decision (national call) and the rest.

    Args:
        rate: measured registrations per second.
        records: records the worker decided about in the interval.
        handle_seconds: the total time those decisions took.

    Returns:
        None when there is nothing to divide by.
    """
    if rate <= 0 or records <= 0 or handle_seconds <= 0:
        return None
    handle = handle_seconds / records
    per_record = 1 / rate
    return OneAtATime(handle_ms=handle * 1000, ceiling=1 / handle, per_record_ms=per_record * 1000,
                      rest_ms=(per_record - handle) * 1000)
