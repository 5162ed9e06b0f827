"""Tests for gateway.delivery: retry policy, circuit breaker and the member worker's decisions, with no Kafka."""

from __future__ import annotations

import random

from gateway import headers as h
from gateway.delivery.backoff import RetryPolicy
from gateway.delivery.breaker import BreakerState, CircuitBreaker
from gateway.delivery.worker import InRecord, MemberWorker
from gateway.responses import read_response
from gateway.samples import make_declaration
from gateway.testing import FakeAdapter


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def record(*, lrn: str = "LRN-1", attempt: int | None = None, not_before_ms: int | None = None,
           topic: str = "oco.deliver.FJ") -> InRecord:
    headers = {h.TRACKING_ID: "tid-1", h.PARTICIPANT: "fj-post", h.MEMBER: "FJ", h.LRN: lrn, h.FUNCTION_CODE: "9"}
    if attempt:
        headers[h.ATTEMPT] = str(attempt)
    if not_before_ms:
        headers[h.NOT_BEFORE] = str(not_before_ms)
    return InRecord(topic, 0, 7, f"fj-post:{lrn}".encode(), make_declaration(member="FJ", lrn=lrn, seed=1), headers)


class TestRetryPolicy:
    def test_delay_grows_exponentially_within_jitter_bounds(self) -> None:
        """The wait before attempt n lies between half and all of base * 2^(n-2), capped at max_delay."""
        policy = RetryPolicy(max_attempts=10, base_delay=1.0, max_delay=20.0)
        rng = random.Random(1)
        for attempt, bound in [(2, 1.0), (3, 2.0), (4, 4.0), (6, 16.0), (9, 20.0)]:
            delays = [policy.delay_before(attempt, rng) for _ in range(50)]
            assert all(bound / 2 <= d <= bound for d in delays)
            assert len(set(delays)) > 1  # jittered

    def test_gives_up_only_at_the_last_attempt(self) -> None:
        """A policy of 3 attempts gives up after the third failure, not before."""
        policy = RetryPolicy(max_attempts=3)
        assert [policy.gives_up_after(a) for a in (1, 2, 3)] == [False, False, True]


class TestCircuitBreaker:
    def test_opens_after_threshold_and_probes_after_reset(self) -> None:
        """Three failures open the circuit; after the reset time one probe is allowed; success closes it."""
        clock = FakeClock()
        changes: list[BreakerState] = []
        breaker = CircuitBreaker(3, 10.0, clock=clock, on_change=changes.append)
        for _ in range(2):
            breaker.record_failure()
        assert breaker.allows_call()
        breaker.record_failure()
        assert not breaker.allows_call()
        clock.now += 10
        assert breaker.state is BreakerState.HALF_OPEN and breaker.allows_call()
        breaker.record_success()
        assert breaker.state is BreakerState.CLOSED
        assert changes == [BreakerState.OPEN, BreakerState.HALF_OPEN, BreakerState.CLOSED]

    def test_failed_probe_reopens(self) -> None:
        """A failure while half open opens the circuit again for a full reset period."""
        clock = FakeClock()
        breaker = CircuitBreaker(1, 5.0, clock=clock)
        breaker.record_failure()
        clock.now += 5
        assert breaker.allows_call()
        breaker.record_failure()
        assert not breaker.allows_call()
        assert breaker.probe_at() == clock.now + 5

    def test_success_resets_the_failure_count(self) -> None:
        """Failures separated by a success never add up to the threshold."""
        breaker = CircuitBreaker(2, 5.0, clock=FakeClock())
        for _ in range(5):
            breaker.record_failure()
            breaker.record_success()
        assert breaker.state is BreakerState.CLOSED


