"""The local network a newcomer runs: Kafka (secured), the national simulators, the gateway and the delivery
workers, each process as its own identity. ``demo`` starts it, submits and stops it; ``up`` leaves it running
and records what it started, so ``down`` can stop it from another shell."""

from __future__ import annotations

import json
import os
import signal
import time
from dataclasses import dataclass
from pathlib import Path

import click
import yaml

from gateway.access.identities import DELIVERY, GATEWAY
from gateway.access.local import LocalAccess
from gateway.config import GatewaySettings
from gateway.ops.broker import LocalBroker, free_ports
from gateway.ops.process import ChildProcess, GatewayProcess

__all__ = ["LocalNetwork", "RUNNING_FILE", "stop_recorded"]

RUNNING_FILE = "running.json"  # in the demo's state dir: what `up` left running


@dataclass
class LocalNetwork:
    """Start the local network's parts, in order; the caller stops the processes (or records them).

    Args:
        config_path: the network file.
        simulators_path: the simulators to start (config/demo.yaml).
        settings: the network file, loaded.
        extra_env: environment for the gateway and the delivery workers on top of their identity's.
    """

    config_path: Path
    simulators_path: Path
    settings: GatewaySettings
    extra_env: dict[str, str]

    def __post_init__(self) -> None:
        self.broker = LocalBroker(insecure=False)
        self.state = self.broker.state_dir.parent / "demo"
        self.access: LocalAccess | None = None
        self.processes: list[ChildProcess] = []
        self.gateway_port = self.delivery_port = 0

    def start_kafka(self) -> LocalAccess:
        """Start the broker and provision the network (topics, identities, ACLs); return its access."""
        click.echo(f"starting Kafka ({self.broker.bootstrap_servers}, secured, state in {self.broker.state_dir}) ...")
        self.broker.start()
        self.access = LocalAccess(self.broker, self.broker.state_dir.parent / "secrets")
        click.echo(f"provisioning topics, identities and ACLs (passwords in {self.access.secrets.path}) ...")
        report = self.access.provision(self.settings, prune=True)
        click.echo(f"  {len(report.pending)} change(s) applied; {len(report.generated)} password(s) generated")
        return self.access

    def processes_to_start(self) -> list[tuple[str, ChildProcess]]:
        """The simulators, the gateway and the delivery workers, not started, each with a label."""
        assert self.access is not None, "start_kafka first"
        found: list[tuple[str, ChildProcess]] = []
        for sim in yaml.safe_load(self.simulators_path.read_text())["simulators"]:
            found.append((sim["name"], ChildProcess([str(a) for a in sim["args"]], ready_url=sim["ready"],
                                                    log_path=self.state / f"{sim['args'][1]}-{sim['args'][3]}.log")))
        self.gateway_port, self.delivery_port = free_ports(2)
        for name, command, port, identity in (("the gateway", ("run",), self.gateway_port, GATEWAY),
                                              ("the delivery workers", ("deliver",), self.delivery_port, DELIVERY)):
            found.append((f"{name} (as {identity})", GatewayProcess(
                self.config_path, bootstrap_servers=self.broker.bootstrap_servers, metrics_port=port,
                log_path=self.state / f"{command[0]}.log", command=command,
                env={**self.extra_env, **self.access.env(identity)})))
        return found

    def record(self) -> Path:
        """Write what was started (pids, logs, ports) for ``down``; return the file."""
        path = self.state / RUNNING_FILE
        path.write_text(json.dumps({
            "processes": [{"name": p.name, "pid": p.pid, "log": str(p.log_path)} for p in self.processes],
            "gateway_port": self.gateway_port, "delivery_port": self.delivery_port,
            "broker_state": str(self.broker.state_dir)}, indent=2))
        return path


def stop_recorded(state: Path, timeout: float = 30.0) -> list[str]:
    """Stop the processes ``up`` recorded (SIGTERM, then SIGKILL after ``timeout``); return what was stopped.

    Only processes still running an ``oco-gateway`` command are signalled: a pid reused by another program
    after a reboot is left alone.
    """
    path = state / RUNNING_FILE
    if not path.exists():
        return []
    stopped = []
    recorded = json.loads(path.read_text())["processes"]
    alive = [p for p in recorded if p.get("pid") and _is_ours(int(p["pid"]))]
    for p in alive:
        os.kill(int(p["pid"]), signal.SIGTERM)
    deadline = time.monotonic() + timeout
    for p in alive:
        while _is_ours(int(p["pid"])) and time.monotonic() < deadline:
            time.sleep(0.2)
        if _is_ours(int(p["pid"])):
            os.kill(int(p["pid"]), signal.SIGKILL)
        stopped.append(p["name"])
    path.unlink()
    return stopped


def _is_ours(pid: int) -> bool:
    try:
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    zombie = stat.rsplit(")", 1)[-1].split()[0] == "Z"
    return not zombie and b"gateway" in cmdline and b"-m" in cmdline
