"""The network's Kafka identities (SASL user names, principal ``User:<name>``), one per process role.

    participant P       P itself (``fj-broker-a``): writes oco.submit.P, reads oco.reply.P
    member M            ``member-<m>`` (``member-fj``): M's own delivery worker and its ``aeo`` commands
    gateway             ``oco-gateway``: ``oco-gateway run``
    central delivery    ``oco-delivery``: ``oco-gateway deliver`` for the members with an adapter
    administrator       ``oco-admin``: the broker's super user; runs ``provision``, ``dlq``, ``aeo topics``
"""

from __future__ import annotations

__all__ = ["ADMIN", "DELIVERY", "GATEWAY", "RESERVED_PREFIXES", "member_identity", "principal"]

ADMIN = "oco-admin"
GATEWAY = "oco-gateway"
DELIVERY = "oco-delivery"
RESERVED_PREFIXES = ("oco-", "member-")  # no participant id may start so: it would take a role's name


def member_identity(member: str) -> str:
    """Return the identity of a member administration (its delivery worker and trusted-trader tools).

    Args:
        member: the member code (``FJ``).
    """
    return f"member-{member.lower()}"


def principal(identity: str) -> str:
    """Return the Kafka principal of an identity (``User:<name>``), as ACLs name it.

    Args:
        identity: the SASL user name.
    """
    return f"User:{identity}"
