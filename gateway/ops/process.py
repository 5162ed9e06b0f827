"""Run gateway processes (gateway, delivery workers, simulators) as children and wait until they are ready.

Used by the demo, the integration tests and the benchmark, so each runs the real command an operator runs.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path
from types import TracebackType
from typing import ClassVar

from gateway.errors import GatewayError

__all__ = ["ChildProcess", "GatewayProcess"]


class ChildProcess:
    """``python -m gateway ARGS...`` in a child process, with its output in a log file.

    Args:
        args: the ``oco-gateway`` arguments (``["simulate", "asycuda", ...]``).
        ready_url: a URL that answers 200 once the child is ready.
        log_path: where the child's output goes.
        env: environment variables on top of this process's.
    """

    failure: ClassVar[type[GatewayError]] = GatewayError
    """What :meth:`start` raises when the child exits or does not become ready."""

    def __init__(self, args: list[str], *, ready_url: str, log_path: Path, env: dict[str, str] | None = None) -> None:
        self.args = args
        self.ready_url = ready_url
        self.log_path = log_path
        self._env = {**os.environ, **(env or {})}
        self._process: subprocess.Popen[bytes] | None = None

    @property
    def name(self) -> str:
        """A short label for messages."""
        return " ".join(self.args[:3])

    @property
    def pid(self) -> int | None:
        """The child's process id, once started."""
        return self._process.pid if self._process is not None else None

    def start(self, timeout: float = 60.0) -> None:
        """Start the child and wait until ``ready_url`` answers 200.

        Args:
            timeout: seconds to wait for readiness.

        Raises:
            GatewayError: it exited or did not become ready (:attr:`failure`); the message holds the end of its log.
        """
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        with self.log_path.open("ab") as log:
            self._process = subprocess.Popen([sys.executable, "-m", "gateway", *self.args], stdout=log,
                                             stderr=subprocess.STDOUT, env=self._env, start_new_session=True)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self._process.poll() is not None:
                raise self.failure(f"`oco-gateway {self.name}` exited with code {self._process.returncode}:\n"
                                   f"{self.log_tail()}")
            if self.ready():
                return
            time.sleep(0.2)
        self.kill()
        raise self.failure(f"`oco-gateway {self.name}` was not ready after {timeout:g}s:\n{self.log_tail()}")

    def ready(self) -> bool:
        """Tell whether ``ready_url`` answers 200."""
        try:
            with urllib.request.urlopen(self.ready_url, timeout=2) as resp:
                return bool(resp.status == 200)
        except (urllib.error.URLError, OSError):
            return False

    def stop(self, timeout: float = 30.0) -> int | None:
        """Stop gracefully (SIGTERM), then SIGKILL after ``timeout``; return the exit code."""
        if self._process is None or self._process.poll() is not None:
            return self._process.returncode if self._process else None
        self._process.send_signal(signal.SIGTERM)
        try:
            return self._process.wait(timeout)
        except subprocess.TimeoutExpired:
            return self.kill()

    def kill(self) -> int | None:
        """Kill at once (SIGKILL), as a crash would; return the exit code."""
        if self._process is None:
            return None
        if self._process.poll() is None:
            self._process.kill()
        return self._process.wait()

    def log_tail(self, lines: int = 30) -> str:
        """Return the last lines of the child's output."""
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return "(no log)"

    def __enter__(self) -> ChildProcess:
        self.start()
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.stop()


class GatewayProcess(ChildProcess):
    """``oco-gateway run`` (or ``deliver``) with its Kafka address and metrics port set.

    Args:
        config: network configuration file.
        bootstrap_servers: Kafka address (overrides the file).
        metrics_port: port for /metrics and /readyz.
        log_path: where the child's output goes.
        env: extra environment variables.
        command: ``run`` (the gateway) or ``deliver`` (the delivery workers), with extra arguments.
    """

    def __init__(self, config: Path, *, bootstrap_servers: str, metrics_port: int, log_path: Path,
                 env: dict[str, str] | None = None, command: tuple[str, ...] = ("run",)) -> None:
        self.config = config
        self.metrics_port = metrics_port
        args = [*command, "--config", str(config)]
        if command[0] == "deliver":
            args += ["--metrics-port", str(metrics_port)]
        super().__init__(args, ready_url=f"http://127.0.0.1:{metrics_port}/readyz", log_path=log_path, env={
            "OCO_KAFKA__BOOTSTRAP_SERVERS": bootstrap_servers, "OCO_METRICS__PORT": str(metrics_port),
            "OCO_METRICS__HOST": "127.0.0.1", "OCO_LOG_FORMAT": "json", **(env or {})})

    def metrics_text(self) -> str:
        """Return the current ``/metrics`` exposition text."""
        with urllib.request.urlopen(f"http://127.0.0.1:{self.metrics_port}/metrics", timeout=5) as resp:
            return str(resp.read().decode())
