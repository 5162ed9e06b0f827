"""Trusted-trader core without Kafka: events, signatures, trust checks, the registry, mutual recognition,
and what the pipeline makes of a declaration naming an AEO."""

from __future__ import annotations

import dataclasses
from datetime import date, timedelta
from pathlib import Path

import pytest

from gateway import headers as h
from gateway.aeo.document import write_event
from gateway.aeo.intake import EventReader
from gateway.aeo.issuing import IssueError, change_status, grant
from gateway.aeo.recognition import RecognitionPolicy
from gateway.aeo.registry import AeoRegistry
from gateway.aeo.signing import SigningKey, TrustStore, load_signing_key
from gateway.aeo.status import Address
from gateway.config import AeoSettings, TrustedKey, load_settings
from gateway.errors import ConfigError, EventRefused
from gateway.pipeline.chain import Pipeline, build_reading_stages, build_stages
from gateway.pipeline.context import SourceRef, Submission
from gateway.profiles import ProfileRegistry
from gateway.responses import read_response
from gateway.routing import AeoHolder
from gateway.samples import make_declaration
from gateway.topics import priority_topic

REPO = Path(__file__).resolve().parents[2]
TODAY = date.today()
FJ = SigningKey.generate("FJ", "FJ-1")
FJ_NEXT = SigningKey.generate("FJ", "FJ-2")
WS = SigningKey.generate("WS", "WS-1")
OLD = SigningKey.generate("WS", "WS-0")
ADDRESS = Address(line="12 Harbour Road", city="Suva", country="FJ", postcode="0000")


def trust() -> TrustStore:
    return TrustStore({"FJ": [FJ.trusted_key(), FJ_NEXT.trusted_key()],
                       "WS": [WS.trusted_key(), TrustedKey(key_id="WS-0", public_key=OLD.public_key, retired=True)]})


def granted(trader: str = "FJ0012345", key: SigningKey = FJ, **kw) -> object:
    args = dict(trader_id=trader, category="AEOF", effective=TODAY - timedelta(days=30),
                expiry=TODAY + timedelta(days=700), name="Pacific Freight Ltd", address=ADDRESS, consent=("NZ",))
    args.update(kw)
    return grant(key, **args)


@pytest.fixture(scope="module")
def profiles() -> ProfileRegistry:
    return ProfileRegistry.load([REPO / "schemas"])


@pytest.fixture(scope="module")
def settings():
    return load_settings(REPO / "config" / "network.yaml")


@pytest.fixture(scope="module")
def reader(settings, profiles) -> EventReader:
    return EventReader(build_reading_stages(settings, profiles))


class TestEvents:
    def test_both_views_are_schema_valid_and_verify(self, reader: EventReader) -> None:
        """The public view (no name, no address) and the full view validate against schemas/oco and carry
        the same signature, which verifies for both."""
        event = granted()
        public = reader.read(write_event(event, with_details=False))
        full = reader.read(write_event(event))
        assert public.details is None and b"Pacific Freight" not in write_event(event, with_details=False)
        assert full.details == event.details and full.details.name == "Pacific Freight Ltd"
        store = trust()
        store.verify(public)
        store.verify(full)
        assert public.signature == full.signature == event.signature

    def test_a_signature_survives_any_serialisation(self) -> None:
        """The signature is over a canonical form of the fields, not over bytes: rebuilding the event from its
        fields (as a CSV import does) verifies."""
        event = granted()
        rebuilt = dataclasses.replace(event, consent=tuple(reversed(event.consent)))
        trust().verify(rebuilt)

    @pytest.mark.parametrize("change", [
        {"status": "revoked"}, {"category": "AEOC"}, {"expiry": TODAY + timedelta(days=9999)}, {"sequence": 7},
        {"consent": ("NZ", "AU")}, {"issued": "2020-01-01T00:00:00.000Z"},
    ])
    def test_any_altered_field_breaks_the_signature(self, change: dict) -> None:
        """Changing any signed field of a signed event makes it refused as badly signed."""
        with pytest.raises(EventRefused) as refused:
            trust().verify(dataclasses.replace(granted(), **change))
        assert refused.value.reason == "bad_signature"

    def test_altered_details_are_refused(self) -> None:
        """A name changed in the full view no longer matches the signed digest."""
        event = granted()
        forged = dataclasses.replace(event, details=dataclasses.replace(event.details, name="Someone Else Ltd"))
        with pytest.raises(EventRefused) as refused:
            trust().verify(forged)
        assert refused.value.reason == "bad_signature" and "digest" in str(refused.value)

    def test_refusals_name_their_reason(self) -> None:
        """Unsigned, unknown key, another member's key, retired key, out of jurisdiction, wrong topic."""
        store = trust()
        cases = {
            "unsigned": dataclasses.replace(granted(), signature=None),
            "unknown_key": granted(key=SigningKey.generate("FJ", "FJ-stolen")),
            "retired_key": granted("WS77", key=OLD),
        }
        for reason, event in cases.items():
            with pytest.raises(EventRefused) as refused:
                store.verify(event)
            assert refused.value.reason == reason, reason
        # WS signs, with its own valid key, an event about a Fijian trader.
        foreign = WS.sign(dataclasses.replace(granted(), issuer="WS", signature=None))
        with pytest.raises(EventRefused) as refused:
            store.verify(foreign)
        assert refused.value.reason == "out_of_jurisdiction"
        with pytest.raises(EventRefused) as refused:
            store.verify(granted(), topic_issuer="WS")
        assert refused.value.reason == "out_of_jurisdiction"

    def test_invalid_documents_are_refused_as_invalid(self, reader: EventReader) -> None:
        """Not XML, a declaration, a schema-invalid event: refused with reason invalid."""
        bad_category = write_event(granted()).replace(b">AEOF<", b">GOLD<")
        for payload in (b"not xml", make_declaration(member="FJ", lrn="L1", seed=1), bad_category):
            with pytest.raises(EventRefused) as refused:
                reader.read(payload)
            assert refused.value.reason == "invalid"

    def test_issuing_rules(self) -> None:
        """An administration certifies only its own traders, and changes follow the status rules."""
        with pytest.raises(IssueError, match="only traders whose AEO code starts with FJ"):
            granted("WS123")
        event = granted()
        with pytest.raises(IssueError, match="reinstated"):
            change_status(FJ, event, "reinstated")
        with pytest.raises(IssueError, match="certified by FJ"):
            change_status(WS, event, "suspended")
        suspended = change_status(FJ, event, "suspended")
        assert (suspended.sequence, suspended.status, suspended.details.name) == (2, "suspended", "Pacific Freight Ltd")
        trust().verify(suspended)


