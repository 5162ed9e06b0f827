"""No single input stalls the gateway: hostile submissions on the real broker, each followed by another
participant's valid declaration that must still be answered promptly.

Each case submits one hostile message as Fiji's broker and, right behind it, a valid declaration as Samoa's;
it checks the hostile one ended with its outcome (a reply, a dead letter, or the broker's own refusal) and
times Samoa's reply. The timings are printed at the end of the module (``-s``, or in the report's
captured output) and kept in ``TIMINGS``.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

import pytest
from aiokafka import AIOKafkaProducer
from aiokafka.admin import AIOKafkaAdminClient
from aiokafka.admin.config_resource import ConfigResource, ConfigResourceType
from aiokafka.errors import KafkaError
from aiokafka.record.default_records import _DefaultRecordBatchBuilderPy

from gateway import headers as h
from gateway.config import LimitsSettings
from gateway.errors import ERRORS_TRUNCATED
from gateway.ops.process import GatewayProcess
from gateway.pipeline.chain import tracking_id_for
from gateway.pipeline.context import SourceRef
from gateway.responses import read_response
from gateway.topics import DEAD_LETTER, deliver_topic, submit_topic
from gateway.transport.client import ParticipantClient, TopicTail
from tests import hostile as H

pytestmark = [pytest.mark.kafka, pytest.mark.slow]

LIMITS = LimitsSettings()
MAX = LIMITS.max_message_bytes
BROKER_MAX = LIMITS.max_record_bytes  # the topics' max.message.bytes, as the gateway creates them
ANSWER_WITHIN = 3.0  # seconds; generous for a loaded 2-core machine, the measured figures are reported
TIMINGS: list[tuple[str, str, float]] = []


@dataclass
class Probe:
    """Both participants' clients and tails on the deliver and dead-letter topics, for the whole module."""

    hostile: ParticipantClient
    valid: ParticipantClient
    dlq: TopicTail
    deliver: TopicTail
    seq: list[int] = field(default_factory=lambda: [0])

    async def valid_behind(self, timeout: float = 30.0) -> float:
        """Submit a valid declaration as the other participant; return the seconds until its reply came."""
        self.seq[0] += 1
        payload = H.declaration(f"LRN-BEHIND-{self.seq[0]}", member="WS", seed=self.seq[0])
        started = time.monotonic()
        tid = await self.valid.submit(payload)
        replies = await self.valid.replies({tid}, timeout=timeout)
        took = time.monotonic() - started
        assert tid in replies, f"the valid declaration behind got no reply within {timeout} s"
        assert read_response(replies[tid]).status == "received"
        return took

    async def send(self, value: bytes | None, headers: list[tuple[str, bytes | None]] | None = None) -> str:
        """Submit a hostile record as is; return the tracking id the gateway gives it."""
        meta = await self.hostile.send_raw(value, headers=headers, key=b"hostile")  # a tombstone needs a key
        given = dict(headers or ()).get(h.TRACKING_ID)
        return tracking_id_for(SourceRef(meta.topic, meta.partition, meta.offset),
                               given.decode("utf-8", "replace") if given else None)


def security(network, who: str | None = None) -> dict[str, Any]:
    """Client options on a secured test broker: a participant's identity, or the administrator's for the tests'
    own observers (none on a broker without authentication)."""
    if who is None:
        return dict(getattr(network, "admin", None) or {})
    identity = getattr(network, "identity", None)
    return identity(who) if identity else {}


def participant(network, who: str) -> ParticipantClient:
    return ParticipantClient(network.bootstrap, who, security=security(network, who))


@pytest.fixture(scope="module")
async def probe(network, running_gateway: GatewayProcess) -> AsyncIterator[Probe]:
    dlq = TopicTail(network.bootstrap, DEAD_LETTER, security=security(network))
    deliver = TopicTail(network.bootstrap, deliver_topic("FJ"), security=security(network))
    await dlq.start()
    await deliver.start()
    try:
        async with participant(network, network.fiji) as hostile, participant(network, network.samoa) as valid:
            probe = Probe(hostile, valid, dlq, deliver)
            await probe.valid_behind(timeout=60)  # warm up: group joined, topics known
            yield probe
    finally:
        await dlq.stop()
        await deliver.stop()
        _report()


