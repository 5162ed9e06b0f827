"""The AsyncAPI contract: generated from the code, complete, valid AsyncAPI 3.0, exported and served without a CDN."""

from __future__ import annotations

import inspect
import json
import re
from pathlib import Path
from typing import Any

import httpx
import jsonschema
import pytest
import yaml
from click.testing import CliRunner

from gateway import headers as h
from gateway import topics
from gateway.cli import main
from gateway.cli.asyncapi_cmd import document_for
from gateway.config import load_settings
from gateway.contract.channels import CHANNELS, MESSAGES
from gateway.contract.document import EXPORT_COMMAND, render
from gateway.contract.headers import FASTSTREAM_HEADERS, HEADERS
from gateway.contract.viewer import STATIC, asyncapi_routes, viewer_page
from gateway.transport.dlq import REPLAYED_FROM

ROOT = Path(__file__).resolve().parents[2]
EXPORTED = ROOT / "docs" / "asyncapi.yaml"
SCHEMA = ROOT / "tests" / "data" / "asyncapi" / "3.0.0.json"


@pytest.fixture(scope="module")
def reference() -> dict[str, Any]:
    """The reference document, as `oco-gateway asyncapi` builds it."""
    return document_for()


@pytest.fixture(scope="module")
def network() -> dict[str, Any]:
    """The document of the demo network (config/network.yaml)."""
    return document_for(load_settings(ROOT / "config" / "network.yaml"))


def _errors(document: dict[str, Any]) -> list[str]:
    validator = jsonschema.Draft7Validator(json.loads(SCHEMA.read_text()))
    return [f"{'/'.join(map(str, e.absolute_path))}: {e.message[:200]}" for e in validator.iter_errors(document)]


class TestExport:
    def test_docs_asyncapi_yaml_is_up_to_date(self, reference: dict[str, Any]) -> None:
        """docs/asyncapi.yaml is exactly what the code generates today."""
        expected = render(reference)
        current = EXPORTED.read_text(encoding="utf-8") if EXPORTED.exists() else ""
        assert current == expected, f"docs/asyncapi.yaml is stale: run `{EXPORT_COMMAND}` and commit it"

    def test_output_is_deterministic(self, reference: dict[str, Any]) -> None:
        """Two exports give the same bytes."""
        assert render(document_for()) == render(reference)

    def test_reference_does_not_depend_on_the_environment(self, monkeypatch: pytest.MonkeyPatch) -> None:
        """OCO_* variables do not leak into the reference document."""
        monkeypatch.setenv("OCO_KAFKA__BOOTSTRAP_SERVERS", "elsewhere:9092")
        monkeypatch.setenv("OCO_KAFKA__GROUP_ID", "other-group")
        text = render(document_for())
        assert "elsewhere" not in text and "other-group" not in text


class TestValidity:
    def test_reference_is_valid_asyncapi_3(self, reference: dict[str, Any]) -> None:
        """The exported document validates against the AsyncAPI 3.0.0 JSON Schema."""
        assert reference["asyncapi"] == "3.0.0"
        assert _errors(reference) == []

    def test_network_document_is_valid_asyncapi_3(self, network: dict[str, Any]) -> None:
        """A network's document (what a gateway serves) validates too."""
        assert _errors(network) == []

    def test_the_schema_catches_a_broken_document(self, reference: dict[str, Any]) -> None:
        """The vendored schema really checks the nested objects (bindings, operations)."""
        broken = json.loads(json.dumps(reference))
        broken["operations"]["sendDelivery"]["action"] = "push"
        broken["channels"]["aeo"]["bindings"]["kafka"]["topicConfiguration"]["cleanup.policy"] = ["never"]
        assert len(_errors(broken)) >= 2


class TestGeneratedByFastStream:
    def test_submit_subscriber_is_folded_into_one_parameterised_channel(self, network: dict[str, Any]) -> None:
        """FastStream's per-participant submit channels become oco.submit.{participant}, listing the participants."""
        addresses = [c["address"] for c in network["channels"].values()]
        assert [a for a in addresses if a.startswith("oco.submit.")] == ["oco.submit.{participant}"]
        participants = network["components"]["parameters"]["participant"]["enum"]
        assert participants == sorted(load_settings(ROOT / "config" / "network.yaml").participants)
        assert network["operations"]["receiveSubmission"]["action"] == "receive"
        group = network["operations"]["receiveSubmission"]["bindings"]["kafka"]["groupId"]
        assert group["enum"] == ["oco-gateway"]

    def test_server_and_security_come_from_the_broker(self, reference: dict[str, Any]) -> None:
        """The server and its SCRAM security scheme are FastStream's, from the broker's settings."""
        server = reference["servers"]["kafka"]
        assert server["protocol"] == "kafka-secure" and server["host"] == "{bootstrap_servers}"
        assert reference["components"]["securitySchemes"] == {"scram256": {"type": "scramSha256"}}
        assert "reference" not in json.dumps(reference["servers"])  # the placeholder password is never published


