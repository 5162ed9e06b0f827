"""``oco-gateway submit`` against the real broker and a running gateway, as a member system's operator uses it."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from gateway.ops.process import GatewayProcess
from gateway.samples import make_declaration

pytestmark = [pytest.mark.kafka]


def run_submit(network, participant: str, *files: Path) -> subprocess.CompletedProcess[str]:
    # As an operator at the participant's site: the passwords folder is known, --as picks the identity.
    env = {k: v for k, v in os.environ.items() if not k.startswith("OCO_KAFKA__")}
    return subprocess.run(
        [sys.executable, "-m", "gateway", "submit", *map(str, files), "--as", participant,
         "--config", str(network.path), "--timeout", "60"],
        capture_output=True, text=True, timeout=120,
        env={**env, "OCO_KAFKA__SECRETS_DIR": str(network.access.secrets.path)})


class TestSubmitCommand:
    def test_valid_file_prints_received_and_exits_zero(self, network, running_gateway: GatewayProcess,
                                                        tmp_path: Path) -> None:
        """A valid declaration is answered 'received' with its LRN, and the command exits 0."""
        path = tmp_path / "good.xml"
        path.write_bytes(make_declaration(member="FJ", lrn="CLI-GOOD-1", items=2, seed=11))
        result = run_submit(network, network.fiji, path)
        assert result.returncode == 0, result.stderr
        assert f"{path}: received lrn=CLI-GOOD-1" in result.stdout

    def test_rejected_file_prints_reasons_and_exits_one(self, network, running_gateway: GatewayProcess,
                                                        tmp_path: Path) -> None:
        """A declaration for a member the participant may not serve is printed as rejected with the reason."""
        good = tmp_path / "good.xml"
        good.write_bytes(make_declaration(member="FJ", lrn="CLI-GOOD-2", items=1, seed=12))
        other = tmp_path / "other.xml"
        other.write_bytes(make_declaration(member="NZ", lrn="CLI-NZ", items=1, seed=13))
        result = run_submit(network, network.fiji, good, other)
        assert result.returncode == 1
        assert f"{good}: received" in result.stdout
        assert f"{other}: rejected lrn=CLI-NZ" in result.stdout
        assert "OCO-NOT-AUTHORISED" in result.stdout

    def test_unknown_participant_is_explained(self, network, running_gateway: GatewayProcess, tmp_path: Path) -> None:
        """Submitting as a participant the network does not know fails with a message, not a traceback."""
        path = tmp_path / "x.xml"
        path.write_bytes(b"<x/>")
        result = run_submit(network, "nobody-here", path)
        assert result.returncode != 0
        assert "Traceback" not in result.stderr
        assert "nobody-here" in result.stderr
