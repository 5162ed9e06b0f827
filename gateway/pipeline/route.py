"""Last step: turn a finished submission into the Kafka records to publish (deliver, reply, dead letter).

Every record fits what the broker accepts (``record_limit``, the producer's ``max_request_size`` and the
topics' ``max.message.bytes``): a dead-letter copy too large to carry its payload carries a reference to
the original instead (its topic, partition and offset), a reply too long lists fewer errors, and a
declaration too large to deliver with its headers is rejected. :func:`replacements` gives what to publish
instead of a record the broker refused all the same (a topic configured with a smaller limit).
"""

from __future__ import annotations

from dataclasses import dataclass

from gateway import headers as h
from gateway.errors import Issue, Rejection, Unreadable, truncated_issue
from gateway.pipeline.context import SourceRef, Submission
from gateway.responses import Statement, build_response
from gateway.topics import DEAD_LETTER, deliver_topic, priority_topic, reply_topic

__all__ = ["RECORD_OVERHEAD", "Output", "dead_letter_headers", "plan_outputs", "record_key", "record_size",
           "replacements"]

RECORD_OVERHEAD = 160
"""Bytes a record costs beyond its key, value and headers, rounded up: a batch header (61), the record's own
framing (up to about 25) and the headers' length prefixes are counted apart."""

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


def record_size(output: Output) -> int:
    """Return an upper bound of the bytes ``output`` takes as a Kafka record batch of its own.

    Args:
        output: the record.
    """
    size = RECORD_OVERHEAD + len(output.key) + len(output.value)
    for name, value in output.headers.items():
        size += len(name.encode("utf-8", "replace")) + len(value.encode("utf-8", "replace")) + 10
    return size