class TestCompleteness:
    def test_every_topic_of_gateway_topics_is_a_channel(self, reference: dict[str, Any]) -> None:
        """Each topic-naming function of gateway.topics (and the dead-letter topic) has its channel."""
        addresses = {c["address"] for c in reference["channels"].values()}
        for name in topics.__all__:
            value = getattr(topics, name)
            if name in ("participant_of", "topic_configs"):  # not names of topics
                continue
            if isinstance(value, str):
                assert value in addresses, name
                continue
            params = list(inspect.signature(value).parameters)
            address = value(*(f"{{{'member' if p == 'recipient' else p}}}" for p in params))
            assert address in addresses, f"gateway.topics.{name} ({address}) has no channel in gateway/contract"

    def test_every_header_constant_is_documented(self) -> None:
        """Every header of gateway/headers.py has a meaning in gateway/contract/headers.py."""
        missing = [name for name in h.__all__ if getattr(h, name) not in HEADERS]
        assert missing == [], f"document {missing} in gateway/contract/headers.py (HEADERS) and the messages carrying it"

    def test_every_documented_header_is_on_some_message(self) -> None:
        """Every documented header is carried by at least one message, and messages carry only documented ones."""
        carried = {name for m in MESSAGES for name in (*m.required, *m.optional)}
        assert set(HEADERS) == carried
        assert REPLAYED_FROM in carried

    def test_messages_list_their_headers_keys_and_xsds(self, reference: dict[str, Any]) -> None:
        """Each message has a headers schema, a Kafka key binding, and an XML payload naming existing XSDs."""
        messages = reference["components"]["messages"]
        assert set(messages) == {m.name for m in MESSAGES}
        for name, message in messages.items():
            assert message["headers"]["type"] == "object", name
            assert message["bindings"]["kafka"]["key"]["type"] == "string", name
            if message["contentType"] == "application/xml":
                assert message["payload"]["schemaFormat"] == "application/xml"
                for xsd in message["payload"]["schema"]["x-xsd"]:
                    assert (ROOT / xsd).is_file(), xsd
        assert set(FASTSTREAM_HEADERS) <= set(messages["delivery"]["headers"]["properties"])
        assert "oco-lane" in messages["priorityDelivery"]["headers"]["required"]

    def test_compacted_and_parameterised_channels(self, reference: dict[str, Any]) -> None:
        """AEO topics are compacted, and every {variable} of an address is a declared parameter."""
        channels = reference["channels"]
        assert channels["aeoDetails"]["address"] == "oco.aeo.{issuer}.to.{member}"
        assert channels["aeo"]["bindings"]["kafka"]["topicConfiguration"]["cleanup.policy"] == ["compact"]
        for name, channel in channels.items():
            variables = set(re.findall(r"{(\w+)}", channel["address"]))
            assert variables == set(channel.get("parameters", {})), name
        assert {c.name for c in CHANNELS} == set(channels)


class TestViewer:
    def test_page_names_no_outside_url(self, reference: dict[str, Any]) -> None:
        """The viewer page loads its script and styles from the gateway itself: no http(s):// URL at all."""
        page = viewer_page(reference)
        assert re.search(r"https?://", page) is None
        assets = re.findall(r'(?:src|href)="([^"]+)"', page)
        assert "asyncapi/static/asyncapi-react.js" in assets and "asyncapi/static/asyncapi-react.css" in assets

    def test_page_cannot_be_closed_early_by_the_document(self) -> None:
        """A '</script>' inside the document does not end the page's script."""
        page = viewer_page({"info": {"title": "t", "description": "</script><script>alert(1)</script>"}})
        assert page.count("</script>") == 2

    async def test_routes_serve_the_page_the_document_and_the_packaged_files(self, reference: dict[str, Any]) -> None:
        """/asyncapi, /asyncapi.yaml and every packaged viewer file answer 200 with their content type."""
        from faststream.asgi import AsgiFastStream

        app = AsgiFastStream(asgi_routes=asyncapi_routes(lambda: reference), logger=None)
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://gw") as client:
            page = await client.get("/asyncapi")
            assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
            doc = await client.get("/asyncapi.yaml")
            assert yaml.safe_load(doc.text) == reference
            for path, (_name, content_type) in STATIC.items():
                served = await client.get(path)
                assert served.status_code == 200 and served.headers["content-type"] == content_type, path
                assert len(served.content) > 1000, path


class TestCommand:
    def test_prints_the_reference_document(self) -> None:
        """`oco-gateway asyncapi` prints exactly docs/asyncapi.yaml."""
        result = CliRunner().invoke(main, ["asyncapi"])
        assert result.exit_code == 0, result.output
        assert result.output == EXPORTED.read_text(encoding="utf-8")

    def test_config_lists_that_network_and_output_writes_a_file(self, tmp_path: Path) -> None:
        """--config describes that network (its members); --output writes the file instead of printing."""
        out = tmp_path / "asyncapi.yaml"
        result = CliRunner().invoke(main, ["asyncapi", "--config", str(ROOT / "config" / "network.yaml"),
                                           "--output", str(out)])
        assert result.exit_code == 0 and result.output == ""
        members = yaml.safe_load(out.read_text())["components"]["parameters"]["member"]["enum"]
        assert members == sorted(load_settings(ROOT / "config" / "network.yaml").members)

    def test_bad_config_exits_2_with_one_line(self, tmp_path: Path) -> None:
        """A configuration the gateway could not run with is refused the same way `run` refuses it."""
        bad = tmp_path / "network.yaml"
        bad.write_text("participants: {p1: {name: P}}\nmembers: {FJ: {name: Fiji, submitters: [ghost]}}\n")
        result = CliRunner().invoke(main, ["asyncapi", "--config", str(bad)])
        assert result.exit_code == 2 and "ghost" in result.output and "Traceback" not in result.output
