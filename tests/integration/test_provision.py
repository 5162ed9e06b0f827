"""``oco-gateway provision`` on a secured broker of its own (pruning is tried for real: the session broker is
shared by every test module's network, so it is never pruned): a dry run says exactly what a run then does,
a second run finds nothing to do, and a network that changed loses what it no longer needs, and only that.
"""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.conn import create_conn
from aiokafka.errors import SaslAuthenticationFailed

from gateway.access.identities import ADMIN
from gateway.access.kafka_admin import AclBinding, create_acls, describe_acls, describe_scram
from gateway.access.policy import plan_access
from gateway.config import load_settings
from gateway.ops.broker import LocalBroker, free_ports

pytestmark = [pytest.mark.kafka, pytest.mark.slow]

STRANGER = AclBinding("User:billing", "TOPIC", "billing.invoices", "LITERAL", "READ")  # not the network's


@pytest.fixture(scope="module")
def broker(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalBroker]:
    port, controller = free_ports(2)
    local = LocalBroker(tmp_path_factory.mktemp("provision-kafka"), port=port, controller_port=controller)
    local.start(timeout=120)
    try:
        yield local
    finally:
        local.stop()


def network(path: Path, bootstrap: str, participants: dict[str, str]) -> Path:
    """A network file: participant -> the member it submits for; FJ is delivered centrally, WS at its site."""
    path.write_text(yaml.safe_dump({
        "kafka": {"bootstrap_servers": bootstrap, "group_id": "gw-prov"},
        "participants": {p: {"name": p} for p in participants},
        "members": {m: {"name": m, "submitters": sorted(p for p, to in participants.items() if to == m),
                        **({"adapter": {"name": "asycuda", "settings": {"url": "http://x"}}} if m == "FJ" else {})}
                    for m in sorted(set(participants.values()))},
    }))
    return path


