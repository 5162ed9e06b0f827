"""Run the gateway as a child process (for the demo, the crash test and the benchmark) and wait until ready."""

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

from gateway.errors import GatewayError

__all__ = ["GatewayProcess"]


class GatewayProcess:
    """``oco-gateway run`` in a child process, with its log in a file.

    Args:
        config: network configuration file.
        bootstrap_servers: Kafka address (overrides the file).
        metrics_port: port for /metrics and /readyz (overrides the file).
        log_path: where the child's output goes.
        env: extra environment variables.
    """

    def __init__(self, config: Path, *, bootstrap_servers: str, metrics_port: int, log_path: Path,
                 env: dict[str, str] | None = None) -> None:
        self.config = config
        self.metrics_port = metrics_port
        self.log_path = log_path
        self._env = {**os.environ, "OCO_KAFKA__BOOTSTRAP_SERVERS": bootstrap_servers,
                     "OCO_METRICS__PORT": str(metrics_port), "OCO_METRICS__HOST": "127.0.0.1",
                     "OCO_LOG_FORMAT": "json", **(env or {})}
        self._process: subprocess.Popen[bytes] | None = None

    def start(self, timeout: float = 60.0) -> None:
        """Start the gateway and wait until ``/readyz`` answers 200.

        Args:
            timeout: seconds to wait for readiness.

        Raises:
            GatewayError: it exited or did not become ready; the message holds the end of its log.
        """
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        log = self.log_path.open("ab")
        self._process = subprocess.Popen(
            [sys.executable, "-m", "gateway", "run", "--config", str(self.config)],
            stdout=log, stderr=subprocess.STDOUT, env=self._env, start_new_session=True)
        log.close()
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self._process.poll() is not None:
                raise GatewayError(f"the gateway exited with code {self._process.returncode}:\n{self.log_tail()}")
            if self.ready():
                return
            time.sleep(0.2)
        self.kill()
        raise GatewayError(f"the gateway was not ready after {timeout:g}s:\n{self.log_tail()}")

    def ready(self) -> bool:
        """Tell whether ``/readyz`` answers 200."""
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{self.metrics_port}/readyz", timeout=2) as resp:
                return bool(resp.status == 200)
        except (urllib.error.URLError, OSError):
            return False

    def metrics_text(self) -> str:
        """Return the current ``/metrics`` exposition text."""
        with urllib.request.urlopen(f"http://127.0.0.1:{self.metrics_port}/metrics", timeout=5) as resp:
            return str(resp.read().decode())

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

    def __enter__(self) -> GatewayProcess:
        self.start()
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.stop()
