"""Tests for gateway.delivery: retry policy, circuit breaker, the member worker's decisions and the lane rule, with
no Kafka."""

from __future__ import annotations

import random
from dataclasses import dataclass, replace
from decimal import Decimal

import pytest
from pydantic import ValidationError

from gateway import headers as h
from gateway.config import DeliverySettings
from gateway.delivery.backoff import RetryPolicy
from gateway.delivery.breaker import BreakerState, CircuitBreaker
from gateway.delivery.lanes import Lane, LaneScheduler
from gateway.delivery.worker import InRecord, MemberWorker
from gateway.responses import read_response
from gateway.samples import make_declaration
from gateway.sdk import Assessment, Declaration, NationalAnswer, TaxLine
from gateway.sdk.testing import FakeAdapter


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

    async def test_a_replayed_answer_is_marked_in_the_reply_and_counted(self) -> None:
        """The national system answers a redelivery with its first registration: the submitter's Response says
        so (NATIONAL-REPLAY), once registered; the first answer carries no such mark."""
        adapter = FakeAdapter("FJ", {})
        worker = self.worker(adapter)
        first = read_response((await worker.handle(record())).outputs[0].value)
        again = await worker.handle(record())
        replay = read_response(again.outputs[0].value)
        assert first.statements == () and again.answer is not None and again.answer.duplicate
        assert replay.declaration_id == first.declaration_id == "FJ-000001"
        assert [(s.type_code, s.code) for s in replay.statements] == [("DUP", "NATIONAL-REPLAY")]

    async def test_tax_lines_in_their_own_currency_stay_apart_in_the_reply(self) -> None:
        """An assessment whose lines are in two currencies is answered with one DutyTaxFee per code and
        currency, each with its own currencyID: a USD duty is never added to an FJD one."""

        class Assessing(FakeAdapter):
            async def deliver(self, declaration: Declaration) -> NationalAnswer:
                answer = await super().deliver(declaration)
                taxes = (TaxLine("CUD", Decimal("10.00"), 1), TaxLine("CUD", Decimal("5.50"), 2, currency="USD"),
                         TaxLine("CUD", Decimal("2.00"), 3), TaxLine("VAT", Decimal("1.25"), 2, currency="USD"))
                return replace(answer, assessment=Assessment("A 1", Decimal("12.00"), "FJD", taxes))

        decision = await self.worker(Assessing("FJ", {})).handle(record())
        summary = read_response(decision.outputs[0].value)
        assert sorted(((t.code, t.currency, t.amount) for t in summary.taxes)) == [
            ("CUD", "FJD", Decimal("12.00")), ("CUD", "USD", Decimal("5.50")), ("VAT", "USD", Decimal("1.25"))]

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


@dataclass(frozen=True)
class Rec:
    """A consumed record as the scheduler sees it: its partition and offset."""

    key: str
    offset: int


LANES = {"prio-0": Lane.PRIORITY, "prio-1": Lane.PRIORITY, "ord-0": Lane.ORDINARY, "ord-1": Lane.ORDINARY,
         "retry-0": Lane.RETRY}


def scheduler(burst: int = 3, capacity: int = 50) -> LaneScheduler[str, Rec]:
    return LaneScheduler(LANES.__getitem__, burst=burst, capacity=capacity)


def feed(s: LaneScheduler[str, Rec], key: str, count: int, start: int = 0) -> None:
    s.add(key, [Rec(key, start + i) for i in range(count)])


def drain(s: LaneScheduler[str, Rec], limit: int = 1000) -> list[Rec]:
    """Handle records the way the loop does (next, then done) until nothing is ready."""
    out = []
    while (picked := s.next()) is not None and len(out) < limit:
        key, record = picked
        assert s.done(key, record)
        out.append(record)
    return out


