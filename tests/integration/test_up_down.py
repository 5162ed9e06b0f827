"""`oco-gateway up` leaves the local network running (a submission gets its national answer after `up`
returned), and `down` stops every process it started, then Kafka."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from gateway.ops.broker import free_ports

pytestmark = [pytest.mark.kafka, pytest.mark.slow]

ROOT = Path(__file__).resolve().parents[2]


def oco(*args: str, env: dict[str, str], timeout: float = 300) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "gateway", *args], capture_output=True, text=True, env=env,
                          timeout=timeout, cwd=ROOT)


def alive(pid: int) -> bool:
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[-1].split()[0] != "Z"
    except OSError:
        return False


class TestUpDown:
    def test_up_leaves_the_network_running_and_down_stops_it(self, tmp_path: Path) -> None:
        port, controller, sim = free_ports(3)
        env = {**os.environ, "OCO_BROKER_STATE": str(tmp_path / "kafka")}
        started = oco("broker", "start", "--port", str(port), "--controller-port", str(controller), env=env)
        assert started.returncode == 0, started.stderr
        config, simulators = tmp_path / "network.yaml", tmp_path / "simulators.yaml"
        config.write_text(yaml.safe_dump({
            "kafka": {"bootstrap_servers": f"127.0.0.1:{port}", "group_id": "gw-up"},
            "participants": {"fj-post": {"name": "Post Fiji", "acts_for": ["FJ*"]}},
            "members": {"FJ": {"name": "Fiji", "submitters": ["fj-post"],
                               "adapter": {"name": "asycuda", "settings": {"url": f"http://127.0.0.1:{sim}"}}}},
        }))
        simulators.write_text(yaml.safe_dump({"simulators": [{
            "name": "ASYCUDA World (Fiji)", "args": ["simulate", "asycuda", "--member", "FJ", "--port", str(sim)],
            "ready": f"http://127.0.0.1:{sim}/health"}]}))
        try:
            up = oco("up", "--config", str(config), "--simulators", str(simulators), env=env)
            assert up.returncode == 0, up.stderr + up.stdout
            assert "oco-gateway down" in up.stdout and "Traceback" not in up.stderr
            running = json.loads((tmp_path / "demo" / "running.json").read_text())["processes"]
            assert len(running) == 3 and all(alive(p["pid"]) for p in running)

            again = oco("up", "--config", str(config), "--simulators", str(simulators), env=env)
            assert again.returncode != 0 and "already up" in again.stderr

            submit_env = {**env, "OCO_KAFKA__SECRETS_DIR": str(tmp_path / "secrets")}
            submitted = oco("submit", "examples/fj-import.xml", "--as", "fj-post", "--config", str(config), "--final",
                            "--timeout", "120", env=submit_env)
            assert submitted.returncode == 0, submitted.stdout + submitted.stderr
            assert "accepted" in submitted.stdout.lower()
        finally:
            down = oco("down", env=env)
        assert down.returncode == 0, down.stderr
        assert "stopped Kafka" in down.stdout
        assert not [p for p in running if alive(p["pid"])]
        assert not (tmp_path / "demo" / "running.json").exists()