def plan_outputs(submission: Submission, rejection: Rejection | None, *,
                 record_limit: int | None = None) -> list[Output]:
    """Decide what to publish for one submission.

    A valid declaration goes to its member's delivery topic (its priority lane when the member recognises
    one of its AEO holders) and gets a "received" reply, which says whether it got priority and why; a
    rejected one gets a "rejected" reply with its issues, and a copy in the dead-letter topic when it
    could not be read or identified.

    Args:
        submission: the submission after the stages ran.
        rejection: what stopped it, or None when every stage passed.
        record_limit: the largest record the broker accepts; None plans without checking sizes.
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
    deliver: Output | None = None
    if rejection is None:
        assert routing is not None
        deliver_headers = common
        if recognition is not None and recognition.priority:
            deliver_headers = {**common, h.LANE: "priority", h.AEO_RECOGNISED: recognition.header()}
        lane = priority_topic if recognition is not None and recognition.priority else deliver_topic
        deliver = Output(lane(routing.member), key, submission.payload, deliver_headers)
        if record_limit is not None and (size := record_size(deliver)) > record_limit:
            too_large = Unreadable([Issue("OCO-TOO-LARGE", f"the declaration with its routing headers makes a "
                                                           f"{size}-byte record; the broker takes at most "
                                                           f"{record_limit} bytes")], stage="route")
            return plan_outputs(submission, too_large, record_limit=record_limit)

    reply_headers = {**common, h.STATUS: "rejected" if rejection else "received"}
    issues = list(rejection.issues) if rejection else []
    reply = Output(reply_topic(submission.participant), key,
                   _response(submission, rejection, issues, statements), reply_headers)
    while record_limit is not None and record_size(reply) > record_limit and len(issues) > 1:
        listed = len(issues) // 2  # fewer errors until it fits: only with a tiny configured limit
        issues = [*issues[:listed], truncated_issue(listed, len(rejection.issues) if rejection else 0)]
        reply = Output(reply.topic, key, _response(submission, rejection, issues, statements), reply_headers)
    outputs = [reply]
    if deliver is not None:
        outputs.insert(0, deliver)
    elif rejection is not None and rejection.dead_letter:
        parked = Output(DEAD_LETTER, key, submission.payload,
                        {**common, **dead_letter_headers(submission.source, rejection)})
        if record_limit is not None and record_size(parked) > record_limit:
            parked = _reference(parked)
        outputs.append(parked)
    return outputs


def replacements(output: Output, source: SourceRef | None, error: BaseException) -> list[Output]:
    """Return what to publish instead of ``output``, which the broker refused for good (too large, invalid).

    The record is parked as a reference (no payload; the input's coordinates, the refused topic and the
    error); a refused reply is replaced by a short one saying so, and a refused delivery by a *rejected*
    reply (the submitter may already hold its *received* one). All of them are small and built by the
    gateway, so the broker takes them.

    Args:
        output: the refused record.
        source: where its input was read.
        error: the broker's (or producer's) refusal.
    """
    what = f"{type(error).__name__}: {error}" if str(error) else type(error).__name__
    carried = {k: v for k, v in output.headers.items()
               if k in (h.TRACKING_ID, h.PARTICIPANT, h.MEMBER, h.LRN, h.FUNCTION_CODE, h.PROFILE) and len(v) <= 256}
    context = {
        h.DLQ_TOPIC: source.topic if source else "",
        h.DLQ_PARTITION: str(source.partition) if source else "",
        h.DLQ_OFFSET: str(source.offset) if source else "",
        h.DLQ_STAGE: "publish",
        h.DLQ_EXCEPTION_CLASS: f"{type(error).__module__}.{type(error).__qualname__}",
        h.DLQ_EXCEPTION_MESSAGE: _one_line(f"the broker refused the {output.topic} record of {record_size(output)} "
                                           f"bytes for good ({what}); it was not published"),
    }
    key = output.key if len(output.key) <= 1024 else output.key[:1024]
    parked = Output(DEAD_LETTER, key, b"", {**carried, **context, h.DLQ_PAYLOAD_OMITTED: str(len(output.value))})
    if output.topic == DEAD_LETTER:
        return [parked]
    tracking = carried.get(h.TRACKING_ID, "unknown")
    lrn = carried.get(h.LRN)
    member = carried.get(h.MEMBER)
    if output.topic.startswith("oco.reply."):
        status = output.headers.get(h.STATUS, "rejected")
        note = Issue("OCO-REPLY-TOO-LARGE", f"the full reply could not be published ({what}); the message is "
                                            "parked for the operators, who can give you its details")
        reply_to = output.topic
    else:
        status = "rejected"
        note = Issue("OCO-NOT-DELIVERED", f"the declaration could not be passed on to {output.topic} ({what}); it "
                                          "is parked for the operators and was not delivered, whatever an "
                                          "earlier reply said")
        participant = carried.get(h.PARTICIPANT, "")
        reply_to = reply_topic(participant) if participant else ""
    outputs = [parked]
    if reply_to:
        reply = build_response(status=status if status in ("received", "rejected") else "rejected",
                               tracking_id=tracking if len(tracking) <= 70 else "unknown",
                               lrn=lrn, member=member, issues=[note])
        outputs.insert(0, Output(reply_to, key, reply, {**carried, h.STATUS: status}))
    return outputs


def _response(submission: Submission, rejection: Rejection | None, issues: list[Issue],
              statements: tuple[Statement, ...]) -> bytes:
    routing = submission.routing
    return build_response(
        status="rejected" if rejection else "received",
        tracking_id=submission.tracking_id,
        lrn=routing.lrn if routing else None,
        member=routing.member if routing else None,
        declaration_id=routing.declaration_id if routing else None,
        issues=issues,
        statements=statements,
    )


def _reference(parked: Output) -> Output:
    """The dead-letter record without its payload, which stays at the coordinates its headers give."""
    return Output(parked.topic, parked.key, b"", {**parked.headers, h.DLQ_PAYLOAD_OMITTED: str(len(parked.value))})


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