class TestLaneScheduler:
    def test_priority_records_go_first(self) -> None:
        """Ordinary records arrived first, the priority one is still handled before them (within the burst)."""
        s = scheduler()
        feed(s, "ord-0", 5)
        feed(s, "prio-0", 1)
        assert s.next() == ("prio-0", Rec("prio-0", 0))

    def test_burst_rule_gives_ordinary_records_their_turn(self) -> None:
        """With both lanes full, every `burst` priority records one ordinary record is handled: no starvation."""
        s = scheduler(burst=3)
        feed(s, "prio-0", 9)
        feed(s, "ord-0", 5)
        lanes = "".join("P" if r.key.startswith("prio") else "o" for r in drain(s))
        assert lanes == "PPPoPPPoPPPooo"

    def test_retries_take_the_ordinary_turn_too(self) -> None:
        """A due retry is one of the "others": it gets the turn after a burst, alternating with ordinary records."""
        s = scheduler(burst=2)
        feed(s, "prio-0", 4)
        feed(s, "ord-0", 2)
        feed(s, "retry-0", 2)
        assert [r.key for r in drain(s)] == ["prio-0", "prio-0", "ord-0", "prio-0", "prio-0", "retry-0",
                                             "ord-0", "retry-0"]

    def test_burst_counts_only_while_others_wait(self) -> None:
        """Priority records handled with nothing else waiting do not use up the burst of a later backlog."""
        s = scheduler(burst=2)
        feed(s, "prio-0", 5)
        assert len(drain(s, limit=5)) == 5 and s.streak == 0
        feed(s, "prio-0", 3, start=5)
        feed(s, "ord-0", 1)
        assert [r.key for r in drain(s)] == ["prio-0", "prio-0", "ord-0", "prio-0"]

    def test_order_within_a_partition_and_turns_between_partitions(self) -> None:
        """Each partition's records come in offset order; partitions of one group take turns."""
        s = scheduler()
        feed(s, "ord-0", 3)
        feed(s, "ord-1", 3, start=10)
        handled = drain(s)
        assert [r.offset for r in handled if r.key == "ord-0"] == [0, 1, 2]
        assert [r.offset for r in handled if r.key == "ord-1"] == [10, 11, 12]
        assert [r.key for r in handled[:4]] == ["ord-0", "ord-1", "ord-0", "ord-1"]

    def test_held_partitions_are_skipped_and_keep_their_records(self) -> None:
        """A held partition (a retry not due, an open circuit) is passed over; once released, it resumes in order."""
        s = scheduler()
        feed(s, "retry-0", 2)
        feed(s, "ord-0", 1)
        key, record = s.next()  # type: ignore[misc]
        assert key == "retry-0"
        s.hold("retry-0")  # not due yet: the loop pauses the partition; the record is not done
        assert s.room("retry-0") == 0
        assert drain(s) == [Rec("ord-0", 0)]
        assert s.next() is None
        s.release("retry-0")
        assert drain(s) == [record, Rec("retry-0", 1)]

    def test_everything_held_holds_the_priority_lane_too(self) -> None:
        """With the circuit open the loop holds every partition: nothing is ready, priority included."""
        s = scheduler()
        feed(s, "prio-0", 1)
        feed(s, "ord-0", 1)
        for key in LANES:
            s.hold(key)
        assert s.next() is None
        s.release("ord-0")
        assert s.next() == ("ord-0", Rec("ord-0", 0))

    def test_interrupted_record_comes_again(self) -> None:
        """A record whose handling failed (no done) is the next one again."""
        s = scheduler()
        feed(s, "ord-0", 2)
        assert s.next() == s.next() == ("ord-0", Rec("ord-0", 0))

    def test_capacity_bounds_the_records_held_per_partition(self) -> None:
        """At most `capacity` records per partition: room() says how many more, add() refuses more."""
        s = scheduler(capacity=4)
        feed(s, "ord-0", 3)
        assert s.room("ord-0") == 1 and s.room("ord-1") == 4
        with pytest.raises(ValueError):
            feed(s, "ord-0", 2, start=3)

    def test_a_partition_taken_away_is_forgotten(self) -> None:
        """After a rebalance took a partition, its records are gone and done() on the old head changes nothing."""
        s = scheduler()
        feed(s, "ord-0", 2)
        key, record = s.next()  # type: ignore[misc]
        s.forget("ord-0")
        assert not s.done(key, record)
        assert s.next() is None and len(s) == 0

    def test_consumer_going_back_replaces_what_it_read_again(self) -> None:
        """Records at or before one held (a rewind) replace the held ones from there: no record twice."""
        s = scheduler()
        feed(s, "ord-0", 3)  # 0, 1, 2
        feed(s, "ord-0", 3, start=1)  # 1, 2, 3 again from 1
        assert [r.offset for r in drain(s)] == [0, 1, 2, 3]

    def test_rejects_a_burst_below_one(self) -> None:
        """A burst of 0 would starve the priority lane instead; the setting refuses it too."""
        with pytest.raises(ValueError):
            scheduler(burst=0)
        with pytest.raises(ValidationError):
            DeliverySettings(priority_burst=0)
        assert DeliverySettings().priority_burst == 10


class TestServiceMetrics:
    def service(self, tmp_path):  # type: ignore[no-untyped-def]
        from gateway.config import load_settings
        from gateway.delivery.service import DeliveryService

        path = tmp_path / "network.yaml"
        path.write_text("kafka: {bootstrap_servers: '127.0.0.1:1'}\nparticipants: {fj-post: {name: P}}\n"
                        "members:\n  FJ: {name: Fiji, submitters: [fj-post], adapter: {name: asycuda, settings: "
                        "{url: 'http://127.0.0.1:1'}}}\n")
        return DeliveryService(load_settings(path))

    def test_delivery_steps_are_timed_per_member(self, tmp_path) -> None:
        """A decision with a national call is a national_call step, published outputs a publish step; a held
        record (no call made) is neither."""
        from gateway.delivery.worker import Decision

        service = self.service(tmp_path)
        service._observe("FJ", Lane.ORDINARY, Decision(outcome="accepted"), 0.25)
        service._observe("FJ", Lane.RETRY, Decision(outcome="held", hold_until=1.0), 0.001)
        service._observe_publish("FJ", 0.01)
        value = service.metrics.registry.get_sample_value
        assert value("oco_gateway_delivery_step_seconds_count", {"member": "FJ", "step": "national_call"}) == 1
        assert value("oco_gateway_delivery_step_seconds_sum", {"member": "FJ", "step": "national_call"}) == 0.25
        assert value("oco_gateway_delivery_step_seconds_count", {"member": "FJ", "step": "publish"}) == 1
