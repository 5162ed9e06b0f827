"""Bring a cluster to what the network configuration says: topics, SCRAM credentials and ACLs.

``provision`` reads what is (topics, SCRAM users, ACL bindings), compares it with :func:`plan_access` and
applies the difference, or only reports it (a dry run). Run it again and it finds nothing to do.

What it manages, so that it can remove what should no longer be without touching anything else on a shared
cluster: every ACL on a topic named ``oco.*``, and every ACL and SCRAM credential of a *managed* identity,
that is one of the configuration's identities or one that holds an ACL on an ``oco.*`` topic (a participant
removed from the network, for instance). The administrator running it is never touched. Topics that are
no longer in the configuration are reported, and deleted only when asked (their records would be lost).

Passwords come from a secrets folder holding one file per identity (``<dir>/<identity>``, as a Kubernetes
Secret mounted as a volume shows its keys); in development missing ones can be generated into it (mode 0600).
Whether an existing credential still matches its file is checked by logging in with it, since the broker
keeps only salted keys.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import secrets
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.conn import create_conn
from aiokafka.errors import KafkaError, SaslAuthenticationFailed, TopicAlreadyExistsError

from gateway.access.identities import ADMIN
from gateway.access.kafka_admin import (
    AclBinding,
    KafkaAdminError,
    ScramUser,
    create_acls,
    delete_acls,
    delete_scram,
    describe_acls,
    describe_scram,
    upsert_scram,
)
from gateway.access.policy import AccessPlan, plan_access
from gateway.config import GatewaySettings
from gateway.errors import BrokerError, ConfigError
from gateway.kafka_security import read_secret_file
from gateway.topics import topic_configs

__all__ = ["MECHANISM", "Change", "ProvisionReport", "SecretsDir", "network_topic", "provision"]

MECHANISM = "SCRAM-SHA-256"
_NETWORK_TOPICS = ("oco.submit.", "oco.reply.", "oco.deliver.", "oco.retry.", "oco.aeo.")


def network_topic(name: str) -> bool:
    """Tell whether a topic is named like one of the network's own (``oco.dlq``, ``oco.submit.*``...)."""
    return name == "oco.dlq" or name.startswith(_NETWORK_TOPICS)


