"""The AsyncAPI 3 document of the network: FastStream's generator for what the broker declares, completed from tables.

FastStream sees the submit subscriber (one channel per participant: folded here into ``oco.submit.{participant}``,
keeping its receive operation and Kafka binding version), the server and its security scheme. What the gateway
publishes with ``broker.publish``, the delivery workers' and the trusted-trader topics are not FastStream
publishers: they come from :mod:`gateway.contract.channels` and :mod:`gateway.contract.headers`. Any other
channel FastStream generates (a publisher declared one day) is kept as generated.
"""

from __future__ import annotations

import json
from typing import Any

import yaml
from faststream.specification import AsyncAPI
from pydantic_settings import BaseSettings, PydanticBaseSettingsSource

from gateway import __version__
from gateway.config import GatewaySettings
from gateway.contract.channels import (CHANNELS, KEYS, MESSAGES, OPERATIONS, PARAMETERS, PAYLOADS, Channel, Message,
                                      Operation)
from gateway.contract.headers import FASTSTREAM_HEADERS, HEADERS, HeaderDoc
from gateway.topics import participant_of

__all__ = ["EXPORT_COMMAND", "build_document", "reference_settings", "render"]

EXPORT_COMMAND = "oco-gateway asyncapi --output docs/asyncapi.yaml"
_DESCRIPTION = (
    "Kafka contract of the Pacific customs network (OCO): the topics member systems, brokers and traders write "
    "and read, their keys, headers and payloads. Payloads are XML documents of the WCO Data Model, checked "
    "against the XSDs of the schema profile their namespace selects (schemas/ in the repository). See "
    "docs/operations.md (Topics and access control) and docs/architecture.md.")


class _Reference(GatewaySettings):
    """Settings from the arguments only: the reference document must not depend on the environment."""

    @classmethod
    def settings_customise_sources(cls, settings_cls: type[BaseSettings], init_settings: PydanticBaseSettingsSource,
                                   **sources: PydanticBaseSettingsSource) -> tuple[PydanticBaseSettingsSource, ...]:
        return (init_settings,)


def reference_settings() -> GatewaySettings:
    """Return the network the reference document (``docs/asyncapi.yaml``) is generated from: one participant, a
    production connection (SASL_SSL, SCRAM-SHA-256) to a placeholder address, defaults elsewhere."""
    return _Reference(
        environment="production",
        kafka={"bootstrap_servers": "{bootstrap_servers}", "security_protocol": "SASL_SSL", "username": "oco-gateway",
               "password": "reference"},  # never published: FastStream's spec names only the mechanism
        participants={"participant": {"name": "any participant", "acts_for": ["*"]}})


def build_document(brokers: list[Any], settings: GatewaySettings, *, reference: bool = False) -> dict[str, Any]:
    """Return the AsyncAPI 3.0.0 document of a gateway, as plain data (insertion-ordered: rendering is stable).

    Args:
        brokers: the gateway's FastStream brokers (``app.brokers``), whose subscribers FastStream describes.
        settings: the network: its participants, members and issuers become the parameters' values.
        reference: describe the network in general (no list of participants, members or issuers; the server
            address a variable) rather than this one.
    """
    generated = AsyncAPI(*brokers, title="OCO gateway", version=__version__, description=_DESCRIPTION,
                         schema_version="3.0.0").to_specification().to_jsonable()
    submit = {name for name, ch in generated.get("channels", {}).items() if _is_submit(ch.get("address", ""))}
    binding = next((generated["channels"][n].get("bindings", {}).get("kafka", {}).get("bindingVersion")
                    for n in sorted(submit)), None) or "0.4.0"
    folded = {name for name, op in generated.get("operations", {}).items()
              if op["channel"]["$ref"].removeprefix("#/channels/") in submit}
    actions = {generated["operations"][n]["action"] for n in folded}
    components = generated.get("components", {})
    doc: dict[str, Any] = {"asyncapi": generated["asyncapi"], "info": generated["info"],
                           "defaultContentType": "application/xml"}
    doc["servers"] = _servers(generated.get("servers", {}), reference)
    channels = {c.name: _channel(c, binding, settings, reference) for c in CHANNELS}
    channels.update({n: ch for n, ch in generated.get("channels", {}).items() if n not in submit})
    doc["channels"] = channels
    operations = {o.name: _operation(o, binding, settings, reference, actions) for o in OPERATIONS}
    operations.update({n: op for n, op in generated.get("operations", {}).items() if n not in folded})
    doc["operations"] = operations
    kept_messages = {n: m for n, m in components.get("messages", {}).items() if not _folded_message(n, submit)}
    doc["components"] = {
        "parameters": {name: _parameter(name, text, settings, reference) for name, text in PARAMETERS.items()},
        "messages": {m.name: _message(m, binding) for m in MESSAGES} | kept_messages,
    }
    used_schemas = json.dumps([kept_messages, channels, operations])  # the generated schemas still referenced
    schemas = {n: s for n, s in components.get("schemas", {}).items() if f"#/components/schemas/{n}" in used_schemas}
    if schemas:
        doc["components"]["schemas"] = schemas
    if "securitySchemes" in components:
        doc["components"]["securitySchemes"] = components["securitySchemes"]
    return doc