class TestMemberWorker:
    def worker(self, adapter: FakeAdapter, **kwargs) -> MemberWorker:
        return MemberWorker("FJ", adapter, clock=lambda: 2000.0, **kwargs)

    async def test_accepted_answer_becomes_accepted_reply(self) -> None:
        """A registered declaration yields one 'accepted' reply to the submitter with the customs reference."""
        decision = await self.worker(FakeAdapter("FJ", {})).handle(record())
        (reply,) = decision.outputs
        assert reply.topic == "oco.reply.fj-post" and reply.headers[h.TRACKING_ID] == "tid-1"
        summary = read_response(reply.value)
        assert (summary.status, summary.lrn, summary.declaration_id) == ("accepted", "LRN-1", "FJ-000001")

    async def test_national_rejection_becomes_rejected_reply(self) -> None:
        """A national refusal is answered 'rejected' with the national reason, and is not retried."""
        decision = await self.worker(FakeAdapter("FJ", {"reject_lrns": ["LRN-1"]})).handle(record())
        (reply,) = decision.outputs
        summary = read_response(reply.value)
        assert summary.status == "rejected" and summary.issues[0].code == "FAKE-REJECT"

    async def test_unavailable_schedules_a_retry_with_backoff(self) -> None:
        """An unreachable system sends the record to the member's retry topic with the next attempt and time."""
        adapter = FakeAdapter("FJ", {})
        adapter.down = True
        decision = await self.worker(adapter, policy=RetryPolicy(5, 2.0, 60.0)).handle(record())
        (retry,) = decision.outputs
        assert retry.topic == "oco.retry.FJ" and decision.outcome == "retry"
        assert retry.headers[h.ATTEMPT] == "2"
        assert 2000_000 + 1000 <= int(retry.headers[h.NOT_BEFORE]) <= 2000_000 + 2000
        assert retry.headers[h.IDEMPOTENCY_KEY].startswith("fj-post:LRN-1:9:")

    async def test_last_attempt_rejects_and_parks(self) -> None:
        """When the last attempt fails, the submitter gets a rejection and the declaration is dead-lettered."""
        adapter = FakeAdapter("FJ", {})
        adapter.down = True
        decision = await self.worker(adapter, policy=RetryPolicy(3)).handle(record(attempt=3))
        reply, parked = decision.outputs
        assert read_response(reply.value).issues[0].code == "OCO-DELIVERY-FAILED"
        assert parked.topic == "oco.dlq" and parked.headers[h.DLQ_STAGE] == "deliver"
        assert parked.headers[h.DLQ_EXCEPTION_CLASS] == "gateway.errors.AdapterUnavailable"

    async def test_retry_not_yet_due_is_held_without_a_call(self) -> None:
        """A retry record whose time has not come holds its partition and calls nobody."""
        adapter = FakeAdapter("FJ", {})
        decision = await self.worker(adapter).handle(record(attempt=2, not_before_ms=2_005_000))
        assert decision.hold_until == 2005.0 and not decision.hold_all and not adapter.calls

    async def test_open_circuit_holds_every_partition_without_burning_attempts(self) -> None:
        """Once the breaker is open, records are held (no call, no attempt used) until the probe time."""
        adapter = FakeAdapter("FJ", {})
        adapter.down = True
        worker = self.worker(adapter, breaker=CircuitBreaker(2, 30.0))
        for _ in range(2):
            await worker.handle(record())
        calls = len(adapter.calls)
        decision = await worker.handle(record())
        assert decision.hold_all and decision.hold_until is not None and decision.outputs == ()
        assert len(adapter.calls) == calls

    async def test_redelivery_uses_the_same_idempotency_key(self) -> None:
        """The same record delivered twice registers once: the key travels with it."""
        adapter = FakeAdapter("FJ", {})
        worker = self.worker(adapter)
        first = await worker.handle(record())
        again = await worker.handle(record())
        assert len(adapter.registered) == 1
        assert read_response(first.outputs[0].value).declaration_id == read_response(again.outputs[0].value).declaration_id

    async def test_adapter_bug_parks_instead_of_stopping(self) -> None:
        """An adapter raising an unexpected error gets the declaration rejected and parked."""
        class Broken(FakeAdapter):
            async def deliver(self, declaration):  # type: ignore[override]
                raise RuntimeError("bug in adapter")

        decision = await self.worker(Broken("FJ", {})).handle(record())
        assert [o.topic for o in decision.outputs] == ["oco.reply.fj-post", "oco.dlq"]



class TestCallTimeout:
    async def test_adapter_without_its_own_timeout_is_bounded(self) -> None:
        """An adapter that hangs is cut off by the worker's call timeout and the declaration is retried."""
        adapter = FakeAdapter("FJ", {"delay": 5.0})
        worker = MemberWorker("FJ", adapter, clock=lambda: 2000.0, call_timeout=0.1)
        decision = await worker.handle(record())
        assert decision.outcome == "retry"


class TestGarbledInput:
    async def test_garbled_retry_headers_count_as_absent(self) -> None:
        """A record whose attempt and not-before headers are not numbers is delivered, not a crash."""
        rec = record()
        rec = InRecord(rec.topic, rec.partition, rec.offset, rec.key, rec.value,
                       {**rec.headers, h.ATTEMPT: "two", h.NOT_BEFORE: "soon"})
        decision = await MemberWorker("FJ", FakeAdapter("FJ", {}), clock=lambda: 2000.0).handle(rec)
        assert decision.outcome == "accepted"

    async def test_unwritable_reply_still_parks_the_declaration(self) -> None:
        """When the reply cannot be built (an absurd tracking id), the declaration is still dead-lettered."""
        rec = record()
        rec = InRecord(rec.topic, rec.partition, rec.offset, rec.key, rec.value, {**rec.headers, h.TRACKING_ID: "x" * 200})
        decision = await MemberWorker("FJ", FakeAdapter("FJ", {}), clock=lambda: 2000.0).handle(rec)
        assert [o.topic for o in decision.outputs] == ["oco.dlq"]
