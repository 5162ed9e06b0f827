"""What each identity may do on the broker, derived from the network configuration (pure: no Kafka here).

    participant P   write oco.submit.P; read oco.reply.P, with consumer groups named ``P.<anything>``
    member M        its delivery: read oco.deliver.M, oco.deliver.M.priority, oco.retry.M (group oco-deliver-M);
                    write oco.retry.M, oco.reply.<each of M's submitters>, oco.dlq;
                    transactional id ``oco-deliver-M.tx`` (gateway.exactly_once)
                    trusted traders: write oco.aeo.M and oco.aeo.M.to.* (and those of the MRA partners M
                    imports); read oco.aeo.<every issuer> and oco.aeo.<every issuer>.to.M
    oco-delivery    the delivery part of every member with an ``adapter`` (the central delivery workers)
    oco-gateway     read every oco.submit.P and oco.aeo.<issuer>; write every oco.deliver.M[.priority],
                    oco.reply.P and oco.dlq; groups ``<kafka.group_id>`` and ``<kafka.group_id>-aeo-audit``;
                    transactional ids ``<kafka.group_id>.tx.<anything>`` (gateway.exactly_once)

Read and Write imply Describe; Write on a topic implies idempotent producing (Kafka 3.0+), so transactions
need only Write on their transactional ids (and Read on the group whose offsets they commit). Nobody but the
administrator may create topics or touch the cluster: provision creates every topic beforehand. Every
name is literal except a participant's group prefix, a member's details topics ``oco.aeo.M.to.`` and the
gateway's transactional-id prefix (none can match another identity's resources: participant ids hold no
``.``, and transactional ids are a resource type of their own).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

from gateway.access.identities import DELIVERY, GATEWAY, RESERVED_PREFIXES, member_identity, principal
from gateway.access.kafka_admin import AclBinding
from gateway.aeo.feed import aeo_topic_names
from gateway.config import GatewaySettings
from gateway.errors import ConfigError
from gateway.topics import (
    DEAD_LETTER,
    aeo_details_topic,
    aeo_topic,
    deliver_topic,
    priority_topic,
    reply_topic,
    retry_topic,
    submit_topic,
)

__all__ = ["AccessPlan", "Identity", "delivery_group", "delivery_transactional_id",
           "gateway_transactional_prefix", "member_aeo_topics", "plan_access"]

DELIVERY_GROUP_PREFIX = "oco-deliver"


def delivery_group(member: str) -> str:
    """Return the consumer group of a member's delivery worker (``oco-deliver-FJ``)."""
    return f"{DELIVERY_GROUP_PREFIX}-{member}"


def delivery_transactional_id(member: str) -> str:
    """Return the transactional id of a member's delivery loop in exactly-once mode (``oco-deliver-FJ.tx``)."""
    return f"{delivery_group(member)}.tx"


@dataclass(frozen=True, order=True, slots=True)
class Identity:
    """One identity to provision: its user name, its kind and what it stands for (a participant id, a member)."""

    name: str
    kind: str  # "participant", "member", "delivery", "gateway"
    subject: str = ""


@dataclass(frozen=True, slots=True)
class AccessPlan:
    """What should be on the broker for a network: identities, topics (name -> compacted) and ACLs."""

    identities: tuple[Identity, ...]
    topics: dict[str, bool] = field(default_factory=dict)
    acls: frozenset[AclBinding] = frozenset()

    def acls_of(self, identity: str) -> set[AclBinding]:
        """Return the ACLs of one identity."""
        return {a for a in self.acls if a.principal == principal(identity)}


def _topic(identity: str, name: str, *operations: str, prefixed: bool = False) -> list[AclBinding]:
    return [AclBinding(principal(identity), "TOPIC", name, "PREFIXED" if prefixed else "LITERAL", op)
            for op in operations]


def _group(identity: str, name: str, *, prefixed: bool = False) -> AclBinding:
    return AclBinding(principal(identity), "GROUP", name, "PREFIXED" if prefixed else "LITERAL", "READ")


def _transactional_id(identity: str, name: str, *, prefixed: bool = False) -> list[AclBinding]:
    return [AclBinding(principal(identity), "TRANSACTIONAL_ID", name, "PREFIXED" if prefixed else "LITERAL", op)
            for op in ("WRITE", "DESCRIBE")]


def gateway_transactional_prefix(group_id: str) -> str:
    """Return the prefix of the gateway's transactional ids (``<group_id>.tx.``; see transport/transactions.py).

    Args:
        group_id: the gateway's consumer group (``kafka.group_id``).
    """
    return f"{group_id}.tx."


