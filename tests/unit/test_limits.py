"""Bounded cost and bounded outputs: schema errors capped, element paths linear, every output fits a record."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from pathlib import Path
from types import SimpleNamespace

import pytest
from aiokafka.errors import MessageSizeTooLargeError, OutOfOrderSequenceNumber
from lxml import etree

from gateway import headers as h
from gateway.config import LimitsSettings, load_settings
from gateway.errors import ERRORS_TRUNCATED, Issue, SchemaInvalid, Unreadable
from gateway.pipeline.chain import Pipeline, build_stages
from gateway.pipeline.context import SourceRef, Submission
from gateway.pipeline.route import Output, plan_outputs, record_size, replacements
from gateway.profiles import ProfileRegistry
from gateway.profiles._issues import element_path
from gateway.responses import MAX_ERRORS, build_response, read_response
from gateway.topics import DEAD_LETTER
from gateway import kafka_idempotence as idempotence
from gateway.transport.dlq import ParkedMessage, replay
from gateway.transport.reading import parse_safely
from tests import hostile as H

REPO = Path(__file__).resolve().parents[2]
SOURCE = SourceRef("oco.submit.fj-post", 1, 99)


@pytest.fixture(scope="module")
def settings():
    return load_settings(REPO / "config" / "network.yaml")


@pytest.fixture(scope="module")
def pipeline(settings) -> Pipeline:
    return Pipeline(build_stages(settings, ProfileRegistry.load([REPO / "schemas"])), settings.gateway)


def submit(pipeline: Pipeline, payload: bytes):
    return pipeline(Submission(payload=payload, participant="fj-post", tracking_id="tid-1", source=SOURCE))


class TestSchemaErrors:
    def test_fifty_thousand_errors_are_capped(self, pipeline: Pipeline) -> None:
        """50,000 errors over 999 siblings: 100 listed, then one saying how many more. (It once took 27 s, when
        element paths were quadratic; no wall-clock bound here: a loaded machine is slow, not wrong.)"""
        outputs, rejection = submit(pipeline, H.many_item_errors(50_000))
        assert isinstance(rejection, SchemaInvalid) and len(rejection.issues) == 101
        last = rejection.issues[-1]
        assert last.code == ERRORS_TRUNCATED and "more errors" in last.message
        assert int(last.message.split(" of ")[1].split()[0]) >= 50_000
        reply = read_response(outputs[0].value)
        assert len(reply.issues) == 101 and reply.issues[-1].code == ERRORS_TRUNCATED
        assert record_size(outputs[0]) < 100_000

    def test_paths_stay_exact(self, pipeline: Pipeline) -> None:
        """Capped or not, each issue points at its element, with positions among same-named siblings."""
        _, rejection = submit(pipeline, H.many_item_errors(3_000))
        paths = [i.path for i in rejection.issues if i.path]
        assert any(p.endswith("GovernmentAgencyGoodsItem[2]") for p in paths)

    def test_limit_is_configurable(self, settings) -> None:
        limited = settings.model_copy(update={"gateway": LimitsSettings(max_schema_errors=5)})
        pipeline = Pipeline(build_stages(limited, ProfileRegistry.load([REPO / "schemas"])), limited.gateway)
        _, rejection = submit(pipeline, H.attribute_flood(0, errors=50))
        assert len(rejection.issues) == 6 and rejection.issues[-1].message.startswith("... 45 more errors")

    def test_huge_quoted_value_is_cut(self, pipeline: Pipeline) -> None:
        """An error quoting a 1 MB value keeps a readable message, not the megabyte."""
        _, rejection = submit(pipeline, H.huge_text(1_000_000))
        assert all(len(i.message) <= 1000 for i in rejection.issues)

    def test_element_path(self) -> None:
        root = etree.fromstring(b"<a><b/><c/><b><d/></b></a>")
        assert element_path(root[2][0]) == "/a/b[2]/d"
        assert element_path(root[1]) == "/a/c"


class TestResponses:
    def test_error_list_is_capped(self) -> None:
        """More than MAX_ERRORS issues: the Response carries MAX_ERRORS, the last one saying how many more."""
        issues = [Issue("X", f"problem {i}") for i in range(MAX_ERRORS + 50)]
        summary = read_response(build_response(status="rejected", tracking_id="t", lrn=None, member=None,
                                               issues=issues, issued_at=datetime(2026, 1, 1, tzinfo=UTC)))
        assert len(summary.issues) == MAX_ERRORS and summary.issues[-1].code == ERRORS_TRUNCATED


class TestOutputsFit:
    def test_dead_letter_too_large_for_a_record_carries_a_reference(self) -> None:
        """A payload that cannot be copied into a record: the dead letter has no value, the original's
        coordinates and the size left out."""
        payload = b"x" * 5000
        rejection = Unreadable([Issue("OCO-TOO-LARGE", "too large")], stage="parse")
        outputs = plan_outputs(Submission(payload=payload, participant="p1", tracking_id="t", source=SOURCE),
                               rejection, record_limit=4000)
        parked = next(o for o in outputs if o.topic == DEAD_LETTER)
        assert parked.value == b"" and parked.headers[h.DLQ_PAYLOAD_OMITTED] == "5000"
        assert (parked.headers[h.DLQ_TOPIC], parked.headers[h.DLQ_PARTITION], parked.headers[h.DLQ_OFFSET]) == (
            "oco.submit.fj-post", "1", "99")
        assert all(record_size(o) <= 4000 for o in outputs)

    def test_payload_that_fits_is_copied(self) -> None:
        rejection = Unreadable([Issue("OCO-NOT-WELL-FORMED", "bad")], stage="parse")
        outputs = plan_outputs(Submission(payload=b"<x", participant="p1", tracking_id="t", source=SOURCE),
                               rejection, record_limit=4000)
        assert next(o for o in outputs if o.topic == DEAD_LETTER).value == b"<x"

    def test_reply_too_long_for_a_small_limit_lists_fewer_errors(self) -> None:
        rejection = SchemaInvalid([Issue("X", "y" * 400, path="/a/b") for _ in range(100)], stage="validate")
        (reply,) = plan_outputs(Submission(payload=b"", participant="p1", tracking_id="t", source=SOURCE),
                                rejection, record_limit=10_000)
        summary = read_response(reply.value)
        assert record_size(reply) <= 10_000 and summary.issues[-1].code == ERRORS_TRUNCATED

    def test_declaration_too_large_to_deliver_with_its_headers_is_rejected(self, pipeline: Pipeline) -> None:
        payload = H.declaration("LRN-BIG")
        submission = Submission(payload=payload, participant="fj-post", tracking_id="t", source=SOURCE)
        for stage in pipeline._stages:  # noqa: SLF001 - run the stages, plan with a tiny limit
            submission = stage[1](submission)
        outputs = plan_outputs(submission, None, record_limit=len(payload))
        assert [o.topic for o in outputs] == ["oco.reply.fj-post", DEAD_LETTER]
        assert read_response(outputs[0].value).issues[0].code == "OCO-TOO-LARGE"

    def test_replacements_for_a_refused_delivery(self) -> None:
        """A delivery the broker refused for good: a reference in the dead-letter topic and a rejected reply."""
        refused = Output("oco.deliver.FJ", b"p1:L1", b"x" * 100,
                         {h.TRACKING_ID: "t1", h.PARTICIPANT: "p1", h.LRN: "L1", h.MEMBER: "FJ"})
        reply, parked = replacements(refused, SOURCE, MessageSizeTooLargeError())
        assert reply.topic == "oco.reply.p1" and read_response(reply.value).issues[0].code == "OCO-NOT-DELIVERED"
        assert parked.topic == DEAD_LETTER and parked.value == b"" and parked.headers[h.DLQ_STAGE] == "publish"
        assert parked.headers[h.DLQ_PAYLOAD_OMITTED] == "100" and "oco.deliver.FJ" in parked.headers[
            h.DLQ_EXCEPTION_MESSAGE]

    def test_replacement_for_a_refused_dead_letter_is_a_reference_only(self) -> None:
        refused = Output(DEAD_LETTER, b"k", b"x" * 10, {h.TRACKING_ID: "t1"})
        (parked,) = replacements(refused, SOURCE, MessageSizeTooLargeError())
        assert parked.value == b""

    def test_overlong_routing_value_is_not_a_key(self, pipeline: Pipeline) -> None:
        """A 4 MB LRN in a rejected declaration is echoed nowhere: not in the key, not in a header."""
        outputs, _ = submit(pipeline, H.huge_text(4_000_000))
        assert all(record_size(o) < 10_000 for o in outputs)


class TestReading:
    async def test_parse_safely_cleans_header_values(self) -> None:
        """FastStream decodes header values strictly: it is given readable copies (null → empty, U+FFFD)."""
        from aiokafka.structs import ConsumerRecord

        bad = ConsumerRecord("t", 0, 1, 0, 0, None, b"v", None, 0, 1, headers=(("a", None), ("b", b"\xff")))
        good = ConsumerRecord("t", 0, 2, 0, 0, None, b"v", None, 0, 1, headers=(("a", b"ok"),))

        async def original(records):
            return [{k: v.decode() for k, v in r.headers} for r in records]

        assert await parse_safely((bad, good), original) == [{"a": "", "b": "\ufffd"}, {"a": "ok"}]


class TestIdempotence:
    async def test_reset_producer_id(self) -> None:
        """After a refusal the producer forgets its id and sequence numbers, and will ask for a new id."""
        from aiokafka.producer.transaction_manager import TransactionManager

        manager = TransactionManager(None, 60000)
        manager.set_pid_and_epoch(7, 0)
        manager.increment_sequence_number("tp", 5)
        producer = SimpleNamespace(_txn_manager=manager)
        check = idempotence.guard(lambda: producer, lambda exc: isinstance(exc, MessageSizeTooLargeError))
        future = asyncio.get_running_loop().create_future()
        future.set_exception(OutOfOrderSequenceNumber())
        check(future)
        assert not manager.has_pid() and manager.sequence_number("tp") == 0
        manager.set_pid_and_epoch(8, 0)  # what the producer does next: a fresh id
        assert manager.producer_id == 8

    def test_transactional_or_plain_producers_are_left_alone(self) -> None:
        assert not idempotence.reset_producer_id(SimpleNamespace(_txn_manager=None))


class TestDlqReplay:
    async def test_reference_without_payload_is_not_replayed(self) -> None:
        """A dead letter that carries no copy of its payload cannot be replayed: the error says where it is."""
        parked = ParkedMessage(0, 3, datetime(2026, 1, 1, tzinfo=UTC), b"k", b"", {
            h.DLQ_TOPIC: "oco.submit.p1", h.DLQ_PARTITION: "2", h.DLQ_OFFSET: "41", h.DLQ_PAYLOAD_OMITTED: "4259540"})
        with pytest.raises(ValueError, match=r"oco.submit.p1\[2\]@41"):
            await replay("127.0.0.1:1", [parked])


class TestRegistry:
    def test_clone_compiles_its_own_schemas(self) -> None:
        registry = ProfileRegistry.load([REPO / "schemas"])
        clone = registry.clone()
        assert clone.names == registry.names
        assert clone.profiles[0]._schema is not registry.profiles[0]._schema  # noqa: SLF001
