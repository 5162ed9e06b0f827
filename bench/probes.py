"""Where the time goes: CPU seconds of the gateway, broker and benchmark processes, and the gateway's own metrics."""

from __future__ import annotations

import os
import time
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from prometheus_client.parser import text_string_to_metric_families

from gateway.ops.process import GatewayProcess

__all__ = ["CpuSnapshot", "DeliveryCounters", "GatewayCounters", "Probe", "Reading", "child_pids", "cpu_seconds",
           "describe_cores", "describe_interval", "machine_seconds"]

_TICKS = os.sysconf("SC_CLK_TCK")


def cpu_seconds(pid: int) -> float | None:
    """Return user + system CPU seconds a process used so far (all its threads), or None if it is gone.

    Args:
        pid: process id (Linux /proc).
    """
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    fields = stat[stat.rindex(")") + 2:].split()  # the command name may hold spaces: cut after it
    return (int(fields[11]) + int(fields[12])) / _TICKS  # utime, stime: fields 14 and 15 of stat(5)


def machine_seconds(stat: str | None = None) -> tuple[float, float] | None:
    """Return the CPU seconds the whole machine spent busy (all processes, ours or not) and stolen by the
    hypervisor, summed over its cores, or None without /proc/stat.

    Args:
        stat: the text of /proc/stat; read from /proc by default.
    """
    try:
        text = stat if stat is not None else Path("/proc/stat").read_text()
    except OSError:
        return None
    fields = [int(f) for f in text.splitlines()[0].split()[1:]]
    user, nice, system, _idle, _iowait, irq, softirq, steal = (fields + [0] * 8)[:8]
    return (user + nice + system + irq + softirq) / _TICKS, steal / _TICKS


def child_pids(needle: str) -> list[int]:
    """Return the pids of this process's children whose command line contains ``needle``.

    Args:
        needle: e.g. ``gateway`` for ``python -m gateway run``.
    """
    me, found = os.getpid(), []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
            cmdline = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
        except OSError:
            continue
        if int(stat[stat.rindex(")") + 2:].split()[1]) == me and needle in cmdline:
            found.append(int(entry.name))
    return found


@dataclass(frozen=True, slots=True)
class CpuSnapshot:
    """CPU seconds of named processes at one instant (``bench`` is this process)."""

    wall: float
    cpu: Mapping[str, float]
    machine: tuple[float, float] | None = None  # busy and stolen seconds of the whole machine

    @classmethod
    def take(cls, pids: Mapping[str, int]) -> CpuSnapshot:
        """Read the CPU seconds of the given processes and of this one.

        Args:
            pids: name -> pid.
        """
        times = os.times()
        cpu = {"bench": times.user + times.system}
        for name, pid in pids.items():
            used = cpu_seconds(pid)
            if used is not None:
                cpu[name] = used
        return cls(time.perf_counter(), cpu, machine_seconds())

    def cores_since(self, earlier: CpuSnapshot) -> dict[str, float]:
        """Return each process's average CPU use between two snapshots, in cores (1.0 = one core busy).

        Args:
            earlier: the snapshot at the start of the interval.
        """
        wall = self.wall - earlier.wall
        return {name: (used - earlier.cpu[name]) / wall for name, used in self.cpu.items()
                if name in earlier.cpu and wall > 0}

    def machine_since(self, earlier: CpuSnapshot) -> tuple[float, float] | None:
        """Return the whole machine's busy and stolen cores between two snapshots, if known.

        Args:
            earlier: the snapshot at the start of the interval.
        """
        wall = self.wall - earlier.wall
        if self.machine is None or earlier.machine is None or wall <= 0:
            return None
        return ((self.machine[0] - earlier.machine[0]) / wall, (self.machine[1] - earlier.machine[1]) / wall)


@dataclass(frozen=True, slots=True)
class GatewayCounters:
    """Cumulative figures from the gateway's ``/metrics``: messages, pipeline seconds, batches, in-gateway latency."""

    messages: float
    processing_seconds: float
    batches: float
    batch_seconds: float
    in_gateway_seconds: float  # sum over messages of input record timestamp -> outputs acknowledged

    @classmethod
    def parse(cls, text: str) -> GatewayCounters:
        """Read the counters from Prometheus exposition text.

        Args:
            text: what ``/metrics`` returned.
        """
        samples: dict[str, float] = {}
        for family in text_string_to_metric_families(text):
            for s in family.samples:
                samples[s.name] = samples.get(s.name, 0.0) + s.value  # summed over labels
        return cls(messages=samples.get("oco_gateway_messages_total", 0.0),
                   processing_seconds=samples.get("oco_gateway_processing_seconds_sum", 0.0),
                   batches=samples.get("oco_gateway_batch_seconds_count", 0.0),
                   batch_seconds=samples.get("oco_gateway_batch_seconds_sum", 0.0),
                   in_gateway_seconds=samples.get("oco_gateway_end_to_end_seconds_sum", 0.0))

    def since(self, earlier: GatewayCounters) -> GatewayCounters:
        """Return the increase since an earlier reading.

        Args:
            earlier: the reading at the start of the interval.
        """
        return GatewayCounters(self.messages - earlier.messages, self.processing_seconds - earlier.processing_seconds,
                               self.batches - earlier.batches, self.batch_seconds - earlier.batch_seconds,
                               self.in_gateway_seconds - earlier.in_gateway_seconds)

    def describe(self) -> str:
        """One line: messages, batches, mean batch size, pipeline share of batch time, in-gateway latency."""
        if not self.messages or not self.batches or not self.batch_seconds:
            return f"{self.messages:.0f} messages in {self.batches:.0f} batches"
        return (f"{self.messages:.0f} messages in {self.batches:.0f} batches (mean {self.messages / self.batches:.0f}"
                f"/batch, {self.batch_seconds / self.batches * 1000:.0f} ms/batch incl. publish + acks); pipeline "
                f"{self.processing_seconds / self.messages * 1000:.2f} ms/message = "
                f"{self.processing_seconds / self.batch_seconds:.0%} of batch time; input record timestamp -> "
                f"outputs acked: mean {self.in_gateway_seconds / self.messages * 1000:.0f} ms")


