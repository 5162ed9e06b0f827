"""The topics, keys, headers and payloads of the network, as tables: what FastStream cannot see is completed here.

Addresses come from ``gateway.topics`` called with ``{parameter}`` placeholders, header names from
``gateway.headers``, their meaning from :mod:`gateway.contract.headers`.
"""

from __future__ import annotations

from dataclasses import dataclass

from gateway import headers as h
from gateway.topics import (DEAD_LETTER, aeo_details_topic, aeo_topic, deliver_topic, priority_topic, reply_topic,
                            retry_topic, submit_topic)
from gateway.transport.dlq import REPLAYED_FROM

__all__ = ["CHANNELS", "KEYS", "MESSAGES", "OPERATIONS", "PARAMETERS", "PAYLOADS", "Channel", "Message", "Operation",
           "Payload"]


@dataclass(frozen=True, slots=True)
class Payload:
    """A record value: an XML document of the schema profile (XSD paths relative to the repository)."""

    description: str
    xsd: tuple[str, ...] = ()
    root: str = ""


@dataclass(frozen=True, slots=True)
class Message:
    """One kind of record: its payload, key, and the headers it always or may carry."""

    name: str
    title: str
    summary: str
    payload: str  # a key of PAYLOADS
    key: str  # a key of KEYS
    required: tuple[str, ...] = ()
    optional: tuple[str, ...] = ()
    faststream: bool = False  # FastStream's own headers (the gateway publishes with it; retries keep them)


@dataclass(frozen=True, slots=True)
class Channel:
    """One topic (or family of topics: one per participant, member or issuer)."""

    name: str
    address: str
    title: str
    description: str
    messages: tuple[str, ...]
    compacted: bool = False


@dataclass(frozen=True, slots=True)
class Operation:
    """What a process of this package does on a channel: ``send`` or ``receive``."""

    name: str
    action: str
    channel: str
    summary: str
    group: str = ""  # the consumer group, for a receive


PARAMETERS: dict[str, str] = {
    "participant": "Participant id (lower-case letters, digits and '-'), as in the network file's `participants`. "
                   "Each participant writes only its own submit topic and reads only its own reply topic (broker "
                   "ACLs).",
    "member": "Member code, ISO 3166-1 alpha-2 (FJ, WS, TO, NZ...), as in the network file's `members`.",
    "issuer": "The member (or MRA partner) that issues the trusted-trader statuses, ISO 3166-1 alpha-2.",
}

_DEC = ("schemas/oco/DocumentMetaData_1_OCO.xsd", "schemas/oco/WCO_DEC_1_OCO.xsd")
PAYLOADS: dict[str, Payload] = {
    "declaration": Payload(
        "A WCO Data Model declaration (XML, UTF-8, at most gateway.max_message_bytes): MetaData wrapping a "
        "Declaration, validated against the XSDs of the profile its namespace selects (the OCO profile here; "
        "others under schemas/).", _DEC, "{urn:wco:datamodel:WCO:DocumentMetaData-OCO:1}MetaData"),
    "response": Payload(
        "A WCO Data Model Response (XML): FunctionCode 02 received, 03 rejected (with its errors: code, message, "
        "line, element path), 01 accepted (customs reference, taxes).",
        ("schemas/oco/DocumentMetaData_1_OCO.xsd", "schemas/oco/WCO_RES_1_OCO.xsd"),
        "{urn:wco:datamodel:WCO:DocumentMetaData-OCO:1}MetaData"),
    "parked": Payload(
        "The record as it was read (a declaration, an AEO status event, or anything unreadable), or empty when it "
        "would not fit a record (oco.errors.payload.omitted then says its size)."),
    "aeo-public": Payload(
        "A signed AEO status event (XML), public view: trader id, category, status, dates, sequence, Ed25519 "
        "signature by key id; never a name or an address.",
        ("schemas/oco/DocumentMetaData_1_OCO.xsd", "schemas/oco/WCO_AEO_1_OCO.xsd"),
        "{urn:wco:datamodel:WCO:DocumentMetaData-OCO:1}MetaData"),
    "aeo-details": Payload(
        "A signed AEO status event (XML), full view with the trader's name and address; a tombstone (no value) "
        "withdraws the details from this reader (consent withdrawn).",
        ("schemas/oco/DocumentMetaData_1_OCO.xsd", "schemas/oco/WCO_AEO_1_OCO.xsd"),
        "{urn:wco:datamodel:WCO:DocumentMetaData-OCO:1}MetaData"),
}

