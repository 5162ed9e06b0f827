"""Topic names: one topic per submitting participant and per member, so broker ACLs can be per topic."""

from __future__ import annotations

__all__ = [
    "DEAD_LETTER",
    "aeo_details_topic",
    "aeo_topic",
    "deliver_topic",
    "participant_of",
    "priority_topic",
    "reply_topic",
    "retry_topic",
    "submit_topic",
    "topic_configs",
]

DEAD_LETTER = "oco.dlq"
_SUBMIT = "oco.submit."


def submit_topic(participant: str) -> str:
    """Return the topic a participant writes its declarations to.

    Args:
        participant: participant id, as in the network configuration.
    """
    return f"{_SUBMIT}{participant}"


def reply_topic(participant: str) -> str:
    """Return the topic the gateway writes a participant's Responses to.

    Args:
        participant: participant id.
    """
    return f"oco.reply.{participant}"


def deliver_topic(member: str) -> str:
    """Return the topic holding validated declarations for one member's national system.

    Args:
        member: ISO 3166-1 alpha-2 member code (``FJ``).
    """
    return f"oco.deliver.{member}"


def participant_of(topic: str) -> str:
    """Return the participant that owns a submit topic.

    The topic, not anything inside the message, says who submitted: broker ACLs let only that
    participant write to it, so a member can act only as itself.

    Args:
        topic: a topic named by :func:`submit_topic`.

    Raises:
        ValueError: the topic is not a submit topic.
    """
    if not topic.startswith(_SUBMIT) or len(topic) == len(_SUBMIT):
        raise ValueError(f"{topic!r} is not a submit topic ({_SUBMIT}<participant>)")
    return topic[len(_SUBMIT):]


def retry_topic(member: str) -> str:
    """Return the topic where one member's failed deliveries wait for their next attempt.

    Args:
        member: member code.
    """
    return f"oco.retry.{member}"


def priority_topic(member: str) -> str:
    """Return a member's priority lane: declarations of traders it recognises, drained before the others.

    Args:
        member: member code.
    """
    return f"oco.deliver.{member}.priority"


def aeo_topic(issuer: str) -> str:
    """Return the compacted topic where a member (or MRA partner) publishes its trusted-trader statuses.

    Only the issuer writes it (broker ACLs); every gateway reads it. It carries the public view of each
    status (trader id, category, status, dates): never a name or an address.

    Args:
        issuer: the issuing member's (or partner's) country code.
    """
    return f"oco.aeo.{issuer}"


def aeo_details_topic(issuer: str, recipient: str) -> str:
    """Return the compacted topic carrying an issuer's trader details (name, address) for one recipient.

    Only traders that consented to ``recipient`` are published here, and only ``recipient`` may read it
    (broker ACLs): consent is enforced by where the data goes, not by readers ignoring fields. The issuer
    keeps its own copy under ``aeo_details_topic(issuer, issuer)``.

    Args:
        issuer: the issuing member's country code.
        recipient: the member allowed to read the details.
    """
    return f"oco.aeo.{issuer}.to.{recipient}"


def topic_configs(topic: str, *, max_message_bytes: int, compacted: bool = False) -> dict[str, str]:
    """Return the settings a topic is created with.

    Every topic takes the largest message the gateway accepts, plus room for headers (the broker's default,
    1 MiB, is below it). Trusted-trader topics are compacted: the latest status per trader is kept for ever.
    Submit topics are stamped by the broker (``LogAppendTime``): a declaration's timestamp is when it was
    submitted, which the profile versions' cut-over dates compare with, and a submitter cannot backdate it.

    Args:
        topic: the topic's name.
        max_message_bytes: ``gateway.max_message_bytes``.
        compacted: a trusted-trader topic.
    """
    configs = {"max.message.bytes": str(max_message_bytes + 64 * 1024)}
    if compacted:
        configs["cleanup.policy"] = "compact"
    if topic.startswith(_SUBMIT):
        configs["message.timestamp.type"] = "LogAppendTime"
    return configs
