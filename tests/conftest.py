"""Fixtures shared by unit and integration tests.

``kafka_broker`` starts one real Kafka broker for the whole session, secured as in production (SASL/SCRAM,
ACLs, nothing allowed without one), and only when a test asks for it. ``kafka_access`` provisions each test
network's topics, identities and ACLs on it, additively (the networks of all test modules share the broker),
and hands out each identity's credentials; ``kafka_auth`` is the super user's, for tests' raw clients.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from gateway.access.local import LocalAccess
from gateway.errors import BrokerError
from gateway.ops.broker import LocalBroker, free_ports


class KafkaAccess(LocalAccess):
    """The session broker's identities: provision test networks on it (additively: every test module's network
    shares the broker), and act as any of their identities (``security()`` for in-process clients, ``env()`` for
    child processes, ``admin`` for the tests' own observers)."""


@pytest.fixture(scope="session")
def kafka_broker(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalBroker]:
    """Start one secured local Kafka broker on free ports in a temp state dir; stop it at the end.

    A broker that cannot start fails the requesting tests (never skips them): a skipped Kafka test would hide
    a broken broker setup behind a green run.
    """
    port, controller_port = free_ports(2)
    broker = LocalBroker(tmp_path_factory.mktemp("kafka-state"), port=port, controller_port=controller_port,
                         insecure=False)
    failure = None
    try:
        broker.start(timeout=120)  # generous: a loaded 2-core CI machine starts the JVM slowly
    except BrokerError as exc:
        failure = str(exc)
    if failure is not None:  # outside the except block, so the report is not printed twice
        pytest.fail(f"The session's Kafka broker could not start: {failure}", pytrace=False)
    try:
        yield broker
    finally:
        broker.stop()


@pytest.fixture(scope="session")
def kafka_bootstrap(kafka_broker: LocalBroker) -> str:
    """The session broker's ``host:port`` (SASL/SCRAM: clients need credentials, see ``kafka_auth``)."""
    return kafka_broker.bootstrap_servers


@pytest.fixture(scope="session")
def kafka_auth(kafka_broker: LocalBroker) -> dict[str, Any]:
    """The super user's security options for tests' raw aiokafka clients: ``AIOKafkaProducer(**kafka_auth, ...)``."""
    return kafka_broker.admin_security()


@pytest.fixture(scope="session")
def kafka_access(kafka_broker: LocalBroker, tmp_path_factory: pytest.TempPathFactory) -> KafkaAccess:
    """Provision test networks on the session broker and act as their identities."""
    return KafkaAccess(kafka_broker, tmp_path_factory.mktemp("secrets"))
