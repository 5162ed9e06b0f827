"""Tests for gateway.pipeline: the stage loop, authorisation and output planning, with no Kafka."""

from __future__ import annotations

from pathlib import Path

import pytest

from gateway import headers as h
from gateway.config import load_settings
from gateway.errors import Issue, NotAllowed, Unreadable
from gateway.pipeline import chain
from gateway.pipeline.chain import Pipeline, build_stages, stage_label, tracking_id_for
from gateway.pipeline.authorize import Authorizer
from gateway.pipeline.context import SourceRef, Submission
from gateway.routing import RoutingFields
from gateway.profiles import ProfileRegistry
from gateway.responses import read_response
from gateway.samples import make_declaration

REPO = Path(__file__).resolve().parents[2]
SOURCE = SourceRef("oco.submit.fj-post", 2, 41)


@pytest.fixture(scope="module")
def settings():
    return load_settings(REPO / "config" / "network.yaml")


@pytest.fixture(scope="module")
def pipeline(settings) -> Pipeline:
    return Pipeline(build_stages(settings, ProfileRegistry.load([REPO / "schemas"])))


def submission(payload: bytes, participant: str = "fj-post") -> Submission:
    return Submission(payload=payload, participant=participant, tracking_id="tid-1", source=SOURCE)


class TestPipeline:
    def test_valid_declaration_goes_to_member_and_gets_received(self, pipeline: Pipeline) -> None:
        """A valid declaration yields a delivery to its member and a 'received' reply, both keyed and tracked."""
        payload = make_declaration(member="FJ", lrn="LRN-1", items=2, seed=1)
        outputs, rejection = pipeline(submission(payload))
        assert rejection is None
        assert [o.topic for o in outputs] == ["oco.deliver.FJ", "oco.reply.fj-post"]
        assert outputs[0].value == payload
        assert {o.key for o in outputs} == {b"fj-post:LRN-1"}
        assert all(o.headers[h.TRACKING_ID] == "tid-1" for o in outputs)
        assert read_response(outputs[1].value).status == "received"

    def test_invalid_declaration_is_answered_with_its_lrn(self, pipeline: Pipeline) -> None:
        """A schema-invalid declaration is rejected, not delivered, and the reply still names its LRN."""
        payload = make_declaration(member="FJ", lrn="LRN-2", items=1, seed=2)
        payload = payload.replace(b"</FunctionalReferenceID>", b"</FunctionalReferenceID><Nope/>", 1)
        outputs, rejection = pipeline(submission(payload))
        assert rejection is not None and rejection.stage == "validate"
        assert [o.topic for o in outputs] == ["oco.reply.fj-post"]
        summary = read_response(outputs[0].value)
        assert summary.status == "rejected" and summary.lrn == "LRN-2"
        assert outputs[0].key == b"fj-post:LRN-2"

    def test_malformed_is_dead_lettered_with_context(self, pipeline: Pipeline) -> None:
        """An unreadable payload gets a rejected reply and a dead-letter copy with its origin in headers."""
        outputs, rejection = pipeline(submission(b"<MetaData><oops></MetaData>"))
        assert isinstance(rejection, Unreadable)
        reply, parked = outputs
        assert reply.topic == "oco.reply.fj-post" and parked.topic == "oco.dlq"
        assert parked.value == b"<MetaData><oops></MetaData>"
        assert (parked.headers[h.DLQ_TOPIC], parked.headers[h.DLQ_PARTITION], parked.headers[h.DLQ_OFFSET]) == (
            "oco.submit.fj-post", "2", "41")
        assert parked.headers[h.DLQ_STAGE] == "parse"

    def test_crashing_stage_parks_the_message(self) -> None:
        """A stage that raises an unexpected exception gets the message dead-lettered, not lost or retried."""
        def explode(s: Submission) -> Submission:
            raise KeyError("bug")

        outputs, rejection = Pipeline([explode])(submission(b"<x/>"))
        assert rejection is not None and rejection.dead_letter
        parked = outputs[-1]
        assert parked.topic == "oco.dlq"
        assert parked.headers[h.DLQ_EXCEPTION_CLASS] == "builtins.KeyError"
        assert parked.headers[h.DLQ_STAGE] == "explode"

    def test_stages_run_in_order_and_stop_at_rejection(self) -> None:
        """Stages run in list order and none runs after the one that rejected."""
        seen: list[str] = []

        def first(s: Submission) -> Submission:
            seen.append("first")
            raise NotAllowed([Issue("X", "no")], stage="first")

        def second(s: Submission) -> Submission:
            seen.append("second")
            return s

        Pipeline([first, second])(submission(b"<x/>"))
        assert seen == ["first"]