class TestRegistry:
    def test_newer_applies_older_and_conflicting_are_replays(self) -> None:
        """Sequence numbers only go up; a redelivered event is a harmless duplicate; the details view of
        the current event fills in name and address."""
        registry = AeoRegistry(trust(), viewer="NZ")
        first = granted()
        second = change_status(FJ, first, "suspended")
        assert registry.apply(second.public()) == "applied"
        assert registry.apply(second.public()) == "duplicate"
        assert registry.apply(second) == "details"
        assert registry.get("FJ0012345").details.name == "Pacific Freight Ltd"
        with pytest.raises(EventRefused) as refused:
            registry.apply(first)
        assert refused.value.reason == "replayed"
        other_second = change_status(FJ, first, "revoked")  # same sequence, other content
        with pytest.raises(EventRefused) as refused:
            registry.apply(other_second)
        assert refused.value.reason == "replayed"
        assert registry.get("FJ0012345").status == "suspended"

    def test_nothing_refused_reaches_the_registry(self) -> None:
        registry = AeoRegistry(trust())
        with pytest.raises(EventRefused):
            registry.apply(granted(key=SigningKey.generate("FJ", "FJ-x")))
        assert len(registry) == 0 and registry.get("FJ0012345") is None

    def test_rotation_old_and_new_keys_side_by_side(self) -> None:
        """During a changeover, events signed by either current key are accepted."""
        registry = AeoRegistry(trust())
        first = granted()
        registry.apply(first)
        registry.apply(change_status(FJ_NEXT, first, "suspended"))
        assert registry.get("FJ0012345").signature.key_id == "FJ-2"


