"""The request/reply convention over a member's own Kafka topics, shared by the adapter and the responder.

Request: on ``member.<CODE>.declarations``, key = the idempotency key, value = the declaration as submitted,
headers ``oco-idempotency-key`` and ``oco-tracking-id``. Reply: on ``member.<CODE>.answers``, value = a WCO DM
Response, the same two headers (the idempotency key correlates), and ``oco-replayed: true`` when the member
replays the answer to a key it registered before.
"""

from __future__ import annotations

from collections.abc import Iterable

__all__ = [
    "IDEMPOTENCY_KEY",
    "REPLAYED",
    "TRACKING_ID",
    "default_reply_topic",
    "default_request_topic",
    "header",
]

IDEMPOTENCY_KEY = "oco-idempotency-key"  # the gateway's own header names (gateway.headers), repeated here
TRACKING_ID = "oco-tracking-id"  # because an adapter imports only gateway.sdk
REPLAYED = "oco-replayed"


def default_request_topic(member: str) -> str:
    """Return the topic the member reads declarations from.

    Args:
        member: the member code.
    """
    return f"member.{member}.declarations"


def default_reply_topic(member: str) -> str:
    """Return the topic the member writes its answers to.

    Args:
        member: the member code.
    """
    return f"member.{member}.answers"


def header(headers: Iterable[tuple[str, bytes]] | None, name: str) -> str | None:
    """Return a record header as text, or None when absent or not UTF-8.

    Args:
        headers: the record's headers.
        name: the header name.
    """
    for key, value in headers or ():
        if key == name:
            try:
                return value.decode() if value is not None else None
            except UnicodeDecodeError:
                return None
    return None
