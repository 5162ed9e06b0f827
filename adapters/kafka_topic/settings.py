"""The ``kafka`` adapter's settings, checked once at start-up with messages that name the key."""

from __future__ import annotations

import re
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationInfo, field_validator, model_validator

from adapters.kafka_topic.protocol import default_reply_topic, default_request_topic
from gateway.sdk import KafkaClientSecurity

__all__ = ["KafkaTopicSettings"]

_BROKERS = re.compile(r"[^\s,]+:\d+(,[^\s,]+:\d+)*")
_TOPIC = re.compile(r"[A-Za-z0-9._-]{1,249}")  # Kafka's own rule for topic names


class KafkaTopicSettings(BaseModel):
    """Where the member's system reads declarations and writes answers."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    bootstrap_servers: str = Field(description="the member's Kafka brokers, host:port[,host:port...] or a list")
    request_topic: str = Field(description="where declarations go (default member.<CODE>.declarations)")
    reply_topic: str = Field(description="where answers come from (default member.<CODE>.answers)")
    timeout: float = Field(10.0, gt=0, le=600, strict=True, description="seconds from a declaration to its answer")
    max_items: int | None = Field(None, ge=1, le=999, strict=True,
                                  description="the most goods items the member's system takes in one declaration "
                                              "(None: no limit of its own); more is rejected before sending")
    connect_timeout: float = Field(10.0, gt=0, le=600, strict=True,
                                   description="seconds to connect and find the topics, on the first delivery")
    security: KafkaClientSecurity = Field(KafkaClientSecurity(), description="how to authenticate to the member's "
                                          "cluster (username, password_env or password_file, TLS files)")


    @model_validator(mode="before")
    @classmethod
    def _member_topics(cls, settings: Any, info: ValidationInfo) -> Any:
        member = (info.context or {}).get("member")
        if member and isinstance(settings, dict):  # the defaults follow the member code
            return {"request_topic": default_request_topic(member), "reply_topic": default_reply_topic(member),
                    **settings}
        return settings

    @field_validator("bootstrap_servers", mode="before")
    @classmethod
    def _brokers(cls, servers: Any) -> Any:
        if isinstance(servers, (list, tuple)) and all(isinstance(s, str) for s in servers):
            servers = ",".join(servers)
        if not isinstance(servers, str) or not _BROKERS.fullmatch(servers):
            raise ValueError(f"expected the member's Kafka brokers as host:port (comma-separated or a list), "
                             f"not {servers!r}")
        return servers

    @field_validator("request_topic", "reply_topic", mode="before")
    @classmethod
    def _topic_name(cls, topic: Any) -> Any:
        if not isinstance(topic, str) or not _TOPIC.fullmatch(topic):
            raise ValueError(f"expected a Kafka topic name (letters, digits, . _ -), not {topic!r}")
        return topic

    @field_validator("reply_topic")
    @classmethod
    def _own_reply_topic(cls, topic: str, info: ValidationInfo) -> str:
        if topic == info.data.get("request_topic"):
            raise ValueError(f"{topic!r} is the request_topic too; declarations and answers need a topic each")
        return topic