@pytest.fixture(scope="module")
async def listener() -> AsyncIterator[tuple[str, list[bytes]]]:
    """A TCP server that records every connection: proof that no external entity or DTD was fetched."""
    seen: list[bytes] = []

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        with contextlib.suppress(Exception):
            seen.append(await asyncio.wait_for(reader.read(1000), 1))
        writer.close()

    server = await asyncio.start_server(handle, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    try:
        yield f"http://127.0.0.1:{port}", seen
    finally:
        server.close()


async def _outcome(probe: Probe, tid: str, *, dead_letter: bool, timeout: float = 30.0):
    """Wait for the hostile message's reply (and dead letter); return the reply's summary and the dead letter."""
    replies = await probe.hostile.replies({tid}, timeout=timeout)
    assert tid in replies, "the hostile message got no reply"
    parked = None
    if dead_letter:
        parked = (await probe.dlq.wait_for({tid}, timeout=10)).get(tid)
        assert parked is not None, "the hostile message was not dead-lettered"
    return read_response(replies[tid]), parked


async def _case(probe: Probe, name: str, value: bytes | None, *, status: str, code: str | None = None,
                dead_letter: bool = False, headers: list[tuple[str, bytes | None]] | None = None):
    tid = await probe.send(value, headers)
    took = await probe.valid_behind()
    summary, parked = await _outcome(probe, tid, dead_letter=dead_letter)
    assert summary.status == status, (name, summary)
    if code is not None:
        assert summary.issues and summary.issues[0].code == code, (name, summary.issues[:2])
    TIMINGS.append((name, _describe(summary, parked), took))
    assert took < ANSWER_WITHIN, f"{name}: the valid declaration behind it waited {took:.2f} s"
    return summary, parked


def _describe(summary, parked) -> str:
    text = summary.status
    if summary.issues:
        text += f" {summary.issues[0].code}"
        if len(summary.issues) > 1:
            text += f" (+{len(summary.issues) - 1})"
    if parked is not None:
        omitted = dict(parked.headers or ()).get(h.DLQ_PAYLOAD_OMITTED)
        text += ", dead letter" + (f" (reference, {int(omitted):,} bytes omitted)" if omitted else "")
    return text


def _report() -> None:
    if TIMINGS:
        width = max(len(n) for n, _, _ in TIMINGS)
        print("\n\nhostile input".ljust(width + 4) + "outcome".ljust(70) + "valid declaration behind it answered in")
        for name, outcome, took in TIMINGS:
            print(f"{name:<{width + 2}}{outcome:<70}{took:.3f} s")


class TestEntitiesAndDtds:
    async def test_billion_laughs(self, probe: Probe) -> None:
        """An entity bomb is refused unexpanded and parked."""
        await _case(probe, "billion laughs", H.billion_laughs(), status="rejected", code="OCO-DTD-FORBIDDEN",
                    dead_letter=True)

    async def test_external_entity_file(self, probe: Probe, tmp_path) -> None:
        """A file entity is refused; the file's content appears in no output."""
        secret = tmp_path / "secret.txt"
        secret.write_text("TOP-SECRET-7")
        _, parked = await _case(probe, "external entity (file)", H.xxe_file(str(secret)), status="rejected",
                                code="OCO-DTD-FORBIDDEN", dead_letter=True)
        assert b"TOP-SECRET-7" not in parked.value

    async def test_external_entity_and_dtd_network(self, probe: Probe, listener) -> None:
        """A network entity and an external DTD are refused and never fetched."""
        url, seen = listener
        await _case(probe, "external entity + DTD (network)", H.xxe_network(url), status="rejected",
                    code="OCO-DTD-FORBIDDEN", dead_letter=True)
        assert seen == []

    async def test_parameter_entities(self, probe: Probe, listener) -> None:
        """Parameter entities (out-of-band XXE) are refused and never fetched."""
        url, seen = listener
        await _case(probe, "parameter entities", H.parameter_entities(url), status="rejected",
                    code="OCO-DTD-FORBIDDEN", dead_letter=True)
        assert seen == []


class TestShapes:
    async def test_deep_nesting(self, probe: Probe) -> None:
        """100,000 nested elements are refused by the parser, fast."""
        await _case(probe, "100,000-deep nesting", H.deep_nesting(100_000), status="rejected",
                    code="OCO-NOT-WELL-FORMED", dead_letter=True)

    async def test_huge_attribute(self, probe: Probe) -> None:
        """A 4 MiB attribute is a schema error, answered with a short reply."""
        await _case(probe, "huge attribute (4 MiB)", H.huge_attribute(MAX - 6000), status="rejected")

    async def test_huge_text_node(self, probe: Probe) -> None:
        """A 4 MiB LRN is a schema error; it is echoed in no header or key."""
        summary, _ = await _case(probe, "huge text node (4 MiB LRN)", H.huge_text(MAX - 6000), status="rejected",
                                 code="SCHEMAV_CVC_MAXLENGTH_VALID")
        assert summary.lrn is None

    async def test_fifty_thousand_schema_errors(self, probe: Probe) -> None:
        """50,000 schema errors over 999 goods items: the reply lists the first 100 and says how many more."""
        summary, _ = await _case(probe, "50,000 schema errors (999 items)", H.many_item_errors(50_000),
                                 status="rejected")
        assert len(summary.issues) == LIMITS.max_schema_errors + 1
        assert summary.issues[-1].code == ERRORS_TRUNCATED and "more errors" in summary.issues[-1].message

    async def test_errors_up_to_the_size_limit(self, probe: Probe) -> None:
        """As many schema errors as fit 4 MiB (about 540,000): truncated the same way."""
        summary, _ = await _case(probe, "~540,000 schema errors (4 MiB)", H.attribute_flood(MAX), status="rejected")
        assert summary.issues[-1].code == ERRORS_TRUNCATED

    async def test_three_error_floods_in_a_row(self, probe: Probe) -> None:
        """Three 4 MiB error floods back to back, then the other participant's declaration: still prompt."""
        tids = [await probe.send(H.attribute_flood(MAX)) for _ in range(3)]
        took = await probe.valid_behind()
        for tid in tids:
            summary, _ = await _outcome(probe, tid, dead_letter=False, timeout=60)
            assert summary.status == "rejected" and summary.issues[-1].code == ERRORS_TRUNCATED
        TIMINGS.append(("3 × ~540,000 schema errors in a row", "rejected ×3, errors truncated", took))
        assert took < ANSWER_WITHIN


class TestSizes:
    async def test_just_under_the_gateway_limit_is_delivered(self, probe: Probe) -> None:
        """A valid declaration of exactly gateway.max_message_bytes is delivered unchanged."""
        payload = H.pad_to(H.declaration("LRN-AT-LIMIT"), MAX)
        tid = await probe.send(payload, [(h.TRACKING_ID, b"at-limit-1")])
        took = await probe.valid_behind()
        summary, _ = await _outcome(probe, tid, dead_letter=False)
        assert summary.status == "received"
        delivered = (await probe.deliver.wait_for({tid}, timeout=10))[tid]
        assert delivered.value == payload
        TIMINGS.append(("valid, exactly the gateway limit (4 MiB)", "received, delivered", took))
        assert took < ANSWER_WITHIN

    async def test_just_over_the_gateway_limit(self, probe: Probe) -> None:
        """One byte over: refused unread, parked with a full copy (it still fits a record)."""
        payload = H.pad_to(H.declaration("LRN-OVER"), MAX + 1)
        _, parked = await _case(probe, "gateway limit + 1 byte", payload, status="rejected", code="OCO-TOO-LARGE",
                                dead_letter=True)
        assert parked.value == payload

    async def test_just_under_the_broker_limit(self, probe: Probe) -> None:
        """Just under the topic's max.message.bytes: the dead letter cannot carry it, so it carries a reference
        (the original's coordinates) and the message still ends; before, its batch was retried for ever."""
        payload = H.pad_to(H.declaration("LRN-NEAR-BROKER"), BROKER_MAX - 300)
        _, parked = await _case(probe, "just under the broker limit", payload, status="rejected",
                                code="OCO-TOO-LARGE", dead_letter=True)
        context = {k: v.decode() for k, v in parked.headers or ()}
        assert parked.value == b"" and int(context[h.DLQ_PAYLOAD_OMITTED]) == len(payload)
        assert context[h.DLQ_TOPIC] == submit_topic(probe.hostile.participant)
        assert int(context[h.DLQ_OFFSET]) >= 0

    async def test_just_over_the_broker_limit(self, probe: Probe, network) -> None:
        """Over the topic's limit the broker itself refuses the submission; the gateway never sees it."""
        payload = H.pad_to(H.declaration("LRN-OVER-BROKER"), BROKER_MAX + 1)
        # A client of its own: a refused record leaves an idempotent producer's partition unusable.
        async with participant(network, network.fiji) as once:
            with pytest.raises(KafkaError):
                await once.send_raw(payload)
        took = await probe.valid_behind()
        TIMINGS.append(("just over the broker limit", "refused by the broker (submitter's error)", took))
        assert took < ANSWER_WITHIN


class TestEncodings:
    async def test_invalid_utf8(self, probe: Probe) -> None:
        await _case(probe, "invalid UTF-8", H.invalid_utf8(), status="rejected", code="OCO-NOT-WELL-FORMED",
                    dead_letter=True)

    @pytest.mark.parametrize("bom", [True, False], ids=["bom", "no-bom"])
    async def test_utf16(self, probe: Probe, bom: bool) -> None:
        """UTF-16 is XML: a valid declaration is received and delivered byte for byte."""
        payload = H.utf16(bom)
        tid = await probe.send(payload)
        took = await probe.valid_behind()
        summary, _ = await _outcome(probe, tid, dead_letter=False)
        assert summary.status == "received" and summary.lrn == "LRN-UTF16"
        assert (await probe.deliver.wait_for({tid}, timeout=10))[tid].value == payload
        TIMINGS.append((f"UTF-16 {'with' if bom else 'without'} BOM", "received, delivered", took))
        assert took < ANSWER_WITHIN

    async def test_non_ascii_lrn(self, probe: Probe) -> None:
        """A non-ASCII LRN (valid: the LRN is any text) is delivered with it intact in the key and headers, and
        echoed in the reply. The adapters carry it on to the national systems: the contract kit's
        test_non_ascii_lrn_registers_once, run by every shipped adapter."""
        lrn = "ÑÅ-Tōkyō-東京-Ω-1"
        payload = H.declaration(lrn)
        tid = await probe.send(payload)
        took = await probe.valid_behind()
        summary, _ = await _outcome(probe, tid, dead_letter=False)
        assert summary.status == "received" and summary.lrn == lrn
        delivered = (await probe.deliver.wait_for({tid}, timeout=10))[tid]
        assert delivered.value == payload and delivered.key == f"{probe.hostile.participant}:{lrn}".encode()
        assert dict(delivered.headers)[h.LRN].decode() == lrn
        TIMINGS.append(("non-ASCII LRN", "received, delivered (LRN intact in key, headers, reply)", took))
        assert took < ANSWER_WITHIN

    async def test_encoding_declaration_lying_latin1(self, probe: Probe) -> None:
        """UTF-8 bytes declared ISO-8859-1 are read as declared (mojibake in the LRN): a valid declaration."""
        await _case(probe, "declared ISO-8859-1, is UTF-8", H.lying_encoding_latin1(), status="received")

    async def test_encoding_declaration_lying_utf16(self, probe: Probe) -> None:
        await _case(probe, "declared UTF-16, is UTF-8", H.lying_encoding_utf16(), status="rejected",
                    code="OCO-NOT-WELL-FORMED", dead_letter=True)


class TestNotDocuments:
    async def test_empty_payload(self, probe: Probe) -> None:
        await _case(probe, "empty payload", b"", status="rejected", code="OCO-NOT-WELL-FORMED", dead_letter=True)

    async def test_tombstone(self, probe: Probe) -> None:
        await _case(probe, "tombstone (null value)", None, status="rejected", code="OCO-NOT-WELL-FORMED",
                    dead_letter=True)

    async def test_random_binary(self, probe: Probe) -> None:
        await _case(probe, "random binary (64 KiB)", H.random_binary(), status="rejected",
                    code="OCO-NOT-WELL-FORMED", dead_letter=True)


class TestWrongDocuments:
    async def test_wrong_namespace(self, probe: Probe) -> None:
        await _case(probe, "wrong namespace", H.wrong_namespace(), status="rejected", code="OCO-UNKNOWN-PROFILE",
                    dead_letter=True)

    async def test_missing_namespace(self, probe: Probe) -> None:
        await _case(probe, "no namespace", H.missing_namespace(), status="rejected", code="OCO-UNKNOWN-PROFILE",
                    dead_letter=True)

    async def test_declaration_of_another_profile(self, probe: Probe) -> None:
        """An HMRC DMS declaration, valid in its own profile, is not one this network reads."""
        await _case(probe, "DMS declaration (other profile)", H.other_profile(), status="rejected",
                    code="OCO-UNKNOWN-PROFILE", dead_letter=True)

    async def test_response_sent_as_declaration(self, probe: Probe) -> None:
        """A valid OCO Response submitted as a declaration."""
        await _case(probe, "OCO Response as a declaration", H.response_as_declaration(), status="rejected",
                    code="OCO-NOT-A-DECLARATION", dead_letter=True)


class TestHeaders:
    async def test_megabyte_tracking_id(self, probe: Probe) -> None:
        """A 1 MB tracking id is not kept: the gateway derives one from the record's offset."""
        summary, _ = await _case(probe, "1 MB tracking id header", H.declaration("LRN-BIG-ID"), status="received",
                                 headers=[(h.TRACKING_ID, b"t" * 1_000_000)])
        assert summary.tracking_id and len(summary.tracking_id) == 36

    async def test_control_character_tracking_id(self, probe: Probe) -> None:
        summary, _ = await _case(probe, "control-character tracking id", H.declaration("LRN-CTRL-ID"),
                                 status="received", headers=[(h.TRACKING_ID, b"abc\x00\r\n\x1b[31mdef")])
        assert summary.tracking_id and "\x00" not in summary.tracking_id

    async def test_null_header_value(self, probe: Probe) -> None:
        """A header without a value (null) is read as empty."""
        await _case(probe, "null header value", H.declaration("LRN-NULL-HDR"), status="received",
                    headers=[(h.TRACKING_ID, None), ("x-other", None)])


    async def test_header_name_not_utf8(self, probe: Probe, network) -> None:
        """A header *name* that is not UTF-8 (aiokafka cannot decode the record; it used to end the gateway's
        consume loop for good) is answered and parked by reference, and the partition goes on."""
        topic = submit_topic(network.fiji)
        before = set(probe.dlq.history)
        producer = AIOKafkaProducer(bootstrap_servers=network.bootstrap, **security(network, network.fiji), acks="all")
        await producer.start()
        try:
            await unreadable_record(producer, topic, H.declaration("LRN-BAD-HEADER-NAME"))
            took = await probe.valid_behind()

            def parked() -> list:
                return [records[0] for tid, records in probe.dlq.history.items() if tid not in before
                        and dict(records[0].headers or ()).get(h.DLQ_STAGE) == b"read"]

            assert await probe.dlq.wait_until(lambda: bool(parked()), timeout=30), "the record was not parked"
            context = {k: v.decode() for k, v in parked()[0].headers or ()}
            assert context[h.DLQ_TOPIC] == topic and context[h.DLQ_PARTITION] == "0"
            summary, _ = await _outcome(probe, context[h.TRACKING_ID], dead_letter=False)
            assert summary.status == "rejected" and summary.issues[0].code == "OCO-UNREADABLE-RECORD"
            # The partition is not stuck behind it.
            await producer.send_and_wait(topic, H.declaration("LRN-AFTER-BAD-NAME"), partition=0,
                                         headers=[(h.TRACKING_ID, b"after-bad-name")])
            assert (await _outcome(probe, "after-bad-name", dead_letter=False))[0].status == "received"
        finally:
            await producer.stop()
        TIMINGS.append(("header name not UTF-8", "rejected OCO-UNREADABLE-RECORD, dead letter (reference)", took))
        assert took < ANSWER_WITHIN


class _RawName(str):
    """A header name whose bytes are not UTF-8: aiokafka's pure-Python batch builder asks it for its bytes."""

    def encode(self, *args: Any, **kwargs: Any) -> bytes:  # noqa: ARG002
        return b"bad\xffname"


async def unreadable_record(producer: AIOKafkaProducer, topic: str, value: bytes) -> None:
    """Write a record with a header name that is not UTF-8 to partition 0, as a non-Python client can.

    aiokafka cannot write one through its normal API (header names are ``str``), so the batch is built by its
    pure-Python builder with a name that encodes to other bytes. ``producer`` must not be idempotent.
    """
    batch = producer.create_batch()
    batch._builder = _DefaultRecordBatchBuilderPy(2, 0, is_transactional=0, producer_id=-1,  # noqa: SLF001
                                                  producer_epoch=-1, base_sequence=0, batch_size=len(value) + 4096)
    batch.append(key=None, value=value, timestamp=int(time.time() * 1000), headers=[(_RawName("x"), b"1")])
    await (await producer.send_batch(batch, topic, partition=0))


class TestFairness:
    async def test_worst_inputs_do_not_hold_another_participant(self, probe: Probe) -> None:
        """One participant streams the worst inputs within the size limit (4 MiB error floods, 50,000-error
        declarations, 4 MiB text nodes); the other's declarations, sent meanwhile, are each answered promptly."""
        worst = [H.attribute_flood(MAX), H.many_item_errors(50_000), H.huge_text(MAX - 6000)] * 2
        sender = asyncio.create_task(_send_all(probe, worst))
        figures = []
        try:
            for _ in range(6):
                figures.append(await probe.valid_behind())
                await asyncio.sleep(0.3)
        finally:
            tids = await sender
        for tid in tids:
            summary, _ = await _outcome(probe, tid, dead_letter=False, timeout=120)
            assert summary.status == "rejected"
        TIMINGS.append(("stream of 6 worst inputs, 6 declarations behind",
                        f"all rejected; behind: max {max(figures):.3f} s", max(figures)))
        assert max(figures) < ANSWER_WITHIN, figures


async def _send_all(probe: Probe, payloads: list[bytes]) -> list[str]:
    tids = []
    for payload in payloads:
        tids.append(await probe.send(payload))
        await asyncio.sleep(0.2)
    return tids


class TestRefusedOutputs:
    async def test_output_the_broker_refuses_is_replaced_and_the_producer_goes_on(self, probe: Probe, network) -> None:
        """A delivery topic whose max.message.bytes is below the declaration: the broker refuses the copy for
        good; the gateway parks a reference, tells the submitter, and the same partition keeps working."""
        topic = deliver_topic("NZ")
        admin = AIOKafkaAdminClient(bootstrap_servers=network.bootstrap, **security(network))
        await admin.start()
        try:
            await admin.alter_configs([ConfigResource(ConfigResourceType.TOPIC, topic,
                                                      configs={"max.message.bytes": "100000"})])
        finally:
            await admin.close()
        tail = TopicTail(network.bootstrap, topic, security=security(network))
        await tail.start()
        try:
            async with participant(network, network.kiwi) as kiwi:
                big = H.declaration("LRN-REFUSED", member="NZ", items=400, seed=3)
                assert len(big) > 100_000
                tid = await kiwi.submit(big, key=f"{network.kiwi}:LRN-REFUSED".encode())
                took = await probe.valid_behind()
                await kiwi.final_replies({tid}, timeout=30)
                statuses = [read_response(r).status for r in (await kiwi.final_replies({tid}, timeout=1))[tid]]
                final = read_response((await kiwi.final_replies({tid}, timeout=1))[tid][-1])
                assert final.status == "rejected" and final.issues[0].code == "OCO-NOT-DELIVERED", statuses
                parked = (await probe.dlq.wait_for({tid}, timeout=10))[tid]
                context = {k: v.decode() for k, v in parked.headers or ()}
                assert parked.value == b"" and context[h.DLQ_STAGE] == "publish"
                assert int(context[h.DLQ_PAYLOAD_OMITTED]) == len(big)
                # Same key, so the same partition: it must not be stuck behind the refusal.
                small = H.declaration("LRN-REFUSED", member="NZ", items=1, seed=4)
                tid2 = await kiwi.submit(small, key=f"{network.kiwi}:LRN-REFUSED".encode())
                assert read_response((await kiwi.replies({tid2}, timeout=30))[tid2]).status == "received"
                assert (await tail.wait_for({tid2}, timeout=10))[tid2].value == small
        finally:
            await tail.stop()
        TIMINGS.append(("delivery refused by the broker (topic limit 100 kB)",
                        "received, then rejected OCO-NOT-DELIVERED, dead letter (reference)", took))
        assert took < ANSWER_WITHIN