class FakeClock:
    """Stands in for ``time.perf_counter`` in the chain: stages move it forward by what they claim to cost."""

    def __init__(self) -> None:
        self.now = 100.0

    def perf_counter(self) -> float:
        return self.now


class TestStageTiming:
    def test_every_stage_of_a_valid_declaration_is_timed_in_order(self, settings) -> None:
        """A valid declaration is timed once in each stage, by the stage's short name, then in route."""
        seen: list[tuple[str, float]] = []
        timed = Pipeline(build_stages(settings, ProfileRegistry.load([REPO / "schemas"])),
                         observe=lambda stage, seconds: seen.append((stage, seconds)))
        outputs, rejection = timed(submission(make_declaration(member="FJ", lrn="LRN-T", seed=3)))
        assert rejection is None and outputs
        assert [stage for stage, _ in seen] == ["parse", "identify", "validate", "extract", "authorize", "route"]
        assert all(seconds >= 0 for _, seconds in seen)

    def test_the_refusing_stage_is_timed_and_the_ones_after_it_are_not(self, settings) -> None:
        """A schema-invalid declaration is timed up to validate (which refused it) and in route, not beyond."""
        seen: list[str] = []
        timed = Pipeline(build_stages(settings, ProfileRegistry.load([REPO / "schemas"])),
                         observe=lambda stage, seconds: seen.append(stage))
        payload = make_declaration(member="FJ", lrn="LRN-U", seed=4).replace(
            b"</FunctionalReferenceID>", b"</FunctionalReferenceID><Nope/>", 1)
        _, rejection = timed(submission(payload))
        assert rejection is not None and rejection.stage == "validate"
        assert seen == ["parse", "identify", "validate", "route"]

    def test_each_stage_gets_its_own_time_also_when_it_raises(self, monkeypatch: pytest.MonkeyPatch) -> None:
        """The runner times around each stage: what one stage spends is its own, a crashing stage included."""
        clock = FakeClock()
        monkeypatch.setattr(chain, "time", clock)

        def slow(s: Submission) -> Submission:
            clock.now += 2.0
            return s

        def crash(s: Submission) -> Submission:
            clock.now += 0.5
            raise KeyError("bug")

        seen: list[tuple[str, float]] = []
        _, rejection = Pipeline([slow, crash], observe=lambda stage, seconds: seen.append((stage, seconds)))(
            submission(b"<x/>"))
        assert rejection is not None and rejection.dead_letter
        assert seen[:2] == [("slow", 2.0), ("crash", 0.5)]
        assert [stage for stage, _ in seen] == ["slow", "crash", "route"]

    def test_stage_labels_are_the_stage_modules(self, settings) -> None:
        """Stages are labelled by their module under gateway/pipeline/, whatever their class or function name."""
        from gateway.aeo.recognition import RecognitionPolicy
        from gateway.pipeline.validate import schema_validator

        stages = build_stages(settings, ProfileRegistry.load([REPO / "schemas"]), aeo_lookup=lambda trader: None,
                              recognition=RecognitionPolicy(settings.aeo, settings.members))
        assert [stage_label(s) for s in stages] == ["parse", "identify", "validate", "extract", "authorize",
                                                    "recognise"]
        assert stage_label(schema_validator(3)) == "validate"

    def test_without_an_observer_nothing_is_timed(self, pipeline: Pipeline) -> None:
        """The default pipeline (tests, the AEO reader) takes no observer and works as before."""
        outputs, rejection = pipeline(submission(make_declaration(member="FJ", lrn="LRN-V", seed=5)))
        assert rejection is None and len(outputs) == 2


