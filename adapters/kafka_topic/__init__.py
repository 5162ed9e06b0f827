"""National connector for members that integrate directly over Kafka: request/reply on their own topics."""

from __future__ import annotations

from adapters.kafka_topic.adapter import KafkaTopicAdapter
from adapters.kafka_topic.settings import KafkaTopicSettings

__all__ = ["KafkaTopicAdapter", "KafkaTopicSettings"]
