"""The ``kafka`` adapter's settings, checked once at start-up with messages that name the key."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from adapters.kafka_topic.protocol import default_reply_topic, default_request_topic
from gateway.adapter_api import ConfigError

__all__ = ["KafkaTopicSettings"]

_KEYS = ("bootstrap_servers", "request_topic", "reply_topic", "timeout", "connect_timeout")
_TOPIC = re.compile(r"[A-Za-z0-9._-]{1,249}")  # Kafka's own rule for topic names


@dataclass(frozen=True, slots=True)
class KafkaTopicSettings:
    """Where the member's system reads declarations and writes answers.

    Attributes:
        bootstrap_servers: the member's Kafka cluster, ``host:port[,host:port...]``.
        request_topic: where declarations go (default ``member.<CODE>.declarations``).
        reply_topic: where answers come from (default ``member.<CODE>.answers``).
        timeout: seconds from sending a declaration to its answer.
        connect_timeout: seconds to connect and find the topics, on the first delivery.
    """

    bootstrap_servers: str
    request_topic: str
    reply_topic: str
    timeout: float = 10.0
    connect_timeout: float = 10.0

    @classmethod
    def parse(cls, member: str, settings: Mapping[str, Any]) -> KafkaTopicSettings:
        """Check a member's ``adapter.settings`` and return them typed.

        Args:
            member: the member code, for defaults and messages.
            settings: the mapping from the network configuration.

        Raises:
            ConfigError: a key is unknown, missing or has a wrong value; the message names it.
        """
        where = f"members.{member}.adapter.settings"
        unknown = sorted(set(settings) - set(_KEYS))
        if unknown:  # a typo must not silently fall back to a default
            raise ConfigError(f"{where}: unknown key(s) {', '.join(unknown)} for adapter kafka; "
                              f"known keys: {', '.join(_KEYS)}")
        servers = settings.get("bootstrap_servers")
        if isinstance(servers, (list, tuple)) and all(isinstance(s, str) for s in servers):
            servers = ",".join(servers)
        if not isinstance(servers, str) or not re.fullmatch(r"[^\s,]+:\d+(,[^\s,]+:\d+)*", servers):
            raise ConfigError(f"{where}.bootstrap_servers: expected the member's Kafka brokers as host:port "
                              f"(comma-separated or a list), not {servers!r}")
        topics = {}
        for key, default in (("request_topic", default_request_topic(member)),
                             ("reply_topic", default_reply_topic(member))):
            topics[key] = settings.get(key, default)
            if not isinstance(topics[key], str) or not _TOPIC.fullmatch(topics[key]):
                raise ConfigError(f"{where}.{key}: expected a Kafka topic name (letters, digits, . _ -), "
                                  f"not {topics[key]!r}")
        if topics["request_topic"] == topics["reply_topic"]:
            raise ConfigError(f"{where}: request_topic and reply_topic are both {topics['reply_topic']!r}; "
                              "declarations and answers need a topic each")
        seconds = {}
        for key in ("timeout", "connect_timeout"):
            value = settings.get(key, 10.0)
            if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0 < value <= 600:
                raise ConfigError(f"{where}.{key}: expected seconds between 0 and 600, not {value!r}")
            seconds[key] = float(value)
        return cls(bootstrap_servers=servers, **topics, **seconds)