class TestAuthorizer:
    def routed(self, participant: str, member: str) -> Submission:
        s = submission(b"", participant)
        s.routing = RoutingFields(member=member, lrn="L", function_code="9")
        return s

    def test_listed_submitter_passes(self, settings) -> None:
        """A participant listed under the member's submitters passes unchanged."""
        s = self.routed("fj-post", "FJ")
        assert Authorizer(settings)(s) is s

    def test_other_members_submitter_is_refused(self, settings) -> None:
        """A participant not listed for the member is refused with OCO-NOT-AUTHORISED."""
        with pytest.raises(NotAllowed) as info:
            Authorizer(settings)(self.routed("fj-post", "WS"))
        assert info.value.issues[0].code == "OCO-NOT-AUTHORISED"

    def test_unknown_member_is_refused_listing_members(self, settings) -> None:
        """A code that is no member is refused, and the message lists the members served."""
        with pytest.raises(NotAllowed, match=r"'ZZ'.*FJ"):
            Authorizer(settings)(self.routed("fj-post", "ZZ"))

    def test_declarant_and_representative_must_be_mandated(self, settings) -> None:
        """fj-post acts for FJ* traders only: another country's declarant or representative is refused, each
        with its own issue pointing at the element; its own traders pass."""
        s = self.routed("fj-post", "FJ")
        s.routing = RoutingFields(member="FJ", lrn="L", function_code="9", declarant="FJ0000001")
        assert Authorizer(settings)(s) is s
        s.routing = RoutingFields(member="FJ", lrn="L", function_code="9", declarant="WS0000001",
                                  representative="AU77")
        with pytest.raises(NotAllowed) as info:
            Authorizer(settings)(s)
        assert [(i.code, i.path) for i in info.value.issues] == [
            ("OCO-NOT-MANDATED", "Declaration/Declarant/ID"), ("OCO-NOT-MANDATED", "Declaration/Agent/ID")]
        assert "WS0000001" in info.value.issues[0].message

    def test_end_to_end_a_representative_is_read_and_checked(self, pipeline: Pipeline) -> None:
        """The representative (Declaration/Agent/ID) is extracted by the profile and checked like the declarant."""
        ok = make_declaration(member="FJ", lrn="L-REP-1", declarant="FJ0000009", representative="FJ0000010", seed=2)
        outputs, rejection = pipeline(submission(ok, "fj-post"))
        assert rejection is None
        bad = make_declaration(member="FJ", lrn="L-REP-2", declarant="FJ0000009", representative="NZ0000010", seed=2)
        outputs, rejection = pipeline(submission(bad, "fj-post"))
        assert rejection is not None and [i.code for i in rejection.issues] == ["OCO-NOT-MANDATED"]
        assert read_response(outputs[0].value).issues[0].code == "OCO-NOT-MANDATED"

    def test_acts_for_patterns_are_checked_at_load(self, tmp_path) -> None:
        from gateway.errors import ConfigError

        path = tmp_path / "n.yaml"
        path.write_text("participants: {p1: {name: P, acts_for: ['fj 12']}}\n")
        with pytest.raises(ConfigError, match="participants.p1.acts_for"):
            load_settings(path)


class TestTrackingId:
    def test_submitters_id_is_kept(self) -> None:
        """A sane tracking id from the submitter is carried as is."""
        assert tracking_id_for(SOURCE, "abc-123") == "abc-123"

    def test_derived_id_is_stable_per_offset(self) -> None:
        """Without a header, the id is derived from the offset: the same on reprocessing, different per offset."""
        again = tracking_id_for(SourceRef(SOURCE.topic, 2, 41), None)
        assert tracking_id_for(SOURCE, None) == again
        assert tracking_id_for(SourceRef(SOURCE.topic, 2, 42), None) != again

    def test_oversized_header_is_replaced(self) -> None:
        """An absurdly long tracking header is not propagated."""
        assert tracking_id_for(SOURCE, "x" * 500) != "x" * 500
