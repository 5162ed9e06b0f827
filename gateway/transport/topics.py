"""Create the gateway's topics when they are missing: the broker does not auto-create them.

On a secured cluster ``oco-gateway provision`` creates every topic beforehand and the processes have no
Create right: a topic this process may neither see nor create is then left to provision (and logged).
"""

from __future__ import annotations

from collections.abc import Iterable

import structlog
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.errors import ClusterAuthorizationFailedError, KafkaError, TopicAlreadyExistsError, \
    TopicAuthorizationFailedError

from gateway.config import GatewaySettings
from gateway.errors import BrokerError
from gateway.kafka_security import client_options
from gateway.topics import DEAD_LETTER, deliver_topic, priority_topic, reply_topic, submit_topic, topic_configs

__all__ = ["ensure_topics", "gateway_topics"]

log = structlog.get_logger(__name__)


def gateway_topics(settings: GatewaySettings) -> list[str]:
    """Return every topic the gateway uses: submit and reply per participant, deliver and priority lane per member.

    Args:
        settings: the network configuration.
    """
    names = [DEAD_LETTER]
    for participant in sorted(settings.participants):
        names += [submit_topic(participant), reply_topic(participant)]
    for member in sorted(settings.members):
        names += [deliver_topic(member), priority_topic(member)]
    return names


async def ensure_topics(settings: GatewaySettings, names: Iterable[str] | None = None, *,
                        compacted: bool = False) -> list[str]:
    """Create the topics that do not exist yet; return the ones created.

    Args:
        settings: Kafka address, partitions and replication factor.
        names: topics to ensure; all of :func:`gateway_topics` by default.
        compacted: create them with ``cleanup.policy=compact`` (the trusted-trader topics: the latest
            status per trader is kept for ever, older ones are cleaned away).

    Topics this process's identity may neither see nor create are skipped with a warning: either they exist
    and are none of its business (the reply topics of another member's submitters), or provision has not
    created them yet (the process then fails on the first one it uses, with an authorisation error).

    Raises:
        BrokerError: the cluster cannot be reached or refuses to create a topic for another reason.
        ConfigError: the Kafka password or a TLS file cannot be read.
    """
    wanted = list(names) if names is not None else gateway_topics(settings)
    admin = AIOKafkaAdminClient(bootstrap_servers=settings.kafka.bootstrap_servers,
                                client_id=f"{settings.kafka.client_id}-admin", **client_options(settings.kafka))
    try:
        await admin.start()
        existing = set(await admin.list_topics())
        missing = [n for n in wanted if n not in existing]
        if missing:
            k = settings.kafka
            result = await admin.create_topics([
                NewTopic(n, num_partitions=k.partitions, replication_factor=k.replication_factor,
                         topic_configs=topic_configs(n, max_message_bytes=settings.gateway.max_message_bytes,
                                                     compacted=compacted))
                for n in missing])
            refused = []
            for topic, code, message in getattr(result, "topic_errors", []):
                if code in (TopicAuthorizationFailedError.errno, ClusterAuthorizationFailedError.errno):
                    refused.append(topic)
                elif code and code != TopicAlreadyExistsError.errno:
                    raise BrokerError(f"cannot create topic {topic}: error {code} {message}")
            if refused:
                log.info("topics_not_visible", topics=refused, identity=settings.kafka.username,
                            hint="this identity may neither see nor create them; `oco-gateway provision` creates "
                                 "the network's topics and grants each identity its own")
            missing = [t for t in missing if t not in refused]
            if missing:
                log.info("topics_created", topics=missing)
        return missing
    except KafkaError as exc:
        raise BrokerError(
            f"cannot reach Kafka at {settings.kafka.bootstrap_servers} to create topics: {exc}. "
            "Check kafka.bootstrap_servers (OCO_KAFKA__BOOTSTRAP_SERVERS) and that the broker is up."
        ) from exc
    finally:
        await admin.close()
