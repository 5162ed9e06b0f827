"""The Prometheus files pass the real promtool: rule syntax, the rule unit tests, the config, the k8s copy.

And the metrics the gateway and the delivery workers expose pass promtool's linter.
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
PROMETHEUS = ROOT / "docker" / "prometheus"

INSTALL_HINT = (
    "promtool is not on PATH. It comes with the Debian package `prometheus`: run `make tools`, or "
    "`apt-get update && apt-get install -y --no-install-recommends prometheus`. "
    "This test never skips: an untested alert is found out during an outage."
)


def _promtool(*args: str, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
    exe = shutil.which("promtool")
    if exe is None:
        pytest.fail(INSTALL_HINT, pytrace=False)
    return subprocess.run([exe, *args], cwd=ROOT, capture_output=True, text=True, timeout=120, check=False,
                          input=stdin)


def _assert_ok(result: subprocess.CompletedProcess[str]) -> None:
    assert result.returncode == 0, f"{' '.join(result.args)} failed:\n{result.stdout}{result.stderr}"


class TestPromtool:
    def test_rules_file_is_valid(self) -> None:
        """`promtool check rules` accepts docker/prometheus/rules.yml."""
        _assert_ok(_promtool("check", "rules", "docker/prometheus/rules.yml"))

    def test_rule_unit_tests_pass(self) -> None:
        """Every case in rules_test.yml passes: each alert fires where it should and stays quiet elsewhere."""
        _assert_ok(_promtool("test", "rules", "docker/prometheus/rules_test.yml"))

    def test_prometheus_config_is_valid(self) -> None:
        """`promtool check config` accepts the compose Prometheus config and the rule files it loads."""
        _assert_ok(_promtool("check", "config", "docker/prometheus/prometheus.yml"))

    def test_kubernetes_prometheusrule_is_valid(self, tmp_path: Path) -> None:
        """The groups in k8s/base/prometheusrule.yaml pass `promtool check rules` on their own."""
        manifest = yaml.safe_load((ROOT / "k8s" / "base" / "prometheusrule.yaml").read_text(encoding="utf-8"))
        rules = tmp_path / "prometheusrule.rules.yml"
        rules.write_text(yaml.safe_dump(manifest["spec"]), encoding="utf-8")
        _assert_ok(_promtool("check", "rules", str(rules)))

    def test_exported_metrics_pass_the_linter(self) -> None:
        """`promtool check metrics` finds nothing to say about the gateway's and the delivery workers' /metrics."""
        from prometheus_client import generate_latest

        from gateway.ops.metrics import DeliveryMetrics, GatewayMetrics

        gateway, delivery = GatewayMetrics(), DeliveryMetrics()
        # Labelled series appear only once used: give each a value, as a running process would.
        gateway.messages.labels("fj-broker-a", "received").inc()
        gateway.rejections.labels("validate", "SCHEMAV_ELEMENT_CONTENT").inc()
        gateway.deliveries.labels("FJ").inc()
        gateway.stage.labels("parse").observe(0.001)
        for outcome in ("accepted", "rejected", "retry", "failed", "held"):
            delivery.deliveries.labels("FJ", outcome).inc()
        delivery.call.labels("FJ").observe(0.2)
        delivery.steps.labels("FJ", "national_call").observe(0.2)
        delivery.breaker.labels("FJ").set(2)
        delivery.up.labels("FJ").set(1)
        for metrics in (gateway, delivery):  # one exposition each: both carry the process series
            result = _promtool("check", "metrics", stdin=generate_latest(metrics.registry).decode())
            _assert_ok(result)
            assert not result.stdout.strip() and not result.stderr.strip(), result.stdout + result.stderr
