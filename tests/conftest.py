"""Fixtures shared by unit and integration tests.

``kafka_bootstrap`` starts one real Kafka broker for the whole session, and only when a test asks for it.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from gateway.errors import BrokerError
from gateway.ops.broker import LocalBroker, free_ports


@pytest.fixture(scope="session")
def kafka_bootstrap(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """Start one local Kafka broker on free ports in a temp state dir; yield its ``host:port``; stop it at the end.

    A broker that cannot start fails the requesting tests (never skips them): a skipped Kafka test would hide
    a broken broker setup behind a green run.
    """
    port, controller_port = free_ports(2)
    broker = LocalBroker(tmp_path_factory.mktemp("kafka-state"), port=port, controller_port=controller_port,
                         insecure=True)
    failure = None
    try:
        broker.start(timeout=120)  # generous: a loaded 2-core CI machine starts the JVM slowly
    except BrokerError as exc:
        failure = str(exc)
    if failure is not None:  # outside the except block, so the report is not printed twice
        pytest.fail(f"The session's Kafka broker could not start: {failure}", pytrace=False)
    try:
        yield broker.bootstrap_servers
    finally:
        broker.stop()