@dataclass(frozen=True, slots=True)
class DeliveryCounters:
    """One member's cumulative figures from the delivery workers' ``/metrics``.

    Attributes:
        records: decisions timed (every outcome but "held").
        seconds: the time they took, national calls included.
        outcomes: outcome (accepted, rejected, retry, failed, held) -> records.
    """

    records: float
    seconds: float
    outcomes: Mapping[str, float]

    @classmethod
    def parse(cls, text: str) -> dict[str, DeliveryCounters]:
        """Read every member's counters from Prometheus exposition text.

        Args:
            text: what the delivery workers' ``/metrics`` returned.
        """
        records: dict[str, float] = {}
        seconds: dict[str, float] = {}
        outcomes: dict[str, dict[str, float]] = {}
        for family in text_string_to_metric_families(text):
            for s in family.samples:
                member = s.labels.get("member")
                if member is None:
                    continue
                if s.name == "oco_gateway_delivery_seconds_count":
                    records[member] = s.value
                elif s.name == "oco_gateway_delivery_seconds_sum":
                    seconds[member] = s.value
                elif s.name == "oco_gateway_delivery_outcomes_total":
                    outcomes.setdefault(member, {})[s.labels["outcome"]] = s.value
        return {m: cls(records.get(m, 0.0), seconds.get(m, 0.0), outcomes.get(m, {}))
                for m in sorted(records.keys() | outcomes.keys())}

    def since(self, earlier: DeliveryCounters | None) -> DeliveryCounters:
        """Return the increase since an earlier reading (None: since the start).

        Args:
            earlier: the reading at the start of the interval.
        """
        if earlier is None:
            return self
        return DeliveryCounters(self.records - earlier.records, self.seconds - earlier.seconds,
                                {k: v - earlier.outcomes.get(k, 0.0) for k, v in self.outcomes.items()})


@dataclass(frozen=True, slots=True)
class Reading:
    """CPU seconds and gateway counters at one instant."""

    cpu: CpuSnapshot
    counters: GatewayCounters | None


class Probe:
    """Reads CPU use of the gateway, broker and benchmark processes, and the gateway's metrics.

    Args:
        gateway: the gateway under test (its ``/metrics``; its pid is found among this process's children).
        broker_pid: the broker's java process, if known.
    """

    def __init__(self, gateway: GatewayProcess, broker_pid: int | None) -> None:
        self._gateway = gateway
        self._pids = {"broker": broker_pid} if broker_pid else {}

    def read(self, messages_at_least: float = 0.0, wait: float = 5.0) -> Reading:
        """Return the current reading (CPU first: it is the time-sensitive part).

        Args:
            messages_at_least: wait (up to ``wait`` s) for the gateway's message counter to reach this:
                it counts a batch only after its outputs were acknowledged, which a reply reader may see first.
            wait: seconds to wait for the counter.
        """
        if "gateway" not in self._pids:
            found = child_pids("-m gateway run")
            if found:
                self._pids["gateway"] = found[0]
        cpu = CpuSnapshot.take(self._pids)
        deadline = time.monotonic() + wait
        while True:
            try:
                counters = GatewayCounters.parse(self._gateway.metrics_text())
            except OSError:
                return Reading(cpu, None)  # the figures are diagnostics: a failed scrape must not fail the run
            if counters.messages >= messages_at_least or time.monotonic() > deadline:
                return Reading(cpu, counters)
            time.sleep(0.05)


def describe_cores(start: CpuSnapshot, end: CpuSnapshot) -> str:
    """Return CPU use per process over an interval, in cores, busiest first; then the whole machine's.

    The machine's figure counts every process, ours or not: well above our total means other work on the
    machine competed for the cores; "stolen" is time the hypervisor gave to other virtual machines.

    Args:
        start: snapshot at the start.
        end: snapshot at the end.
    """
    cores = end.cores_since(start)
    text = (", ".join(f"{name} {used:.2f}" for name, used in sorted(cores.items(), key=lambda kv: -kv[1]))
            + f", total {sum(cores.values()):.2f}")
    machine = end.machine_since(start)
    if machine is not None:
        text += f"; whole machine {machine[0]:.2f} busy, {machine[1]:.2f} stolen"
    return text


def describe_interval(start: Reading, end: Reading, cpus: int) -> dict[str, str]:
    """Return diagnostics lines for an interval: CPU use per process, and the gateway's batches.

    Args:
        start: reading at the start.
        end: reading at the end.
        cpus: cores of the machine, to put the CPU use in proportion.
    """
    lines = {f"CPU, in cores busy (of {cpus})": describe_cores(start.cpu, end.cpu)}
    if start.counters is not None and end.counters is not None:
        lines["gateway /metrics"] = end.counters.since(start.counters).describe()
    return lines