def render(document: dict[str, Any]) -> str:
    """Return the document as YAML, the same bytes for the same document.

    Args:
        document: as from :func:`build_document`.
    """
    head = f"# Generated by `{EXPORT_COMMAND}` from the code (gateway/contract/): do not edit by hand.\n"
    return head + yaml.safe_dump(document, sort_keys=False, allow_unicode=True, width=110, default_flow_style=False)


def _is_submit(address: str) -> bool:
    try:
        participant_of(address)
    except ValueError:
        return False
    return True


def _folded_message(name: str, submit: set[str]) -> bool:
    return any(name.startswith(f"{channel}:") for channel in submit)


def _servers(generated: dict[str, Any], reference: bool) -> dict[str, Any]:
    servers = {}
    for name, server in generated.items():
        server = dict(server)
        if not server.get("pathname"):
            server.pop("pathname", None)
        server["description"] = ("The network's Kafka cluster: SASL/SCRAM over TLS in production, one identity "
                                 "per process, broker ACLs per topic (`oco-gateway provision`).")
        if reference:
            server["variables"] = {"bootstrap_servers": {
                "description": "kafka.bootstrap_servers of the network file (OCO_KAFKA__BOOTSTRAP_SERVERS)",
                "examples": ["kafka-0.oco.example:9093,kafka-1.oco.example:9093"]}}
        servers["kafka" if name == "development" else name] = server
    return servers


def _parameter(name: str, text: str, settings: GatewaySettings, reference: bool) -> dict[str, Any]:
    values = {"participant": settings.participants, "member": settings.members,
              "issuer": settings.aeo_issuers}[name]
    parameter: dict[str, Any] = {"description": text}
    if not reference:
        parameter["enum"] = sorted(values)
    return parameter


def _channel(channel: Channel, binding: str, settings: GatewaySettings, reference: bool) -> dict[str, Any]:
    params = [p for p in PARAMETERS if f"{{{p}}}" in channel.address]
    config: dict[str, Any] = {"max.message.bytes": settings.gateway.max_message_bytes + 64 * 1024}
    if channel.compacted:
        config["cleanup.policy"] = ["compact"]
    kafka: dict[str, Any] = {} if params else {"topic": channel.address}
    if not reference:
        kafka["partitions"] = settings.kafka.partitions
        kafka["replicas"] = settings.kafka.replication_factor
    kafka.update({"topicConfiguration": config, "bindingVersion": binding})
    out: dict[str, Any] = {"address": channel.address, "title": channel.title, "description": channel.description,
                           "messages": {m: {"$ref": f"#/components/messages/{m}"} for m in channel.messages}}
    if params:
        out["parameters"] = {p: {"$ref": f"#/components/parameters/{p}"} for p in params}
    out["bindings"] = {"kafka": kafka}
    return out


def _operation(operation: Operation, binding: str, settings: GatewaySettings, reference: bool,
               actions: set[str]) -> dict[str, Any]:
    action = operation.action
    if operation.name == "receiveSubmission" and actions:  # FastStream's subscriber says what it does
        (action,) = actions
    channel = next(c for c in CHANNELS if c.name == operation.channel)
    out: dict[str, Any] = {"action": action, "channel": {"$ref": f"#/channels/{channel.name}"},
                           "summary": operation.summary,
                           "messages": [{"$ref": f"#/channels/{channel.name}/messages/{m}"} for m in channel.messages]}
    if operation.group:
        group: dict[str, Any] = {"type": "string", "description": f"consumer group {operation.group}"}
        if operation.group == "{kafka.group_id}" and not reference:
            group["enum"] = [settings.kafka.group_id]
        out["bindings"] = {"kafka": {"groupId": group, "bindingVersion": binding}}
    return out


def _message(message: Message, binding: str) -> dict[str, Any]:
    payload = PAYLOADS[message.payload]
    names = list(dict.fromkeys((*message.required, *message.optional)))
    props = {name: _header(HEADERS[name]) for name in names}
    if message.faststream:
        props.update({name: _header(doc) for name, doc in FASTSTREAM_HEADERS.items()})
    headers: dict[str, Any] = {"type": "object", "properties": props}
    if message.required:
        headers["required"] = list(message.required)
    key_text, key_example = KEYS[message.key]
    description = payload.description
    if payload.xsd:
        description += "\n\nXML schemas: " + ", ".join(f"`{x}`" for x in payload.xsd) + f"; root `{payload.root}`."
    out: dict[str, Any] = {"name": message.name, "title": message.title, "summary": message.summary,
                           "description": description, "contentType": "application/xml" if payload.xsd
                           else "application/octet-stream", "headers": headers}
    if payload.xsd:
        out["payload"] = {"schemaFormat": "application/xml", "schema": {"x-xsd": list(payload.xsd),
                                                                        "x-root-element": payload.root}}
    else:
        out["payload"] = {"type": "string", "format": "binary", "description": payload.description}
    out["bindings"] = {"kafka": {"key": {"type": "string", "description": key_text, "examples": [key_example]},
                                 "bindingVersion": binding}}
    if message.required:
        out["examples"] = [{"name": f"{message.name}-headers", "summary": "The headers it always carries",
                            "headers": {name: HEADERS[name].example for name in message.required}}]
    return out


def _header(doc: HeaderDoc) -> dict[str, Any]:
    schema: dict[str, Any] = {"type": "string", "description": doc.description}
    if doc.values:
        schema["enum"] = list(doc.values)
    schema["examples"] = [doc.example]
    return schema
