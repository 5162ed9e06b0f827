"""The scale-out phase's figures: the order of the runs, the timed window, pooling, CPU per declaration, notes."""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass

from bench.corpus import Declaration, relabel
from bench.report import SCALE, Measurement

__all__ = ["ScaleRun", "cpu_ceiling", "cycle", "describe_run", "pool", "run_order", "scale_notes", "window"]


@dataclass(frozen=True, slots=True)
class ScaleRun:
    """One run: ``processes`` gateways in one fresh group drained the backlog; ``count`` of it in the timed window.

    Attributes:
        processes: gateway processes in the group.
        count: declarations first answered in the timed window.
        seconds: the timed window: the last process's ``/readyz`` → the last reply.
        backlog: declarations in the backlog (each answered at least once).
        ready_gap: seconds between the first and the last process's ``/readyz``.
        head_start: declarations answered before the window (by the first process, alone).
        handled: per process, messages it answered, by participant (its ``oco_gateway_messages_total``).
        cpu: CPU seconds in the window, per process (``gateway 1``..., ``broker``, ``bench``).
        machine: the whole machine's busy CPU seconds in the window (every process, ours or not), if known.
        cpu_wall: wall seconds over which ``cpu`` and ``machine`` were read (the window, give or take a poll).
        duplicates: replies seen twice (a batch consumed again after a rebalance).
    """

    processes: int
    count: int
    seconds: float
    backlog: int
    ready_gap: float
    head_start: int
    handled: tuple[Mapping[str, float], ...]
    cpu: Mapping[str, float]
    machine: float | None
    duplicates: int
    cpu_wall: float = 0.0

    @property
    def rate(self) -> float:
        """Declarations per second in the window."""
        return self.count / self.seconds if self.seconds > 0 else 0.0

    def gateway_cpu(self) -> float:
        """Return the CPU seconds of the run's gateway processes together."""
        return sum(v for k, v in self.cpu.items() if k.startswith("gateway"))


def window(arrivals: Sequence[float], readies: Sequence[float]) -> tuple[int, float, int]:
    """Return the declarations first answered from the last ``/readyz`` on, the seconds from it to the last reply,
    and how many came before it.

    Args:
        arrivals: when each declaration's first reply arrived (``perf_counter``).
        readies: when each process first answered ``/readyz``.

    Raises:
        ValueError: no arrivals or no readies.
    """
    if not arrivals or not readies:
        raise ValueError("a window needs replies and processes")
    start = max(readies)
    inside = sum(a >= start for a in arrivals)
    return inside, max(max(arrivals) - start, 0.0), len(arrivals) - inside


def run_order(rounds: int, processes: int = 2) -> list[int]:
    """Return the process count of each run: one, then ``processes`` and one again, ``rounds`` times.

    Args:
        rounds: scaled-out runs (at least 1).
        processes: processes in a scaled-out run.
    """
    if rounds < 1:
        raise ValueError(f"rounds must be at least 1, not {rounds}")
    return [1] + [processes, 1] * rounds


def pool(runs: Sequence[ScaleRun], processes: int) -> Measurement:
    """Add up the runs with ``processes`` processes: all their declarations ÷ the sum of their times.

    Args:
        runs: every run of the phase; those with another process count are left out.
        processes: which runs to pool.

    Raises:
        ValueError: no run with that many processes.
    """
    mine = [r for r in runs if r.processes == processes]
    if not mine:
        raise ValueError(f"no run with {processes} processes")
    runs_label = f"{len(mine)} run{'s' * (len(mine) > 1)}"
    label = f"{processes} gateway process{'es, one group' if processes > 1 else ''} ({runs_label})"
    note = ("the same backlog each run, read by a fresh consumer group from its first offsets; timed from /readyz "
            "to the last reply on oco.reply.*" if processes == 1 else
            "started at once; timed from the later /readyz (both members assigned) to the last reply, counting "
            "the declarations answered in that window; the first process's head start is left out (diagnostics)")
    return Measurement(f"{SCALE}{processes}", label, sum(r.count for r in mine), sum(r.seconds for r in mine),
                       note=note)


