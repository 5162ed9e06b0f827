"""Decide what becomes of one record on a member's delivery or retry topic: deliver, retry later, or give up.

No Kafka here: the worker gets a record and returns a decision (records to publish, or "hold this
partition until then"), so every path is tested directly.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Mapping
from contextlib import AbstractAsyncContextManager, nullcontext
from dataclasses import dataclass, field
from decimal import Decimal
from functools import partial

import structlog

from gateway import headers as h
from gateway.delivery.backoff import RetryPolicy
from gateway.delivery.breaker import BreakerState, CircuitBreaker
from gateway.errors import AdapterError, AdapterProtocolError, AdapterUnavailable, Issue
from gateway.pipeline.route import Output
from gateway.responses import Statement, TaxDue, build_response
from gateway.sdk import (Adapter, Assessment, Declaration, DeclarationModel, NationalAnswer,
                         idempotency_key)
from gateway.topics import DEAD_LETTER, reply_topic, retry_topic

__all__ = ["Decision", "InRecord", "MemberWorker"]

log = structlog.get_logger("gateway.delivery")

REPLAY_TYPE, REPLAY_CODE = "DUP", "NATIONAL-REPLAY"  # the Response remark of an answer replayed by the national system


@dataclass(frozen=True, slots=True)
class InRecord:
    """A record from ``oco.deliver.<M>`` or ``oco.retry.<M>``, as the worker needs it."""

    topic: str
    partition: int
    offset: int
    key: bytes | None
    value: bytes
    headers: Mapping[str, str]


@dataclass(frozen=True, slots=True)
class Decision:
    """What to do with a record.

    ``hold_until`` set: do not consume it now; rewind and pause its partition (or all of them, when
    ``hold_all``) until that time (``time.time()`` seconds). Otherwise publish ``outputs``, then commit.
    """

    outputs: tuple[Output, ...] = ()
    hold_until: float | None = None
    hold_all: bool = False
    outcome: str = ""  # accepted, rejected, retry, failed, held: for metrics and logs
    answer: NationalAnswer | None = field(default=None, repr=False)


class MemberWorker:
    """Deliver one member's declarations through its adapter, with retries, breaker and rate limit.

    Args:
        member: the member code.
        adapter: the member's national adapter.
        policy: retry policy.
        breaker: the member's circuit breaker.
        limiter: an async context manager entered around each call (the member's rate limit).
        clock: wall clock in seconds (``time.time``); retry times travel between processes.
        call_timeout: a bound on every national call, in case an adapter forgets its own.
        models: builds ``Declaration.model`` on an adapter's first use from the payload and the name of the
            profile that validated it (:class:`gateway.profiles.ModelReaders`); None reads with the gateway's
            profiles folder.
    """

    def __init__(self, member: str, adapter: Adapter, *, policy: RetryPolicy | None = None,
                 breaker: CircuitBreaker | None = None, limiter: AbstractAsyncContextManager[object] | None = None,
                 clock: Callable[[], float] = time.time, call_timeout: float = 120.0,
                 models: Callable[[bytes, str | None], DeclarationModel] | None = None) -> None:
        self.member = member
        self.adapter = adapter
        self.policy = policy or RetryPolicy()
        self.breaker = breaker or CircuitBreaker()
        self._limiter = limiter
        self._clock = clock
        self._call_timeout = call_timeout
        self._models = models

    async def handle(self, record: InRecord) -> Decision:
        """Decide about one record (and make the national call when it is due).

        Args:
            record: the consumed record.
        """
        attempt = max(1, _number(record.headers.get(h.ATTEMPT), 1))
        not_before = _number(record.headers.get(h.NOT_BEFORE), 0) / 1000
        now = self._clock()
        if not_before > now:
            return Decision(hold_until=not_before, outcome="held")
        if not self.breaker.allows_call():
            wait = max(0.0, self.breaker.probe_at() - time.monotonic())
            return Decision(hold_until=now + wait, hold_all=True, outcome="held")
        declaration = self._declaration(record, attempt)
        probing = self.breaker.state is BreakerState.HALF_OPEN
        try:
            async with self._limiter or nullcontext():
                answer = await self._call(declaration)
        except AdapterUnavailable as exc:
            self.breaker.record_failure()
            if probing:  # the system is still down: that says nothing about this declaration
                wait = max(0.0, self.breaker.probe_at() - time.monotonic())
                return Decision(hold_until=now + wait, hold_all=True, outcome="held")
            return self._retry_or_give_up(record, declaration, exc)
        except AdapterProtocolError as exc:
            self.breaker.record_success()  # it answered; the answer is the problem
            return self._give_up(record, declaration, exc)
        except Exception as exc:  # noqa: BLE001 - an adapter bug must park the declaration, not stop delivery
            log.exception("adapter_crashed", member=self.member, tracking_id=declaration.tracking_id)
            return self._give_up(record, declaration, exc)
        self.breaker.record_success()
        try:
            reply = self._reply(record, declaration, answer)
        except Exception as exc:  # noqa: BLE001 - an answer we cannot write back parks the declaration
            log.exception("reply_failed", member=self.member, tracking_id=declaration.tracking_id)
            return self._give_up(record, declaration, exc)
        return Decision(outputs=(reply,), answer=answer, outcome="accepted" if answer.accepted else "rejected")

    async def _call(self, declaration: Declaration) -> NationalAnswer:
        try:
            return await asyncio.wait_for(self.adapter.deliver(declaration), self._call_timeout)
        except TimeoutError as exc:
            raise AdapterUnavailable(f"{self.adapter.NAME} adapter took longer than {self._call_timeout:g}s",
                                     member=self.member, adapter=self.adapter.NAME) from exc

    def _declaration(self, record: InRecord, attempt: int) -> Declaration:
        hd = record.headers
        participant = hd.get(h.PARTICIPANT, "")
        lrn = hd.get(h.LRN, "")
        function_code = hd.get(h.FUNCTION_CODE, "9")
        return Declaration(
            payload=record.value, member=self.member, participant=participant, lrn=lrn,
            function_code=function_code, tracking_id=hd.get(h.TRACKING_ID, ""),
            idempotency_key=hd.get(h.IDEMPOTENCY_KEY) or idempotency_key(participant, lrn, function_code, record.value),
            attempt=attempt, reader=None if self._models is None else partial(self._models, profile=hd.get(h.PROFILE)),
        )

    def _retry_or_give_up(self, record: InRecord, declaration: Declaration, exc: AdapterError) -> Decision:
        if self.policy.gives_up_after(declaration.attempt):
            return self._give_up(record, declaration, exc)
        delay = self.policy.delay_before(declaration.attempt + 1)
        headers = {**record.headers, h.ATTEMPT: str(declaration.attempt + 1),
                   h.NOT_BEFORE: str(int((self._clock() + delay) * 1000)),
                   h.IDEMPOTENCY_KEY: declaration.idempotency_key}
        log.info("delivery_retry_scheduled", member=self.member, tracking_id=declaration.tracking_id,
                 attempt=declaration.attempt, next_in_s=round(delay, 2), reason=str(exc))
        return Decision(outputs=(Output(retry_topic(self.member), record.key or b"", record.value, headers),),
                        outcome="retry")

    def _give_up(self, record: InRecord, declaration: Declaration, exc: Exception) -> Decision:
        issue = Issue("OCO-DELIVERY-FAILED", f"the national system of {self.member} could not take the "
                      f"declaration after {declaration.attempt} attempt(s): {exc}")
        try:
            replies: tuple[Output, ...] = (self._reply(record, declaration, NationalAnswer(False, issues=(issue,))),)
        except Exception:  # noqa: BLE001 - still park it: the dead-letter copy is what must not be lost
            log.exception("reply_failed", member=self.member, tracking_id=declaration.tracking_id)
            replies = ()
        parked = Output(DEAD_LETTER, record.key or b"", record.value, {
            **record.headers,
            h.DLQ_TOPIC: record.topic, h.DLQ_PARTITION: str(record.partition), h.DLQ_OFFSET: str(record.offset),
            h.DLQ_STAGE: "deliver",
            h.DLQ_EXCEPTION_CLASS: f"{type(exc).__module__}.{type(exc).__qualname__}",
            h.DLQ_EXCEPTION_MESSAGE: " ".join(str(exc).split())[:1000],
            h.IDEMPOTENCY_KEY: declaration.idempotency_key,
        })
        log.warning("delivery_failed", member=self.member, tracking_id=declaration.tracking_id,
                    attempt=declaration.attempt, error=str(exc))
        return Decision(outputs=(*replies, parked), outcome="failed")

    def _reply(self, record: InRecord, declaration: Declaration, answer: NationalAnswer) -> Output:
        reg, assessment = answer.registration, answer.assessment
        taxes = _totals_by_code(assessment) if assessment else []
        statements = []
        if answer.duplicate:
            # A replay (after a crash, a timeout, a retry): the submitter and the operator both see it.
            log.info("national_replay", member=self.member, tracking_id=declaration.tracking_id, lrn=declaration.lrn,
                     attempt=declaration.attempt)
            statements.append(Statement(REPLAY_TYPE, REPLAY_CODE, f"the national system of {self.member} had "
                                        "already registered this declaration (same idempotency key) and answered "
                                        "with that registration again: it is registered once"))
        body = build_response(
            status="accepted" if answer.accepted else "rejected", tracking_id=declaration.tracking_id or "unknown",
            lrn=declaration.lrn, member=self.member, issues=answer.issues,
            declaration_id=reg.reference if reg else None, accepted_at=reg.date if reg else None, taxes=taxes,
            statements=statements)
        headers = {h.TRACKING_ID: declaration.tracking_id, h.PARTICIPANT: declaration.participant,
                   h.MEMBER: self.member, h.LRN: declaration.lrn,
                   h.STATUS: "accepted" if answer.accepted else "rejected"}
        return Output(reply_topic(declaration.participant), record.key or b"", body, headers)


def _number(text: str | None, default: int) -> int:
    """Read an integer header; a garbled one counts as absent rather than stopping the member's delivery."""
    try:
        return int(text) if text else default
    except ValueError:
        return default


def _totals_by_code(assessment: Assessment) -> list[TaxDue]:
    """Sum item-level tax lines per tax code and currency: the submitter needs what to pay, not every item's
    share; a line in its own currency (:attr:`TaxLine.currency`) is never added to one in another."""
    totals: dict[tuple[str, str], Decimal] = {}
    for line in assessment.taxes:
        key = (line.code, line.currency or assessment.currency)
        totals[key] = totals.get(key, Decimal(0)) + line.amount
    return [TaxDue(code[:3], amount, currency, assessment.number) for (code, currency), amount in totals.items()]
