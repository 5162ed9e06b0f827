"""Tests for gateway.profiles.versions and the identify stage: two versions of one profile side by side."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest
from lxml import etree

from gateway.config import GatewaySettings
from gateway.errors import ProfileError, Unidentified
from gateway.pipeline.context import Submission
from gateway.pipeline.identify import ProfileSelector, version_plan
from gateway.profiles import ProfileRegistry, VersionChoice, VersionPlan
from tests.unit.test_profiles import DESCRIPTOR, ENV_XSD, _doc, _profile

OTHER_VERSION = DESCRIPTOR.replace('wco_versions: ["1.0"]', 'wco_versions: ["2.0"]')
CUSTOM = """version_codes:
  customization: {{path: e:Custom, values: [{values}]}}
"""


@pytest.fixture()
def twins(tmp_path: Path) -> ProfileRegistry:
    """Two profiles, ``old`` and ``new``, reading the same documents with the same version codes."""
    _profile(tmp_path / "all" / "old", DESCRIPTOR.format(name="old"))
    _profile(tmp_path / "all" / "new", DESCRIPTOR.format(name="new"))
    return ProfileRegistry.load(tmp_path / "all")


def _select(registry: ProfileRegistry, plan: VersionPlan | None, participant: str = "gb-a",
            today: dt.date = dt.date(2026, 6, 1), root: etree._Element | None = None,
            submitted: dt.datetime | None = None) -> str:
    stamp = None if submitted is None else int(submitted.timestamp() * 1000)
    submission = Submission(payload=b"", participant=participant, tracking_id="t", submitted_ms=stamp)
    submission.document = _doc() if root is None else root
    ProfileSelector(registry, plan, today=lambda: today)(submission)
    assert submission.profile is not None
    return submission.profile.name


def _plan_error(registry: ProfileRegistry, default: list[VersionChoice],
                participants: dict[str, list[VersionChoice]]) -> str:
    with pytest.raises(ProfileError) as info:
        VersionPlan(registry, default, participants)
    return str(info.value)


class TestEnvelopeSelects:
    def test_wco_versions_pick_the_profile_that_accepts_the_document(self, tmp_path: Path) -> None:
        """Where two profiles accept different WCO versions, the document's version picks one, no configuration."""
        _profile(tmp_path / "all" / "one", DESCRIPTOR.format(name="one"))
        _profile(tmp_path / "all" / "two", OTHER_VERSION.format(name="two"))
        registry = ProfileRegistry.load(tmp_path / "all")
        assert registry.families == ()
        assert registry.select(_doc(version="1.0")).name == "one"
        assert registry.select(_doc(version="2.0")).name == "two"

    def test_a_version_no_profile_accepts_is_refused_naming_each(self, tmp_path: Path) -> None:
        """A version list selects before it rejects: refused only when no profile accepts, each one named."""
        _profile(tmp_path / "all" / "one", DESCRIPTOR.format(name="one"))
        _profile(tmp_path / "all" / "two", OTHER_VERSION.format(name="two"))
        with pytest.raises(Unidentified) as info:
            ProfileRegistry.load(tmp_path / "all").select(_doc(version="9.9"))
        issue = info.value.issues[0]
        assert issue.code == "OCO-UNSUPPORTED-WCO-VERSION" and "'one'" in issue.message and "'two'" in issue.message

    def test_descriptor_version_codes_tell_profiles_apart(self, tmp_path: Path) -> None:
        """A `version_codes` entry (here a customization code in the envelope) selects like wco_versions."""
        env = ENV_XSD.replace(
            '<xs:element name="Version" type="xs:string" minOccurs="0"/>',
            '<xs:element name="Version" type="xs:string" minOccurs="0"/>'
            '<xs:element name="Custom" type="xs:string" minOccurs="0"/>')
        assert env != ENV_XSD
        _profile(tmp_path / "all" / "a", CUSTOM.format(values="v1") + DESCRIPTOR.format(name="a"), **{"env.xsd": env})
        _profile(tmp_path / "all" / "b", CUSTOM.format(values="v2") + DESCRIPTOR.format(name="b"), **{"env.xsd": env})
        registry = ProfileRegistry.load(tmp_path / "all")
        assert registry.families == ()
        doc = _doc()
        custom = etree.SubElement(doc, "{urn:test:env:1}Custom")
        custom.text = "v2"
        doc.insert(2, custom)
        assert registry.select(doc).name == "b"
        assert registry.select(doc).validate(doc) == []
        custom.text = "v3"
        with pytest.raises(Unidentified) as info:
            registry.select(doc)
        assert info.value.issues[0].code == "OCO-UNSUPPORTED-VERSION"
        custom.text = ""  # no code at all: both accept, nothing tells them apart, nothing is configured
        with pytest.raises(Unidentified) as info:
            registry.select(doc)
        assert info.value.issues[0].code == "OCO-AMBIGUOUS-PROFILE"


