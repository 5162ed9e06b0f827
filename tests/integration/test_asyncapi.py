"""The running gateway serves its Kafka contract: the AsyncAPI viewer at /asyncapi and the document at /asyncapi.yaml."""

from __future__ import annotations

import re
import urllib.request

import pytest
import yaml

from gateway.ops.process import GatewayProcess
from tests.integration.conftest import Network

pytestmark = pytest.mark.kafka


def _get(gateway: GatewayProcess, path: str) -> tuple[str, bytes]:
    with urllib.request.urlopen(f"http://127.0.0.1:{gateway.metrics_port}{path}", timeout=10) as resp:
        return resp.headers["content-type"], resp.read()


class TestServedContract:
    def test_document_lists_this_network(self, running_gateway: GatewayProcess, network: Network) -> None:
        """/asyncapi.yaml is the AsyncAPI 3 document of this gateway: its participants and its server."""
        content_type, body = _get(running_gateway, "/asyncapi.yaml")
        assert content_type.startswith("application/yaml")
        document = yaml.safe_load(body)
        assert document["asyncapi"] == "3.0.0"
        participants = document["components"]["parameters"]["participant"]["enum"]
        assert {network.fiji, network.samoa, network.kiwi} <= set(participants)
        assert document["components"]["parameters"]["member"]["enum"] == ["FJ", "NZ", "WS"]
        assert document["servers"]["kafka"]["host"] == network.bootstrap
        assert document["channels"]["submit"]["address"] == "oco.submit.{participant}"

    def test_viewer_and_its_files_come_from_the_gateway(self, running_gateway: GatewayProcess) -> None:
        """/asyncapi names no outside URL, and every file it loads is served by the gateway itself."""
        content_type, body = _get(running_gateway, "/asyncapi")
        page = body.decode()
        assert content_type.startswith("text/html") and re.search(r"https?://", page) is None
        for asset in re.findall(r'(?:src|href)="([^"]+)"', page):
            _type, served = _get(running_gateway, "/" + asset)
            assert len(served) > 1000 or asset == "asyncapi.yaml", asset