KEYS: dict[str, tuple[str, str]] = {
    "declaration": ("participant:LRN (UTF-8): every version of one declaration in one partition, in order. An "
                    "unidentified document is keyed by the participant alone.", "fj-post:LRN-2026-000123"),
    "submission": ("Recommended: participant:LRN, so that one declaration's versions stay in order. The gateway "
                   "computes its own keys from the document.", "fj-post:LRN-2026-000123"),
    "trader": ("The trader's AEO id (country code + national number): compaction keeps each trader's latest "
               "status.", "FJ0012345"),
}

_ROUTED = (h.TRACKING_ID, h.PARTICIPANT, h.MEMBER, h.LRN, h.FUNCTION_CODE, h.PROFILE)
_DLQ = (h.DLQ_TOPIC, h.DLQ_PARTITION, h.DLQ_OFFSET, h.DLQ_STAGE, h.DLQ_EXCEPTION_CLASS, h.DLQ_EXCEPTION_MESSAGE)

MESSAGES: tuple[Message, ...] = (
    Message("declaration", "Declaration", "A declaration submitted by a participant.", "declaration", "submission",
            optional=(h.TRACKING_ID, REPLAYED_FROM)),
    Message("delivery", "Validated declaration", "A declaration the gateway validated, routed to its member.",
            "declaration", "declaration", _ROUTED, (h.AEO_OUTCOME, REPLAYED_FROM), faststream=True),
    Message("priorityDelivery", "Validated declaration of a recognised AEO",
            "A declaration naming a trader the member recognises as an AEO, on the priority lane.",
            "declaration", "declaration", (*_ROUTED, h.LANE, h.AEO_RECOGNISED, h.AEO_OUTCOME), faststream=True),
    Message("retry", "Declaration waiting for its next delivery attempt",
            "A declaration the national system could not take yet; it keeps its headers (oco-lane included).",
            "declaration", "declaration", (*_ROUTED, h.ATTEMPT, h.NOT_BEFORE, h.IDEMPOTENCY_KEY),
            (h.LANE, h.AEO_RECOGNISED, h.AEO_OUTCOME, REPLAYED_FROM), faststream=True),
    Message("response", "Response", "The answer to a submission: received or rejected by the gateway, then "
            "accepted or rejected by the national system.", "response", "declaration",
            (h.TRACKING_ID, h.PARTICIPANT, h.STATUS), (h.MEMBER, h.LRN, h.FUNCTION_CODE, h.PROFILE, h.AEO_OUTCOME),
            faststream=True),
    Message("deadLetter", "Dead letter", "A record parked for the operators (`oco-gateway dlq list|replay`), with "
            "Kafka-Connect-style context headers.", "parked", "declaration", (h.TRACKING_ID, *_DLQ),
            (h.PARTICIPANT, h.MEMBER, h.LRN, h.FUNCTION_CODE, h.PROFILE, h.DLQ_PAYLOAD_OMITTED, h.AEO_REFUSAL,
             h.IDEMPOTENCY_KEY, h.ATTEMPT, h.NOT_BEFORE, h.LANE, h.AEO_RECOGNISED, h.AEO_OUTCOME, h.STATUS,
             REPLAYED_FROM),
            faststream=True),
    Message("aeoStatus", "AEO status event", "A signed trusted-trader status, public view.", "aeo-public", "trader"),
    Message("aeoDetails", "AEO status event with details", "A signed trusted-trader status with name and address, "
            "for one member the trader consented to.", "aeo-details", "trader"),
)