def cpu_ceiling(runs: Sequence[ScaleRun], cores: int) -> tuple[float, float] | None:
    """Return the CPU our processes (gateways, broker, benchmark) spent per declaration in ms, and the decl/s the
    cores could give at that cost if nothing else ran and nothing waited: ``cores`` ÷ CPU seconds per declaration.

    Args:
        runs: the runs to pool (one process count).
        cores: CPUs of the machine.
    """
    count = sum(r.count for r in runs)
    used = sum(sum(r.cpu.values()) for r in runs)
    if not count or used <= 0:
        return None
    per = used / count
    return per * 1000, cores / per


def describe_run(run: ScaleRun, cores: int) -> str:
    """Return one diagnostics line for a run: its rate, start-up, how the work split, and the CPU it took.

    Args:
        run: a finished run.
        cores: CPUs of the machine.
    """
    split = "; ".join(
        f"gateway {i + 1} answered {sum(h.values()):.0f} ("
        + ", ".join(f"{p.removeprefix('bench-')} {n:.0f}" for p, n in sorted(h.items()) if n) + ")"
        for i, h in enumerate(run.handled))
    cpu = ", ".join(f"{name} {used:.2f}" for name, used in sorted(run.cpu.items(), key=lambda kv: -kv[1]))
    per = f" (gateways {run.gateway_cpu() / run.count * 1000:.2f} ms per declaration)" if run.count else ""
    busy = (f"; whole machine {run.machine:.2f} CPU s = {run.machine / run.cpu_wall:.2f} of {cores} cores busy"
            if run.machine is not None and run.cpu_wall > 0 else "")
    return (f"{run.rate:.1f} decl/s, {run.count} in {run.seconds:.2f} s; "
            + (f"readies {run.ready_gap:.2f} s apart, {run.head_start} answered before the later one; "
               if run.processes > 1 else "")
            + f"{split} (whole run, from /metrics); duplicate replies {run.duplicates}; "
            f"CPU s in the window: {cpu}{per}{busy}")


def cycle(corpus: Sequence[Declaration], count: int) -> Iterator[Declaration]:
    """Yield ``count`` declarations: the corpus over and over, each under an LRN of its own (``SCALE-n``).

    Args:
        corpus: at least one declaration.
        count: how many.
    """
    for i in range(count):
        yield relabel(corpus[i % len(corpus)], f"SCALE-{i:07d}")


def scale_notes(runs: Sequence[ScaleRun], processes: int, cores: int) -> list[str]:
    """Return how to read the phase's figures: what the cores allow at the CPU each declaration took, how busy the
    machine was (other work on it flagged), and runs too short to say anything.

    Args:
        runs: every run of the phase.
        processes: processes in a scaled-out run.
        cores: CPUs of the machine.
    """
    notes = [f"{cores} CPUs for everything: the broker, the gateway processes and this benchmark share them, so "
             "the ratio is how the gateway scales out on this machine, not with a machine per replica."]
    for label, n in (("one process", 1), (f"{processes} processes", processes)):
        group = [r for r in runs if r.processes == n]
        ceiling = cpu_ceiling(group, cores)
        if ceiling is None:
            continue
        line = (f"{label}: {ceiling[0]:.2f} ms of CPU per declaration (gateways, broker and benchmark); {cores} "
                f"cores give at most {ceiling[1]:.0f} decl/s at that cost")
        timed = [r for r in group if r.machine is not None and r.cpu_wall > 0]
        wall = sum(r.cpu_wall for r in timed)
        if wall > 0:
            ours = sum(sum(r.cpu.values()) for r in timed) / wall
            busy = sum(r.machine or 0.0 for r in timed) / wall
            line += (f"; cores busy on average: ours {ours:.2f}, the whole machine {busy:.2f} of {cores}"
                     + (f" (other work took {busy - ours:.2f}: not a clean measurement)"
                        if busy - ours > 0.1 * cores else ""))
        notes.append(line)
    short = [r for r in runs if r.count < r.backlog / 4]
    if short:
        notes.append(f"{len(short)} run(s) timed less than a quarter of the backlog (the first process drained the "
                     "rest alone before the second was assigned its share): raise --scale-backlog")
    return notes