class SecretsDir:
    """A folder of passwords, one file per identity (a Kubernetes Secret mounted as a volume).

    Args:
        path: the folder.
        generate: create a random password for an identity that has none (development; the file is 0600).
        dry_run: with ``generate``, make the password up without writing it (a dry run reports what a run would
            do, a new credential included).
    """

    def __init__(self, path: Path, *, generate: bool = False, dry_run: bool = False) -> None:
        self.path = path
        self.generate = generate
        self.dry_run = dry_run
        self.generated: list[str] = []
        self._made_up: dict[str, str] = {}

    def password(self, identity: str) -> str | None:
        """Return the identity's password; generate it if missing and allowed, else None.

        Raises:
            ConfigError: the file exists but cannot be read, or the folder cannot be written.
        """
        file = self.path / identity
        if file.is_file():
            return read_secret_file(file, f"the password of {identity}")
        if not self.generate:
            return None
        if self.dry_run:
            if identity not in self._made_up:
                self._made_up[identity] = secrets.token_urlsafe(24)
                self.generated.append(identity)
            return self._made_up[identity]
        password = secrets.token_urlsafe(24)
        try:
            self.path.mkdir(parents=True, exist_ok=True, mode=0o700)
            fd = os.open(file, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            with os.fdopen(fd, "w", encoding="utf-8") as out:
                out.write(password + "\n")
        except OSError as exc:
            raise ConfigError(f"cannot write a password for {identity} into {self.path}: {exc.strerror}") from exc
        self.generated.append(identity)
        return password


@dataclass(frozen=True, order=True, slots=True)
class Change:
    """One difference between the cluster and the configuration: ``+`` to create, ``~`` to update, ``-`` to
    remove, ``!`` left alone (reported only)."""

    kind: str  # "topic", "user", "acl"
    action: str
    what: str

    def __str__(self) -> str:
        return f"{self.action} {self.kind:<5} {self.what}"


@dataclass
class ProvisionReport:
    """What provision found (and did, unless it was a dry run)."""

    changes: list[Change] = field(default_factory=list)
    unchanged: dict[str, int] = field(default_factory=dict)
    applied: bool = False
    generated: list[str] = field(default_factory=list)

    @property
    def pending(self) -> list[Change]:
        """The changes that alter the cluster (reported-only ones left out)."""
        return [c for c in self.changes if c.action != "!"]

    def lines(self) -> list[str]:
        """The report as an operator reads it: one line per change, then a summary."""
        out = [str(c) for c in self.changes]
        kept = ", ".join(f"{n} {kind}(s)" for kind, n in sorted(self.unchanged.items()))
        verb = "applied" if self.applied else "to apply (dry run: nothing done)"
        out.append(f"{len(self.pending)} change(s) {verb}; unchanged: {kept or 'nothing'}")
        return out


@dataclass
class _State:
    topics: set[str]
    users: dict[str, ScramUser]
    acls: set[AclBinding]


async def provision(settings: GatewaySettings, security: Mapping[str, Any], passwords: SecretsDir, *,
                    apply: bool = True, prune: bool = True, delete_topics: bool = False,
                    admin_identity: str | None = None, progress: Callable[[str], None] | None = None,
                    plan: AccessPlan | None = None, settle_timeout: float = 30.0) -> ProvisionReport:
    """Compare the cluster with the configuration and apply the difference (or only report it).

    Args:
        settings: the network configuration (its Kafka address, partitions, replication factor).
        security: the administrator's client security options (a super user).
        passwords: where the identities' passwords are.
        apply: False for a dry run.
        prune: remove the ACLs and credentials of managed identities that should no longer have them.
        delete_topics: also delete network topics no longer in the configuration (with ``prune``).
        admin_identity: the user running this, never touched (default ``security``'s user name).
        progress: called with a line for each step applied.
        plan: what should be; ``plan_access(settings)`` by default.
        settle_timeout: seconds to wait, after applying, until the broker serves what was applied (the controller
            commits the changes, then the broker's metadata catches up): identities can log in on return.

    Raises:
        ConfigError: an identity has no password (and generating is off), or a secret cannot be read.
        BrokerError: the cluster cannot be reached, or refuses (the caller is not a super user).
    """
    plan = plan or plan_access(settings)
    admin_identity = admin_identity or security.get("sasl_plain_username") or ADMIN
    wanted_passwords = {i.name: passwords.password(i.name) for i in plan.identities}
    missing = sorted(name for name, pw in wanted_passwords.items() if pw is None)
    if missing:
        raise ConfigError(f"no password for {', '.join(missing)} in {passwords.path} (one file per identity, named "
                          "after it); put them there, or pass --generate-passwords (development)")
    k = settings.kafka
    admin = AIOKafkaAdminClient(bootstrap_servers=k.bootstrap_servers, client_id=f"{k.client_id}-provision",
                                **security)
    report = ProvisionReport(generated=list(passwords.generated))
    try:
        await admin.start()
        state = _State(set(await admin.list_topics()), await describe_scram(admin), await describe_acls(admin))
        stale = await _stale_passwords(k.bootstrap_servers, security, state.users, wanted_passwords)
        topics, users, acls, doomed_users, doomed_topics = _diff(plan, state, stale, prune=prune,
                                                                 delete_topics=delete_topics,
                                                                 admin_identity=admin_identity)
        report.changes = topics + users + acls
        report.unchanged = {"topic": len(set(plan.topics) & state.topics),
                            "user": len({i.name for i in plan.identities} & set(state.users)) - len(stale),
                            "acl": len(plan.acls & state.acls)}
        if apply:
            await _apply(admin, settings, plan, report, state, wanted_passwords, stale, doomed_users,
                         doomed_topics, progress or (lambda _line: None))
            await _settle(admin, k.bootstrap_servers, security, plan, report, wanted_passwords, settle_timeout)
            report.applied = True
    except KafkaAdminError as exc:
        raise BrokerError(f"the cluster at {k.bootstrap_servers} refused: {exc} (provision must run as a super "
                          "user: the broker's super.users)") from exc
    except KafkaError as exc:
        raise BrokerError(f"cannot provision the cluster at {k.bootstrap_servers}: {exc!r}") from exc
    finally:
        await admin.close()
    return report


def _managed_principals(plan: AccessPlan, state: _State) -> set[str]:
    managed = {f"User:{i.name}" for i in plan.identities}
    managed |= {a.principal for a in state.acls if a.resource == "TOPIC" and a.name.startswith("oco.")}
    return managed


def _diff(plan: AccessPlan, state: _State, stale: set[str], *, prune: bool, delete_topics: bool,
          admin_identity: str) -> tuple[
        list[Change], list[Change], list[Change], list[ScramUser], list[str]]:
    wanted_users = {i.name: i for i in plan.identities}
    topics = [Change("topic", "+", f"{t} ({'compacted' if c else 'delete'} policy)")
              for t, c in sorted(plan.topics.items()) if t not in state.topics]
    users = [Change("user", "+", f"{n} ({i.kind}{' ' + i.subject if i.subject else ''}, {MECHANISM})")
             for n, i in sorted(wanted_users.items()) if n not in state.users]
    users += [Change("user", "~", f"{n} (its password differs from its secret: reset)") for n in sorted(stale)]
    acls = [Change("acl", "+", str(a)) for a in sorted(plan.acls - state.acls)]
    doomed_users: list[ScramUser] = []
    doomed_topics: list[str] = []
    if prune:
        protected = {f"User:{admin_identity}", f"User:{ADMIN}"}
        managed = _managed_principals(plan, state) - protected
        extra = {a for a in state.acls - plan.acls
                 if a.principal not in protected and (a.principal in managed or
                                                      (a.resource == "TOPIC" and a.name.startswith("oco.")))}
        acls += [Change("acl", "-", str(a)) for a in sorted(extra)]
        doomed_users = [u for n, u in sorted(state.users.items())
                        if f"User:{n}" in managed and n not in wanted_users]
        users += [Change("user", "-", f"{u.name} (no longer an identity of the network)") for u in doomed_users]
        gone = sorted(t for t in state.topics if network_topic(t) and t not in plan.topics)
        if delete_topics:
            doomed_topics = gone
            topics += [Change("topic", "-", t) for t in gone]
        else:
            topics += [Change("topic", "!", f"{t} (no longer in the configuration; kept: --delete-topics deletes "
                              "it and its records)") for t in gone]
    return topics, users, acls, doomed_users, doomed_topics


async def _settle(admin: AIOKafkaAdminClient, bootstrap: str, security: Mapping[str, Any], plan: AccessPlan,
                  report: ProvisionReport, passwords: Mapping[str, str | None], timeout: float) -> None:
    """Wait until the broker shows every applied change (ACLs, credentials, topics)."""
    removed_acls = {c.what for c in report.changes if c.kind == "acl" and c.action == "-"}
    removed_users = {c.what.split(" ")[0] for c in report.changes if c.kind == "user" and c.action == "-"}
    deadline = asyncio.get_running_loop().time() + timeout
    while True:
        acls, users, topics = await describe_acls(admin), await describe_scram(admin), set(await admin.list_topics())
        done = (plan.acls <= acls and not {str(a) for a in acls} & removed_acls
                and {i.name for i in plan.identities} <= set(users) and not removed_users & set(users)
                and set(plan.topics) <= topics
                and not await _stale_passwords(bootstrap, security, users, passwords))
        if done:
            return
        if asyncio.get_running_loop().time() > deadline:
            raise BrokerError(f"the broker did not show the applied changes within {timeout:g} s; run provision "
                              "again (it is idempotent)")
        await asyncio.sleep(0.2)


async def _stale_passwords(bootstrap: str, security: Mapping[str, Any], users: Mapping[str, ScramUser],
                           passwords: Mapping[str, str | None]) -> set[str]:
    """Return the identities whose credential exists but does not accept their password (a login tells)."""
    host, _, port = bootstrap.split(",")[0].strip().rpartition(":")
    stale = set()
    for name, password in sorted(passwords.items()):
        user = users.get(name)
        if user is None or password is None:
            continue
        if MECHANISM not in user.mechanisms:
            stale.add(name)
            continue
        options = {**security, "sasl_mechanism": MECHANISM, "sasl_plain_username": name,
                   "sasl_plain_password": password}
        try:
            conn = await create_conn(host.strip("[]"), int(port), request_timeout_ms=10000, **options)
        except SaslAuthenticationFailed:
            stale.add(name)
        else:
            conn.close()
    return stale


async def _apply(admin: AIOKafkaAdminClient, settings: GatewaySettings, plan: AccessPlan, report: ProvisionReport,
                 state: _State, passwords: Mapping[str, str | None], stale: set[str], doomed_users: list[ScramUser],
                 doomed_topics: list[str], progress: Callable[[str], None]) -> None:
    k = settings.kafka
    new_topics = [t for t in sorted(plan.topics) if t not in state.topics]
    if new_topics:
        result = await admin.create_topics([
            NewTopic(t, num_partitions=k.partitions, replication_factor=k.replication_factor,
                     topic_configs=topic_configs(t, max_message_bytes=settings.gateway.max_message_bytes,
                                                 compacted=plan.topics[t]))
            for t in new_topics])
        for topic, code, message in getattr(result, "topic_errors", []):
            if code and code != TopicAlreadyExistsError.errno:
                raise BrokerError(f"cannot create topic {topic}: error {code} {message}")
        progress(f"created {len(new_topics)} topic(s)")
    users = {n: pw for n, pw in passwords.items() if pw is not None and (n not in state.users or n in stale)}
    if users:
        await upsert_scram(admin, users)
        progress(f"set the SCRAM credentials of {len(users)} identity(ies)")
    to_add = plan.acls - state.acls
    if to_add:
        await create_acls(admin, to_add)
        progress(f"created {len(to_add)} ACL(s)")
    to_remove = {c.what for c in report.changes if c.kind == "acl" and c.action == "-"}
    doomed_acls = [a for a in state.acls if str(a) in to_remove]
    if doomed_acls:
        await delete_acls(admin, doomed_acls)
        progress(f"removed {len(doomed_acls)} ACL(s)")
    if doomed_users:
        await delete_scram(admin, doomed_users)
        progress(f"removed the SCRAM credentials of {len(doomed_users)} identity(ies)")
    if doomed_topics:
        with contextlib.suppress(KafkaError):
            await admin.delete_topics(doomed_topics)
        progress(f"deleted {len(doomed_topics)} topic(s)")
