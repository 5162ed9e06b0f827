"""One status event from the wire to a verdict, by the declarations' own path: parse, identify, validate, then
read, verify and apply. Nothing refused reaches the registry; a refusal says why, for the dead-letter topic.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass

from gateway import headers as h
from gateway.aeo.document import EventUnreadable, read_event
from gateway.aeo.registry import AeoRegistry
from gateway.aeo.status import TraderStatus
from gateway.errors import EventRefused, Rejection
from gateway.pipeline.context import SourceRef, Stage, Submission
from gateway.pipeline.route import Output, dead_letter_headers
from gateway.topics import DEAD_LETTER

__all__ = ["EventReader", "IntakeResult", "parked_event"]

_TRACKING = uuid.UUID("0b7f3f5e-54a2-4c43-8e0f-5d7a3f1e2b9c")


@dataclass(frozen=True, slots=True)
class IntakeResult:
    """What became of one event: ``applied``, ``details``, ``duplicate`` or ``refused`` (with the refusal)."""

    outcome: str
    status: TraderStatus | None = None
    refusal: EventRefused | None = None


class EventReader:
    """Read and check status events with the same stages as declarations (safe parse, profile, XSD).

    Args:
        stages: the reading stages, as from ``gateway.pipeline.chain.build_reading_stages``.
    """

    def __init__(self, stages: Sequence[Stage]) -> None:
        self._stages = list(stages)

    def read(self, payload: bytes, source: SourceRef | None = None) -> TraderStatus:
        """Return the event a payload holds.

        Raises:
            EventRefused: (reason ``invalid``) the payload is not a schema-valid AEO status event.
        """
        submission = Submission(payload=payload, participant="aeo", tracking_id="aeo", source=source)
        try:
            for stage in self._stages:
                submission = stage(submission)
        except Rejection as exc:
            first = exc.issues[0]
            where = f" (line {first.line})" if first.line else ""
            more = f" and {len(exc.issues) - 1} more" if len(exc.issues) > 1 else ""
            raise EventRefused("invalid", f"not a valid AEO status event: {first.message}{where}{more}") from exc
        assert submission.profile is not None
        if submission.profile.kind != "AEO":
            raise EventRefused("invalid", f"a {submission.profile.label} document is not an AEO status event")
        try:
            return read_event(submission.document)
        except EventUnreadable as exc:
            raise EventRefused("invalid", f"not a readable AEO status event: {exc}") from exc

    def apply(self, registry: AeoRegistry, payload: bytes, *, topic_issuer: str | None = None,
              source: SourceRef | None = None) -> IntakeResult:
        """Read, verify and apply one event to ``registry``; never raises for bad input."""
        try:
            status = self.read(payload, source)
            return IntakeResult(registry.apply(status, topic_issuer=topic_issuer), status)
        except EventRefused as exc:
            return IntakeResult("refused", refusal=exc)


def parked_event(payload: bytes, key: bytes | None, source: SourceRef, refusal: EventRefused) -> Output:
    """Return the dead-letter record of a refused event, with its context and the reason."""
    tracking = str(uuid.uuid5(_TRACKING, f"{source.topic}/{source.partition}/{source.offset}"))
    return Output(DEAD_LETTER, key or b"", payload, {
        h.TRACKING_ID: tracking, h.AEO_REFUSAL: refusal.reason, **dead_letter_headers(source, refusal)})
