"""Kafka header names the gateway reads and writes; every output carries the tracking id."""

from __future__ import annotations

__all__ = [
    "AEO_OUTCOME",
    "AEO_RECOGNISED",
    "AEO_REFUSAL",
    "ATTEMPT",
    "DLQ_EXCEPTION_CLASS",
    "DLQ_EXCEPTION_MESSAGE",
    "DLQ_OFFSET",
    "DLQ_PARTITION",
    "DLQ_PAYLOAD_OMITTED",
    "DLQ_STAGE",
    "DLQ_TOPIC",
    "FUNCTION_CODE",
    "IDEMPOTENCY_KEY",
    "LANE",
    "LRN",
    "MEMBER",
    "NOT_BEFORE",
    "PARTICIPANT",
    "PROFILE",
    "STATUS",
    "TRACKING_ID",
]

TRACKING_ID = "oco-tracking-id"
PARTICIPANT = "oco-participant"
MEMBER = "oco-member"
LRN = "oco-lrn"
FUNCTION_CODE = "oco-function-code"
PROFILE = "oco-profile"
STATUS = "oco-status"
ATTEMPT = "oco-attempt"  # delivery attempt the record is waiting for (retry topic)
NOT_BEFORE = "oco-not-before"  # epoch milliseconds before which the retry must not run
IDEMPOTENCY_KEY = "oco-idempotency-key"
LANE = "oco-lane"  # "priority" on declarations of a recognised AEO, else absent
AEO_RECOGNISED = "oco-aeo-recognised"  # trader id, category and issuer: "FJ0012345 AEOF FJ"
AEO_OUTCOME = "oco-aeo-outcome"  # on a declaration naming an AEO, and its reply: "priority" or "no_priority"
AEO_REFUSAL = "oco-aeo-refusal"  # why a status event was parked: unsigned, bad_signature, replayed...

# Dead-letter context, named after Kafka Connect's ``__connect.errors.*`` headers so operators who know
# Connect read them at a glance.
DLQ_TOPIC = "oco.errors.topic"
DLQ_PARTITION = "oco.errors.partition"
DLQ_OFFSET = "oco.errors.offset"
DLQ_STAGE = "oco.errors.stage"
DLQ_EXCEPTION_CLASS = "oco.errors.exception.class.name"
DLQ_EXCEPTION_MESSAGE = "oco.errors.exception.message"
# On a dead-letter record that carries no copy of the payload (it would not fit a Kafka record): the size of the
# payload left out. The original stays where DLQ_TOPIC / DLQ_PARTITION / DLQ_OFFSET say, for the topic's retention.
DLQ_PAYLOAD_OMITTED = "oco.errors.payload.omitted"
