"""The record that flows through the pipeline stages, and the signature every stage shares."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Callable

if TYPE_CHECKING:
    from gateway.profiles import Profile

__all__ = ["AeoHolder", "RoutingFields", "SourceRef", "Stage", "Submission"]


@dataclass(frozen=True, slots=True)
class SourceRef:
    """Where a message was read from: enough to find it again on the broker."""

    topic: str
    partition: int
    offset: int


@dataclass(frozen=True, slots=True)
class AeoHolder:
    """A trader named in the declaration as holder of an AEO authorisation."""

    trader_id: str
    category: str  # AEOC, AEOS or AEOF


@dataclass(frozen=True, slots=True)
class RoutingFields:
    """The few fields of a declaration the gateway routes, keys and answers by."""

    member: str  # MetaData/ResponsibleCountryCode: whose customs handles it
    lrn: str  # Declaration/FunctionalReferenceID: the trader's local reference number
    function_code: str  # 9 original, 13 amendment or cancellation
    type_code: str | None = None
    declarant: str | None = None
    declaration_id: str | None = None  # customs reference, once registered
    aeo_holders: tuple[AeoHolder, ...] = ()


@dataclass(slots=True)
class Submission:
    """One incoming message, filled in stage by stage.

    Attributes:
        payload: the raw message value.
        participant: who submitted, taken from the submit topic's name.
        tracking_id: id carried by every output of this message.
        source: topic, partition and offset it was read from.
        document: parsed root element (``parse`` stage).
        profile: the schema profile that matched (``identify`` stage).
        routing: extracted routing fields (``extract`` stage).
    """

    payload: bytes
    participant: str
    tracking_id: str
    source: SourceRef | None = None
    headers: dict[str, str] = field(default_factory=dict)
    document: Any = None  # lxml root element; typed Any so this module needs no lxml
    profile: Profile | None = None
    routing: RoutingFields | None = None


Stage = Callable[[Submission], Submission]
"""A pipeline stage: takes the submission, returns it filled in, or raises a ``Rejection``."""