class TestConfigurationSelects:
    def test_each_participant_gets_its_own_version(self, twins: ProfileRegistry) -> None:
        """Two participants sending the same document are read by the version each is configured for."""
        plan = VersionPlan(twins, [VersionChoice("old")], {"gb-a": [], "gb-b": [VersionChoice("new")]})
        assert _select(twins, plan, "gb-a") == "old"
        assert _select(twins, plan, "gb-b") == "new"

    def test_cut_over_date_switches_version_on_that_day(self, twins: ProfileRegistry) -> None:
        """With `from`, the newer version applies from that UTC day on, the older one before."""
        plan = VersionPlan(twins, [], {"gb-a": [VersionChoice("old"), VersionChoice("new", dt.date(2026, 7, 1))]})
        assert _select(twins, plan, today=dt.date(2026, 6, 30)) == "old"
        assert _select(twins, plan, today=dt.date(2026, 7, 1)) == "new"

    def test_cut_over_compares_with_when_the_broker_stamped_the_submission(self, twins: ProfileRegistry) -> None:
        """A declaration submitted the day before the cut-over but processed after it (a backlog) keeps the old
        version; one submitted on the day gets the new one, whatever the processing date."""
        plan = VersionPlan(twins, [], {"gb-a": [VersionChoice("old"), VersionChoice("new", dt.date(2026, 7, 1))]})
        before = dt.datetime(2026, 6, 30, 23, 59, 59, tzinfo=dt.UTC)
        on_the_day = dt.datetime(2026, 7, 1, 0, 0, 1, tzinfo=dt.UTC)
        assert _select(twins, plan, today=dt.date(2026, 7, 2), submitted=before) == "old"
        assert _select(twins, plan, today=dt.date(2026, 6, 1), submitted=on_the_day) == "new"

    def test_without_configuration_the_document_is_ambiguous(self, twins: ProfileRegistry) -> None:
        """Unconfigured (as offline tools are), a document two versions read alike is refused, naming both."""
        with pytest.raises(Unidentified) as info:
            twins.select(_doc())
        issue = info.value.issues[0]
        assert issue.code == "OCO-AMBIGUOUS-PROFILE" and "new, old" in issue.message and "profile_versions" in issue.message

    def test_settings_build_the_plan(self, twins: ProfileRegistry) -> None:
        """`profile_versions` and `participants.<id>.profile_versions` (shorthand or with `from`) drive identify."""
        settings = GatewaySettings(
            profile_versions=["old"],
            participants={"gb-a": {"name": "A"},
                          "gb-b": {"name": "B", "profile_versions": ["old", {"profile": "new", "from": "2026-01-01"}]}})
        plan = version_plan(settings, twins)
        assert _select(twins, plan, "gb-a") == "old" and _select(twins, plan, "gb-b") == "new"


class TestStartupChecks:
    def test_undecided_participant_is_named_with_the_keys(self, twins: ProfileRegistry) -> None:
        """A participant with no version for a family, and no default, stops start-up naming both keys."""
        message = _plan_error(twins, [], {"gb-a": [VersionChoice("old")], "gb-z": []})
        assert "participants.gb-z.profile_versions" in message and "profile_versions" in message
        assert "new, old" in message

    def test_two_versions_from_the_start_are_ambiguous(self, twins: ProfileRegistry) -> None:
        """Two undated entries of one family leave the choice open: refused, naming the key."""
        message = _plan_error(twins, [], {"gb-a": [VersionChoice("old"), VersionChoice("new")]})
        assert message.startswith("participants.gb-a.profile_versions:") and "several entries" in message

    def test_only_dated_entries_leave_the_start_undecided(self, twins: ProfileRegistry) -> None:
        """A family with only dated entries has no version before its first cut-over: refused."""
        message = _plan_error(twins, [VersionChoice("new", dt.date(2026, 1, 1))], {})
        assert message.startswith("profile_versions:") and "all are dated" in message

    def test_two_versions_on_one_date_are_ambiguous(self, twins: ProfileRegistry, tmp_path: Path) -> None:
        """Two entries of one family starting on the same day are refused, naming both profiles and the date."""
        _profile(tmp_path / "x" / "a", DESCRIPTOR.format(name="a"))
        _profile(tmp_path / "x" / "b", DESCRIPTOR.format(name="b"))
        _profile(tmp_path / "x" / "c", DESCRIPTOR.format(name="c"))
        three = ProfileRegistry.load(tmp_path / "x")
        day = dt.date(2027, 1, 1)
        message = _plan_error(three, [VersionChoice("a"), VersionChoice("b", day), VersionChoice("c", day)], {})
        assert "b and c both start on 2027-01-01" in message

    def test_unknown_profile_is_named(self, twins: ProfileRegistry) -> None:
        """An entry naming a profile that is not loaded stops start-up, listing the loaded ones."""
        message = _plan_error(twins, [VersionChoice("old"), VersionChoice("hmrc-dms-v9")], {})
        assert "profile_versions[1]" in message and "'hmrc-dms-v9'" in message and "old" in message

    def test_profile_without_a_twin_has_nothing_to_choose(self, tmp_path: Path) -> None:
        """An entry naming a profile no other reads alike is refused: it would decide nothing."""
        registry = ProfileRegistry.load(_profile(tmp_path / "p", DESCRIPTOR.format(name="p")))
        message = _plan_error(registry, [], {"gb-a": [VersionChoice("p")]})
        assert "participants.gb-a.profile_versions[0]" in message and "nothing to choose" in message
