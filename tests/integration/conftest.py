"""Fixtures for tests that run the gateway against the session's real (secured) Kafka broker."""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from gateway.access.identities import GATEWAY
from gateway.ops.broker import free_ports
from gateway.ops.process import GatewayProcess
from tests.conftest import KafkaAccess

_SEQ = itertools.count()


class Network:
    """A network configuration of its own (unique participant ids, so tests never share topics), provisioned on
    the session broker: its topics exist, and each participant, member and the gateway has its identity."""

    def __init__(self, tmp_path: Path, access: KafkaAccess) -> None:
        n = next(_SEQ)
        self.access = access
        bootstrap = self.bootstrap = access.bootstrap
        self.fiji = f"t{n}-fj-broker"
        self.samoa = f"t{n}-ws-broker"
        self.kiwi = f"t{n}-nz-tradelink"
        self.path = tmp_path / "network.yaml"
        self.path.write_text(yaml.safe_dump({
            "kafka": {"bootstrap_servers": bootstrap, "group_id": f"gw-test-{n}", "batch_max_records": 200},
            "participants": {p: {"name": p} for p in (self.fiji, self.samoa, self.kiwi)},
            "members": {
                "FJ": {"name": "Fiji", "submitters": [self.fiji, self.kiwi]},
                "WS": {"name": "Samoa", "submitters": [self.samoa, self.kiwi]},
                "NZ": {"name": "New Zealand", "submitters": [self.kiwi]},
            },
        }))
        access.provision(self.path)

    @property
    def admin(self) -> dict[str, Any]:
        """The super user's client options: for the tests' own observers."""
        return self.access.admin

    def identity(self, name: str) -> dict[str, Any]:
        """The client options of one of the network's identities (a participant id, ``member-fj``...)."""
        return self.access.security(name)

    def gateway(self, tmp_path: Path, name: str = "gateway", *, env: dict[str, str] | None = None) -> GatewayProcess:
        """Return (not started) a gateway process on this network, running as the gateway's identity (``env``:
        extra settings, e.g. ``OCO_GATEWAY__EXACTLY_ONCE``)."""
        return GatewayProcess(self.path, bootstrap_servers=self.bootstrap, metrics_port=free_ports(1)[0],
                              log_path=tmp_path / f"{name}.log", env={**self.access.env(GATEWAY), **(env or {})})


@pytest.fixture(scope="module")
def network(tmp_path_factory: pytest.TempPathFactory, kafka_access: KafkaAccess) -> Network:
    """A network configuration of this test module's own, provisioned on the session broker."""
    return Network(tmp_path_factory.mktemp("network"), kafka_access)


@pytest.fixture(scope="module")
def running_gateway(network: Network, tmp_path_factory: pytest.TempPathFactory) -> Iterator[GatewayProcess]:
    """The gateway running as its own process for the whole test module, stopped at the end."""
    process = network.gateway(tmp_path_factory.mktemp("gateway"))
    process.start()
    try:
        yield process
    finally:
        process.stop()
