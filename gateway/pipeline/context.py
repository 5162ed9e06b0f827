"""The record that flows through the pipeline stages, and the signature every stage shares."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Callable

if TYPE_CHECKING:
    from gateway.aeo.recognition import Recognition
    from gateway.profiles import Profile
    from gateway.routing import RoutingFields

__all__ = ["SourceRef", "Stage", "Submission"]


@dataclass(frozen=True, slots=True)
class SourceRef:
    """Where a message was read from: enough to find it again on the broker."""

    topic: str
    partition: int
    offset: int


@dataclass(slots=True)
class Submission:
    """One incoming message, filled in stage by stage.

    Attributes:
        payload: the raw message value.
        participant: who submitted, taken from the submit topic's name.
        tracking_id: id carried by every output of this message.
        source: topic, partition and offset it was read from.
        submitted_ms: when the broker appended it (milliseconds since the epoch), on submit topics stamped by
            the broker (``LogAppendTime``); None where producers set timestamps, which a submitter could backdate.
        document: parsed root element (``parse`` stage).
        profile: the schema profile that matched (``identify`` stage).
        routing: extracted routing fields (``extract`` stage).
        recognition: what the destination makes of its AEO holders (``recognise`` stage); None when the
            declaration names none.
    """

    payload: bytes
    participant: str
    tracking_id: str
    source: SourceRef | None = None
    headers: dict[str, str] = field(default_factory=dict)
    submitted_ms: int | None = None
    document: Any = None  # lxml root element; typed Any so this module needs no lxml
    profile: Profile | None = None
    routing: RoutingFields | None = None
    recognition: Recognition | None = None


Stage = Callable[[Submission], Submission]
"""A pipeline stage: takes the submission, returns it filled in, or raises a ``Rejection``."""