def _delivery(identity: str, settings: GatewaySettings, member: str) -> list[AclBinding]:
    acls = [*_topic(identity, deliver_topic(member), "READ"), *_topic(identity, priority_topic(member), "READ"),
            *_topic(identity, retry_topic(member), "READ", "WRITE"), *_topic(identity, DEAD_LETTER, "WRITE"),
            _group(identity, delivery_group(member)),
            # Exactly-once mode: the member's delivery loop publishes and commits through this transactional id.
            *_transactional_id(identity, delivery_transactional_id(member))]
    for participant in settings.members[member].submitters:
        acls += _topic(identity, reply_topic(participant), "WRITE")
    return acls


def member_aeo_topics(settings: GatewaySettings, member: str) -> tuple[list[str], list[str]]:
    """Return the trusted-trader topics a member writes and those it reads.

    It writes its own public topic and its details topics (``oco.aeo.M``, ``oco.aeo.M.to.<every member>``), and
    those of the MRA partners whose snapshot files it imports; it reads every issuer's public topic and the
    details addressed to it.

    Args:
        settings: the network configuration.
        member: the member code.
    """
    issuers = settings.aeo_issuers
    own = [member] + sorted(p for p, partner in settings.aeo.partners.items() if partner.importer == member)
    writes = [t for i in own for t in [aeo_topic(i)] + [aeo_details_topic(i, m) for m in sorted(settings.members)]]
    reads = [aeo_topic(i) for i in issuers] + [aeo_details_topic(i, member) for i in issuers]
    return writes, reads


def _aeo(identity: str, settings: GatewaySettings, member: str) -> list[AclBinding]:
    own = [member] + sorted(p for p, partner in settings.aeo.partners.items() if partner.importer == member)
    acls = []
    for issuer in own:
        acls += _topic(identity, aeo_topic(issuer), "WRITE")
        acls += _topic(identity, aeo_details_topic(issuer, ""), "WRITE", prefixed=True)  # oco.aeo.M.to.*
    for issuer in settings.aeo_issuers:
        acls += _topic(identity, aeo_topic(issuer), "READ") + _topic(identity, aeo_details_topic(issuer, member), "READ")
    return acls


def _check_names(settings: GatewaySettings) -> None:
    taken = [p for p in settings.participants if p.startswith(RESERVED_PREFIXES)]
    if taken:
        raise ConfigError(f"participant id(s) {', '.join(sorted(taken))} start with "
                          f"{' or '.join(repr(p) for p in RESERVED_PREFIXES)}, which name the network's own "
                          "identities (gateway, delivery, members): rename them")


def plan_access(settings: GatewaySettings) -> AccessPlan:
    """Return the identities, topics and ACLs a network needs.

    Args:
        settings: the network configuration.

    Raises:
        ConfigError: a participant id would take the name of one of the network's own identities.
    """
    _check_names(settings)
    participants, members = sorted(settings.participants), sorted(settings.members)
    identities = [Identity(p, "participant", p) for p in participants]
    identities += [Identity(member_identity(m), "member", m) for m in members]
    identities.append(Identity(GATEWAY, "gateway"))
    central = [m for m in members if settings.members[m].adapter is not None]
    if central:
        identities.append(Identity(DELIVERY, "delivery", ",".join(central)))

    topics = {DEAD_LETTER: False}
    for p in participants:
        topics |= {submit_topic(p): False, reply_topic(p): False}
    for m in members:
        topics |= {deliver_topic(m): False, priority_topic(m): False, retry_topic(m): False}
    topics |= {t: True for t in aeo_topic_names(settings.aeo_issuers, members)}

    acls: list[AclBinding] = []
    for p in participants:
        acls += _topic(p, submit_topic(p), "WRITE") + _topic(p, reply_topic(p), "READ")
        acls.append(_group(p, f"{p}.", prefixed=True))
    for m in members:
        identity = member_identity(m)
        acls += _delivery(identity, settings, m) + _aeo(identity, settings, m)
    for m in central:
        acls += _delivery(DELIVERY, settings, m)
    acls += _gateway(settings, participants, members)
    return AccessPlan(tuple(identities), topics, frozenset(acls))


def _gateway(settings: GatewaySettings, participants: Iterable[str], members: Iterable[str]) -> list[AclBinding]:
    acls = _topic(GATEWAY, DEAD_LETTER, "WRITE")
    for p in participants:
        acls += _topic(GATEWAY, submit_topic(p), "READ") + _topic(GATEWAY, reply_topic(p), "WRITE")
    for m in members:
        acls += _topic(GATEWAY, deliver_topic(m), "WRITE") + _topic(GATEWAY, priority_topic(m), "WRITE")
    for issuer in settings.aeo_issuers:
        acls += _topic(GATEWAY, aeo_topic(issuer), "READ")
    group = settings.kafka.group_id
    # Exactly-once mode: one transactional id per submit partition (gateway/transport/transactions.py).
    return acls + [_group(GATEWAY, group), _group(GATEWAY, f"{group}-aeo-audit"),
                   *_transactional_id(GATEWAY, gateway_transactional_prefix(group), prefixed=True)]
