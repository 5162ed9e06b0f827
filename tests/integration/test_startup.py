"""Start-up failures an operator meets first: they get one clear line and a non-zero exit, not a traceback."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]


def oco(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    import os

    return subprocess.run([sys.executable, "-m", "gateway", *args], capture_output=True, text=True, timeout=90,
                          env={**os.environ, **(env or {})})


class TestStartup:
    @pytest.mark.parametrize("command", [["run"], ["deliver", "--metrics-port", "0"]])
    def test_unreachable_kafka_is_one_clear_line(self, command: list[str], tmp_path: Path) -> None:
        """With Kafka unreachable, run and deliver exit 1 naming the address and the setting to check."""
        config = tmp_path / "network.yaml"
        config.write_text("participants: {p1: {name: P}}\n"
                          "members: {FJ: {name: Fiji, submitters: [p1],\n"
                          "               adapter: {name: asycuda, settings: {url: 'http://127.0.0.1:9'}}}}\n")
        result = oco(*command, "--config", str(config), env={"OCO_KAFKA__BOOTSTRAP_SERVERS": "127.0.0.1:1"})
        assert result.returncode == 1
        assert "cannot reach Kafka at 127.0.0.1:1" in result.stderr
        assert "OCO_KAFKA__BOOTSTRAP_SERVERS" in result.stderr
        assert "Traceback" not in result.stderr

    def test_bad_configuration_exits_2_naming_the_key(self, tmp_path: Path) -> None:
        """A configuration mistake stops the gateway with exit code 2 and the key at fault."""
        bad = tmp_path / "network.yaml"
        bad.write_text("participants: {p1: {name: P}}\nmembers: {FJ: {name: Fiji, submitters: [ghost]}}\n")
        result = oco("run", "--config", str(bad))
        assert result.returncode == 2
        assert "members.FJ.submitters names ghost" in result.stderr

    def test_unknown_adapter_lists_the_installed_ones(self, tmp_path: Path) -> None:
        """A member naming an adapter that is not installed stops delivery, listing the installed adapters."""
        bad = tmp_path / "network.yaml"
        bad.write_text("participants: {p1: {name: P}}\n"
                       "members: {FJ: {name: Fiji, submitters: [p1], adapter: {name: asycuda-v9}}}\n")
        result = oco("deliver", "--config", str(bad))
        assert result.returncode == 2
        assert "no adapter named 'asycuda-v9'" in result.stderr and "asycuda, kafka, wco-xml" in result.stderr
