"""What each Kafka header the gateway reads or writes means, for the AsyncAPI document (one entry per name).

Every constant of ``gateway.headers`` must have an entry here (a unit test checks it), so a header cannot be
added to the wire without being documented for member systems.
"""

from __future__ import annotations

from dataclasses import dataclass

from gateway import headers as h
from gateway.errors import EventRefused
from gateway.transport.dlq import REPLAYED_FROM

__all__ = ["FASTSTREAM_HEADERS", "HEADERS", "HeaderDoc"]


@dataclass(frozen=True, slots=True)
class HeaderDoc:
    """One header: its meaning and an example value (headers are UTF-8 strings)."""

    description: str
    example: str
    values: tuple[str, ...] = ()  # the only values it takes, when they are few


HEADERS: dict[str, HeaderDoc] = {
    h.TRACKING_ID: HeaderDoc(
        "Tracking id of the submission, carried by every record it leads to (deliveries, retries, replies, dead "
        "letters). Kept from the submitted record when it has one; otherwise derived from its topic, partition and "
        "offset, so a reprocessed record gets the same id.", "3b9e6a52-1c0f-5d3e-9a4f-2f8c1e7d9b01"),
    h.PARTICIPANT: HeaderDoc("The participant that submitted the declaration: the suffix of the submit topic it "
                             "was written to (never a name inside the document).", "fj-post"),
    h.MEMBER: HeaderDoc("The member whose customs handles the declaration (its ResponsibleCountryCode), ISO 3166-1 "
                        "alpha-2.", "FJ"),
    h.LRN: HeaderDoc("The declaration's Local Reference Number (Declaration/FunctionalReferenceID).",
                     "LRN-2026-000123"),
    h.FUNCTION_CODE: HeaderDoc("The declaration's WCO FunctionCode (9 original, 13 amendment...).", "9"),
    h.PROFILE: HeaderDoc("The schema profile the document's namespace selected (a folder of schemas/).", "oco"),
    h.STATUS: HeaderDoc("What a Response says: received (the gateway validated and routed it), rejected (by the "
                        "gateway or the national system), accepted (registered by the national system).",
                        "received", ("received", "rejected", "accepted")),
    h.ATTEMPT: HeaderDoc("The delivery attempt a retry record waits for (2 for the first retry).", "2"),
    h.NOT_BEFORE: HeaderDoc("Epoch milliseconds before which a retry record must not be attempted (exponential "
                            "backoff with jitter).", "1764500000000"),
    h.IDEMPOTENCY_KEY: HeaderDoc("The key under which the national system registers the declaration once: "
                                 "participant:LRN:function-code:version, the version a digest of the document.",
                                 "fj-post:LRN-2026-000123:9:5f2c0d1e"),
    h.LANE: HeaderDoc("priority on a declaration of a trader the destination member recognises as an AEO (it is on "
                      "the priority lane); absent otherwise.", "priority", ("priority",)),
    h.AEO_RECOGNISED: HeaderDoc("The AEO the destination recognised: trader id, category and issuer, space-separated.",
                                "FJ0012345 AEOF FJ"),
    h.AEO_OUTCOME: HeaderDoc("On a declaration naming an AEO holder, and on its reply: whether it got priority.",
                             "priority", ("priority", "no_priority")),
    h.AEO_REFUSAL: HeaderDoc("Why a trusted-trader status event was refused and parked.", "bad_signature",
                             EventRefused.REASONS),
    h.DLQ_TOPIC: HeaderDoc("Dead letter: the topic the original record was read from (empty when the record was "
                           "refused on its way out: then the topic it was meant for).", "oco.submit.fj-post"),
    h.DLQ_PARTITION: HeaderDoc("Dead letter: the original record's partition (may be empty).", "1"),
    h.DLQ_OFFSET: HeaderDoc("Dead letter: the original record's offset (may be empty).", "418"),
    h.DLQ_STAGE: HeaderDoc("Dead letter: where it failed: a pipeline stage (parse, identify, validate...), route, "
                           "timeout, publish, aeo, deliver or deliver-publish.", "parse"),
    h.DLQ_EXCEPTION_CLASS: HeaderDoc("Dead letter: the qualified name of the error.", "gateway.errors.Unreadable"),
    h.DLQ_EXCEPTION_MESSAGE: HeaderDoc("Dead letter: the error message, one line, at most 1,000 characters.",
                                       "the document is not well-formed XML"),
    h.DLQ_PAYLOAD_OMITTED: HeaderDoc("Dead letter without a copy of the payload (it would not fit a record): the "
                                     "size left out, in bytes. The original stays where the oco.errors.topic, "
                                     "partition and offset headers say, for the topic's retention.", "4194304"),
    REPLAYED_FROM: HeaderDoc("On a record an operator replayed from the dead-letter topic (`oco-gateway dlq "
                             "replay`): where it was parked.", "oco.dlq/0:7"),
}
"""Every header the gateway and the delivery workers read or write, by name."""

FASTSTREAM_HEADERS: dict[str, HeaderDoc] = {
    "correlation_id": HeaderDoc("Set by FastStream on every record the gateway publishes (retries and dead letters "
                                "of a delivery keep it): a random id of that record. Use oco-tracking-id to follow "
                                "a submission.",
                                "0b1c6f9e-8a44-4a55-9d0c-5c2b3f1e7a60"),
    "content-type": HeaderDoc("Set by FastStream on every record the gateway publishes (retries and dead letters "
                              "of a delivery keep it); empty: the payload is raw bytes (XML).", ""),
}
"""Headers FastStream itself adds to what the gateway publishes with ``broker.publish``."""