CHANNELS: tuple[Channel, ...] = (
    Channel("submit", submit_topic("{participant}"), "Submissions",
            "Declarations of one participant. Written by that participant only; the topic, not the document, says "
            "who submitted. The broker stamps each record (message.timestamp.type LogAppendTime): that is when "
            "it was submitted, which profile version cut-over dates compare with.", ("declaration",)),
    Channel("deliver", deliver_topic("{member}"), "Deliveries",
            "Validated declarations for one member's national system. Written by the gateway; read by that "
            "member's delivery worker (group oco-deliver-<member>).", ("delivery",)),
    Channel("priority", priority_topic("{member}"), "Priority lane",
            "Validated declarations of traders the member recognises as AEO; drained before the deliver topic, "
            "without starving it.", ("priorityDelivery",)),
    Channel("retry", retry_topic("{member}"), "Retries",
            "A member's failed deliveries waiting for their next attempt. Written and read by that member's "
            "delivery worker.", ("retry",)),
    Channel("reply", reply_topic("{participant}"), "Replies",
            "Responses to one participant: received or rejected from the gateway, then accepted or rejected from "
            "the delivery worker. Read by that participant only (groups <participant>.*).", ("response",)),
    Channel("dlq", DEAD_LETTER, "Dead letters",
            "What could not be read, identified or delivered, refused AEO events, and records the broker refused. "
            "Read by operators.", ("deadLetter",)),
    Channel("aeo", aeo_topic("{issuer}"), "Trusted-trader statuses",
            "Signed AEO statuses of one issuer, compacted. Written by the issuer only; read by every gateway and "
            "member.", ("aeoStatus",), compacted=True),
    Channel("aeoDetails", aeo_details_topic("{issuer}", "{member}"), "Trusted-trader details for one member",
            "The issuer's traders that consented to this member, with name and address, compacted. Written by the "
            "issuer; read by that member only: consent is enforced by the broker.", ("aeoDetails",), compacted=True),
)

OPERATIONS: tuple[Operation, ...] = (
    Operation("receiveSubmission", "receive", "submit", "The gateway (`oco-gateway run`) validates, routes and "
              "answers every submission, in batches; offsets are committed once its outputs are acknowledged.",
              group="{kafka.group_id}"),
    Operation("sendDelivery", "send", "deliver", "The gateway routes a valid declaration to its member."),
    Operation("sendPriorityDelivery", "send", "priority", "The gateway routes a recognised AEO's declaration to "
              "the member's priority lane."),
    Operation("sendReply", "send", "reply", "The gateway answers received or rejected; the delivery worker "
              "answers accepted or rejected."),
    Operation("sendDeadLetter", "send", "dlq", "The gateway and the delivery workers park what they cannot handle."),
    Operation("receiveDelivery", "receive", "deliver", "The member's delivery worker (`oco-gateway deliver`) calls "
              "the national system.", group="oco-deliver-{member}"),
    Operation("receivePriorityDelivery", "receive", "priority", "The member's delivery worker takes the priority "
              "lane first.", group="oco-deliver-{member}"),
    Operation("sendRetry", "send", "retry", "The delivery worker schedules another attempt."),
    Operation("receiveRetry", "receive", "retry", "The delivery worker makes the attempt once it is due.",
              group="oco-deliver-{member}"),
    Operation("sendAeoStatus", "send", "aeo", "The issuer's administration publishes a signed status "
              "(`oco-gateway aeo issue|suspend|revoke|reinstate`)."),
    Operation("receiveAeoStatus", "receive", "aeo", "Every gateway loads and follows the registry (manual "
              "assignment, from the beginning), verifying each signature."),
    Operation("sendAeoDetails", "send", "aeoDetails", "The issuer publishes the full view to each member the "
              "trader consented to, and a tombstone when consent is withdrawn."),
    Operation("receiveAeoDetails", "receive", "aeoDetails", "A member's registry reads the details meant for it."),
)