class TestRecognition:
    def policy(self, **aeo) -> RecognitionPolicy:
        return RecognitionPolicy(AeoSettings.model_validate(aeo), ["FJ", "WS", "TO", "NZ"])

    def test_regional_arrangement_by_default(self) -> None:
        p = self.policy()
        assert p.basis("WS", "FJ", "AEOC") == "the Pacific regional mutual recognition arrangement"
        assert p.basis("FJ", "FJ", "AEOS") == "FJ's own programme"
        assert p.basis("WS", "US", "AEOS") is None  # no MRA configured

    def test_exceptions_per_member_and_category_and_partners(self) -> None:
        p = self.policy(recognition={"members": {"NZ": {"not_from": ["TO"], "categories": ["AEOS", "AEOF"]},
                                                 "TO": {"issuers": {"FJ": ["AEOF"]}}}},
                        partners={"US": {"name": "CBP C-TPAT", "recognised_by": ["NZ"], "importer": "NZ"}})
        assert p.basis("NZ", "TO", "AEOF") is None
        assert p.basis("NZ", "FJ", "AEOC") is None and p.basis("NZ", "FJ", "AEOS") is not None
        assert p.basis("TO", "FJ", "AEOS") is None and p.basis("TO", "FJ", "AEOF") is not None
        assert "C-TPAT" in p.basis("NZ", "US", "AEOS") and p.basis("WS", "US", "AEOS") is None

    def test_assessment_explains_why_no_priority(self) -> None:
        registry = AeoRegistry(trust())
        registry.apply(change_status(FJ, granted(), "suspended"))
        registry.apply(granted("FJ777", expiry=TODAY - timedelta(days=1), effective=TODAY - timedelta(days=400)))
        p = self.policy()
        outcome = p.assess("WS", [AeoHolder("FJ0012345", "AEOF"), AeoHolder("FJ777", "AEOS"),
                                  AeoHolder("FJ999", "AEOC")], registry.get)
        assert not outcome.priority
        text = outcome.describe()
        assert "suspended by FJ" in text and "expired" in text and "FJ999 is not a certified AEO" in text
        registry.apply(granted("FJ5"))
        win = p.assess("WS", [AeoHolder("FJ999", "AEOC"), AeoHolder("FJ5", "AEOF")], registry.get)
        assert win.priority and win.trader_id == "FJ5" and win.header() == "FJ5 AEOF FJ"


class TestPipeline:
    def test_recognised_declaration_goes_to_the_priority_lane(self, settings, profiles) -> None:
        """A declaration naming a recognised AEO is delivered on the member's priority lane, with headers,
        and the submitter's Response says it got priority and why; a suspension seen by the registry
        applies to the next declaration processed."""
        registry = AeoRegistry(trust())
        first = granted()
        registry.apply(first)
        pipeline = Pipeline(build_stages(settings, profiles, aeo_lookup=registry.get,
                                         recognition=RecognitionPolicy(settings.aeo, settings.members)))

        def run(lrn: str) -> list:
            payload = make_declaration(member="WS", lrn=lrn, aeo=[("FJ0012345", "AEOF")], seed=3)
            outputs, rejection = pipeline(Submission(payload, "ws-apia-brokers", f"t-{lrn}",
                                                     SourceRef("oco.submit.ws-apia-brokers", 0, 1)))
            assert rejection is None
            return outputs

        deliver, reply = run("AEO-1")
        assert deliver.topic == priority_topic("WS")
        assert deliver.headers[h.LANE] == "priority" and deliver.headers[h.AEO_RECOGNISED] == "FJ0012345 AEOF FJ"
        remark = read_response(reply.value).statement("AEO")
        assert remark.code == "AEO-PRIORITY" and "regional" in remark.description

        registry.apply(change_status(FJ, first, "suspended"))
        deliver, reply = run("AEO-2")
        assert deliver.topic == "oco.deliver.WS" and h.LANE not in deliver.headers
        remark = read_response(reply.value).statement("AEO")
        assert remark.code == "AEO-NO-PRIORITY" and "suspended" in remark.description


class TestKeys:
    def test_key_file_round_trip_and_no_secret_in_errors(self, tmp_path, monkeypatch) -> None:
        path = tmp_path / "FJ-1.key"
        FJ.write(path)
        assert oct(path.stat().st_mode & 0o777) == "0o600"
        loaded = load_signing_key(path)
        assert (loaded.member, loaded.key_id, loaded.public_key) == ("FJ", "FJ-1", FJ.public_key)
        assert "private" not in repr(loaded)
        monkeypatch.setenv("OCO_AEO_SIGNING_KEY", FJ.to_json().replace('"Ed25519"', '"RSA"'))
        with pytest.raises(ConfigError) as err:
            load_signing_key()
        assert FJ.to_json().split('"private_key": "')[1][:20] not in str(err.value)


class TestCleanValues:
    def test_blank_and_padded_values_still_verify_after_a_round_trip(self, reader: EventReader) -> None:
        """What is signed is what a reader reads back: blanks around values and a blank name or postcode
        do not break the signature."""
        event = grant(FJ, trader_id="FJ42", category="AEOC", effective=TODAY, expiry=TODAY + timedelta(days=9),
                      name="  ", address=Address(" 1 Quay ", " Suva", "FJ", postcode=""), consent=("NZ",))
        back = reader.read(write_event(event))
        trust().verify(back)
        assert back.details.name is None and back.details.address == Address("1 Quay", "Suva", "FJ", None)

    def test_a_change_never_silently_drops_name_and_address(self) -> None:
        public = granted().public()
        with pytest.raises(IssueError, match="no name and address"):
            change_status(FJ, public, "suspended")
        assert change_status(FJ, public, "suspended", drop_details=True).details.name is None