def provision(broker: LocalBroker, config: Path, secrets: Path, *extra: str) -> list[str]:
    """Run ``oco-gateway provision`` as the broker's administrator; return its output lines."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("OCO_")}
    env |= {"OCO_KAFKA__USERNAME": ADMIN, "OCO_KAFKA__PASSWORD_FILE": str(broker.admin_password_file)}
    result = subprocess.run([sys.executable, "-m", "gateway", "provision", "--config", str(config),
                             "--secrets-dir", str(secrets), *extra],
                            capture_output=True, text=True, timeout=120, env=env)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "Traceback" not in result.stderr
    return result.stdout.splitlines()


def changes(lines: list[str]) -> list[str]:
    """The change lines of a report (progress and the summary left out)."""
    return [line for line in lines if line[:2] in ("+ ", "- ", "~ ", "! ")]


def pending(lines: list[str]) -> list[str]:
    """The change lines that would alter the cluster (what is only reported, ``!``, left out)."""
    return [line for line in changes(lines) if not line.startswith("! ")]


async def state(broker: LocalBroker) -> tuple[set[AclBinding], set[str], set[str]]:
    """Every ACL, every SCRAM user and every topic of the broker."""
    admin = AIOKafkaAdminClient(bootstrap_servers=broker.bootstrap_servers, **broker.admin_security())
    await admin.start()
    try:
        return await describe_acls(admin), set(await describe_scram(admin)), set(await admin.list_topics())
    finally:
        await admin.close()


async def logs_in(broker: LocalBroker, user: str, password: str) -> bool:
    try:
        conn = await create_conn("127.0.0.1", broker.port, security_protocol="SASL_PLAINTEXT",
                                 sasl_mechanism="SCRAM-SHA-256", sasl_plain_username=user, sasl_plain_password=password)
    except SaslAuthenticationFailed:
        return False
    conn.close()
    return True


class TestProvision:
    async def test_dry_run_is_what_happens_and_a_second_run_does_nothing(self, broker: LocalBroker,
                                                                          tmp_path: Path) -> None:
        """The dry run changes nothing and lists exactly the changes the real run then reports; afterwards the
        cluster holds exactly the plan (users, ACLs, topics), and both a dry run and a run find nothing to do."""
        secrets = tmp_path / "secrets"
        config = network(tmp_path / "network.yaml", broker.bootstrap_servers, {"fj-one": "FJ", "ws-two": "WS"})
        before = await state(broker)
        dry = provision(broker, config, secrets, "--generate-passwords", "--dry-run")
        assert await state(broker) == before, "a dry run changed the cluster"
        assert not secrets.exists(), "a dry run generated passwords"
        assert dry[-1].startswith(f"{len(changes(dry))} change(s) to apply (dry run")

        done = provision(broker, config, secrets, "--generate-passwords")
        assert changes(done) == changes(dry)
        assert sorted(p.name for p in secrets.iterdir()) == sorted(
            ["fj-one", "ws-two", "member-fj", "member-ws", "oco-gateway", "oco-delivery"])
        assert all((p.stat().st_mode & 0o777) == 0o600 for p in secrets.iterdir())

        plan = plan_access(load_settings(config))
        acls, users, topics = await state(broker)
        assert acls == set(plan.acls)
        assert users == {i.name for i in plan.identities} | {ADMIN}
        assert set(plan.topics) <= topics
        for identity in plan.identities:
            assert await logs_in(broker, identity.name, (secrets / identity.name).read_text().strip())

        assert pending(provision(broker, config, secrets, "--dry-run")) == []
        again = provision(broker, config, secrets)
        assert pending(again) == [] and again[-1].startswith("0 change(s) applied")

    async def test_a_changed_network_loses_what_it_no_longer_needs(self, broker: LocalBroker, tmp_path: Path) -> None:
        """A participant leaves, another joins, a password is changed and an ACL was granted by hand: the dry
        run lists each difference, the run applies them, and an unrelated principal's ACL is left alone."""
        secrets = tmp_path / "secrets"
        first = network(tmp_path / "a.yaml", broker.bootstrap_servers, {"to-old": "FJ", "to-stay": "FJ"})
        provision(broker, first, secrets, "--generate-passwords", "--no-prune")
        admin = AIOKafkaAdminClient(bootstrap_servers=broker.bootstrap_servers, **broker.admin_security())
        await admin.start()
        by_hand = AclBinding("User:to-stay", "TOPIC", "oco.reply.fj-one", "LITERAL", "READ")
        try:
            await create_acls(admin, [STRANGER, by_hand])
            await admin.create_topics([NewTopic("billing.invoices", 1, 1)])
        finally:
            await admin.close()
        (secrets / "to-stay").write_text("a-new-password-for-to-stay\n")
        second = network(tmp_path / "b.yaml", broker.bootstrap_servers, {"to-stay": "FJ", "to-new": "FJ"})

        # Wait until the broker serves the hand-made ACL (a loaded machine may take a while), not a fixed pace.
        deadline = asyncio.get_running_loop().time() + 30
        while by_hand not in (await state(broker))[0]:
            assert asyncio.get_running_loop().time() < deadline, "the hand-made ACL never showed"
            await asyncio.sleep(0.1)
        dry = changes(provision(broker, second, secrets, "--generate-passwords", "--dry-run"))
        assert "+ user  to-new (participant to-new, SCRAM-SHA-256)" in dry
        assert "~ user  to-stay (its password differs from its secret: reset)" in dry
        assert "- user  to-old (no longer an identity of the network)" in dry
        assert f"- acl   {by_hand}" in dry
        assert "- acl   User:to-old allow write on topic oco.submit.to-old" in dry
        assert "- acl   User:oco-gateway allow read on topic oco.submit.to-old" in dry
        assert "+ acl   User:to-new allow write on topic oco.submit.to-new" in dry
        assert any(line.startswith("! topic oco.submit.to-old (no longer in the configuration; kept") for line in dry)
        assert not [line for line in dry if "billing" in line], "an ACL that is not the network's would be touched"

        done = changes(provision(broker, second, secrets, "--generate-passwords"))
        assert done == dry
        acls, users, topics = await state(broker)
        assert STRANGER in acls and by_hand not in acls
        assert not [a for a in acls if "to-old" in a.principal or a.name.endswith("to-old")]
        assert "to-old" not in users and "oco.submit.to-old" in topics
        assert await logs_in(broker, "to-stay", "a-new-password-for-to-stay")
        assert pending(provision(broker, second, secrets, "--dry-run")) == []

        gone = changes(provision(broker, second, secrets, "--delete-topics"))
        assert {"- topic oco.submit.to-old", "- topic oco.reply.to-old"} <= set(gone)
        _, _, topics = await state(broker)
        assert "oco.submit.to-old" not in topics and "billing.invoices" in topics

    def test_missing_passwords_are_named_and_nothing_is_done(self, broker: LocalBroker, tmp_path: Path) -> None:
        """Without a password for an identity (and without --generate-passwords) provision stops with exit 2."""
        config = network(tmp_path / "network.yaml", broker.bootstrap_servers, {"fj-nopass": "FJ"})
        env = {k: v for k, v in os.environ.items() if not k.startswith("OCO_")}
        env |= {"OCO_KAFKA__USERNAME": ADMIN, "OCO_KAFKA__PASSWORD_FILE": str(broker.admin_password_file)}
        result = subprocess.run([sys.executable, "-m", "gateway", "provision", "--config", str(config),
                                 "--secrets-dir", str(tmp_path / "empty")], capture_output=True, text=True,
                                timeout=120, env=env)
        assert result.returncode == 2
        assert "no password for fj-nopass" in result.stderr and "--generate-passwords" in result.stderr

    def test_only_a_super_user_may_provision(self, broker: LocalBroker, tmp_path: Path) -> None:
        """An identity of the network running provision is refused by the broker: exit 1, one line."""
        secrets = tmp_path / "secrets"
        config = network(tmp_path / "network.yaml", broker.bootstrap_servers, {"fj-sneaky": "FJ"})
        provision(broker, config, secrets, "--generate-passwords", "--no-prune")
        env = {k: v for k, v in os.environ.items() if not k.startswith("OCO_")}
        env |= {"OCO_KAFKA__USERNAME": "fj-sneaky", "OCO_KAFKA__PASSWORD_FILE": str(secrets / "fj-sneaky")}
        result = subprocess.run([sys.executable, "-m", "gateway", "provision", "--config", str(config),
                                 "--secrets-dir", str(secrets), "--dry-run"], capture_output=True, text=True,
                                timeout=120, env=env)
        assert result.returncode == 1, result.stdout + result.stderr
        assert "super user" in result.stderr and "Traceback" not in result.stderr
