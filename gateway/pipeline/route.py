"""Last step: turn a finished submission into the Kafka records to publish (deliver, reply, dead letter)."""

from __future__ import annotations

from dataclasses import dataclass

from gateway import headers as h
from gateway.errors import Issue, Rejection
from gateway.pipeline.context import SourceRef, Submission
from gateway.responses import Statement, build_response
from gateway.topics import DEAD_LETTER, deliver_topic, priority_topic, reply_topic

__all__ = ["Output", "dead_letter_headers", "plan_outputs", "record_key"]


@dataclass(frozen=True, slots=True)
class Output:
    """One record to publish."""

    topic: str
    key: bytes
    value: bytes
    headers: dict[str, str]


def record_key(submission: Submission) -> bytes:
    """Return the Kafka key that keeps the versions of one declaration (participant + LRN) in order.

    Args:
        submission: the submission, with or without routing fields.
    """
    if submission.routing is not None:
        return f"{submission.participant}:{submission.routing.lrn}".encode()
    # Unidentified: no LRN to go by, so keep the participant's messages together.
    return submission.participant.encode()


def plan_outputs(submission: Submission, rejection: Rejection | None) -> list[Output]:
    """Decide what to publish for one submission.

    A valid declaration goes to its member's delivery topic (its priority lane when the member recognises
    one of its AEO holders) and gets a "received" reply, which says whether it got priority and why; a
    rejected one gets a "rejected" reply with every issue, and a copy in the dead-letter topic when it
    could not be read or identified.

    Args:
        submission: the submission after the stages ran.
        rejection: what stopped it, or None when every stage passed.
    """
    routing = submission.routing
    key = record_key(submission)
    common = {h.TRACKING_ID: submission.tracking_id, h.PARTICIPANT: submission.participant}
    if routing is not None:
        common[h.MEMBER] = routing.member
        common[h.LRN] = routing.lrn
        common[h.FUNCTION_CODE] = routing.function_code
    if submission.profile is not None:
        common[h.PROFILE] = submission.profile.name

    recognition = submission.recognition if rejection is None else None
    statements: tuple[Statement, ...] = ()
    if recognition is not None:
        statements = (Statement("AEO", "AEO-PRIORITY" if recognition.priority else "AEO-NO-PRIORITY",
                                recognition.describe()),)
        common[h.AEO_OUTCOME] = "priority" if recognition.priority else "no_priority"
    deliver_headers = common
    if recognition is not None and recognition.priority:
        deliver_headers = {**common, h.LANE: "priority", h.AEO_RECOGNISED: recognition.header()}
    reply = build_response(
        status="rejected" if rejection else "received",
        tracking_id=submission.tracking_id,
        lrn=routing.lrn if routing else None,
        member=routing.member if routing else None,
        declaration_id=routing.declaration_id if routing else None,
        issues=rejection.issues if rejection else (),
        statements=statements,
    )
    outputs = [Output(reply_topic(submission.participant), key, reply, {**common, h.STATUS: "rejected" if rejection else "received"})]
    if rejection is None:
        assert routing is not None
        lane = priority_topic if recognition is not None and recognition.priority else deliver_topic
        outputs.insert(0, Output(lane(routing.member), key, submission.payload, deliver_headers))
    elif rejection.dead_letter:
        outputs.append(Output(DEAD_LETTER, key, submission.payload, {**common, **dead_letter_headers(submission.source, rejection)}))
    return outputs


def dead_letter_headers(source: SourceRef | None, rejection: Rejection) -> dict[str, str]:
    """Return the Kafka-Connect-style context headers of a dead-lettered record.

    Args:
        source: where the record was read, if from Kafka.
        rejection: why it is parked.
    """
    cause = rejection.__cause__ if rejection.__cause__ is not None else rejection
    return {
        h.DLQ_TOPIC: source.topic if source else "",
        h.DLQ_PARTITION: str(source.partition) if source else "",
        h.DLQ_OFFSET: str(source.offset) if source else "",
        h.DLQ_STAGE: rejection.stage,
        h.DLQ_EXCEPTION_CLASS: f"{type(cause).__module__}.{type(cause).__qualname__}",
        # Headers are small and single-line: the full list of issues is in the reply.
        h.DLQ_EXCEPTION_MESSAGE: _one_line(str(cause) or "; ".join(i.message for i in rejection.issues)),
    }


def _one_line(text: str, limit: int = 1000) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1] + "…"

