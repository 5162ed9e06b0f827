"""A local broker's identities: provision a network on it and act as any of the network's identities.

Used by ``oco-gateway demo``, the tests and the benchmark, which start their own secured broker: the broker's
super user provisions the network (passwords generated into a secrets folder, one file per identity, 0600),
and every client and child process then runs as the identity of its role.
"""

from __future__ import annotations

import asyncio
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from gateway.access.provision import MECHANISM, ProvisionReport, SecretsDir, provision
from gateway.config import GatewaySettings, load_settings
from gateway.ops.broker import ADMIN_USER, LocalBroker

__all__ = ["LocalAccess"]


class LocalAccess:
    """The identities of networks provisioned on a local, secured broker.

    Args:
        broker: the running, secured broker.
        secrets: the folder of the identities' passwords (missing ones are generated, mode 0600).
    """

    def __init__(self, broker: LocalBroker, secrets: Path) -> None:
        self.broker = broker
        self.bootstrap = broker.bootstrap_servers
        self.secrets = SecretsDir(secrets, generate=True)

    @property
    def admin(self) -> dict[str, Any]:
        """The super user's aiokafka security options."""
        return self.broker.admin_security()

    def admin_env(self) -> dict[str, str]:
        """The environment of a child process acting as the super user (``dlq``, ``provision``...)."""
        return {"OCO_KAFKA__USERNAME": ADMIN_USER, "OCO_KAFKA__PASSWORD_FILE": str(self.broker.admin_password_file)}

    def provision(self, network: Path | GatewaySettings, *, prune: bool = False) -> ProvisionReport:
        """Create a network's topics, identities and ACLs on the broker (keeping everything else unless ``prune``).

        Args:
            network: a network file, or its settings (its Kafka address is replaced by the broker's).
            prune: also remove what this network no longer needs (never on a broker shared by several networks).
        """
        settings = network if isinstance(network, GatewaySettings) else load_settings(network)
        settings = settings.model_copy(update={
            "kafka": settings.kafka.model_copy(update={"bootstrap_servers": self.bootstrap})})
        run = provision(settings, self.admin, self.secrets, prune=prune)
        with ThreadPoolExecutor(max_workers=1) as pool:  # own loop: callers may be inside one
            return pool.submit(asyncio.run, run).result()

    def password_file(self, identity: str) -> Path:
        """Return the file holding an identity's password (generated if missing)."""
        self.secrets.password(identity)
        return self.secrets.path / identity

    def security(self, identity: str) -> dict[str, Any]:
        """Return the aiokafka security options of a provisioned identity."""
        return {"security_protocol": "SASL_PLAINTEXT", "sasl_mechanism": MECHANISM,
                "sasl_plain_username": identity, "sasl_plain_password": self.secrets.password(identity)}

    def env(self, identity: str) -> dict[str, str]:
        """Return the environment a child process (``oco-gateway run``...) needs to act as an identity."""
        return {"OCO_KAFKA__USERNAME": identity, "OCO_KAFKA__PASSWORD_FILE": str(self.password_file(identity))}
